"""Output of `preflight path`: a table for people, JSON (`preflight-path/v1`) for machines, and
Graphviz dot with the path drawn on the network graph.

Not a `check` reporter (it renders a PathResult, not a Report), so it registers no format.
"""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console
from rich.text import Text

from preflight.inventory.model import Inventory
from preflight.report import colour_wanted, fix_command
from preflight.semantics.reach import INTERNET, SCHEMA, Hop, PathResult
from preflight.textsafe import terminal

FORMATS = ("table", "json", "dot")

KIND_WORDS = {
    "internet_gateway": "internet gateway",
    "egress_only_igw": "egress-only gateway",
    "nat_gateway": "NAT gateway",
    "route_table": "route table",
    "public_ip": "address",
    "network_acl": "network ACL",
    "security_group": "security group",
    "instance": "instance",
    "network_interface": "ENI",
    "subnet": "subnet",
    "vpc_peering": "VPC peering",
}
STATUS_STYLE = {"ok": "green", "blocked": "bold red", "unknown": "yellow"}
VERDICT_STYLE = {"reachable": "bold green", "unreachable": "bold red", "unknown": "bold yellow"}

_HOP = {
    "type": "object",
    "required": ["kind", "id", "direction", "status", "code", "detail", "rule", "refs", "fix"],
    "properties": {
        "kind": {"type": "string"},
        "id": {"type": "string"},
        "direction": {"enum": ["inbound", "outbound", "return"]},
        "status": {"enum": ["ok", "blocked", "unknown"]},
        "code": {"type": ["string", "null"]},
        "detail": {"type": "string"},
        "rule": {"type": ["string", "null"]},
        "refs": {"type": "array", "items": {"type": "string"}},
        "fix": {
            "type": ["object", "null"],
            "required": ["fixer", "commands", "description"],
            "properties": {"fixer": {"type": ["string", "null"]},
                           "commands": {"type": "array", "items": {"type": "string"}},
                           "description": {"type": "string"}},
        },
    },
    "additionalProperties": False,
}
_END = {
    "type": "object",
    "required": ["input", "kind", "id", "address", "subnet", "vpc", "security_groups", "public_ip", "ipv6", "name"],
    "properties": {
        "input": {"type": "string"},
        "kind": {"enum": ["internet", "instance", "network_interface", "subnet"]},
        "id": {"type": "string"},
        "address": {"type": "string"},
        "subnet": {"type": ["string", "null"]},
        "vpc": {"type": ["string", "null"]},
        "security_groups": {"type": "array", "items": {"type": "string"}},
        "public_ip": {"type": ["string", "null"]},
        "ipv6": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
    },
    "additionalProperties": False,
}
# The JSON contract of `preflight path --format json`. Fields are only ever added.
JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": SCHEMA,
    "type": "object",
    "required": ["schema", "region", "account", "origin", "from", "to", "protocol", "port", "ip_version",
                 "verdict", "code", "blocker", "blockers", "hops"],
    "properties": {
        "schema": {"const": SCHEMA},
        "region": {"type": "string"},
        "account": {"type": "string"},
        "origin": {"type": "string"},
        "from": _END,
        "to": _END,
        "protocol": {"enum": ["tcp", "udp", "icmp", "all"]},
        "port": {"type": ["integer", "null"], "minimum": 1, "maximum": 65535},
        "ip_version": {"enum": [4, 6]},
        "verdict": {"enum": ["reachable", "unreachable", "unknown"]},
        "code": {"type": ["string", "null"]},
        "blocker": {"oneOf": [_HOP, {"type": "null"}]},
        "blockers": {"type": "array", "items": _HOP},
        "hops": {"type": "array", "items": _HOP},
    },
    "additionalProperties": False,
}


def _end_label(ep: Any) -> str:
    if ep.kind == INTERNET:
        return "internet" if ep.cidr in ("0.0.0.0/0", "::/0") else f"{ep.cidr} (internet)"
    return f"{ep.id} ({ep.label})" if ep.label else ep.id


def _what(result: PathResult) -> str:
    what = f"{result.protocol}/{result.port}" if result.port is not None else result.protocol
    return f"{what} IPv{result.version}"


def render_json(result: PathResult, all_blockers: bool = False) -> str:
    return json.dumps(result.to_dict(all_blockers), indent=2) + "\n"


def _fix_lines(con: Console, hop: Hop, result: PathResult) -> None:
    if hop.fix is None:
        return
    if hop.fix.description:
        con.print(Text.assemble(("    fix: ", "green"), terminal(hop.fix.description)))
    for cmd in hop.fix.commands:
        con.print(Text.assemble(("      $ ", "green"), terminal(cmd)))
    if hop.fix.fixer:
        hint = fix_command([result.origin], result.region)
        con.print(Text(terminal(f"    or: {hint} (fixer {hop.fix.fixer})"), style="dim"))


def render_table(result: PathResult, all_blockers: bool = False) -> str:
    buf = io.StringIO()
    colour = colour_wanted()
    con = Console(file=buf, force_terminal=colour, no_color=not colour, width=100, soft_wrap=True, highlight=False)
    where = result.region + (f" ({result.origin})" if result.origin else "")
    con.print(Text(terminal(f"preflight path: {_end_label(result.source)} -> {_end_label(result.destination)}  "
                            f"{_what(result)}  {where}"), style="bold"))
    hops = result.shown_hops(all_blockers)
    for i, hop in enumerate(hops, 1):
        con.print(Text.assemble(
            f"  {i:>2}. ", (f"{hop.status:<8}", STATUS_STYLE[hop.status]),
            (terminal(f"{KIND_WORDS.get(hop.kind, hop.kind.replace('_', ' '))} {hop.id}"), "bold"),
            f" [{hop.direction}]"))
        con.print(Text(f"      {terminal(hop.detail)}"))
    con.print()
    verdict = result.verdict
    first = result.first_blocker
    if first is None:
        con.print(Text(f"REACHABLE: {len(hops)} hops, each admitted by the rule or route shown.",
                       style=VERDICT_STYLE[verdict]))
        return buf.getvalue()
    stops = (result.blockers + result.unknowns) if all_blockers else (first,)
    con.print(Text(terminal(f"{verdict.upper()}: {first.code} at {first.id}"), style=VERDICT_STYLE[verdict]))
    for hop in stops:
        if all_blockers:
            con.print(Text.assemble("  ", (hop.code, "bold"), terminal(f" at {hop.id}: {hop.detail}")))
        _fix_lines(con, hop, result)
    others = [h.code for h in (result.blockers + result.unknowns) if h is not first]
    if others and not all_blockers:
        con.print(Text(f"  {len(others)} more: {', '.join(others)} (see --all-blockers)", style="dim"))
    return buf.getvalue()


def highlight_nodes(result: PathResult, all_blockers: bool = False) -> list[str]:
    """Graph node ids along the path (up to the first blocker unless `all_blockers`), ordered
    instance -> security group, instance -> subnet -> network ACL, subnet -> route table ->
    gateway -> internet, so that consecutive ids follow the graph's own edges where it has them."""
    hops = result.shown_hops(all_blockers)
    seq: list[str] = []

    def part(ep: Any) -> None:
        if not ep.internal:
            return
        groups = [g for h in hops if h.kind == "security_group" for g in h.id.split(",") if g in ep.group_ids]
        acls = [h.id for h in hops if h.kind == "network_acl" and ep.subnet and h.id.startswith("acl-")]
        seq.extend([ep.id, *groups, ep.id, ep.subnet.id, *acls[:1], ep.subnet.id])

    part(result.source if result.source.internal else result.destination)
    way: list[str] = []
    for h in hops:
        if h.kind in ("route_table", "internet_gateway", "egress_only_igw", "vpc_peering"):
            way.append(h.id)
        elif h.kind == "nat_gateway":
            way.extend([h.id, *h.refs])  # the NAT gateway, then its own subnet
    if not result.source.internal:
        way.reverse()  # inbound hops are listed gateway first; draw them from the subnet outwards
    seq.extend(way)
    if result.source.internal and result.destination.internal:
        part(result.destination)
    else:
        seq.append(INTERNET)
    out: list[str] = []
    for node in seq:  # drop immediate repeats only; a node may come back to draw the next edge
        if not out or out[-1] != node:
            out.append(node)
    return out


def render_dot(result: PathResult, inventory: Inventory, all_blockers: bool = False) -> str:
    from preflight import graph as g

    built = g.build(inventory)
    nodes = [n for n in highlight_nodes(result, all_blockers) if n in built]
    return g.to_dot(built, highlight=nodes)


def render(result: PathResult, fmt: str, inventory: Inventory, all_blockers: bool = False) -> str:
    if fmt == "json":
        return render_json(result, all_blockers)
    if fmt == "dot":
        return render_dot(result, inventory, all_blockers)
    return render_table(result, all_blockers)
