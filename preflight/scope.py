"""Which findings concern one launch: the VPC(s), subnet(s), group and replicas a plan's launch
would use, read from the inventory alone (pure, no cloud calls).

A launch-blocking rule declares a `scope` (see `preflight.engine.Scope`); a FAIL elsewhere in the
account (another VPC's broken route table, a group the launch does not use, a collision on a host
that already runs) is reported by `check` but never stops this launch, and `launch --fix` never
touches it. `preflight launch` and `Report.blocking()` both read this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from preflight.inventory.model import Inventory, Subnet


def wants_public(plan: Any) -> bool:
    """Does the launch need instances reachable from the internet? (only `public_ip: false` says no)"""
    return getattr(plan, "public_ip", None) is not False


def pick_subnet(inv: Inventory, plan: Any, hint: str = "") -> Subnet | None:
    """The subnet `preflight launch` would use now (None when no subnet in the plan's scope is
    usable): the plan's subnets, else its VPC's, else the region's; reachable when the launch wants
    public instances; in the plan's zones when it names some; where its named group lives; `hint`
    first, then the subnet with the most free addresses."""
    from preflight.semantics.routes import Topology
    from preflight.semantics.secgroups import resolve_group

    t = Topology(inv)
    named = set(getattr(plan, "subnets", ()) or ())
    vpc = getattr(plan, "vpc", "") or ""
    scope = [s for s in inv.subnets if (s.id in named if named else (not vpc or s.vpc_id == vpc))]
    ask = True if getattr(plan, "public_ip", None) is True else None
    public = wants_public(plan)
    usable = []
    for s in scope:
        if s.state not in ("available", ""):
            continue
        reach = t.public_reachability(s.id, ask)
        if not public or (reach is not None and reach.usable):
            usable.append(s)
    zones = getattr(plan, "zones", ()) or ()
    if zones:
        usable = [s for s in usable if s.availability_zone in zones] or usable
    if not usable:
        return None
    group = getattr(plan, "security_group", "") or ""
    # A plan naming an existing group means "launch where that group lives".
    group_vpcs = {g.vpc_id for g in resolve_group(inv.security_groups, group)} if group else set()
    usable.sort(key=lambda s: (s.id != hint, bool(group_vpcs) and s.vpc_id not in group_vpcs,
                               -s.available_ip_address_count, s.id))
    return usable[0]


def closest_candidate(inv: Inventory, plan: Any) -> Subnet | None:
    """When no subnet in the plan's scope is usable yet: the one `launch --fix` will make usable and
    launch into — NET001's closest candidate (same ranking, `Reachability.candidate_rank`), which
    its fixer (subnet-make-public) fixes and the launch then picks."""
    from preflight.semantics.routes import Topology

    t = Topology(inv)
    named = set(getattr(plan, "subnets", ()) or ())
    vpc = getattr(plan, "vpc", "") or ""
    ask = True if getattr(plan, "public_ip", None) is True else None
    ranked = []
    for s in inv.subnets:
        if (s.id not in named) if named else (vpc and s.vpc_id != vpc):
            continue
        reach = t.public_reachability(s.id, ask)
        ranked.append(((9, 9) if reach is None else reach.candidate_rank(vpc), s.id, s))
    return min(ranked, key=lambda x: x[:2])[2] if ranked else None


def launch_subnet(inv: Inventory, plan: Any) -> Subnet | None:
    """The subnet this launch lands in: the one it would pick now, else (nothing usable yet) the
    closest candidate, which `--fix` makes usable. Only that subnet's VPC is in the launch's scope,
    so `launch --fix` never fixes (or creates gateways in) a VPC it will not launch into."""
    return pick_subnet(inv, plan) or closest_candidate(inv, plan)


def launch_vpcs(inv: Inventory, plan: Any) -> set[str]:
    """The VPC(s) this launch may land in: the plan's subnets' or VPC, else the VPC of the subnet it
    would pick now or will make usable (`launch_subnet`), else (no subnet at all) every VPC, so
    NET001's causes and fixes stay in view."""
    named = getattr(plan, "subnets", ()) or ()
    if named:
        by_id = {s.id: s.vpc_id for s in inv.subnets}
        return {by_id.get(sid, "") for sid in named} - {""}
    vpc = getattr(plan, "vpc", "") or ""
    if vpc:
        return {vpc}
    picked = launch_subnet(inv, plan)
    return {picked.vpc_id} if picked is not None else {v.id for v in inv.vpcs}


def vpc_index(inv: Inventory) -> dict[str, str]:
    """Resource id -> the VPC it belongs to, for the resources network findings name."""
    out: dict[str, str] = {}
    for coll in ("subnets", "route_tables", "network_acls", "security_groups", "nat_gateways"):
        for r in getattr(inv, coll):
            out[r.id] = r.vpc_id
    for g in inv.internet_gateways:
        for vpc in g.attached_vpcs():
            out.setdefault(g.id, vpc)
    return out


@dataclass
class LaunchScope:
    """What one launch touches in one inventory, for `covers(scope, resource, path)`."""

    inventory: Inventory
    plan: Any = None
    vpcs: set[str] | None = None  # None: computed from the plan when first needed
    subnets: set[str] | None = None
    _owner: dict[str, str] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, inv: Inventory, plan: Any = None, vpcs: Iterable[str] | None = None,
           subnets: Iterable[str] | None = None) -> LaunchScope:
        return cls(inv, plan, set(vpcs) if vpcs is not None else None,
                   set(subnets) if subnets is not None else None)

    def launch_vpcs(self) -> set[str]:
        if self.vpcs is None:
            self.vpcs = launch_vpcs(self.inventory, self.plan)
        return self.vpcs

    def launch_subnets(self) -> set[str]:
        """The plan's subnets, else the one the launch would pick, plus their route tables and ACLs."""
        if self.subnets is None:
            named = set(getattr(self.plan, "subnets", ()) or ())
            if not named:
                picked = launch_subnet(self.inventory, self.plan)
                named = {picked.id} if picked is not None else set()
            self.subnets = named
        return self.subnets

    def _subnet_parts(self) -> set[str]:
        from preflight.semantics.nacl import subnet_acls
        from preflight.semantics.routes import Topology

        subnets = self.launch_subnets()
        t = Topology(self.inventory)
        acls = subnet_acls(self.inventory)
        parts = set(subnets)
        for sid in subnets:
            choice = t.effective_route_table(sid)
            if choice is not None:
                parts.add(choice.table.id)
            if sid in acls:
                parts.add(acls[sid].id)
        return parts

    def covers(self, scope: str, resource: str, path: Iterable[str] = ()) -> bool:
        """Does a finding on `resource` (with `path`) of a rule with this scope concern the launch?"""
        if scope in ("plan", "region") or self.plan is None and scope != "replicas":
            return True
        ids = (resource, *path)
        if scope == "vpc":
            vpcs = self.launch_vpcs()
            if self._owner is None:
                self._owner = vpc_index(self.inventory)
            return any(x in vpcs or self._owner.get(x) in vpcs for x in ids)
        if scope == "subnet":
            parts = self._subnet_parts()
            return any(x in parts for x in ids)
        if scope == "group":
            from preflight.semantics.secgroups import resolve_group

            ref = getattr(self.plan, "security_group", "") or ""
            groups = {g.id for g in resolve_group(self.inventory.security_groups, ref)} if ref else set()
            return resource in groups or (bool(ref) and resource == ref)
        if scope == "replicas":  # the plan's replicas, not collisions on hosts already running
            return resource.endswith(":replicas")
        return True
