"""Launcher profiles: how the tool that will really run the launch behaves, as data in one place.

A launch is judged by what its launcher will do, not by preflight's own idea of a launch. A
profile says, per launcher (SkyPilot, Ray, plain `aws ec2 run-instances`, `preflight launch`):

- how it picks the VPC, subnets and security group (`select()`: the subnets it would use, in its
  own order, or the error it would stop with), modelled on the launcher's own code and checked
  against that code in tests/launchers/;
- whether it requests a public IP itself (then MapPublicIpOnLaunch does not matter to it);
- whether it needs the default VPC (no VPC named -> default VPC only);
- which ports it needs (the plan's ports, SSH from the client);
- which findings are launch-blocking for it;
- how a finding is phrased in its own words ("SkyPilot will stop with '...' because ...").

The NET rules read the profile through the plan (`plan.launcher`); nothing else in a rule
mentions a launcher by name. Profiles are pure: they never call a cloud, they read the
inventory the check collected.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from preflight.engine import Finding
    from preflight.inventory.model import Inventory

LAUNCHERS = ("skypilot", "ray", "ec2", "preflight")

# Rules whose FAIL stops a launch for every launcher (unless a profile says otherwise, or the
# finding itself says `details["blocks_launch"]`): the launch fails or its instances are unusable.
LAUNCH_BLOCKING = frozenset({
    "NET001", "NET002", "NET003", "NET004", "NET007", "SG005", "SG010",
    "CMP001", "CMP002", "CMP003", "CMP004", "CMP005", "CMP006", "IAM001", "IAM002", "IAM004",
    "PORT001", "PORT002",
})


@dataclass(frozen=True)
class Selection:
    """Where a launcher would put the instances: subnets in the launcher's own order (it tries
    the first first), their VPC, or the launcher's own error when it would stop before launching."""

    subnets: tuple[str, ...] = ()
    vpc: str = ""
    error: str = ""  # the launcher's own message, as it prints it
    why: str = ""  # what in the account made it so, in preflight's words
    default_vpc_only: bool = False  # it only looked at the default VPC (no VPC was named)
    # Where the instances land when their launch succeeds (Ray: the first SubnetId of each node
    # type; it moves on only when RunInstances fails). Empty: any of `subnets` may be used.
    lands_in: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.error


class LauncherProfile:
    """The plain profile: `preflight launch` (and any plan without a launcher). Subclasses
    override what their launcher does differently."""

    name = "preflight"
    title = "preflight launch"
    version = ""  # the launcher version this profile was modelled on
    source = ""  # where in the launcher's code the behaviour comes from
    not_blocking: frozenset[str] = frozenset()  # rules whose FAILs never stop this launcher
    ssh_port: int | None = None  # the launcher needs SSH from the client to its nodes

    # --- what the launcher does -------------------------------------------------------------
    def requests_public_ip(self, plan: Any) -> bool | None:
        """True when the launcher asks EC2 for a public IP itself (AssociatePublicIpAddress),
        False when it asks for none, None when the subnet's MapPublicIpOnLaunch decides."""
        value = getattr(plan, "public_ip", None)
        return value if isinstance(value, bool) else None

    def needs_default_vpc(self, plan: Any) -> bool:
        """Does this launch only work in the region's default VPC?"""
        return False

    def select(self, inventory: Inventory, plan: Any) -> Selection | None:
        """The subnets the launcher would pick, in order, or its error; None when the launcher
        has no selection of its own (the plan's subnets/VPC, else the whole region, are in scope)."""
        return None

    def ports(self, plan: Any) -> tuple[int, ...]:
        """Ports that must be reachable on the nodes: the plan's, plus SSH when the launcher needs it."""
        ports = set(getattr(plan, "ports", ()) or ())
        if self.ssh_port:
            ports.add(self.ssh_port)
        return tuple(sorted(ports))

    def group_name(self, plan: Any) -> str:
        """The security group (id or name) the launcher will use, '' when it creates a fresh one."""
        return getattr(plan, "security_group", "") or ""

    # --- verdicts and words -------------------------------------------------------------------
    def blocks(self, finding: Finding) -> bool:
        """Does this FAIL stop the launch (or make its instances unusable) for this launcher?
        The finding's own say (`details["blocks_launch"]`, set by rules that know the launcher)
        wins; else the rule metadata (category launch-blocker), minus what this launcher does not
        care about (`not_blocking`)."""
        if finding.status != "FAIL":
            return False
        said = finding.details.get("blocks_launch") if isinstance(finding.details, dict) else None
        if isinstance(said, bool):
            return said
        if finding.rule in self.not_blocking:
            return False
        from preflight import engine

        meta_says = getattr(engine, "blocks_launch", None)
        return bool(meta_says(finding)) if meta_says is not None else finding.rule in LAUNCH_BLOCKING

    def will_stop(self, error: str, because: str = "") -> str:
        """'<Launcher> will stop with '<its error>' because <why>'."""
        return f"{self.title} will stop with '{error}'" + (f" because {because}" if because else "")

    def will_pick(self, subnet: str, zone: str, problem: str = "") -> str:
        where = f"{subnet} ({zone})" if zone else subnet
        return (f"{self.title} will pick subnet {where} and its instances will be unreachable"
                + (f": {problem}" if problem else ""))

    def why_stricter(self) -> str:
        """Why preflight rejects a subnet this launcher accepts (what the launcher does not look at)."""
        return (f"preflight is stricter than {self.title} here: {self.title} only looks for a route to an igw-… in "
                "the subnet's route table, whatever its state")

    def setting_hint(self, key: str, value: str) -> str:
        """How the user sets one of the launcher's own options (e.g. aws.vpc_name)."""
        return f"set {key}: {value}"


class Ec2Profile(LauncherProfile):
    """`aws ec2 run-instances` (or any SDK call) as written: no subnet -> the default VPC's
    default subnet; a public IP only when the subnet maps one or the call asks for it."""

    name = "ec2"
    title = "EC2 RunInstances"
    source = "EC2 API reference, RunInstances: SubnetId (default: a default subnet of the default VPC)"

    def needs_default_vpc(self, plan: Any) -> bool:
        return not (getattr(plan, "subnets", ()) or getattr(plan, "vpc", ""))

    def setting_hint(self, key: str, value: str) -> str:
        return f"pass --subnet-id {value}" if key == "subnet" else super().setting_hint(key, value)


class _GenericRay(LauncherProfile):
    """Ray's autoscaler until preflight.launchers.ray refines it (subnet selection lives there)."""

    name = "ray"
    title = "Ray"
    ssh_port = 22


_BUILTIN: dict[str, type[LauncherProfile]] = {
    "preflight": LauncherProfile, "ec2": Ec2Profile, "ray": _GenericRay,
}
_MODULES = {"skypilot": "preflight.launchers.skypilot", "ray": "preflight.launchers.ray"}
_CACHE: dict[str, LauncherProfile] = {}


def get_profile(name: str | None) -> LauncherProfile:
    """The profile for a launcher name ('' or None -> preflight's own)."""
    key = (name or "preflight").lower()
    if key not in LAUNCHERS:
        from preflight.errors import PreflightError

        raise PreflightError(f"--launcher: {name!r} is not one of {', '.join(LAUNCHERS)}")
    if key not in _CACHE:
        profile: LauncherProfile | None = None
        module = _MODULES.get(key)
        if module:
            try:
                profile = importlib.import_module(module).PROFILE
            except (ImportError, AttributeError):
                profile = None
        _CACHE[key] = profile or _BUILTIN[key]()
    return _CACHE[key]


def profile_of(plan: Any) -> LauncherProfile:
    return get_profile(getattr(plan, "launcher", "") or None)


# --- detection -------------------------------------------------------------------------------

SKYPILOT_KEYS = frozenset({"resources", "num_nodes", "run", "setup", "file_mounts", "envs", "workdir",
                           "service", "secrets", "volumes", "config", "event_callback", "inputs", "outputs"})
RAY_KEYS = frozenset({"provider", "available_node_types", "head_node_type", "cluster_name", "auth",
                      "head_node", "worker_nodes", "max_workers", "upscaling_speed", "idle_timeout_minutes",
                      "head_setup_commands", "worker_setup_commands", "setup_commands", "initialization_commands",
                      "head_start_ray_commands", "worker_start_ray_commands", "docker", "file_mounts_sync_continuously",
                      "rsync_exclude", "rsync_filter", "cluster_synced_files"})


def detect(docs: Iterable[Any]) -> str:
    """'skypilot', 'ray' or 'preflight' from the keys of the plan file's documents ('' when none
    of the documents is a mapping). Ray's keys win over SkyPilot's shared ones (`file_mounts`)."""
    keys: set[str] = set()
    for doc in docs:
        if isinstance(doc, dict):
            keys.update(str(k) for k in doc)
    if not keys:
        return ""
    if keys & (RAY_KEYS - {"file_mounts"}) and {"provider", "available_node_types", "head_node_type",
                                               "cluster_name", "head_node", "auth"} & keys:
        return "ray"
    if keys & SKYPILOT_KEYS:
        return "skypilot"
    return "preflight"
