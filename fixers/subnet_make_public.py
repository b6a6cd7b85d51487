"""subnet-make-public: when no subnet can host a reachable instance (NET001), make the closest one public."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from preflight.engine import Finding
from preflight.fix import Change, FixContext, Refusal, fixer
from preflight.fixers import _netfix as nf
from preflight.fixers.route_add_default import remedy_changes
from preflight.semantics import remedies as rm
from preflight.semantics.routes import Topology

ID = "subnet-make-public"
PERMISSIONS = ("ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute", "ec2:CreateRouteTable",
               "ec2:DeleteRouteTable", "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:CreateTags",
               "ec2:CreateInternetGateway", "ec2:AttachInternetGateway", "ec2:DetachInternetGateway",
               "ec2:DeleteInternetGateway", "ec2:ModifySubnetAttribute", "ec2:DescribeRouteTables",
               "ec2:DescribeInternetGateways", "ec2:DescribeSubnets")


@fixer(id=ID, fixes=("NET001",), permissions=PERMISSIONS, safety="sometimes-unsafe",
       summary="Give the closest candidate subnet a default route to an internet gateway and public IPs")
def plan(ctx: FixContext, findings: list[Finding]) -> Iterator[Change | Refusal]:
    """The eu-south-1 incident's fix, as one plan: for the candidate subnet NET001 ranks closest
    (in the plan's subnets or VPC when it names them), add 0.0.0.0/0 -> the VPC's internet gateway
    to its route table (with route-add-default's care for a shared main table, and attaching or
    creating the gateway when the VPC has none), and make it map public IPs on launch unless the
    plan asks for a public IP itself. A candidate whose default route goes to a NAT gateway is
    private by design and is not touched.

    Fix safety:
    Sometimes unsafe. Safe when there is nothing to choose: NET001 names one candidate subnet (in the
    plan's subnets or VPC when it names them), and the route goes into a table only that subnet uses
    (or a new one made for it). Unsafe when it picks one of several candidates for you (the closest
    may be private on purpose, and once it maps public IPs every instance anyone launches there later
    is exposed), or when the route goes into a table other subnets share. Then the whole fix is
    applied only with --unsafe-fixes.
    """
    t = Topology(ctx.inventory)
    region = ctx.region
    plan_public = getattr(ctx.plan, "public_ip", None) is True
    for f in findings:
        candidates = [c["subnet"] for c in f.details.get("candidates") or [] if c.get("subnet") in t.subnets]
        if not candidates:
            yield Refusal(ID, f.resource, f"no subnet to make public in {f.resource}: create one first "
                                          f"(`aws ec2 create-subnet --vpc-id VPC --cidr-block CIDR --region {region}`)",
                          ("NET001",))
            continue
        subnet = t.subnets[candidates[0]]
        choice, route, verdict = t.internet_route(subnet.id, 4)
        rules = ("NET001",)
        if verdict == "not_igw":
            yield Refusal(ID, subnet.id, f"the closest candidate {subnet.id} routes 0.0.0.0/0 to "
                                         f"{route.target_id if route else '?'}: it is private by design; name the "
                                         f"subnet to make public in the plan (subnets: [...]) or fix it by hand",
                          rules)
            continue
        remedy = rm.default_route_remedy(t, region, subnet, choice, route, verdict)
        if remedy.refusal:
            yield from remedy_changes(remedy, subnet.id, rules, ID)
            continue
        changes = nf.changes(remedy.steps, rules, ID)
        if not subnet.map_public_ip_on_launch and not plan_public:
            changes.append(nf.change(rm.map_public_ip(region, subnet.id, f"make {subnet.id} map public IPv4 "
                                                                         f"addresses on launch (instances launched "
                                                                         f"from now on get one)"), rules, ID))
        if len(candidates) > 1 or not all(c.safe for c in changes):  # a choice made for the user: unsafe, whole
            changes = [dataclasses.replace(c, safe=False) for c in changes]
        yield from changes
