"""Graph build: node kinds, edge verbs, dangling references, effective route state."""

from __future__ import annotations

from preflight.graph import INTERNET, build, to_dot, to_json
from preflight.inventory import model as m


def inv() -> m.Inventory:
    return m.Inventory(
        region="eu-south-1",
        vpcs=(m.Vpc(id="vpc-1"), m.Vpc(id="vpc-2")),
        subnets=(m.Subnet(id="subnet-1", vpc_id="vpc-1"), m.Subnet(id="subnet-2", vpc_id="vpc-1")),
        route_tables=(
            m.RouteTable(id="rtb-main", vpc_id="vpc-1", associations=(m.RouteTableAssociation(id="a0", main=True),),
                         routes=(m.Route(destination_cidr="0.0.0.0/0", target_kind="internet_gateway",
                                         target_id="igw-1"),)),
            m.RouteTable(id="rtb-x", vpc_id="vpc-1",
                         associations=(m.RouteTableAssociation(id="a1", subnet_id="subnet-2"),),
                         routes=(m.Route(destination_cidr="0.0.0.0/0", target_kind="nat_gateway", target_id="nat-gone"),
                                 m.Route(destination_cidr="10.9.0.0/16", target_kind="internet_gateway",
                                         target_id="igw-2"))),
        ),
        internet_gateways=(m.InternetGateway(id="igw-1", attachments=(m.Attachment("vpc-1", "available"),)),
                           m.InternetGateway(id="igw-2", attachments=(m.Attachment("vpc-2", "available"),))),
        network_acls=(m.NetworkAcl(id="acl-1", vpc_id="vpc-1", associations=(
            m.NaclAssociation(id="x", subnet_id="subnet-1"), m.NaclAssociation(id="y", subnet_id="subnet-deleted"))),),
    )


def edges(g, kind):
    return {(a, b): d for a, b, d in g.edges(data=True) if d["kind"] == kind}


def test_nodes_edges_and_states():
    g = build(inv())
    assert g.nodes["rtb-x"]["kind"] == "route_table" and g.nodes[INTERNET]["kind"] == "internet"
    assoc = edges(g, "ASSOCIATED_WITH")
    assert assoc[("vpc-1", "rtb-main")]["association"] == "main"
    assert assoc[("subnet-2", "rtb-x")]["association"] == "explicit"
    routes = edges(g, "ROUTES_TO")
    assert routes[("rtb-main", "igw-1")]["state"] == "active"
    # the NAT gateway is gone: EC2 reports such a route as a blackhole, whatever moto says
    assert routes[("rtb-x", "nat-gone")]["state"] == "blackhole"
    assert g.nodes["nat-gone"]["kind"] == "missing"
    # an IGW attached to another VPC cannot carry this VPC's traffic
    assert routes[("rtb-x", "igw-2")]["state"] == "blackhole"
    assert ("subnet-deleted", "acl-1") not in assoc  # dangling association skipped, no crash
    assert edges(g, "ATTACHED_TO")[("igw-1", "vpc-1")]["state"] == "available"


def test_exports():
    g = build(inv())
    dot = to_dot(g, highlight=["subnet-2", "rtb-x", "nat-gone"])
    assert '"rtb-x" -> "nat-gone" [label="ROUTES_TO 0.0.0.0/0 blackhole", color=red' in dot
    assert '"nat-gone" [label="missing\\nnat-gone", color=red, penwidth=2, style=dashed]' in dot
    assert '"igw-1"' in to_json(g) and "topology" not in to_json(g)
