"""Build a networkx graph of how one inventory is wired, and export it (dot, node-link JSON).

Nodes are keyed by the cloud's own ids, with a `kind` (lower_snake) and the resource as `obj`.
Edges carry a `kind` verb in UPPER_SNAKE: IN_VPC, IN_SUBNET, ASSOCIATED_WITH (association
explicit|main), ROUTES_TO (destination, state), ATTACHED_TO (state), PROTECTED_BY, HAS_INTERFACE.
References to resources that do not exist (a deleted NAT gateway, a NACL association left behind
by a deleted default VPC) never crash the build: route targets become `missing` nodes, other
dangling references are skipped.
"""

from __future__ import annotations

import json
from typing import Any

import networkx as nx

from preflight.inventory.model import Inventory
from preflight.semantics.routes import Topology
from preflight.textsafe import dot_string

INTERNET = "internet"

_KINDS = (
    ("vpcs", "vpc"),
    ("subnets", "subnet"),
    ("route_tables", "route_table"),
    ("internet_gateways", "internet_gateway"),
    ("egress_only_internet_gateways", "egress_only_igw"),
    ("nat_gateways", "nat_gateway"),
    ("network_acls", "network_acl"),
    ("security_groups", "security_group"),
    ("instances", "instance"),
    ("network_interfaces", "network_interface"),
    ("vpc_peering_connections", "vpc_peering"),
)


def build(inventory: Inventory, topology: Topology | None = None) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(region=inventory.region, account=inventory.account)
    topo = topology or Topology(inventory)
    g.graph["topology"] = topo
    g.add_node(INTERNET, kind="internet", obj=None)
    for collection, kind in _KINDS:
        for res in getattr(inventory, collection):
            g.add_node(res.id, kind=kind, obj=res)

    def edge(a: str, b: str, kind: str, **attrs: Any) -> None:
        if a in g and b in g:
            g.add_edge(a, b, kind=kind, **attrs)

    for s in inventory.subnets:
        edge(s.id, s.vpc_id, "IN_VPC")
    for t in inventory.route_tables:
        edge(t.id, t.vpc_id, "IN_VPC")
        for a in t.associations:
            if a.main:
                edge(t.vpc_id, t.id, "ASSOCIATED_WITH", association="main")
            elif a.subnet_id:
                edge(a.subnet_id, t.id, "ASSOCIATED_WITH", association="explicit")
        for r in t.routes:
            if not r.target_id or r.target_kind == "local":
                continue
            if r.target_id not in g:
                g.add_node(r.target_id, kind="missing", obj=None, target_kind=r.target_kind)
            edge(t.id, r.target_id, "ROUTES_TO", destination=r.destination,
                 state=topo.route_state(r, t.vpc_id), target_kind=r.target_kind)
    for igw in inventory.internet_gateways:
        for att in igw.attachments:
            edge(igw.id, att.vpc_id, "ATTACHED_TO", state=att.state)
        edge(igw.id, INTERNET, "ROUTES_TO", destination="0.0.0.0/0", state="active")
    for e in inventory.egress_only_internet_gateways:
        for att in e.attachments:
            edge(e.id, att.vpc_id, "ATTACHED_TO", state=att.state)
        edge(e.id, INTERNET, "ROUTES_TO", destination="::/0", state="active", direction="egress")
    for n in inventory.nat_gateways:
        edge(n.id, n.subnet_id, "IN_SUBNET", state=n.state)
    for acl in inventory.network_acls:
        edge(acl.id, acl.vpc_id, "IN_VPC")
        for acl_assoc in acl.associations:
            edge(acl_assoc.subnet_id, acl.id, "ASSOCIATED_WITH", association="explicit")
    for sg in inventory.security_groups:
        edge(sg.id, sg.vpc_id, "IN_VPC")
        for sg_rule in sg.rules:
            ref = sg_rule.referenced_group
            if ref and ref.group_id:
                edge(sg.id, ref.group_id, "REFERENCES", rule_id=sg_rule.id, egress=sg_rule.egress)
    for i in inventory.instances:
        edge(i.id, i.subnet_id, "IN_SUBNET")
        for gid in i.group_ids:
            edge(i.id, gid, "PROTECTED_BY")
        for eni_id in i.network_interface_ids:
            edge(i.id, eni_id, "HAS_INTERFACE")
    for eni in inventory.network_interfaces:
        edge(eni.id, eni.subnet_id, "IN_SUBNET")
        for gid in eni.group_ids:
            edge(eni.id, gid, "PROTECTED_BY")
    for p in inventory.vpc_peering_connections:
        edge(p.id, p.requester_vpc_id, "ATTACHED_TO", state=p.status)
        edge(p.id, p.accepter_vpc_id, "ATTACHED_TO", state=p.status)
    return g


def _label(g: nx.MultiDiGraph, node: str) -> str:
    obj = g.nodes[node].get("obj")
    name = getattr(obj, "name", "") if obj is not None else ""
    # each part escaped on its own; the \\n between them is DOT's line break, not the tag's
    return "\\n".join(dot_string(part) for part in (g.nodes[node]["kind"], node, name) if part)


def to_dot(g: nx.MultiDiGraph, highlight: list[str] | None = None) -> str:
    """Graphviz dot text. Nodes in `highlight` (a path) are drawn bold red, as are edges between
    consecutive highlighted nodes."""
    hl = list(highlight or [])
    hl_nodes = set(hl)
    hl_edges = set(zip(hl, hl[1:], strict=False))
    lines = ["digraph preflight {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for node in sorted(g.nodes):
        style = ', color=red, penwidth=2' if node in hl_nodes else ""
        if g.nodes[node]["kind"] == "missing":
            style += ", style=dashed"
        lines.append(f'  "{dot_string(node)}" [label="{_label(g, node)}"{style}];')
    for a, b, data in sorted(g.edges(data=True), key=lambda e: (e[0], e[1], e[2]["kind"])):
        extra = [data["kind"]]
        if data.get("destination"):
            extra.append(data["destination"])
        if data.get("state") and data["state"] not in ("active", "available", "associated"):
            extra.append(data["state"])
        style = ", color=red, penwidth=2" if (a, b) in hl_edges else ""
        label = dot_string(" ".join(str(x) for x in extra))
        lines.append(f'  "{dot_string(a)}" -> "{dot_string(b)}" [label="{label}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_json(g: nx.MultiDiGraph) -> str:
    data = nx.node_link_data(g, edges="links")
    for node in data["nodes"]:
        obj = node.pop("obj", None)
        node["name"] = getattr(obj, "name", "") if obj is not None else ""
    data["graph"] = {k: v for k, v in data["graph"].items() if k != "topology"}
    return json.dumps(data, indent=1, sort_keys=True, default=str) + "\n"


def topology(g: nx.MultiDiGraph) -> Topology:
    return g.graph["topology"]
