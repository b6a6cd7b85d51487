"""SG010 plan-port-not-open."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from preflight.engine import Context, Finding, rule
from preflight.semantics.remedies import authorize_ports, aws_cli
from preflight.semantics.secgroups import (
    contains,
    format_ranges,
    label,
    missing_ports,
    open_ports,
    plan_group_ref,
    ranges,
    resolve_group,
    rules_admitting,
)


@rule(
    id="SG010",
    name="plan-port-not-open",
    severity="high",
    category="launch-blocker",
    scope="group",
    summary="A port the plan needs is not open on the plan's security group for the plan's source",
    needs={"security_groups"},
    fixer="sg-open-missing-ports",
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does
    For the plan's security group (`security_group`: an id, or a name looked up in the plan's VPC)
    and the plan's `ports` and `source_cidr` (default 0.0.0.0/0), computes the exact set of tcp ports
    open to that source from EVERY rule of the group, in whatever order AWS returns them, and lists
    the ports that are missing, the ones already open and the rules that open them. A launcher that
    uses the plan's group without managing it (SkyPilot's `aws.security_group_name`) also needs SSH
    (22) from the client: its profile adds it. A `-1` rule
    covers every port only for the sources inside its CIDR.

    Why is this bad?
    The instances start, but clients cannot reach the service on the missing ports. Adding the
    ports blindly is worse: a port already open makes AWS answer InvalidPermission.Duplicate (the
    incident behind this rule: a scan that stopped at the `-1` rule re-added port 8000).

    Example
    Group with `-1` from 10.0.0.0/16 and tcp 8000 from 0.0.0.0/0; plan ports 8000, 8002, 8004 from
    0.0.0.0/0 -> 8002 and 8004 are missing, 8000 is open by the tcp rule.

    Fix: authorize exactly the missing ports (preflight fix adds them in one call).

    Fix safety
    Safe: `sg-open-missing-ports` adds only the missing ports in one call, re-reads the group right
    before, treats a concurrent InvalidPermission.Duplicate as success only if the ports are then
    open, and refuses to open an admin port to the world without `--allow-world`.

    A plan naming a group that does not exist is reported here (resource = the name or id given;
    `preflight launch` creates a missing named group); `preflight fix` rejects it as bad input.
    """
    from preflight.launchers import profile_of

    plan = ctx.plan
    prof = profile_of(plan)
    ref = plan_group_ref(plan, ctx.region)
    if not ref and plan is not None and getattr(plan, "region", "") in ("", ctx.region):
        ref = prof.group_name(plan)  # the group the launcher itself uses (Ray: ray-autoscaler-<cluster>)
    # The launcher's profile adds what it needs itself on a group it does not manage (SkyPilot and
    # Ray need SSH from the client; preflight's own launch only the plan's ports).
    ports = prof.ports(plan) if getattr(plan, "ports", ()) else ()
    if not ref or not ports or plan is None:
        return
    vpc = getattr(plan, "vpc", "") or _launcher_vpc(ctx, prof)
    source = plan.source_cidr or "0.0.0.0/0"
    where = f" in {vpc}" if vpc else ""
    matches = resolve_group(ctx.inventory.security_groups, ref, vpc)
    opens = getattr(prof, "launcher_opens", None)
    added: tuple[int, ...] = ()
    if opens is not None and len(matches) <= 1:
        # The launcher manages this group itself (Ray: creates it, and fills it while it has no
        # ingress rule): only what it will not open is missing.
        group = matches[0] if matches else None
        added = tuple(opens(plan, group))
        still = [p for p in (missing_ports([group], ports, source) if group else ports) if p not in added]
        if not still:
            return
        if group is None and added:
            hint = prof.setting_hint("group rules", format_ranges(ranges(still)))
            yield ctx.fail(ref, f"{prof.title} will create security group {ref!r}{where} with tcp "
                                f"{format_ranges(ranges(added))} open, but not port(s) {format_ranges(ranges(still))} "
                                f"that the plan needs; {hint}.",
                           path=[ref], details={"group_missing": True, "missing": still, "source": source,
                                                "launcher": prof.name})
            return
        if group is not None and not added and group.ingress and opens(plan, None):
            yield from _launcher_skips(ctx, prof, group, still, source)
            return
    if not matches:
        create = () if ref.startswith("sg-") else (aws_cli(
            "ec2", "create_security_group",
            {"GroupName": ref, "Description": "preflight launch", **({"VpcId": vpc} if vpc else {})}, ctx.region),)
        yield ctx.fail(
            ref,
            f"the plan's security group {ref!r} does not exist{where} in {ctx.region}, so none of the plan's ports "
            f"({format_ranges(ranges(ports))}) is open; fix the name or id in the plan, or create the group "
            "(preflight launch creates a missing named group).",
            path=[ref],
            fix=ctx.fix(*create, description="create the group, then open the ports", fixer=None),
            details={"group_missing": True, "missing": list(ports), "source": source},
        )
        return
    if len(matches) > 1:
        yield ctx.unknown(
            ref,
            f"the plan's security group name {ref!r} matches {len(matches)} groups "
            f"({', '.join(f'{g.id} in {g.vpc_id}' for g in matches)}); set `vpc` in the plan or use the group id.",
            path=[g.id for g in matches],
        )
        return
    group = matches[0]
    missing = [p for p in missing_ports([group], ports, source) if p not in added]
    if not missing:
        return
    opened = open_ports([group], "tcp", source)
    already = [p for p in ports if contains(opened, p)]
    by_rule: dict[str, list[int]] = {}
    for p in already:
        for r in rules_admitting([group], "tcp", p, source):
            by_rule.setdefault(r.id, []).append(p)
    open_text = ("; already open: " + "; ".join(f"{format_ranges(ranges(ps))} by {rid}" for rid, ps in by_rule.items())
                 if by_rule else "; none of the plan's ports is open to it yet")
    step = authorize_ports(ctx.region, group.id, missing, source)
    yield ctx.fail(
        group.id,
        f"port(s) {format_ranges(ranges(missing))} (tcp) needed by the plan are not open to {source} on security group "
        f"{label(group)}{open_text}. The service will be unreachable on the missing ports; authorize exactly those "
        "(adding an already-open port fails with InvalidPermission.Duplicate).",
        path=[group.id, *by_rule],
        fix=ctx.fix(step.cli(), description=step.description),
        details={"group": group.id, "missing": missing, "open": {rid: ps for rid, ps in by_rule.items()},
                 "source": source, "protocol": "tcp"},
    )


def _launcher_vpc(ctx: Context, prof: Any) -> str:
    """The VPC the plan's launcher will use (Ray looks its group up by name there), '' if none."""
    select = getattr(prof, "select", None)
    sel = select(ctx.inventory, ctx.plan) if select is not None else None
    return getattr(sel, "vpc", "") if sel is not None and getattr(sel, "ok", False) else ""


def _launcher_skips(ctx: Context, prof: Any, group: Any, missing: list[int], source: str) -> Iterator[Finding]:
    """The group exists with rules, so the launcher will not add its own: the ports it needs must
    already be open."""
    step = authorize_ports(ctx.region, group.id, missing, source)
    closed = f"port(s) {format_ranges(ranges(missing))} (tcp) stay closed to {source}"
    if prof.ssh_port in missing:
        closed += f" ({prof.title} cannot SSH into its nodes)"
    yield ctx.fail(
        group.id,
        f"{prof.group_note(group)}, so {prof.title} will leave {label(group)} as it is and {closed}. Authorize exactly "
        "those ports.",
        path=[group.id],
        fix=ctx.fix(step.cli(), description=step.description),
        details={"group": group.id, "missing": missing, "source": source, "protocol": "tcp", "launcher": prof.name},
    )
