"""The launch plan: what the user is about to launch, from `--plan FILE` and command-line flags.

Accepts preflight's own `launch.yaml` and a SkyPilot task YAML (`resources:`, `num_nodes:`), so
SkyPilot users can gate a launch with no new file. Every validation error names the field.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preflight.errors import PreflightError, load_yaml, read_input


class PlanError(PreflightError):
    pass


@dataclass(frozen=True)
class Replicas:
    count: int = 0
    port_range: tuple[int, int] = (0, 0)
    service: str = ""
    # Fixed ports, one per replica in order (replica i runs on instance i % count); empty means
    # "allocate from port_range". PORT001 checks that fixed ports never collide on one host.
    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class NodeGroup:
    """Instances of one type in a launch of several types (a Ray cluster's node types)."""

    name: str
    instance_type: str
    count: int  # the most of this type at once (fixed included)
    spot: bool = False
    fixed: int = 0  # always there (the head); the rest share the plan's `count` cap


@dataclass(frozen=True)
class Plan:
    cloud: str = "aws"
    region: str = ""
    vpc: str = ""
    subnets: tuple[str, ...] = ()
    public_ip: bool | None = None
    ports: tuple[int, ...] = ()
    source_cidr: str = "0.0.0.0/0"
    security_group: str = ""
    # compute
    instance_type: str = ""
    image: str = ""
    count: int = 1
    # Mixed instance types (set by a launcher's reader): `count` then caps their total, and the
    # compute rules size the launch from these groups. Empty: `count` × `instance_type`.
    nodes: tuple[NodeGroup, ...] = ()
    spec: Any = field(default=None, compare=False)  # the launcher's own parsed spec (a RayCluster)
    key_name: str = ""
    key_file: str = ""
    instance_profile: str = ""
    zones: tuple[str, ...] = ()
    spot: bool = False
    # permissions
    capabilities: tuple[str, ...] = ()
    project: str = ""
    # services placed on the instances
    replicas: Replicas | None = None
    name: str = ""
    # launcher: who will run the launch (skypilot, ray, ec2, preflight; "" = preflight's own)
    launcher: str = ""
    cluster: str = ""  # cluster name: SkyPilot/Ray derive their security group from it
    use_internal_ips: bool | None = None
    # resources given as requirements instead of an instance type (SkyPilot): matched against
    # EC2's DescribeInstanceTypes at check time into `candidates`
    accelerators: str = ""  # "A10G:1"
    cpus: str = ""  # "4", "4+"
    memory: str = ""  # GiB: "16", "16+"
    candidates: tuple[str, ...] = ()
    # One plan file can describe several launches (SkyPilot any_of/ordered, zones, pipelines):
    # `alternatives` holds every variant to check, each a Plan of its own; a variant names its
    # task (pipelines) and alternative. Empty: the plan is its own only variant.
    alternatives: tuple[Plan, ...] = ()
    task: str = ""
    alternative: str = ""
    unchecked: str = ""  # a variant for a cloud preflight does not check ("kubernetes")
    source: str = ""  # the file it came from, for messages
    given: frozenset[str] = field(default_factory=frozenset)  # fields the user actually set
    # fields set on the command line over the file (with_overrides), so a printed follow-up command
    # can repeat exactly those flags
    overridden: frozenset[str] = field(default_factory=frozenset, compare=False)

    def has(self, name: str) -> bool:
        return name in self.given

    def __post_init__(self) -> None:
        # `preflight.Plan(region=..., ports=[8000])` from Python: lists become tuples (frozen and
        # hashable like a parsed plan), and what the caller set counts as given, as in a file.
        for name in ("subnets", "ports", "zones", "capabilities"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise PlanError(f"{name}: expected a list, got the string {value!r}")
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        if not self.given:
            def default(f: dataclasses.Field[Any]) -> Any:
                factory = f.default_factory
                return factory() if factory is not dataclasses.MISSING else f.default

            set_fields = {n for n, f in Plan.__dataclass_fields__.items()
                          if n not in ("source", "given") and getattr(self, n) != default(f)}
            object.__setattr__(self, "given", frozenset(set_fields))

    @classmethod
    def from_dict(cls, doc: Any, source: str = "") -> Plan:
        """A plan from a mapping of plan fields (or a SkyPilot task), validated like a plan file."""
        return plan_from_dict(doc, source)

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        """A plan from a YAML file (preflight launch.yaml or a SkyPilot task)."""
        return load_plan(path)


def parse_ports(spec: Any, where: str = "ports") -> tuple[int, ...]:
    """`8000,8002,8004`, `8000-8010`, a list of ints or such strings -> sorted unique ports."""
    items: list[Any]
    if isinstance(spec, (list, tuple)):
        items = list(spec)
    elif isinstance(spec, int) and not isinstance(spec, bool):
        items = [spec]
    elif isinstance(spec, str):
        items = [s for s in spec.replace(" ", "").split(",") if s]
    else:
        raise PlanError(f"{where}: expected a list of ports, got {spec!r}")
    ports: set[int] = set()
    for item in items:
        if isinstance(item, bool):
            raise PlanError(f"{where}: {item!r} is not a port")
        if isinstance(item, int):
            lo = hi = item
        else:
            text = str(item).strip()
            try:
                if "-" in text:
                    a, b = text.split("-", 1)
                    lo, hi = int(a), int(b)
                else:
                    lo = hi = int(text)
            except ValueError:
                raise PlanError(f"{where}: {text!r} is not a port or a range like 8000-8010") from None
            if lo > hi:
                raise PlanError(f"{where}: range {text!r} is reversed (write {hi}-{lo})")
        for p in (lo, hi):
            if not 1 <= p <= 65535:
                raise PlanError(f"{where}: port {p} is out of range 1-65535")
        ports.update(range(lo, hi + 1))
    return tuple(sorted(ports))


def parse_cidr(value: Any, where: str) -> str:
    try:
        return str(ipaddress.ip_network(str(value), strict=False))
    except ValueError:
        raise PlanError(f"{where}: {value!r} is not a CIDR (like 203.0.113.0/24 or 0.0.0.0/0)") from None


def parse_amount(value: Any, where: str) -> str:
    """SkyPilot's cpus/memory: a number, or a number with `+` (at least): '4', '4+', '0.5'."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PlanError(f"{where}: expected a number like 4 or 4+, got {value!r}")
    text = str(value).strip()
    try:
        number = float(text[:-1] if text.endswith("+") else text)
    except ValueError:
        raise PlanError(f"{where}: {text!r} is not a number like 4 or 4+") from None
    if number <= 0:
        raise PlanError(f"{where}: {text!r} must be more than 0")
    return text


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise PlanError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(v.strip() for v in value)


def _expect(value: Any, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PlanError(f"{where}: expected {what}, got {value!r}")
    return value


_FIELDS = {f.name for f in dataclasses.fields(Plan)} - {"source", "given", "candidates", "alternatives", "task",
                                                         "alternative", "unchecked", "nodes", "spec"}


def plan_from_dict(doc: Any, source: str = "") -> Plan:
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise PlanError(f"{source or 'plan'}: expected a mapping at the top level")
    from preflight.launchers import detect

    if detect([doc]) == "skypilot":
        from preflight.launchers.skypilot_task import plan_from_task

        return plan_from_task([doc], source)
    unknown = set(doc) - _FIELDS
    if unknown:
        raise PlanError(f"{sorted(unknown)[0]}: unknown plan field (known: {', '.join(sorted(_FIELDS))})")
    kw: dict[str, Any] = {}
    for key, value in doc.items():
        if value is None:
            continue
        if key in ("cloud", "region", "vpc", "security_group", "instance_type", "image", "key_name",
                   "key_file", "instance_profile", "project", "name", "launcher", "cluster", "accelerators"):
            kw[key] = _expect(value, str, key, "a string")
        elif key in ("subnets", "zones", "capabilities"):
            kw[key] = _str_list(value, key)
        elif key in ("cpus", "memory"):
            kw[key] = parse_amount(value, key)
        elif key in ("public_ip", "spot", "use_internal_ips"):
            kw[key] = _expect(value, bool, key, "true or false")
        elif key == "count":
            kw[key] = _expect(value, int, key, "a whole number")
            if value < 1:
                raise PlanError("count: must be at least 1")
        elif key == "ports":
            kw[key] = parse_ports(value, key)
        elif key == "source_cidr":
            kw[key] = parse_cidr(value, key)
        elif key == "replicas":
            kw[key] = _replicas(value)
    if "cloud" in kw and kw["cloud"] not in ("aws", "gcp"):
        raise PlanError(f"cloud: {kw['cloud']!r} is not supported (aws or gcp)")
    if "launcher" in kw:
        from preflight.launchers import LAUNCHERS

        if kw["launcher"] not in LAUNCHERS:
            raise PlanError(f"launcher: {kw['launcher']!r} is not one of {', '.join(LAUNCHERS)}")
    return Plan(**kw, source=source, given=frozenset(kw))


REPLICAS_KEYS = ("service", "count", "port_range", "ports")


def _replicas(value: Any) -> Replicas:
    _expect(value, dict, "replicas", "a mapping with count and port_range")
    unknown = [k for k in value if k not in REPLICAS_KEYS]
    if unknown:  # a misspelt key would otherwise be a silently ignored setting
        raise PlanError(f"replicas: unknown key {str(unknown[0])[:40]!r} (known: {', '.join(REPLICAS_KEYS)})")
    count = _expect(value.get("count", 0), int, "replicas.count", "a whole number")
    if count < 0:
        raise PlanError(f"replicas.count: must be 0 or more, got {count}")
    rng = value.get("port_range")
    fixed: list[int] = []
    if value.get("ports") is not None:
        raw = value["ports"]
        if not isinstance(raw, list):
            raise PlanError(f"replicas.ports: expected a list of ports (one per replica), got {raw!r}")
        for p in raw:
            one = parse_ports([p], "replicas.ports")
            if len(one) != 1:
                raise PlanError(f"replicas.ports: {p!r} is not one port (one port per replica)")
            fixed.append(one[0])
    if rng is None and fixed:
        rng = f"{min(fixed)}-{max(fixed)}"
    if rng is None:
        raise PlanError("replicas.port_range: required, like 40000-40100")
    ports = parse_ports([rng] if isinstance(rng, str) else rng, "replicas.port_range")
    if not ports:
        raise PlanError("replicas.port_range: empty, write a range like 40000-40100")
    service = value.get("service", "")
    return Replicas(count=count, port_range=(ports[0], ports[-1]), service=str(service), ports=tuple(fixed))


def load_plan(path: str | Path, launcher: str | None = None, cluster: str | None = None) -> Plan:
    """Read a plan file: preflight's launch.yaml, a SkyPilot task (one document or a pipeline) or
    a Ray cluster YAML, detected from its keys (or named by `launcher`)."""
    from preflight.launchers import detect

    p = Path(path)
    text = read_input(p, "plan", PlanError)
    loaded = load_yaml(text, str(p), PlanError, multi=True)
    docs = [d for d in loaded if d is not None] if isinstance(loaded, list) else []
    try:
        if any(not isinstance(d, dict) for d in docs):
            bad = next(i for i, d in enumerate(docs) if not isinstance(d, dict))
            where = f"document {bad + 1}: " if len(docs) > 1 else ""
            raise PlanError(f"{where}expected a mapping at the top level (a preflight plan, SkyPilot task or Ray "
                            f"cluster YAML), got {type(docs[bad]).__name__}")
        kind = detect(docs) or "preflight"
        if kind == "skypilot":
            from preflight.launchers.skypilot_task import plan_from_task

            plan = plan_from_task(docs, str(p), cluster or "")
        elif kind == "ray":
            plan = _ray_plan(docs, str(p))
        else:
            if len(docs) > 1:
                raise PlanError(f"{len(docs)} YAML documents: a preflight plan is one document "
                                "(several documents are read only as a SkyPilot pipeline)")
            plan = plan_from_dict(docs[0] if docs else None, str(p))
        overrides = {k: v for k, v in (("launcher", launcher), ("cluster", cluster)) if v}
        return with_overrides(plan, **overrides) if overrides else plan
    except PlanError as exc:
        msg = str(exc)
        raise PlanError(msg if msg.startswith(f"{p}: ") else f"{p}: {msg}") from None


def _ray_plan(docs: list[Any], source: str) -> Plan:
    """A Ray cluster YAML: read by preflight.launchers.ray when that reader is installed."""
    try:
        from preflight.launchers import ray as ray_launcher

        reader = ray_launcher.plan_from_cluster
    except (ImportError, AttributeError):
        raise PlanError("this looks like a Ray cluster YAML, which this preflight cannot read yet") from None
    if len(docs) != 1:
        raise PlanError("a Ray cluster YAML is one document")
    return reader(docs[0], source)


def with_overrides(plan: Plan | None, **overrides: Any) -> Plan:
    """Command-line flags override the file. `None` means "not given"."""
    base = plan or Plan()
    given = set(base.given)
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None or value == ():
            continue
        if key == "ports":
            value = parse_ports(value, "--ports")
            if not value:  # `--ports ""` would silently mean "no ports needed"
                raise PlanError("--ports: empty; give ports like 8000,8002,8004 or 8000-8010")
        elif key == "source_cidr":
            value = parse_cidr(value, "--source-cidr")
        elif key in ("subnets", "zones", "capabilities"):
            value = _str_list(value, f"--{key}")
        changes[key] = value
        given.add(key)
    alternatives = tuple(with_overrides(a, **overrides) for a in base.alternatives)
    extra: dict[str, Any] = {"alternatives": alternatives} if alternatives else {}
    return dataclasses.replace(base, **changes, **extra, given=frozenset(given),
                               overridden=base.overridden | frozenset(changes))
