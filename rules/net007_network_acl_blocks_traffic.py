"""NET007 network-acl-blocks-traffic."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from preflight.engine import Context, Finding, rule
from preflight.inventory.model import NaclEntry, NetworkAcl
from preflight.rules import _net
from preflight.semantics import nacl as acl_sem

MAX_RULE_NUMBER = 32766


@rule(
    id="NET007",
    name="network-acl-blocks-traffic",
    severity="high",
    category="launch-blocker",
    scope="vpc",
    summary="The subnet's network ACL denies a port the plan needs, or the return traffic on ephemeral ports",
    references=("https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html",
                "https://docs.aws.amazon.com/vpc/latest/userguide/nacl-ephemeral-ports.html"),
    needs={"subnets", "network_acls", "route_tables", "internet_gateways"},
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Evaluates the subnet's network ACL (its associated ACL, else the VPC's default) the way AWS
    does — entries in rule-number order, first match wins, implicit deny at the end — for:
    inbound TCP on every port of the plan's `ports` from the plan's `source_cidr` (default
    0.0.0.0/0), and outbound TCP on the ephemeral ports 1024-65535 to that same source, which the
    replies need. Subnets checked: the plan's `subnets`; else the internet-routed subnets (of the
    plan's `vpc`, if any). Without a plan (or with no `ports`) only the ephemeral return path is
    checked — no port is assumed to be needed. A source counts as allowed by an entry only if the
    entry's CIDR covers the whole source, so an allow for part of it does not hide a deny, and a
    deny of part of it (a blocklist) is not reported.

    Why is this bad?
    The launch succeeds but the service is unreachable: connections time out although the
    security group is open, and nothing in the instance's logs says why.

    Example:
    acl-1 inbound: #90 deny tcp 8000-8010 0.0.0.0/0, #100 allow all. With `ports: [8000]` this
    fires; the twin with the allow numbered 80 does not. Fix: `aws ec2 create-network-acl-entry
    --network-acl-id acl-1 --ingress --rule-number 89 --protocol tcp --port-range From=8000,To=8000
    --cidr-block 0.0.0.0/0 --rule-action allow`.

    Fix safety:
    A network ACL is shared by every subnet associated with it; the new allow entry applies to all
    of them (the description names them). It is numbered just below the deny it must beat, so other
    entries keep their effect.
    """
    t = _net.topo(ctx)
    inv = ctx.inventory
    region = inv.region
    ports = tuple(_net.plan_get(ctx, "ports", ()) or ())
    source = _net.plan_get(ctx, "source_cidr", "0.0.0.0/0") or "0.0.0.0/0"
    named = _net.plan_subnets(ctx)
    plan_vpc = _net.plan_vpc(ctx)
    acls = ctx.cached("subnet_acls", lambda: acl_sem.subnet_acls(inv))
    users: dict[str, list[str]] = {}
    for sid, subnet_acl in acls.items():
        users.setdefault(subnet_acl.id, []).append(sid)
    # One ACL serves many subnets: evaluate each ACL once (by identity; frozen ACLs hash slowly).
    verdicts: dict[int, tuple[NetworkAcl, list[Any], list[Any]]] = {}

    for s in inv.subnets:
        if named:
            if s.id not in named:
                continue
        else:
            if plan_vpc and s.vpc_id != plan_vpc:
                continue
            reach = t.public_reachability(s.id)
            if reach is None or not (reach.verdict == "ok" or reach.ipv6_verdict == "ok"):
                continue
        acl = acls.get(s.id)
        if acl is None:
            continue
        known = verdicts.get(id(acl))
        if known is None:
            known = verdicts[id(acl)] = (acl, _denied_ports(acl, ports, source) if ports else [],
                                         acl_sem.denied_ranges(acl, True, "tcp", source))
        _, inbound, outbound = known
        if not inbound and not outbound:
            continue
        problems = [f"inbound TCP {_span(lo, hi)} from {source} ({_by(e)})" for lo, hi, e in inbound]
        problems += [f"outbound TCP {_span(lo, hi)} to {source}, the ephemeral ports replies use ({_by(e)})"
                     for lo, hi, e in outbound]
        commands = _allow_commands(region, acl, source, inbound, outbound)
        sharing = sorted(x for x in users.get(acl.id, []) if x != s.id)
        desc = f"add allow entries to {acl.id}, numbered before the entries that deny"
        if sharing:
            desc += f"; {acl.id} is also the network ACL of {', '.join(sharing[:5])}" + (
                f" and {len(sharing) - 5} more" if len(sharing) > 5 else "") + ", which the change applies to"
        yield ctx.fail(
            s.id,
            f"Network ACL {_net.label(acl)} of subnet {_net.label(s)} denies " + "; and ".join(problems)
            + ". Network ACLs are stateless and first-match, so these packets are dropped even when the "
            "security groups allow them.",
            path=[s.id, acl.id],
            fix=ctx.fix(*commands, description=desc, fixer=None),
            details={
                "network_acl": acl.id, "source_cidr": source,
                "inbound_denied": [[lo, hi, e.rule_number if e else None] for lo, hi, e in inbound],
                "outbound_denied": [[lo, hi, e.rule_number if e else None] for lo, hi, e in outbound],
            },
        )


def _span(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _by(entry: NaclEntry | None) -> str:
    if entry is None or entry.rule_number > MAX_RULE_NUMBER:
        return "no entry allows it: the final * deny"
    return f"rule #{entry.rule_number} {entry.action}"


def _denied_ports(acl: NetworkAcl, ports: tuple[int, ...], source: str) -> list[tuple[int, int, NaclEntry | None]]:
    """Runs of consecutive plan ports denied inbound, each with the entry that denies it."""
    wanted = set(ports)
    out: list[tuple[int, int, NaclEntry | None]] = []
    for lo, hi, entry in acl_sem.denied_ranges(acl, False, "tcp", source, min(wanted), max(wanted)):
        run: list[int] = []
        for p in sorted(x for x in wanted if lo <= x <= hi):
            if run and p != run[-1] + 1:
                out.append((run[0], run[-1], entry))
                run = []
            run.append(p)
        if run:
            out.append((run[0], run[-1], entry))
    return out


def _allow_commands(region: str, acl: NetworkAcl, source: str, inbound: list[tuple[int, int, NaclEntry | None]],
                    outbound: list[tuple[int, int, NaclEntry | None]]) -> list[str]:
    cidr = {"Ipv6CidrBlock" if ":" in source else "CidrBlock": source}
    commands: list[str] = []
    for egress, denied in ((False, inbound), (True, outbound)):
        used = {e.rule_number for e in acl.entries if e.egress == egress}
        for lo, hi, entry in denied:
            number = _free_number(used, entry)
            verb = "create_network_acl_entry"
            if number is None:  # no room before the deny: turn the deny itself into the allow
                number, verb = entry.rule_number, "replace_network_acl_entry"  # type: ignore[union-attr]
            used.add(number)
            commands.append(_net.cli(region, verb, NetworkAclId=acl.id, Egress=egress, RuleNumber=number,
                                     Protocol="tcp", PortRange={"From": lo, "To": hi}, **cidr, RuleAction="allow"))
    return commands


def _free_number(used: set[int], deny: NaclEntry | None) -> int | None:
    """A free rule number that is evaluated before `deny` (after every entry, for the implicit deny)."""
    if deny is None or deny.rule_number > MAX_RULE_NUMBER:
        explicit = [n for n in used if n <= MAX_RULE_NUMBER]
        start = (max(explicit, default=0) // 10 + 1) * 10
        for n in (*range(start, MAX_RULE_NUMBER + 1), *range(MAX_RULE_NUMBER, 0, -1)):
            if n not in used:
                return n
        return None
    for n in range(deny.rule_number - 1, 0, -1):
        if n not in used:
            return n
    return None
