"""Remedies, written once: the AWS calls that repair a problem, as plain data.

A planner here returns `Step`s: a `Call` (service, boto3 operation, params, region) plus its undo,
the permissions it needs, a description and, for chains, the placeholders it defines or uses
(`$IGW`, `$RTB`: ids that exist only once an earlier call has run). Three consumers, one truth:

- a rule prints `step.cli()`: the `aws ec2 ...` command, every value shell-quoted (`shlex.quote`),
  a placeholder-defining call wrapped as `RTB=$(aws ... --query ... --output text)`;
- a fixer (`fixers/_netfix.py`) wraps the same steps into journalled `Change`s with guards;
- `preflight path` shows the same commands for the hop that blocks.

Pure: reads the inventory through `Topology`, never a cloud, imports nothing from the fix,
collect or launch layers. The route-target mapping (kind <-> API parameter <-> CLI flag) lives
here and only here; the collector parses routes with it too.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from msgspec import Struct, field

from preflight.inventory.model import Route, RouteTable, Subnet
from preflight.semantics.routes import IPV4_DEFAULT, RouteChoice, Topology

TAG = "preflight:fix"
IGW = "$IGW"
RTB = "$RTB"
SUBNET = "$SUBNET"

# placeholder -> (the operation that defines it, the --query of its id in that call's answer)
PLACEHOLDERS: dict[str, tuple[str, str]] = {
    IGW: ("create_internet_gateway", "InternetGateway.InternetGatewayId"),
    RTB: ("create_route_table", "RouteTable.RouteTableId"),
    SUBNET: ("create_subnet", "Subnet.SubnetId"),
    "$SG": ("create_security_group", "GroupId"),
}

DESCRIBE = ("ec2:DescribeRouteTables", "ec2:DescribeInternetGateways", "ec2:DescribeSubnets")

# --- the one route-target mapping ---------------------------------------------------------------
# kind (inventory Route.target_kind) -> the CreateRoute/ReplaceRoute parameter. DescribeRouteTables
# reports internet, virtual private and (gateway) endpoint targets all as GatewayId, told apart by
# the id's prefix; the other kinds have a parameter of their own, read in this order.
ROUTE_TARGET_PARAM: dict[str, str] = {
    "internet_gateway": "GatewayId",
    "virtual_private_gateway": "GatewayId",
    "vpc_endpoint": "VpcEndpointId",
    "egress_only_igw": "EgressOnlyInternetGatewayId",
    "nat_gateway": "NatGatewayId",
    "transit_gateway": "TransitGatewayId",
    "vpc_peering": "VpcPeeringConnectionId",
    "carrier_gateway": "CarrierGatewayId",
    "local_gateway": "LocalGatewayId",
    "core_network": "CoreNetworkArn",
    "instance": "InstanceId",
    "network_interface": "NetworkInterfaceId",
}
_GATEWAY_PREFIXES = (("igw-", "internet_gateway"), ("vpce-", "vpc_endpoint"), ("vgw-", "virtual_private_gateway"))


TARGET_WORDS = {
    "internet_gateway": "internet gateway",
    "egress_only_igw": "egress-only internet gateway",
    "nat_gateway": "NAT gateway",
    "transit_gateway": "transit gateway",
    "vpc_peering": "VPC peering connection",
    "instance": "instance",
    "network_interface": "network interface",
    "vpc_endpoint": "VPC endpoint",
    "virtual_private_gateway": "virtual private gateway",
    "local": "the VPC itself",
}


def target_words(route: Route) -> str:
    return f"{TARGET_WORDS.get(route.target_kind, route.target_kind)} {route.target_id}".strip()


def route_target(route: Mapping[str, Any]) -> tuple[str, str]:
    """(kind, id) of a route as DescribeRouteTables answers it; ("unknown", "") when none is set."""
    gw = str(route.get("GatewayId") or "")
    if gw == "local":
        return "local", "local"
    for prefix, kind in _GATEWAY_PREFIXES:
        if gw.startswith(prefix):
            return kind, gw
    for kind, param in ROUTE_TARGET_PARAM.items():
        if param != "GatewayId" and kind != "vpc_endpoint" and route.get(param):
            return kind, str(route[param])
    return "unknown", ""


def target_params(kind: str, target_id: str) -> dict[str, str]:
    """The CreateRoute parameter naming a target of `kind` ({} when the API cannot name it)."""
    param = ROUTE_TARGET_PARAM.get(kind)
    return {param: target_id} if param and target_id else {}


def params_target(params: Mapping[str, Any]) -> tuple[str, str]:
    """(parameter, id) of the target a CreateRoute/ReplaceRoute call names."""
    for param in dict.fromkeys(ROUTE_TARGET_PARAM.values()):
        if params.get(param):
            return param, str(params[param])
    return "", ""


def destination_params(destination: str) -> dict[str, str]:
    if destination.startswith("pl-"):
        return {"DestinationPrefixListId": destination}
    return {"DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock": destination}


# --- calls and their shell form -------------------------------------------------------------------

def kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).replace("_", "-").lower()


def _camel(operation: str) -> str:
    return "".join(part.title() for part in operation.split("_"))


def shell_word(value: Any) -> str:
    """One shell word for a value: a placeholder stays a variable reference, anything else is quoted."""
    text = str(value)
    if text in PLACEHOLDERS:
        return text  # an AWS id the previous command printed (no spaces, no glob characters)
    return shlex.quote(text)


_PLAIN = re.compile(r"^[A-Za-z0-9._:/-]+$")


def _shorthand(value: dict[str, Any]) -> str:
    """`From=1,To=2` for a flat structure of plain scalars, else "" (then JSON is printed)."""
    if not value or not all(isinstance(v, (int, str)) and not isinstance(v, bool) and _PLAIN.match(str(v))
                            for v in value.values()):
        return ""
    return ",".join(f"{k}={v}" for k, v in value.items())


def cli_args(params: Mapping[str, Any]) -> list[str]:
    """The AWS CLI arguments of boto3 params, each a separate, quoted shell word."""
    parts: list[str] = []
    for key, value in params.items():
        flag = f"--{kebab(key)}"
        if isinstance(value, dict) and set(value) == {"Value"} and isinstance(value["Value"], bool):
            value = value["Value"]  # AttributeBooleanValue: the CLI's --flag / --no-flag
        if key == "Egress" and value is False:
            parts.append("--ingress")  # the CLI's name for a network ACL's inbound side
        elif isinstance(value, bool):
            parts.append(flag if value else f"--no-{kebab(key)}")
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (str, int)) for v in value):
            parts += [flag, *(shell_word(v) for v in value)]
        elif isinstance(value, dict) and _shorthand(value):
            parts += [flag, shlex.quote(_shorthand(value))]
        elif isinstance(value, (dict, list, tuple)):
            parts += [flag, shlex.quote(json.dumps(value, separators=(",", ":"), sort_keys=False))]
        else:
            parts += [flag, shell_word(value)]
    return parts


@dataclass(frozen=True)
class Call:
    """One AWS API call: what a rule prints, a fixer applies and a journal records.

    A dataclass (fixes copy it with dataclasses.replace); the other classes here are Structs."""

    service: str
    operation: str  # boto3 client method, snake_case
    params: dict[str, Any]
    region: str = ""

    @property
    def permission(self) -> str:
        return f"{self.service}:{_camel(self.operation)}"

    def argv(self) -> list[str]:
        head = ["aws", self.service, kebab(self.operation)]
        if self.region:
            head += ["--region", shlex.quote(self.region)]
        return head + cli_args(self.params)

    def cli(self) -> str:
        return " ".join(self.argv())

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "operation": self.operation, "params": self.params,
                "region": self.region, "cli": self.cli()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Call:
        return cls(str(data["service"]), str(data["operation"]), dict(data.get("params") or {}),
                   str(data.get("region", "") or ""))


def aws_cli(service: str, operation: str, params: dict[str, Any], region: str = "") -> str:
    """The shell-quoted AWS CLI command of one call (for rules printing a one-off command)."""
    return Call(service, operation, params, region).cli()


def shell(*argv: object) -> str:
    """A hand-made command line, every argument one quoted shell word (plan values are untrusted)."""
    return " ".join(shlex.quote(str(a)) for a in argv)


def ec2(operation: str, region: str, **params: Any) -> Call:
    return Call("ec2", operation, dict(params), region)


class Step(Struct, frozen=True):
    """One call of a remedy, with what a fixer needs to apply and undo it safely.

    `produces`: the placeholder the call's answer defines; `refs`: the placeholders its params use
    and how a fixer finds them again (`{"$RTB": {"subnet": "subnet-1"}}`: the table tagged for it).
    `undo` is None when the undo depends on the answer (new ids) or when nothing can undo it.
    """

    call: Call
    description: str
    resource: str
    undo: Call | None = None
    permissions: tuple[str, ...] = ()
    safe: bool = True
    produces: str = ""
    refs: dict[str, dict[str, str]] = field(default_factory=dict)
    before: Any = None
    data: dict[str, Any] = field(default_factory=dict)

    def cli(self) -> str:
        return render(self.call, self.produces)


def render(call: Call, produces: str = "") -> str:
    """The shell form of a call; one that defines a placeholder assigns it (`RTB=$(aws ...)`)."""
    if not produces:
        return call.cli()
    return f"{produces[1:]}=$({call.cli()} --query {PLACEHOLDERS[produces][1]} --output text)"


def commands(steps: list[Step]) -> list[str]:
    return [s.cli() for s in steps]


# --- tags that make created resources findable (re-runs and concurrent runs adopt, not duplicate) --

def igw_tag(vpc: str) -> str:
    return f"igw-for:{vpc}"


def rtb_tag(subnet: str) -> str:
    return f"rtb-for:{subnet}"


def tag_spec(resource_type: str, value: str, name: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": [{"Key": TAG, "Value": value}, {"Key": "Name", "Value": name}]}]


# --- single steps ----------------------------------------------------------------------------------

def create_igw(region: str, vpc: str) -> Step:
    return Step(
        call=ec2("create_internet_gateway", region,
                 TagSpecifications=tag_spec("internet-gateway", igw_tag(vpc), f"preflight-{vpc}")),
        description=f"create an internet gateway for {vpc} (tagged {TAG}={igw_tag(vpc)})",
        resource=vpc, produces=IGW, data={"vpc": vpc},
        permissions=("ec2:CreateInternetGateway", "ec2:CreateTags", "ec2:DeleteInternetGateway", *DESCRIBE))


def attach_igw(region: str, igw: str, vpc: str) -> Step:
    return Step(
        call=ec2("attach_internet_gateway", region, InternetGatewayId=igw, VpcId=vpc),
        undo=ec2("detach_internet_gateway", region, InternetGatewayId=igw, VpcId=vpc),
        description=f"attach internet gateway {igw} to {vpc}", resource=igw if igw != IGW else vpc,
        refs={IGW: {"vpc": vpc}} if igw == IGW else {}, before={"attached_to": None}, data={"vpc": vpc},
        permissions=("ec2:AttachInternetGateway", "ec2:DetachInternetGateway", *DESCRIBE))


def _table_refs(table: str, subnet: str) -> dict[str, dict[str, str]]:
    return {RTB: {"subnet": subnet}} if table == RTB else {}


def create_route(region: str, table: str, destination: str, target: dict[str, str], *, description: str,
                 subnet: str = "", vpc: str = "", safe: bool = True) -> Step:
    dest = destination_params(destination)
    refs = {**_table_refs(table, subnet), **({IGW: {"vpc": vpc}} if IGW in target.values() else {})}
    return Step(
        call=ec2("create_route", region, RouteTableId=table, **dest, **target),
        undo=ec2("delete_route", region, RouteTableId=table, **dest),
        description=description, resource=table, safe=safe, refs=refs, before={"route": None},
        data={"destination": destination},
        permissions=("ec2:CreateRoute", "ec2:DeleteRoute", *DESCRIBE))


def replace_route(region: str, table: str, destination: str, target: dict[str, str], old: dict[str, str], *,
                  description: str, vpc: str = "", safe: bool = True, old_alive: bool = False) -> Step:
    dest = destination_params(destination)
    return Step(
        call=ec2("replace_route", region, RouteTableId=table, **dest, **target),
        # A dead target cannot be routed to again (EC2 refuses), so there is no faithful undo.
        undo=ec2("replace_route", region, RouteTableId=table, **dest, **old) if old_alive and old else None,
        description=description, resource=table, safe=safe,
        refs={IGW: {"vpc": vpc}} if IGW in target.values() else {},
        before={"route": {"destination": destination, **old}}, data={"destination": destination},
        permissions=("ec2:ReplaceRoute", *DESCRIBE))


def delete_route(region: str, table: str, route: Route, description: str = "") -> Step:
    return Step(call=ec2("delete_route", region, RouteTableId=table, **destination_params(route.destination)),
                description=description or f"delete the {route.destination} route from {table}", resource=table,
                before={"route": {"destination": route.destination,
                                  **target_params(route.target_kind, route.target_id)}},
                permissions=("ec2:DeleteRoute",))


def create_route_table(region: str, vpc: str, subnet: str, description: str) -> Step:
    return Step(
        call=ec2("create_route_table", region, VpcId=vpc,
                 TagSpecifications=tag_spec("route-table", rtb_tag(subnet), f"preflight-{subnet}")),
        description=description, resource=subnet, produces=RTB, data={"subnet": subnet, "vpc": vpc},
        permissions=("ec2:CreateRouteTable", "ec2:CreateTags", "ec2:DeleteRouteTable", *DESCRIBE))


def associate(region: str, table: str, subnet: str) -> Step:
    return Step(
        call=ec2("associate_route_table", region, RouteTableId=table, SubnetId=subnet),
        description=f"associate {table} with {subnet} only", resource=subnet,
        refs=_table_refs(table, subnet), before={"association": "main"},
        permissions=("ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", *DESCRIBE))


def map_public_ip(region: str, subnet: str, description: str = "") -> Step:
    return Step(
        call=ec2("modify_subnet_attribute", region, SubnetId=subnet, MapPublicIpOnLaunch={"Value": True}),
        undo=ec2("modify_subnet_attribute", region, SubnetId=subnet, MapPublicIpOnLaunch={"Value": False}),
        description=description or f"make {subnet} map public IPv4 addresses on launch", resource=subnet,
        before={"MapPublicIpOnLaunch": False}, data={"value": True},
        permissions=("ec2:ModifySubnetAttribute", "ec2:DescribeSubnets"))


PLAN_PORT_DESCRIPTION = "preflight: launch plan port"


def authorize_ports(region: str, group: str, ports: list[int], source: str) -> Step:
    """Open exactly `ports` (tcp, contiguous ports merged) from `source` on `group`, in one call."""
    from preflight.semantics.secgroups import format_ranges, ip_permissions, ranges

    spans = ranges(ports)
    return Step(
        call=ec2("authorize_security_group_ingress", region, GroupId=group,
                 IpPermissions=ip_permissions("tcp", spans, source, PLAN_PORT_DESCRIPTION)),
        undo=ec2("revoke_security_group_ingress", region, GroupId=group,
                 IpPermissions=ip_permissions("tcp", spans, source)),
        description=f"authorize tcp {format_ranges(spans)} from {source} on {group}", resource=group,
        permissions=("ec2:AuthorizeSecurityGroupIngress", "ec2:DescribeSecurityGroupRules"))


# --- remedies ----------------------------------------------------------------------------------------

def loose_igws(t: Topology) -> list[Any]:
    """Internet gateways attached to no VPC, by id."""
    return sorted((g for g in t.igws.values() if not g.attached_vpcs()), key=lambda g: g.id)


def igw_routes(inventory: Any) -> list[tuple[str, str, str, str]]:
    """(table, vpc, destination, internet gateway) of every route to an internet gateway: the
    inventory's tables, plus the other VPCs' routes a plan-scoped read recorded (collect.aws), so a
    scoped check judges a gateway by every route that uses it, as an account-wide one does."""
    rows = [(tb.id, tb.vpc_id, r.destination, r.target_id) for tb in inventory.route_tables
            for r in tb.routes if r.target_kind == "internet_gateway" and r.target_id]
    recorded = inventory.extra.get("scope", {}).get("igw_route_users", [])
    rows += [(str(a), str(b), str(c), str(d)) for a, b, c, d in recorded]
    return rows


def igw_route_owners(t: Topology) -> dict[str, str]:
    """Internet gateway id -> VPC of a route table whose routes point at it."""
    return {igw: vpc for _, vpc, _, igw in igw_routes(t.inventory)}


def igw_steps(t: Topology, region: str, vpc: str, prefer: str = "") -> tuple[str, list[Step], str]:
    """(gateway id or `$IGW`, steps so that `vpc` has it attached, how: "" | "attach" | "create").

    Reuses the gateway attached to `vpc`; else attaches a detached one (`prefer` first, e.g. the
    one the VPC's routes already point at, else one no other VPC's routes use: that one belongs to
    them); else creates one, tagged so a re-run (or a concurrent one) finds it instead of making
    another.
    """
    attached = t.igws_by_vpc.get(vpc, [])
    if attached:
        return attached[0].id, [], ""
    used = igw_route_owners(t)
    loose = loose_igws(t)
    chosen = next((g for g in loose if g.id == prefer), None) or next(
        (g for g in loose if used.get(g.id, vpc) == vpc), None)
    if chosen is not None:
        return chosen.id, [attach_igw(region, chosen.id, vpc)], "attach"
    return IGW, [create_igw(region, vpc), attach_igw(region, IGW, vpc)], "create"


def foreign_igw_steps(t: Topology, region: str, igw: str, vpc: str) -> list[Step]:
    """`vpc`'s routes use `igw`, which is attached to another VPC (a gateway serves only its own):
    give `vpc` a gateway of its own and point those routes at it; the other VPC is left alone."""
    own, steps, _ = igw_steps(t, region, vpc)
    for table in sorted((tb for tb in t.inventory.route_tables if tb.vpc_id == vpc), key=lambda tb: tb.id):
        for r in table.routes:
            if r.target_kind == "internet_gateway" and r.target_id == igw:
                steps.append(replace_route(region, table.id, r.destination, {"GatewayId": own},
                                           target_params(r.target_kind, r.target_id), vpc=vpc,
                                           description=f"point {r.destination} in {table.id} at {own} instead of "
                                                       f"{igw}, which serves another VPC"))
    return steps


MAX_LISTED = 5


def listed(ids: list[str]) -> str:
    return ", ".join(ids[:MAX_LISTED]) + (f" and {len(ids) - MAX_LISTED} more" if len(ids) > MAX_LISTED else "")


def own_table_steps(t: Topology, region: str, subnet: Subnet, table: RouteTable | None, igw: str,
                    why: str) -> list[Step]:
    """A route table for `subnet` alone: the old table's other live routes copied, 0.0.0.0/0 -> igw,
    associated last (the subnet moves only once its new table is complete)."""
    steps = [create_route_table(region, subnet.vpc_id, subnet.id,
                                f"{why}: create a route table for {subnet.id} alone (it starts with the VPC's "
                                f"local routes)")]
    split = set(t.default_split(table)) if table is not None else set()
    for r in (table.routes if table is not None else ()):
        target = target_params(r.target_kind, r.target_id)
        if (r.target_kind == "local" or r.destination == IPV4_DEFAULT or r in split or not target
                or t.route_state(r, subnet.vpc_id) == "blackhole"):
            continue  # (split routes would shadow the new default route; dead ones cannot be created)
        steps.append(create_route(region, RTB, r.destination, target, subnet=subnet.id,
                                  description=f"copy {r.destination} -> {r.target_id} from {table.id} "  # type: ignore[union-attr]
                                              f"to the new table, so {subnet.id} keeps that route"))
    steps.append(create_route(region, RTB, IPV4_DEFAULT, {"GatewayId": igw}, subnet=subnet.id, vpc=subnet.vpc_id,
                              description=f"route 0.0.0.0/0 to {igw} in the new table of {subnet.id}"))
    steps.append(associate(region, RTB, subnet.id))
    return steps


class Remedy(Struct, frozen=True):
    """The steps of one repair, a description for the finding, and whether a fixer may apply it
    (`refusal`: why not, with the command to run by hand)."""

    steps: tuple[Step, ...] = ()
    description: str = ""
    fixer: str | None = None
    refusal: str = ""

    def commands(self) -> tuple[str, ...]:
        return tuple(s.cli() for s in self.steps)


def default_route_remedy(t: Topology, region: str, subnet: Subnet, choice: RouteChoice | None,
                         route: Route | None, verdict: str) -> Remedy:
    """Give `subnet` an active 0.0.0.0/0 route to an attached internet gateway (NET001/NET002).

    A main route table shared with other subnets is left alone: the subnet gets its own table (the
    main table's other routes copied) so the other subnets do not become internet-routed. A route
    to a NAT gateway (a private subnet) is printed but refused to fixers: it would expose it.
    """
    if verdict == "ok":
        return Remedy()
    prefer = route.target_id if route is not None and route.target_kind == "internet_gateway" else ""
    igw, steps, how = igw_steps(t, region, subnet.vpc_id, prefer)
    got = {"attach": f"attach {igw} to {subnet.vpc_id}; ",
           "create": f"create an internet gateway for {subnet.vpc_id}; "}.get(how, "")
    if verdict == "igw_not_attached" and prefer and igw == prefer:
        # The route already points at a detached gateway: attaching it makes the route active.
        return Remedy(tuple(steps), f"attach {igw} to {subnet.vpc_id}; the existing 0.0.0.0/0 route then works",
                      "igw-attach")
    table = choice.table if choice is not None else None
    association = choice.association if choice is not None else ""
    sharing = [x.id for x in t.subnets_using(table) if x.id != subnet.id] if table is not None else []
    if table is None or (association == "main" and sharing and verdict != "not_igw"):
        why = (f"{table.id} is the main route table of {subnet.vpc_id}, also used by {len(sharing)} other "
               f"subnet(s) ({listed(sharing)}), which would all become internet-routed"
               if table is not None else f"{subnet.id} has no route table")
        desc = got + (f"give {subnet.id} its own route table (a copy of the main table {table.id}'s other routes) "
                      f"with 0.0.0.0/0 -> {igw}; the main table is also used by {len(sharing)} other subnet(s) "
                      f"({listed(sharing)}), which stay as they are" if table is not None
                      else f"give {subnet.id} its own route table with a default route to {igw}")
        return Remedy(tuple(steps + own_table_steps(t, region, subnet, table, igw, why)), desc, "route-add-default")
    shared = (f"; careful: {table.id} is also the {'main ' if association == 'main' else ''}route table of "
              f"{listed(sharing)}, which become internet-routed too" if sharing else "")
    if association == "main" and not sharing:
        shared = (f"; careful: {table.id} is the main route table of {subnet.vpc_id}, so subnets created later "
                  f"without a route table of their own are internet-routed too")
    safe = not (sharing or association == "main")
    split = t.default_split(table)
    fixer: str | None = "route-add-default"
    refusal = ""
    if verdict == "no_default_route":
        steps.append(create_route(region, table.id, IPV4_DEFAULT, {"GatewayId": igw}, vpc=subnet.vpc_id, safe=safe,
                                  description=f"route 0.0.0.0/0 from {table.id} ({subnet.id}'s route table) to {igw}"
                                              f"{shared}"))
    elif split:
        # A /0 split decides instead of 0.0.0.0/0: repoint each of its routes that is not usable.
        # Printed only: the fixers handle 0.0.0.0/0 itself.
        for x in split:
            if x.target_kind != "internet_gateway" or t.route_state(x, table.vpc_id) == "blackhole":
                steps.append(replace_route(region, table.id, x.destination, {"GatewayId": igw},
                                           target_params(x.target_kind, x.target_id), vpc=subnet.vpc_id,
                                           description=f"point {x.destination} in {table.id} at {igw}", safe=safe))
        fixer, refusal = None, f"{table.id} splits 0.0.0.0/0 into smaller routes; repoint them by hand"
    else:
        old = target_params(route.target_kind, route.target_id) if route is not None else {}
        steps.append(replace_route(region, table.id, IPV4_DEFAULT, {"GatewayId": igw}, old, vpc=subnet.vpc_id,
                                   safe=safe, description=f"point 0.0.0.0/0 in {table.id} at {igw} instead of the "
                                                          f"dead {route.target_id if route else 'target'}{shared}"))
        if verdict == "not_igw":
            fixer = None
            refusal = (f"{subnet.id}'s default route goes to {route.target_id if route else '?'} "
                       f"({(route.target_kind if route else '').replace('_', ' ')}), so it is private by design; "
                       f"replacing it would expose it")
    routed = " and ".join(x.destination for x in split) if split else "0.0.0.0/0"
    desc = got + f"route {routed} from {table.id} to {igw}"
    if sharing:
        kind = "main route table" if association == "main" else "route table"
        desc += f"; {table.id} is also the {kind} of {len(sharing)} other subnet(s) ({listed(sharing)}), which get " \
                f"the route too"
    if verdict == "not_igw" and route is not None:
        desc += f"; this replaces the route to {target_words(route)}, so the subnet stops being private"
    return Remedy(tuple(steps), desc, fixer, refusal)


def blackhole_remedy(t: Topology, region: str, table: RouteTable, route: Route) -> Remedy:
    """Repair one blackhole route (NET004): attach the detached gateway it names, point it at the
    VPC's attached gateway or its live NAT gateway, else delete it (printed only)."""
    dest = route.destination
    old = target_params(route.target_kind, route.target_id)
    if route.target_kind == "internet_gateway" and not route.destination_prefix_list:
        igw, get, _ = igw_steps(t, region, table.vpc_id, prefer=route.target_id)
        if igw == route.target_id:
            return Remedy(tuple(get), f"attach {igw} to {table.vpc_id} so {dest} works again",
                          "igw-attach")
        if not get:
            return Remedy((replace_route(region, table.id, dest, {"GatewayId": igw}, old, vpc=table.vpc_id,
                                         description=f"point {dest} in {table.id} at {igw} instead of the dead "
                                                     f"{route.target_id}"),),
                          f"point {dest} at {igw}, attached to {table.vpc_id}", "route-replace-blackhole")
    if route.target_kind == "nat_gateway" and route.destination_cidr:
        live = sorted((n for n in t.nats.values() if n.vpc_id == table.vpc_id and n.state == "available"),
                      key=lambda n: n.id)
        if live:
            several = len(live) > 1
            return Remedy((replace_route(region, table.id, dest, {"NatGatewayId": live[0].id}, old,
                                         description=f"point {dest} in {table.id} at {live[0].id} instead of the "
                                                     f"dead {route.target_id}"),),
                          f"point {dest} at {live[0].id}, a live NAT gateway in {table.vpc_id}",
                          None if several else "route-replace-blackhole",
                          f"{table.vpc_id} has {len(live)} live NAT gateways; choose one for {dest} in {table.id}"
                          if several else "")
        return Remedy((delete_route(region, table.id, route),),
                      f"delete the dead {dest} route (or create a NAT gateway in a public subnet and replace-route "
                      f"to it)", None,
                      f"no obvious live target for {dest} -> {route.target_id} in {table.id} (no live NAT gateway "
                      f"in {table.vpc_id})")
    return Remedy((delete_route(region, table.id, route),), f"delete the dead {dest} route", None,
                  f"no obvious live target for {dest} -> {route.target_id} in {table.id}")
