"""igw-attach: give a VPC an attached internet gateway (NET003, and NET004 when attaching is the repair)."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Finding
from preflight.fix import Change, FixContext, Refusal, fixer
from preflight.fixers import _netfix as nf
from preflight.semantics import remedies as rm
from preflight.semantics.routes import Topology

ID = "igw-attach"
PERMISSIONS = ("ec2:AttachInternetGateway", "ec2:DetachInternetGateway", "ec2:CreateInternetGateway",
               "ec2:DeleteInternetGateway", "ec2:CreateTags", "ec2:DescribeInternetGateways")


@fixer(id=ID, fixes=("NET003", "NET004"), permissions=PERMISSIONS,
       summary="Attach the detached internet gateway a VPC's routes use, or create and attach one")
def plan(ctx: FixContext, findings: list[Finding]) -> Iterator[Change | Refusal]:
    """For NET003 on a detached gateway whose routes live in one VPC (or that is unused while exactly
    one VPC has no gateway): attach it there, which turns the blackhole routes active again. For a
    VPC routing to another VPC's gateway: create and attach a gateway of its own and point those routes
    at it (the other VPC is left alone). For NET004 whose repair is an attach:
    the same. Undo detaches (and deletes what it created).

    Fix safety:
    Safe. It only makes routes that already point at a gateway work again (they are blackholes until
    then), touches only the VPC the finding names, and `preflight undo` reverses every step.
    """
    t = Topology(ctx.inventory)
    region = ctx.region
    done: set[str] = set()
    for f in findings:
        if f.rule == "NET004":
            table = t.route_tables.get(f.resource)
            targets = [r.target_id for r in (table.routes if table else ())
                       if table and r.target_kind == "internet_gateway"
                       and t.route_state(r, table.vpc_id) == "blackhole"]
            if table is None or not targets:
                continue
            vpcs, prefer, igw = [table.vpc_id], targets[0], None
        else:
            igw = t.igws.get(f.resource)
            if igw is None:
                continue
            attached = igw.attached_vpcs()
            vpcs = list(f.details.get("vpcs") or f.details.get("vpcs_without_igw") or [])
            if attached:  # routes in other VPCs use a gateway that belongs elsewhere
                vpcs = sorted({tb.vpc_id for tb in ctx.inventory.route_tables for r in tb.routes
                               if r.target_id == igw.id and tb.vpc_id not in attached})
            elif len(vpcs) != 1:
                yield Refusal(ID, igw.id, (
                    f"{igw.id} is detached and it is not clear which VPC it belongs to ({len(vpcs)} candidates): "
                    f"attach it with `aws ec2 attach-internet-gateway --internet-gateway-id {igw.id} --vpc-id VPC "
                    f"--region {region}` or delete it"), (f.rule,))
                continue
            prefer = "" if attached else igw.id
        for vpc in vpcs:
            if vpc in done:
                continue
            done.add(vpc)
            if f.rule == "NET003" and igw is not None and igw.attached_vpcs():
                steps = rm.foreign_igw_steps(t, region, igw.id, vpc)
            else:
                steps = rm.igw_steps(t, region, vpc, prefer)[1]
            yield from nf.changes(steps, (f.rule,), ID)
