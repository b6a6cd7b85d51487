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
    source: str = ""  # the file it came from, for messages
    given: frozenset[str] = field(default_factory=frozenset)  # fields the user actually set

    def has(self, name: str) -> bool:
        return name in self.given


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


_FIELDS = {f.name for f in dataclasses.fields(Plan)} - {"source", "given"}


def _from_skypilot(doc: dict[str, Any]) -> dict[str, Any]:
    res = doc.get("resources") or {}
    if not isinstance(res, dict):
        raise PlanError("resources: expected a mapping")
    out: dict[str, Any] = {}
    if res.get("cloud"):
        out["cloud"] = str(res["cloud"]).lower()
    for src, dst in (("region", "region"), ("instance_type", "instance_type"), ("image_id", "image"),
                     ("ports", "ports"), ("use_spot", "spot")):
        if src in res:
            out[dst] = res[src]
    image = out.get("image")
    if isinstance(image, dict):  # SkyPilot: one image per region, {region: ami-...}
        region = out.get("region")
        if region in image:
            out["image"] = image[region]
        elif not region and len(image) == 1:
            out["region"], out["image"] = next(iter(image.items()))
        else:
            raise PlanError(f"resources.image_id: names images for {', '.join(map(str, image))}; "
                            f"set resources.region to one of them")
    elif isinstance(image, str) and image.startswith("docker:"):
        del out["image"]  # a container image, run on SkyPilot's default AMI: nothing to check here
    if "zone" in res:
        out["zones"] = [res["zone"]]
    if "num_nodes" in doc:
        out["count"] = doc["num_nodes"]
    if doc.get("name"):
        out["name"] = doc["name"]
    return out


def plan_from_dict(doc: Any, source: str = "") -> Plan:
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise PlanError(f"{source or 'plan'}: expected a mapping at the top level")
    if "resources" in doc or "num_nodes" in doc or "run" in doc or "setup" in doc:
        doc = _from_skypilot(doc)
    unknown = set(doc) - _FIELDS
    if unknown:
        raise PlanError(f"{sorted(unknown)[0]}: unknown plan field (known: {', '.join(sorted(_FIELDS))})")
    kw: dict[str, Any] = {}
    for key, value in doc.items():
        if value is None:
            continue
        if key in ("cloud", "region", "vpc", "security_group", "instance_type", "image", "key_name",
                   "key_file", "instance_profile", "project", "name"):
            kw[key] = _expect(value, str, key, "a string")
        elif key in ("subnets", "zones", "capabilities"):
            kw[key] = _str_list(value, key)
        elif key in ("public_ip", "spot"):
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
    return Plan(**kw, source=source, given=frozenset(kw))


def _replicas(value: Any) -> Replicas:
    _expect(value, dict, "replicas", "a mapping with count and port_range")
    count = _expect(value.get("count", 0), int, "replicas.count", "a whole number")
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


def load_plan(path: str | Path) -> Plan:
    p = Path(path)
    text = read_input(p, "plan", PlanError)
    doc = load_yaml(text, str(p), PlanError)
    try:
        return plan_from_dict(doc, str(p))
    except PlanError as exc:
        msg = str(exc)
        raise PlanError(msg if msg.startswith(f"{p}: ") else f"{p}: {msg}") from None


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
        elif key == "source_cidr":
            value = parse_cidr(value, "--source-cidr")
        elif key in ("subnets", "zones", "capabilities"):
            value = _str_list(value, f"--{key}")
        changes[key] = value
        given.add(key)
    return dataclasses.replace(base, **changes, given=frozenset(given))
