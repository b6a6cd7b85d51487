"""Ray's cluster launcher on AWS: its cluster YAML read in full, and how it picks subnets and groups.

Modelled on Ray 2.60.0 (`pip install 'ray==2.60.0'`), read from its source:

- `ray/autoscaler/_private/util.py` (`prepare_config`, `fillout_defaults`,
  `merge_legacy_yaml_with_defaults`, `fill_node_type_min_max_workers`, `validate_config`) and
  `ray/autoscaler/aws/defaults.yaml`: how a cluster YAML gets its defaults;
- `ray/autoscaler/_private/aws/config.py` (`bootstrap_aws`, `_configure_subnet`,
  `_usable_subnet_ids`, `_get_vpc_id_of_sg`, `_configure_security_group`,
  `_upsert_security_group_rules`, `_create_default_inbound_rules`,
  `_configure_from_network_interfaces`): which subnets, VPC and security group it uses;
- `ray/autoscaler/_private/aws/node_provider.py` (`create_node`): it launches into
  `SubnetIds[0]` first and moves on to the next subnet only when RunInstances fails, and it
  never asks EC2 for a public IP itself.

Everything here is pure: `read_cluster` turns the YAML into a `RayCluster`; `ray_subnets`
evaluates Ray's subnet choice over an `Inventory` the check already collected. preflight never
imports Ray; tests/launchers/ check this module against Ray's own code under moto.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from preflight.errors import PreflightError
from preflight.launchers import LauncherProfile, Selection

RAY_VERSION = "2.60.0"
SOURCE = "ray/autoscaler/_private/aws/config.py (_configure_subnet, _usable_subnet_ids, _configure_security_group)"

# Ray's AWS defaults (ray/autoscaler/aws/defaults.yaml): merged one top-level key at a time, so a
# user's `provider:` or `available_node_types:` replaces the default one whole.
DEFAULT_CLUSTER_NAME = "default"
DEFAULT_MAX_WORKERS = 2
DEFAULT_HEAD_TYPE = "ray.head.default"
DEFAULT_WORKER_TYPE = "ray.worker.default"
DEFAULT_INSTANCE_TYPE = "m5.large"
LEGACY_HEAD_TYPE = "ray-legacy-head-node-type"  # ray.autoscaler.tags.NODE_TYPE_LEGACY_HEAD
LEGACY_WORKER_TYPE = "ray-legacy-worker-node-type"
GROUP_TEMPLATE = "ray-autoscaler-{}"  # SECURITY_GROUP_TEMPLATE
SSH_PORT = 22  # _create_default_ssh_inbound_rules: tcp 22 from 0.0.0.0/0
# Regions where Ray fills a missing ImageId with its Deep Learning AMI (config.py DEFAULT_AMI);
# elsewhere _check_ami stops `ray up`.
DEFAULT_AMI_REGIONS = frozenset({
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2",
    "eu-west-3", "sa-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1",
    "ap-southeast-2",
})

# Top-level keys of Ray's cluster schema (ray/autoscaler/ray-schema.json, additionalProperties:
# false) plus the legacy head_node/worker_nodes/min_workers that fillout_defaults converts.
KNOWN_KEYS = frozenset({
    "cluster_name", "max_workers", "upscaling_speed", "idle_timeout_minutes", "provider", "auth", "docker",
    "head_node_type", "file_mounts", "cluster_synced_files", "file_mounts_sync_continuously", "rsync_exclude",
    "rsync_filter", "metadata", "initialization_commands", "setup_commands", "head_setup_commands",
    "worker_setup_commands", "head_start_ray_commands", "worker_start_ray_commands", "no_restart",
    "available_node_types", "head_node", "worker_nodes", "min_workers",
})


class RayConfigError(PreflightError):
    """A cluster YAML Ray itself would refuse, or preflight cannot check; the text names the field."""


@dataclass(frozen=True)
class RayNodeType:
    name: str
    instance_type: str = ""
    image: str = ""
    # None: not in node_config, so Ray chooses (every subnet of the region / a group it manages)
    subnet_ids: tuple[str, ...] | None = None
    security_group_ids: tuple[str, ...] | None = None
    instance_profile: str = ""  # IamInstanceProfile Name, or the name at the end of its Arn
    key_name: str = ""
    min_workers: int = 0
    max_workers: int = 0
    spot: bool = False


@dataclass(frozen=True)
class RayCluster:
    name: str
    region: str
    node_types: tuple[RayNodeType, ...]  # in the YAML's order (Ray iterates them in dict order)
    head_node_type: str
    max_workers: int  # the global cap on workers of all types
    availability_zone: str | None = None  # Ray's own comma-separated string
    use_internal_ips: bool = False
    group_name: str = ""  # provider.security_group.GroupName, else ray-autoscaler-<cluster_name>
    group_ports: tuple[int, ...] = ()  # tcp ports of provider.security_group.IpPermissions
    legacy: bool = False  # written with head_node/worker_nodes
    key_file: str = ""  # auth.ssh_private_key ("" : Ray creates and keeps its own key pair)
    source: str = ""

    @property
    def head(self) -> RayNodeType:
        return next(t for t in self.node_types if t.name == self.head_node_type)

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(z.strip() for z in self.availability_zone.split(",")) if self.availability_zone else ()

    def max_nodes(self) -> tuple[tuple[RayNodeType, int], ...]:
        """(node type, most nodes of that type at once): the head, and each type's max_workers
        capped by the global max_workers. The global cap also bounds their sum (`max_worker_count`)."""
        out: list[tuple[RayNodeType, int]] = []
        for t in self.node_types:
            n = min(t.max_workers, self.max_workers) + (1 if t.name == self.head_node_type else 0)
            if n:
                out.append((t, n))
        return tuple(out)

    @property
    def max_worker_count(self) -> int:
        return min(self.max_workers, sum(t.max_workers for t in self.node_types))


# --- reading the YAML --------------------------------------------------------------------------

def _fail(where: str, message: str) -> RayConfigError:
    return RayConfigError(f"{where}: {message}")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, f"expected a mapping, got {_short(value)}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _int(value: Any, where: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(where, f"expected a whole number >= 0, got {_short(value)}")
    return value


def _str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail(where, f"expected a string, got {_short(value)}")
    return value


def _ids(value: Any, where: str, prefix: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise _fail(where, f"expected a non-empty list of {prefix}… ids, got {_short(value)}")
    for item in value:
        if not isinstance(item, str) or not item.startswith(prefix):
            raise _fail(where, f"{_short(item)} is not a {prefix}… id")
    return tuple(value)


def _node_type(name: str, body: Any, where: str) -> RayNodeType:
    body = _mapping(body, where)
    cfg = dict(_mapping(body.get("node_config", {}), f"{where}.node_config"))
    at = f"{where}.node_config"
    if "NetworkInterfaces" in cfg:
        # _configure_from_network_interfaces: subnets and groups come from the interfaces only.
        for key in ("SubnetId", "SubnetIds", "SecurityGroupIds"):
            if key in cfg:
                raise _fail(f"{at}.{key}", "not allowed with NetworkInterfaces (Ray: subnets and security groups "
                                           "must ONLY be given in each NetworkInterface)")
        nics = cfg["NetworkInterfaces"]
        if not isinstance(nics, list) or not nics:
            raise _fail(f"{at}.NetworkInterfaces", "expected a non-empty list of interfaces")
        subnets: list[Any] = []
        groups: list[Any] = []
        for i, nic in enumerate(nics):
            nic = _mapping(nic, f"{at}.NetworkInterfaces[{i}]")
            if not nic.get("SubnetId"):
                raise _fail(f"{at}.NetworkInterfaces[{i}].SubnetId",
                            "missing (Ray requires a subnet on every interface)")
            if not nic.get("Groups"):
                raise _fail(f"{at}.NetworkInterfaces[{i}].Groups",
                            "missing (Ray requires a security group on every interface)")
            subnets.append(nic["SubnetId"])
            groups.extend(nic["Groups"] if isinstance(nic["Groups"], list) else [nic["Groups"]])
        cfg["SubnetIds"], cfg["SecurityGroupIds"] = subnets, groups
    profile = cfg.get("IamInstanceProfile")
    profile_name = ""
    if profile is not None:
        profile = _mapping(profile, f"{at}.IamInstanceProfile")
        if profile.get("Arn"):
            # Ray's _arn_to_name: the text after the last ':' and '/'
            profile_name = _str(profile["Arn"], f"{at}.IamInstanceProfile.Arn").split(":")[-1].split("/")[-1]
        elif profile.get("Name"):
            profile_name = _str(profile["Name"], f"{at}.IamInstanceProfile.Name")
        else:
            raise _fail(f"{at}.IamInstanceProfile", "expected Arn or Name")
    market = cfg.get("InstanceMarketOptions")
    spot = isinstance(market, Mapping) and str(market.get("MarketType", "")).lower() == "spot"
    image = _str(cfg.get("ImageId"), f"{at}.ImageId")
    return RayNodeType(
        name=name,
        instance_type=_str(cfg.get("InstanceType"), f"{at}.InstanceType"),
        image="" if image.lower() == "latest_dlami" else image,
        subnet_ids=_ids(cfg["SubnetIds"], f"{at}.SubnetIds", "subnet-") if "SubnetIds" in cfg else None,
        security_group_ids=(_ids(cfg["SecurityGroupIds"], f"{at}.SecurityGroupIds", "sg-")
                            if "SecurityGroupIds" in cfg else None),
        instance_profile=profile_name,
        key_name=_str(cfg.get("KeyName"), f"{at}.KeyName"),
        min_workers=_int(body.get("min_workers"), f"{where}.min_workers", 0),
        max_workers=_int(body.get("max_workers"), f"{where}.max_workers", -1) if "max_workers" in body else -1,
        spot=spot,
    )


def _default_types() -> dict[str, Any]:
    # The two node types of defaults.yaml (BlockDeviceMappings left out: nothing here reads them).
    return {
        DEFAULT_HEAD_TYPE: {"resources": {}, "node_config": {"InstanceType": DEFAULT_INSTANCE_TYPE}},
        DEFAULT_WORKER_TYPE: {"min_workers": 0, "resources": {},
                              "node_config": {"InstanceType": DEFAULT_INSTANCE_TYPE,
                                              "InstanceMarketOptions": {"MarketType": "spot"}}},
    }


def read_cluster(doc: Any, source: str = "") -> RayCluster:
    """A Ray cluster YAML (already parsed) -> RayCluster, with Ray's own defaults filled in.

    Raises RayConfigError naming the field for what Ray would refuse (its schema, a non-AWS
    provider, `head_node_type` not among the node types, min_workers over the global cap) and
    for what preflight cannot check.
    """
    doc = _mapping(doc, "cluster YAML")
    unknown = sorted(str(k) for k in doc if k not in KNOWN_KEYS)
    if unknown:
        raise _fail(unknown[0], "not a Ray cluster field (Ray's schema rejects it)")
    if "provider" not in doc:
        raise _fail("provider", "required (Ray: type and region of the cloud)")
    provider = _mapping(doc["provider"], "provider")
    kind = provider.get("type")
    if kind != "aws":
        raise _fail("provider.type", f"{_short(kind)}: preflight checks Ray clusters on AWS only (provider.type: aws)")
    region = _str(provider.get("region"), "provider.region")
    if not region:
        raise _fail("provider.region", "required for provider.type aws (Ray reads provider['region'])")
    zone = provider.get("availability_zone")
    if zone is not None and (not isinstance(zone, str) or not zone.strip()):
        raise _fail("provider.availability_zone", f"expected zones separated by commas, got {_short(zone)}")
    internal = provider.get("use_internal_ips", False)
    if not isinstance(internal, bool):
        raise _fail("provider.use_internal_ips", f"expected true or false, got {_short(internal)}")
    name = _str(doc.get("cluster_name", DEFAULT_CLUSTER_NAME), "cluster_name") or DEFAULT_CLUSTER_NAME
    sg = _mapping(provider.get("security_group", {}) or {}, "provider.security_group")
    extra = sg.get("IpPermissions", [])
    if not isinstance(extra, list):
        raise _fail("provider.security_group.IpPermissions", "expected a list of IpPermissions")
    group_name = _str(sg.get("GroupName"), "provider.security_group.GroupName") or GROUP_TEMPLATE.format(name)
    max_workers = _int(doc.get("max_workers"), "max_workers", DEFAULT_MAX_WORKERS)

    legacy = "available_node_types" not in doc and ("head_node" in doc or "worker_nodes" in doc)
    if legacy:
        # merge_legacy_yaml_with_defaults: head_node/worker_nodes become two node types; an empty
        # one keeps the default type's data.
        types = _default_types()
        raw: dict[str, Any] = {}
        head_cfg = doc.get("head_node") or None
        work_cfg = doc.get("worker_nodes") or None
        raw[LEGACY_HEAD_TYPE] = ({"node_config": _mapping(head_cfg, "head_node"), "min_workers": 0, "max_workers": 0}
                                 if head_cfg else types[DEFAULT_HEAD_TYPE])
        raw[LEGACY_WORKER_TYPE] = ({"node_config": _mapping(work_cfg, "worker_nodes"),
                                    "min_workers": doc.get("min_workers", 0), "max_workers": max_workers}
                                   if work_cfg else types[DEFAULT_WORKER_TYPE])
        head_type = LEGACY_HEAD_TYPE
    else:
        raw = dict(_mapping(doc.get("available_node_types", _default_types()), "available_node_types"))
        if not raw:
            raise _fail("available_node_types", "empty (Ray needs at least the head node type)")
        head_type = _str(doc.get("head_node_type", DEFAULT_HEAD_TYPE), "head_node_type")
        if head_type not in raw:
            raise _fail("head_node_type", f"{head_type!r} is not one of available_node_types "
                                          f"({', '.join(map(str, raw))})")
    node_types: list[RayNodeType] = []
    for key, body in raw.items():
        if legacy:
            where = "head_node" if key == LEGACY_HEAD_TYPE else "worker_nodes"
        else:
            where = f"available_node_types.{key}"
        t = _node_type(str(key), body, where)
        if t.max_workers < 0:  # fill_node_type_min_max_workers: head type 0, others the global cap
            t = replace(t, max_workers=0 if t.name == head_type else max_workers)
        if not t.image and region not in DEFAULT_AMI_REGIONS:
            raise _fail(f"{where}.node_config.ImageId" if not legacy else f"{where}.ImageId",
                        f"missing, and Ray {RAY_VERSION} has no default AMI for {region} (ray up stops with 'Node type "
                        f"`{t.name}` has no ImageId in its node_config and no default AMI is available for the region "
                        f"`{region}`'); set an ImageId")
        node_types.append(t)
    auth = _mapping(doc.get("auth") or {}, "auth")
    key_file = _str(auth.get("ssh_private_key"), "auth.ssh_private_key")
    if key_file:
        # _configure_key_pair: with your own private key, every node type needs its KeyName
        # (or UserData that installs the key), else `ray up` stops.
        for t, body in zip(node_types, raw.values(), strict=True):
            cfg = body.get("node_config") if isinstance(body, Mapping) else None
            if not t.key_name and not (isinstance(cfg, Mapping) and "UserData" in cfg):
                where = ("head_node" if t.name == LEGACY_HEAD_TYPE else "worker_nodes") if legacy \
                    else f"available_node_types.{t.name}.node_config"
                raise _fail(f"{where}.KeyName", "missing: auth.ssh_private_key is set, so Ray needs the key pair's "
                                                "name on every node type (Ray: '`KeyName` missing')")
    if sum(t.min_workers for t in node_types) > max_workers:
        raise _fail("max_workers", f"{max_workers} is smaller than the sum of min_workers of the node types "
                                   f"({sum(t.min_workers for t in node_types)}); Ray refuses this config")
    return RayCluster(
        name=name, region=region, node_types=tuple(node_types), head_node_type=head_type, max_workers=max_workers,
        availability_zone=zone, use_internal_ips=internal, group_name=group_name,
        group_ports=_permission_ports(extra), legacy=legacy, key_file=key_file, source=source,
    )


def _permission_ports(perms: list[Any]) -> tuple[int, ...]:
    """tcp ports of provider.security_group.IpPermissions (the extra ports Ray adds to its group)."""
    ports: set[int] = set()
    for i, perm in enumerate(perms):
        perm = _mapping(perm, f"provider.security_group.IpPermissions[{i}]")
        if str(perm.get("IpProtocol", "")).lower() not in ("tcp", "6"):
            continue
        lo, hi = perm.get("FromPort"), perm.get("ToPort", perm.get("FromPort"))
        if not isinstance(lo, int) or not isinstance(hi, int) or not 0 <= lo <= hi <= 65535:
            raise _fail(f"provider.security_group.IpPermissions[{i}]", "expected FromPort <= ToPort, both 0-65535")
        if hi - lo < 1024:  # a whole-range rule is not a list of "ports the cluster needs"
            ports.update(range(max(lo, 1), hi + 1))
    return tuple(sorted(ports))


# --- Ray's subnet choice -----------------------------------------------------------------------

@dataclass(frozen=True)
class TypeSubnets:
    """The SubnetIds Ray writes into one node type's node_config, in its order."""

    node_type: str
    subnets: tuple[str, ...]
    vpc: str
    given: bool  # the user listed SubnetIds (Ray: "config") rather than Ray choosing ("default")


@dataclass(frozen=True)
class RaySelection:
    types: tuple[TypeSubnets, ...] = ()  # in the order Ray configures them (given SubnetIds first)
    error: str = ""  # Ray's own message when `ray up` stops in _configure_subnet
    why: str = ""  # what in the account made Ray stop, in preflight's words
    rejected: dict[str, str] = field(default_factory=dict)  # subnet -> why Ray would not use it

    @property
    def ok(self) -> bool:
        return not self.error

    def subnets(self, head_type: str = "") -> tuple[str, ...]:
        """Every subnet Ray will launch into, head type's first, each once."""
        ordered = sorted(self.types, key=lambda t: t.node_type != head_type)
        out: list[str] = []
        for t in ordered:
            out += [s for s in t.subnets if s not in out]
        return tuple(out)

    def vpc(self, head_type: str = "") -> str:
        for t in sorted(self.types, key=lambda t: t.node_type != head_type):
            return t.vpc
        return ""


def _why_unusable(s: Any, use_internal_ips: bool) -> str:
    if s.state != "available":
        return f"is {s.state}, not available"
    if not (use_internal_ips or s.map_public_ip_on_launch):
        return "does not map public IPs on launch and provider.use_internal_ips is not true"
    return ""


def _usable(candidates: list[Any], user: list[Any] | None, zones: tuple[str, ...], vpc_of_sg: str | None,
            internal: bool, key: str) -> tuple[list[Any], str, str]:
    """Ray's _usable_subnet_ids over inventory subnets: (subnets in Ray's order, error, why)."""
    if vpc_of_sg:
        candidates = [s for s in candidates if s.vpc_id == vpc_of_sg]
    # Z->A by zone; Python's sort is stable, so ties keep DescribeSubnets' order, as in Ray.
    subnets = sorted((s for s in candidates if not _why_unusable(s, internal)),
                     key=lambda s: s.availability_zone, reverse=True)

    def pruned(now: list[Any]) -> list[str]:
        ids = {s.id for s in now}
        return sorted({s.id for s in user or ()} - ids)

    if not subnets:
        # (Ray goes on: ", try manually creating an instance in your specified region ...")
        return [], f"No usable subnets found for node type {key}", ""
    if user is not None and len(subnets) != len(user):
        return [], f"The specified subnets for node type {key} are not usable: {set(pruned(subnets))}", ""
    if zones:
        subnets = [s for z in zones for s in subnets if s.availability_zone == z]
        if not subnets:
            return [], (f"No usable subnets matching availability zone {list(zones)} found for node type "
                        f"{key}."), ""
        if user is not None and len(subnets) != len(user):
            return [], (f"MISMATCH between specified subnets and Availability Zones! ... The following subnets "
                        f"for node type `{key}` have no matching availability zone: {pruned(subnets)}."), ""
    first_vpc = subnets[0].vpc_id
    subnets = [s for s in subnets if s.vpc_id == first_vpc]  # "only the first subnet's VPC" (ray#14868)
    if user is not None and len(subnets) != len(user):
        return [], f"Subnets specified in more than one VPC for node type `{key}`!", ""
    return subnets, "", ""


def ray_subnets(inventory: Any, cluster: RayCluster) -> RaySelection:
    """What Ray's `_configure_subnet` does with this account: per node type, the SubnetIds it
    sets (in its order) and their VPC, or the error `ray up` stops with."""
    all_subnets = list(inventory.subnets)  # Ray: ec2.subnets.all(), DescribeSubnets' order
    by_id = {s.id: s for s in all_subnets}
    internal, zones = cluster.use_internal_ips, cluster.zones
    rejected = {s.id: _why_unusable(s, internal) for s in all_subnets if _why_unusable(s, internal)}

    sg_ids = [g for t in cluster.node_types for g in (t.security_group_ids or ())]
    vpc_of_sg: str | None = None
    if sg_ids:
        vpcs = sorted({g.vpc_id for g in inventory.security_groups if g.id in set(sg_ids)})
        if len(vpcs) > 1:
            return RaySelection(error="All security groups specified in the cluster config should belong to the "
                                      "same VPC.", why=f"SecurityGroupIds are in {', '.join(vpcs)}")
        if not vpcs:
            return RaySelection(error="Failed to detect a security group with id equal to any of the configured "
                                      "SecurityGroupIds.",
                                why=f"none of {', '.join(sorted(set(sg_ids)))} exists in {cluster.region}")
        vpc_of_sg = vpcs[0]

    chosen: list[TypeSubnets] = []
    given = [t for t in cluster.node_types if t.subnet_ids is not None]
    vpc = ""
    for t in given:
        wanted = list(dict.fromkeys(t.subnet_ids or ()))  # Ray drops duplicates (Counter keys)
        missing = [sid for sid in wanted if sid not in by_id]
        if missing:
            return RaySelection(tuple(chosen), error=f"Subnet ID not found: {tuple(wanted)}",
                                why=f"{', '.join(missing)} does not exist in {cluster.region}", rejected=rejected)
        wanted_set = set(wanted)
        user = [s for s in all_subnets if s.id in wanted_set]  # the filter answers in DescribeSubnets' order
        subnets, error, why = _usable(user, user, zones, vpc_of_sg, internal, t.name)
        if error:
            return RaySelection(tuple(chosen), error=error, why=why or _why(user, zones, vpc_of_sg, internal),
                                rejected=rejected)
        vpc = subnets[0].vpc_id
        # Ray checks the given list but does not write its sorted copy back: node_config keeps
        # the user's SubnetIds, and create_node tries them in the user's order.
        chosen.append(TypeSubnets(t.name, tuple(wanted), vpc, True))
    if vpc and not vpc_of_sg:
        vpc_of_sg = vpc  # "lock-in a good VPC shared by the last set of user-specified subnets"
    for t in cluster.node_types:
        if t.subnet_ids is not None:
            continue
        subnets, error, why = _usable(all_subnets, None, zones, vpc_of_sg, internal, t.name)
        if error:
            return RaySelection(tuple(chosen), error=error, why=why or _why(all_subnets, zones, vpc_of_sg, internal),
                                rejected=rejected)
        chosen.append(TypeSubnets(t.name, tuple(s.id for s in subnets), subnets[0].vpc_id, False))
    return RaySelection(tuple(chosen), rejected=rejected)


def _why(candidates: list[Any], zones: tuple[str, ...], vpc: str | None, internal: bool) -> str:
    """Why Ray found nothing it could use, subnet by subnet (short)."""
    if not candidates:
        return "the region has no subnet at all"
    parts = []
    for s in candidates[:6]:
        if vpc and s.vpc_id != vpc:
            parts.append(f"{s.id} is in {s.vpc_id}, not in {vpc} (the VPC of the cluster's security groups)")
        elif _why_unusable(s, internal):
            parts.append(f"{s.id} {_why_unusable(s, internal)}")
        elif zones and s.availability_zone not in zones:
            parts.append(f"{s.id} is in {s.availability_zone}, not in availability_zone {','.join(zones)}")
        else:
            parts.append(f"{s.id} is in another VPC than the first usable subnet")
    more = f" (and {len(candidates) - 6} more)" if len(candidates) > 6 else ""
    return "; ".join(parts) + more


# --- the plan and the profile -------------------------------------------------------------------

def plan_from_cluster(doc: Any, source: str = "") -> Any:
    """A Ray cluster YAML -> a Plan for launcher `ray` (its RayCluster rides along in `spec`).

    The head node type gives what Ray needs on the head (instance type, image, key, instance
    profile, group); `count` and `nodes` describe the cluster at its maximum size, which is what
    the vCPU quota must fit.
    """
    from preflight.plan import NodeGroup, Plan, PlanError

    try:
        c = read_cluster(doc, source)
    except RayConfigError as exc:
        raise PlanError(str(exc)) from None
    head = c.head
    groups = tuple(NodeGroup(name=t.name, instance_type=t.instance_type, count=n, spot=t.spot,
                             fixed=1 if t.name == c.head_node_type else 0)
                   for t, n in c.max_nodes() if t.instance_type)
    kw: dict[str, Any] = {
        "cloud": "aws", "launcher": "ray", "region": c.region, "cluster": c.name, "name": c.name,
        "use_internal_ips": c.use_internal_ips, "instance_type": head.instance_type, "image": head.image,
        "key_name": head.key_name, "key_file": c.key_file, "instance_profile": head.instance_profile,
        "zones": c.zones, "spot": head.spot, "count": 1 + c.max_worker_count, "nodes": groups,
        # Only a group the YAML names by id: Ray's own group (GroupName, or ray-autoscaler-<cluster>)
        # may not exist yet, which is normal; RayProfile.group_name gives it to the rules.
        "security_group": head.security_group_ids[0] if head.security_group_ids else "",
        "ports": tuple(sorted({SSH_PORT, *c.group_ports})),
    }
    if c.use_internal_ips:
        kw["public_ip"] = False  # Ray then wants private subnets: nothing needs to be reachable from outside
    kw = {k: v for k, v in kw.items() if v not in ("", (), None)}
    return Plan(**kw, spec=c, source=source, given=frozenset(kw))


def cluster_from_plan(plan: Any) -> RayCluster:
    """`--launcher ray` with a preflight plan: the one-node-type cluster Ray would be given."""
    group = getattr(plan, "security_group", "") or ""
    subnets = tuple(getattr(plan, "subnets", ()) or ())
    name = getattr(plan, "cluster", "") or getattr(plan, "name", "") or DEFAULT_CLUSTER_NAME
    head = RayNodeType(name=DEFAULT_HEAD_TYPE, instance_type=getattr(plan, "instance_type", "") or "",
                       image=getattr(plan, "image", "") or "", subnet_ids=subnets or None,
                       security_group_ids=(group,) if group.startswith("sg-") else None,
                       max_workers=max(0, int(getattr(plan, "count", 1) or 1) - 1))
    zones = tuple(getattr(plan, "zones", ()) or ())
    return RayCluster(name=name, region=getattr(plan, "region", "") or "", node_types=(head,),
                      head_node_type=head.name, max_workers=head.max_workers,
                      availability_zone=",".join(zones) or None,
                      use_internal_ips=bool(getattr(plan, "use_internal_ips", False)),
                      group_name=group if group and not group.startswith("sg-") else GROUP_TEMPLATE.format(name))


def cluster_of(plan: Any) -> RayCluster:
    spec = getattr(plan, "spec", None)
    return spec if isinstance(spec, RayCluster) else cluster_from_plan(plan)


class RayProfile(LauncherProfile):
    """Ray's cluster launcher (`ray up`) on AWS, as Ray 2.60.0 does it."""

    name = "ray"
    title = "Ray"
    version = RAY_VERSION
    source = SOURCE
    ssh_port = SSH_PORT  # `ray up` SSHes into the head from the client

    def requests_public_ip(self, plan: Any) -> bool | None:
        # Ray never sets AssociatePublicIpAddress: it only picks subnets that map public IPs
        # (unless use_internal_ips, when nothing needs a public address).
        return False if cluster_of(plan).use_internal_ips else None

    def select(self, inventory: Any, plan: Any) -> Selection:
        c = cluster_of(plan)
        sel = ray_subnets(inventory, c)
        head_first = sorted(sel.types, key=lambda t: t.node_type != c.head_node_type)
        # create_node launches into SubnetIds[0] and moves on only when RunInstances fails, so a
        # subnet that launches fine but is unreachable is where the instances stay.
        lands = tuple(dict.fromkeys(t.subnets[0] for t in head_first if t.subnets))
        return Selection(subnets=sel.subnets(c.head_node_type), vpc=sel.vpc(c.head_node_type),
                         error=sel.error, why=sel.why, lands_in=lands)

    def group_name(self, plan: Any) -> str:
        c = cluster_of(plan)
        return c.head.security_group_ids[0] if c.head.security_group_ids else c.group_name

    def launcher_opens(self, plan: Any, group: Any) -> tuple[int, ...]:
        """tcp ports Ray itself opens on `group` (None: not created yet). _configure_security_group:
        groups given as SecurityGroupIds are never touched; Ray's own group (looked up by name in
        the cluster's VPC, created when missing) gets tcp 22 from 0.0.0.0/0, all traffic within the
        cluster and provider.security_group.IpPermissions, but only while it has no ingress rule."""
        c = cluster_of(plan)
        if c.head.security_group_ids is not None:
            return ()
        if group is None or not group.ingress:
            return tuple(sorted({SSH_PORT, *c.group_ports}))
        return ()

    def why_stricter(self) -> str:
        return ("preflight is stricter than Ray here: Ray only checks that a subnet is available and maps public IPs "
                "on launch, never its routes")

    def group_note(self, group: Any) -> str:
        n = len(group.ingress)
        return (f"Ray adds its rules (tcp {SSH_PORT} from 0.0.0.0/0, all traffic within the cluster, "
                f"provider.security_group.IpPermissions) only to a security group with no ingress rule at all, and "
                f"{group.id} already has {n} ingress rule{'s' if n != 1 else ''}")

    def setting_hint(self, key: str, value: str) -> str:
        if key == "group rules":
            return f"add tcp {value} to provider.security_group.IpPermissions in the cluster YAML"
        return super().setting_hint(key, value)


PROFILE = RayProfile()


__all__ = [
    "RAY_VERSION", "RayCluster", "RayConfigError", "RayNodeType", "RaySelection", "TypeSubnets",
    "RayProfile", "PROFILE", "ray_subnets", "read_cluster", "plan_from_cluster", "cluster_from_plan", "cluster_of",
]
