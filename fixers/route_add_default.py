"""route-add-default: give a public subnet 0.0.0.0/0 -> its VPC's attached internet gateway (NET002)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from preflight.engine import Finding
from preflight.fix import Change, FixContext, Refusal, fixer
from preflight.fixers import _netfix as nf
from preflight.semantics import remedies as rm
from preflight.semantics.routes import Topology

ID = "route-add-default"
PERMISSIONS = ("ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute", "ec2:CreateRouteTable",
               "ec2:DeleteRouteTable", "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:CreateTags",
               "ec2:CreateInternetGateway", "ec2:AttachInternetGateway", "ec2:DetachInternetGateway",
               "ec2:DeleteInternetGateway", "ec2:DescribeRouteTables", "ec2:DescribeInternetGateways")
@fixer(id=ID, fixes=("NET002",), permissions=PERMISSIONS, safety="sometimes-unsafe",
       summary="Route 0.0.0.0/0 to the VPC's internet gateway in the subnet's own route table")
def plan(ctx: FixContext, findings: list[Finding]) -> Iterator[Change | Refusal]:
    """Adds 0.0.0.0/0 -> the VPC's attached internet gateway to the subnet's effective route table
    (attaching a detached gateway the routes point at, or creating one, when the VPC has none).

    When that table is the VPC's main route table and other subnets use it too, adding a default
    route would make every one of them internet-routed. Instead it creates a route table for this
    subnet alone — a new table has the VPC's local routes, and the main table's other routes are
    copied — adds the default route there and associates only this subnet; the other subnets keep
    the main table, unchanged. It says so in the plan. An explicit table shared with other subnets
    gets the route (they were meant to share it) and the plan names them.

    A default route to a NAT gateway (a private subnet that maps public IPs) is not replaced: that
    would turn a private subnet public; the refusal gives the command.

    Fix safety:
    Sometimes unsafe. Safe when the route goes into a table only this subnet uses, or into a new
    table made for it (when it shares the main table with other subnets): nothing else changes.
    Unsafe when the route goes into a table other subnets use, or into the VPC's main table (subnets
    created later without a table of their own are internet-routed too): resources beyond the
    finding change. Then the whole fix for that subnet (gateway steps included) is applied only with
    --unsafe-fixes.
    """
    t = Topology(ctx.inventory)
    for f in findings:
        subnet = t.subnets.get(f.resource)
        if subnet is None:
            continue
        choice, route, verdict = t.internet_route(subnet.id, 4)
        yield from remedy_changes(rm.default_route_remedy(t, ctx.region, subnet, choice, route, verdict),
                                  subnet.id, ("NET002",), ID)


def remedy_changes(remedy: rm.Remedy, resource: str, rules: tuple[str, ...],
                   fixer_id: str) -> Iterator[Change | Refusal]:
    """The remedy's steps as changes, or a refusal (with the commands to run by hand) when a fixer
    must not apply it."""
    if remedy.refusal:
        by_hand = "; ".join(f"`{c}`" for c in remedy.commands())
        yield Refusal(fixer_id, resource, f"{remedy.refusal}. If you are sure: {by_hand}" if by_hand
                      else remedy.refusal, rules)
        return
    changes = nf.changes(remedy.steps, rules, fixer_id)
    if not all(c.safe for c in changes):
        # One repair is applied whole or not at all: without --unsafe-fixes, no gateway is made for a
        # route that will not be added.
        changes = [dataclasses.replace(c, safe=False) for c in changes]
    yield from changes
