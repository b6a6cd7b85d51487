"""Read a SkyPilot task YAML (and SkyPilot's own config) in full, into preflight plans.

Modelled on SkyPilot 0.14.1 (`sky/task.py` Task.from_yaml_config, `sky/resources.py`
Resources.from_yaml_config, `sky/utils/infra_utils.py` InfraInfo.from_str,
`sky/skypilot_config.py`). SkyPilot itself is never imported here: a user without SkyPilot
installed (a CI job) gets the same reading.

- `resources` in the old form (`cloud`, `region`, `zone`) and the `infra:` form
  (`aws`, `aws/eu-south-1`, `aws/eu-south-1/eu-south-1a`, `*` for any, `k8s/<context>`).
- `any_of` / `ordered`: each entry overrides the base resources and is one alternative.
- `accelerators`: `A10G`, `A10G:1`, `{A10G: 1}`, a list (ordered preference) or a set
  (`{A10G:1, L4:1}`): one alternative per accelerator.
- `cpus` / `memory`: `4`, `4+`; `image_id`: one AMI or `{region: ami}` (one alternative per
  region when no region is given); `ports`: int, `"8000-8010"`, list; `use_spot`; `num_nodes`.
- Multi-document pipelines: every task is read and checked (a first document holding only
  `name` is the pipeline's name).
- Config: `SKYPILOT_CONFIG` (used alone, as SkyPilot does), else the user config
  (`SKYPILOT_GLOBAL_CONFIG` or `~/.sky/config.yaml`) overridden key by key by the project config
  (`SKYPILOT_PROJECT_CONFIG` or `.sky.yaml` in the current directory), then the task's own
  `config:` on top. Keys read: `aws.vpc_name`, `aws.vpc_names` (one alternative each),
  `aws.security_group_name` (a name, or a list of `{cluster-glob: name}`), `aws.use_internal_ips`.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from preflight.plan import Plan, PlanError, parse_amount, parse_ports

GLOBAL_CONFIG = "~/.sky/config.yaml"
PROJECT_CONFIG = ".sky.yaml"
# Cloud names SkyPilot accepts in `infra`/`cloud` that preflight does not check.
OTHER_CLOUDS = ("kubernetes", "azure", "lambda", "runpod", "oci", "ibm", "scp", "vsphere", "cudo", "fluidstack",
                "paperspace", "do", "nebius", "vast", "hyperbolic", "seeweb", "ssh", "slurm", "primeintellect",
                "shadeform")


# --- config ------------------------------------------------------------------------------------

def _read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    from preflight.errors import load_yaml, read_input

    doc = load_yaml(read_input(path, what, PlanError), str(path), PlanError)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise PlanError(f"{path}: the SkyPilot config must be a mapping")
    return doc


def _overlay(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _overlay(out[key], value)
        else:
            out[key] = value
    return out


def load_config(env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None
                ) -> tuple[dict[str, Any], tuple[str, ...]]:
    """SkyPilot's effective client config and the files it came from, with SkyPilot's precedence."""
    env = os.environ if env is None else env
    internal = env.get("SKYPILOT_CONFIG")
    if internal:
        path = Path(internal).expanduser()
        return _read_yaml_mapping(path, "SkyPilot config (SKYPILOT_CONFIG)"), (str(path),)
    merged: dict[str, Any] = {}
    used: list[str] = []
    user = Path(env.get("SKYPILOT_GLOBAL_CONFIG") or GLOBAL_CONFIG).expanduser()
    if env.get("SKYPILOT_GLOBAL_CONFIG") or user.is_file():
        merged = _read_yaml_mapping(user, "SkyPilot config")
        used.append(str(user))
    project = Path(env.get("SKYPILOT_PROJECT_CONFIG") or PROJECT_CONFIG)
    if not project.is_absolute():
        project = Path(cwd or os.getcwd()) / project
    if env.get("SKYPILOT_PROJECT_CONFIG") or project.is_file():
        merged = _overlay(merged, _read_yaml_mapping(project, "SkyPilot project config"))
        used.append(str(project))
    return merged, tuple(used)


@dataclasses.dataclass(frozen=True)
class AwsSettings:
    """The AWS keys of SkyPilot's config that decide where and how it launches."""

    vpc_names: tuple[str, ...] = ()  # aws.vpc_names, else aws.vpc_name; () = default VPC only
    security_group: str = ""  # for this cluster (globs resolved)
    use_internal_ips: bool = False
    sources: tuple[str, ...] = ()


def aws_settings(config: Mapping[str, Any], cluster: str = "", sources: tuple[str, ...] = ()) -> AwsSettings:
    aws = config.get("aws") or {}
    if not isinstance(aws, Mapping):
        raise PlanError("aws: the SkyPilot config's aws section must be a mapping")
    names = aws.get("vpc_names")
    if names is None:
        names = aws.get("vpc_name")
    if isinstance(names, str):
        names = [names]
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise PlanError(f"aws.vpc_name: expected a VPC name (or a list for aws.vpc_names), got {names!r}")
    group = aws.get("security_group_name")
    chosen = ""
    if isinstance(group, str):
        chosen = group
    elif isinstance(group, list):
        # SkyPilot: the first {cluster-glob: name} whose glob matches the cluster's name.
        for entry in group:
            if isinstance(entry, Mapping) and entry:
                glob, name = next(iter(entry.items()))
                if fnmatch.fnmatchcase(cluster or "", str(glob)):
                    chosen = str(name)
                    break
    elif group is not None:
        raise PlanError(f"aws.security_group_name: expected a name or a list of {{cluster: name}}, got {group!r}")
    internal = aws.get("use_internal_ips", False)
    if not isinstance(internal, bool):
        raise PlanError(f"aws.use_internal_ips: expected true or false, got {internal!r}")
    return AwsSettings(tuple(names or ()), chosen, internal, sources)


# --- task --------------------------------------------------------------------------------------

def parse_infra(value: Any, where: str) -> tuple[str, str, str]:
    """(cloud, region, zone) from `aws/eu-south-1/eu-south-1a`; '' for any (`*` or left out)."""
    if not isinstance(value, str) or not value.strip().strip("/"):
        raise PlanError(f"{where}: expected cloud, cloud/region or cloud/region/zone, got {value!r}")
    parts = [p.strip() for p in value.strip().strip("/").split("/")]
    if "" in parts:
        raise PlanError(f"{where}: {value!r} has an empty part (like '//')")
    cloud = parts[0].lower()
    if cloud in ("k8s", "kubernetes"):
        return "kubernetes", "/".join(parts[1:]), ""
    if cloud == "ssh":
        return "ssh", "/".join(parts[1:]), ""
    if len(parts) > 3:
        raise PlanError(f"{where}: {value!r} has more than cloud/region/zone")
    cloud, region, zone = (parts + ["", ""])[:3]
    return ("" if cloud == "*" else cloud), ("" if region == "*" else region), ("" if zone == "*" else zone)


def parse_accelerator(value: Any, where: str) -> str:
    """`A10G`, `A10G:1`, `A10G:2` -> canonical 'A10G:N'."""
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise PlanError(f"{where}: one accelerator per entry, got {dict(value)!r}")
        name, count = next(iter(value.items()))
        value = f"{name}:{1 if count is None else count}"
    if not isinstance(value, str) or not value.strip():
        raise PlanError(f"{where}: expected an accelerator like A10G:1, got {value!r}")
    text = value.strip()
    name, _, count = text.partition(":")
    name = name.strip()
    if not name or any(c.isspace() for c in name):
        raise PlanError(f"{where}: {text!r} is not an accelerator like A10G:1")
    try:
        n = float(count) if count.strip() else 1.0
    except ValueError:
        raise PlanError(f"{where}: {text!r}: the count after ':' must be a number") from None
    if n <= 0:
        raise PlanError(f"{where}: {text!r}: the count must be more than 0")
    return f"{name}:{int(n) if n == int(n) else n}"


def accelerator_options(value: Any, where: str) -> list[str]:
    """Every accelerator alternative: a string may itself be a set written `{A10G:1, L4:1}`."""
    if value is None:
        return [""]
    if isinstance(value, str) and value.strip().startswith("{") and value.strip().endswith("}"):
        value = [v for v in value.strip()[1:-1].split(",") if v.strip()]
    if isinstance(value, Mapping):
        return [parse_accelerator({k: v}, where) for k, v in value.items()]
    if isinstance(value, (list, tuple, set)):
        if not value:
            raise PlanError(f"{where}: empty list of accelerators")
        return [parse_accelerator(v, where) for v in value]
    return [parse_accelerator(value, where)]


_RESOURCE_KEYS = {"cloud", "region", "zone", "infra", "instance_type", "accelerators", "cpus", "memory", "image_id",
                  "ports", "use_spot", "any_of", "ordered", "disk_size", "disk_tier", "network_tier", "labels",
                  "accelerator_args", "job_recovery", "spot_recovery", "autostop", "priority", "volumes",
                  "_docker_login_config", "_cluster_config_overrides", "_is_image_managed", "_requires_fuse",
                  "_no_missing_accel_warnings", "hooks", "infra_config"}


def _resource_options(res: Mapping[str, Any], where: str) -> list[tuple[str, dict[str, Any]]]:
    """(label, resources) for every alternative of one `resources` mapping."""
    unknown = sorted(set(res) - _RESOURCE_KEYS)
    if unknown:
        raise PlanError(f"{where}.{unknown[0]}: unknown SkyPilot resources field")
    any_of, ordered = res.get("any_of"), res.get("ordered")
    if any_of is not None and ordered is not None:
        raise PlanError(f"{where}: cannot have both any_of and ordered (SkyPilot refuses it)")
    overrides = any_of if any_of is not None else ordered
    key = "any_of" if any_of is not None else "ordered"
    base = {k: v for k, v in res.items() if k not in ("any_of", "ordered")}
    if overrides is None:
        return [("", base)]
    if not isinstance(overrides, list) or not overrides:
        raise PlanError(f"{where}.{key}: expected a non-empty list of resources")
    out = []
    for i, entry in enumerate(overrides):
        if not isinstance(entry, Mapping):
            raise PlanError(f"{where}.{key}[{i}]: expected a mapping")
        if "any_of" in entry or "ordered" in entry:
            raise PlanError(f"{where}.{key}[{i}]: any_of/ordered cannot be nested")
        bad = sorted(set(entry) - _RESOURCE_KEYS)
        if bad:
            raise PlanError(f"{where}.{key}[{i}].{bad[0]}: unknown SkyPilot resources field")
        out.append((f"{key}[{i}]", {**base, **entry}))
    return out


def _variants_of(res: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """Flatten any_of/ordered, accelerator sets and per-region image maps into plain variants."""
    out: list[dict[str, Any]] = []
    for label, r in _resource_options(res, where):
        at = f"{where}.{label}" if label else where
        cloud, region, zone = "", "", ""
        if r.get("infra") is not None:
            if any(r.get(k) for k in ("cloud", "region", "zone")):
                raise PlanError(f"{at}.infra: cannot be combined with cloud/region/zone")
            cloud, region, zone = parse_infra(r["infra"], f"{at}.infra")
        else:
            for k in ("cloud", "region", "zone"):
                if r.get(k) is not None and not isinstance(r[k], str):
                    raise PlanError(f"{at}.{k}: expected a string, got {r[k]!r}")
            cloud = str(r.get("cloud") or "").lower()
            region, zone = str(r.get("region") or ""), str(r.get("zone") or "")
        if cloud == "k8s":
            cloud = "kubernetes"
        v: dict[str, Any] = {"cloud": cloud, "region": region, "zones": [zone] if zone else []}
        if r.get("instance_type") is not None:
            v["instance_type"] = _string(r["instance_type"], f"{at}.instance_type")
        for k in ("cpus", "memory"):
            if r.get(k) is not None:
                v[k] = parse_amount(r[k], f"{at}.{k}")
        if r.get("ports") is not None:
            v["ports"] = parse_ports(r["ports"], f"{at}.ports")
        if r.get("use_spot") is not None:
            if not isinstance(r["use_spot"], bool):
                raise PlanError(f"{at}.use_spot: expected true or false, got {r['use_spot']!r}")
            v["spot"] = r["use_spot"]
        images: list[tuple[str, str]] = [("", "")]
        image = r.get("image_id")
        if isinstance(image, Mapping):
            if not image or not all(isinstance(k, str) and isinstance(x, str) for k, x in image.items()):
                raise PlanError(f"{at}.image_id: expected {{region: image}} with strings")
            if region:
                if region not in image:
                    raise PlanError(f"{at}.image_id: names images for {', '.join(image)}, not for {region}")
                images = [(region, image[region])]
            else:  # SkyPilot launches only in the regions the map names
                images = list(image.items())
        elif image is not None:
            images = [(region, _string(image, f"{at}.image_id"))]
        tag = label
        for acc in accelerator_options(r.get("accelerators"), f"{at}.accelerators"):
            for img_region, img in images:
                one = dict(v, accelerators=acc)
                if img_region:
                    one["region"] = img_region
                if img and not img.startswith("docker:"):  # a container runs on SkyPilot's own AMI
                    one["image"] = img
                one["_label"] = tag.strip()
                out.append(one)
    return out


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PlanError(f"{where}: expected a string, got {value!r}")
    return value.strip()


def _alt_label(v: dict[str, Any]) -> str:
    where = "/".join(x for x in (v["cloud"] or "aws", v["region"] or "*", *(v["zones"] or [])))
    what = v.get("instance_type") or v.get("accelerators") or ""
    return (f"{v['_label']}: " if v.get("_label") else "") + where + (f" {what}" if what else "")


def plan_from_task(docs: list[Any], source: str = "", cluster: str = "",
                   config: tuple[dict[str, Any], tuple[str, ...]] | None = None) -> Plan:
    """One Plan for the whole file: its first variant, with every variant in `alternatives`."""
    tasks = [d for d in docs if d is not None]
    if len(tasks) > 1 and isinstance(tasks[0], Mapping) and set(tasks[0]) <= {"name"}:
        tasks = tasks[1:]  # a pipeline's header document: only its name
    if not tasks:
        raise PlanError("empty SkyPilot task file")
    cfg, sources = config if config is not None else load_config()
    variants: list[Plan] = []
    for i, doc in enumerate(tasks):
        where = f"document {i + 1}" if len(tasks) > 1 else ""
        prefix = f"{where}: " if where else ""
        if not isinstance(doc, Mapping):
            raise PlanError(f"{prefix}expected a SkyPilot task (a mapping), got {type(doc).__name__}")
        try:
            variants.extend(_task_variants(doc, i, len(tasks), cluster, cfg, sources, source))
        except PlanError as exc:
            raise PlanError(f"{prefix}{exc}") from None
    first = variants[0]
    if len(variants) == 1:
        return first
    return dataclasses.replace(first, alternatives=tuple(variants))


def _task_variants(doc: Mapping[str, Any], index: int, total: int, cluster: str, cfg: dict[str, Any],
                   sources: tuple[str, ...], source: str) -> list[Plan]:
    res = doc.get("resources")
    if res is None:
        res = {}
    if not isinstance(res, Mapping):
        raise PlanError("resources: expected a mapping")
    nodes = doc.get("num_nodes", 1)
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
        raise PlanError(f"num_nodes: expected a whole number of at least 1, got {nodes!r}")
    name = doc.get("name") or ""
    if not isinstance(name, str):
        raise PlanError(f"name: expected a string, got {name!r}")
    task_cfg = doc.get("config") or {}
    if not isinstance(task_cfg, Mapping):
        raise PlanError("config: expected a mapping")
    cluster_name = cluster or name
    settings = aws_settings(_overlay(cfg, task_cfg), cluster_name, sources)
    task = (name or f"task {index + 1}") if total > 1 else name
    out: list[Plan] = []
    for v in _variants_of(res, "resources"):
        label = _alt_label(v)
        unchecked = "" if v["cloud"] in ("", "aws", "gcp") else v["cloud"]
        common = {
            "launcher": "skypilot", "cloud": v["cloud"] or "aws", "source": source,
            "region": v["region"], "zones": tuple(v["zones"]), "instance_type": v.get("instance_type", ""),
            "image": v.get("image", ""), "ports": tuple(v.get("ports", ())), "spot": bool(v.get("spot", False)),
            "accelerators": v.get("accelerators", ""), "cpus": v.get("cpus", ""), "memory": v.get("memory", ""),
            "count": nodes, "name": name, "cluster": cluster_name, "security_group": settings.security_group,
            "use_internal_ips": settings.use_internal_ips, "task": task,
            "unchecked": unchecked,
        }
        given = {k for k, x in common.items() if x not in ("", (), None, False)
                 and k not in ("source", "task", "unchecked")} | {"launcher"}
        if unchecked:  # not a cloud preflight checks: the AWS run reports it as not checked (LCH001)
            given.discard("cloud")
        for vpc in settings.vpc_names or ("",):
            extra: dict[str, Any] = {"vpc": vpc} if vpc else {}
            out.append(Plan(**common, **extra, given=frozenset(given | set(extra)),
                            alternative=label + (f" vpc {vpc}" if vpc and len(settings.vpc_names) > 1 else "")))
    return out
