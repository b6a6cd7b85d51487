"""The SkyPilot profile: how SkyPilot 0.14.1 picks its VPC, subnets and security group on AWS.

Modelled on SkyPilot 0.14.1 (`sky/provision/aws/config.py`: `_get_subnet_and_vpc_id`,
`_usable_subnets`, `_is_subnet_public`, `get_vpc_id_by_name`; `sky/provision/aws/instance.py`
for the public IP and the group). tests/launchers/test_skypilot_agreement.py runs SkyPilot's own
functions against moto accounts and checks that `select()` predicts the same subnets and VPC.

What SkyPilot does, in order:
1. `aws.vpc_name` set -> the one VPC with that Name tag (none or several: it stops). Not set ->
   only subnets of the region's **default VPC**; none -> it stops with "The default VPC in <region>
   either does not exist or has no subnets."
2. Only `available` subnets.
3. Public subnets (unless `aws.use_internal_ips`): a subnet is public when an explicitly
   associated route table has *any* route whose GatewayId is `igw-…` (whatever its destination or
   state); with no explicit association, when a main route table of the VPC (of *any* VPC when no
   VPC was named) has one. MapPublicIpOnLaunch is not looked at: SkyPilot sets
   AssociatePublicIpAddress itself. With `use_internal_ips`: subnets that are not public and do
   not map public IPs.
4. Sorted by availability zone Z->A (stable), then filtered/ordered by `zone`, then only the
   first subnet's VPC.

preflight is deliberately stricter than step 3: a route to a detached gateway, a blackhole route
or an IPv6-only route counts for SkyPilot, but the instances are unreachable; NET001 says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from preflight.launchers import LauncherProfile, Selection

if TYPE_CHECKING:
    from preflight.inventory.model import Inventory, RouteTable

VERSION = "0.14.1"
DEFAULT_SECURITY_GROUP = "sky-sg"  # not used for selection; the group name is per cluster (see group_name)


def _has_igw_route(tables: list[RouteTable]) -> bool:
    return any(r.target_kind == "internet_gateway" or r.target_id.startswith("igw-")
               for t in tables for r in t.routes)


def is_public_for_skypilot(inv: Inventory, subnet_id: str, vpc_id: str | None) -> bool:
    """SkyPilot's `_is_subnet_public`: an igw route in an explicitly associated table, else in a main
    table of `vpc_id` (every VPC's main table when `vpc_id` is None)."""
    explicit = [t for t in inv.route_tables
                if (vpc_id is None or t.vpc_id == vpc_id) and not t.is_main
                and any(a.subnet_id == subnet_id for a in t.associations)]
    if _has_igw_route(explicit):
        return True
    if explicit:
        return False
    mains = [t for t in inv.route_tables if t.is_main and (vpc_id is None or t.vpc_id == vpc_id)]
    return _has_igw_route(mains)


def vpcs_named(inv: Inventory, name: str) -> list[str]:
    return sorted(v.id for v in inv.vpcs if v.tags.get("Name") == name)


def select_subnets(inv: Inventory, vpc_name: str | None = None, zones: tuple[str, ...] = (),
                   use_internal_ips: bool = False) -> Selection:
    """SkyPilot's subnet and VPC choice in `inv`'s region, or the error it would stop with."""
    region = inv.region
    vpc_id: str | None = None
    if vpc_name:
        found = vpcs_named(inv, vpc_name)
        if not found:
            return Selection(error=f"No VPC with name {vpc_name!r} is found in {region}. To fix: specify a "
                                   "correct VPC name.",
                             why=f"no VPC in {region} has the Name tag {vpc_name!r}")
        if len(found) > 1:
            return Selection(error=f"Multiple VPCs with name {vpc_name!r} found in {region}",
                             why=f"{len(found)} VPCs have that Name tag: {', '.join(found)}")
        vpc_id = found[0]
    default_ids = {v.id for v in inv.vpcs if v.is_default}
    subnets = list(inv.subnets)
    default_only = vpc_id is None
    if default_only:
        subnets = [s for s in subnets if s.vpc_id in default_ids]
        if not subnets:
            why = ("the region has no default VPC" if not default_ids
                   else f"the default VPC {sorted(default_ids)[0]} has no subnet")
            return Selection(error=f"The default VPC in {region} either does not exist or has no subnets.",
                             why=why, default_vpc_only=True)
    else:
        subnets = [s for s in subnets if s.vpc_id == vpc_id]
        if not subnets:
            return Selection(vpc=vpc_id or "", error=f"No candidate subnets found in specified VPC {vpc_id}.",
                             why=f"VPC {vpc_id} ({vpc_name}) has no subnet")
    available = [s for s in subnets if s.state == "available"]
    if not available:
        return Selection(error=f"All candidate subnets are pending in specified VPC {vpc_id}.",
                         why="no candidate subnet is in state available", default_vpc_only=default_only)
    if use_internal_ips:
        chosen = [s for s in available
                  if not is_public_for_skypilot(inv, s.id, vpc_id) and not s.map_public_ip_on_launch]
        if not chosen:
            return Selection(error="The use_internal_ips option is set to True, but all candidate subnets are public.",
                             why="every candidate subnet routes to an internet gateway or maps public IPs",
                             default_vpc_only=default_only)
    else:
        chosen = [s for s in available if is_public_for_skypilot(inv, s.id, vpc_id)]
        if not chosen:
            return Selection(error="All candidate subnets are private, did you mean to set use_internal_ips to True?",
                             why="no candidate subnet has a route table with a route to an internet gateway",
                             default_vpc_only=default_only)
    chosen.sort(key=lambda s: s.availability_zone, reverse=True)
    if zones:
        chosen = [s for z in zones for s in chosen if s.availability_zone == z]
        if not chosen:
            return Selection(error=f"No usable subnets matching availability zone {list(zones)} found.",
                             why=f"no usable subnet is in {', '.join(zones)}", default_vpc_only=default_only)
    first_vpc = chosen[0].vpc_id
    return Selection(subnets=tuple(s.id for s in chosen if s.vpc_id == first_vpc), vpc=first_vpc,
                     default_vpc_only=default_only)


class SkyPilotProfile(LauncherProfile):
    name = "skypilot"
    title = "SkyPilot"
    version = VERSION
    source = f"SkyPilot {VERSION}: sky/provision/aws/config.py (_get_subnet_and_vpc_id, _usable_subnets)"
    # SkyPilot opens SSH (22 from 0.0.0.0/0) on the groups it creates and needs it from the client.
    ssh_port = 22
    # NET005 (no MapPublicIpOnLaunch) never matters: SkyPilot asks for a public IP itself.
    not_blocking = frozenset({"NET005"})

    def requests_public_ip(self, plan: Any) -> bool | None:
        # instance.py: AssociatePublicIpAddress = not use_internal_ips
        return not bool(getattr(plan, "use_internal_ips", None))

    def needs_default_vpc(self, plan: Any) -> bool:
        return not getattr(plan, "vpc", "")

    def select(self, inventory: Inventory, plan: Any) -> Selection:
        vpc = getattr(plan, "vpc", "") or None
        if vpc and vpc.startswith("vpc-"):
            # preflight lets a plan name the VPC by id; SkyPilot's vpc_name is a Name tag, so an
            # id is resolved to its Name tag for the comparison (or used directly when untagged).
            named = next((v for v in inventory.vpcs if v.id == vpc), None)
            if named is not None and named.tags.get("Name") and len(vpcs_named(inventory, named.tags["Name"])) == 1:
                vpc = named.tags["Name"]
            elif named is not None:
                sel = select_subnets(_only_vpc(inventory, vpc), None, tuple(getattr(plan, "zones", ()) or ()),
                                     bool(getattr(plan, "use_internal_ips", None)))
                return sel
        return select_subnets(inventory, vpc, tuple(getattr(plan, "zones", ()) or ()),
                              bool(getattr(plan, "use_internal_ips", None)))

    def group_name(self, plan: Any) -> str:
        # aws.security_group_name (a name, or {cluster-glob: name} resolved when the plan was
        # read), else SkyPilot creates sky-sg-<cluster hash> with the task's ports itself.
        return getattr(plan, "security_group", "") or ""

    def setting_hint(self, key: str, value: str) -> str:
        return f"set `aws: {{{key.split('.', 1)[-1]}: {value}}}` in ~/.sky/config.yaml (or the project's .sky.yaml)"


def _only_vpc(inv: Inventory, vpc_id: str) -> Inventory:
    """`inv` seen with `vpc_id` as the only default VPC: a plan that names an untagged VPC by id."""
    from msgspec.structs import replace

    vpcs = tuple(replace(v, is_default=(v.id == vpc_id)) for v in inv.vpcs)
    return replace(inv, vpcs=vpcs)


PROFILE = SkyPilotProfile()
