"""Extra collectors for the compute launch rules (CMP001-CMP006).

Each reads only what the plan names, with one call sequence per kind of data, and stores plain
JSON in `Inventory.extra[name]`. A plan without the field a collector needs makes no call at all.

- `instance_types`: DescribeInstanceTypes for the plan type's whole quota family (an
  `instance-type` wildcard filter, paginated), so the vCPUs of running instances in the same
  family are known too. Facts come from the API, never from a table in this code, and are cached
  per region in `user_cache_dir("preflight")/instance-types/<region>.json` for a TTL (not for
  a custom endpoint or the in-process sandbox, whose data is not AWS's).
- `offerings`: DescribeInstanceTypeOfferings (availability-zone) for the plan's type.
- `images`: DescribeImages for the plan's image.
- `key_pairs`: DescribeKeyPairs.
- `instance_profiles`: iam GetInstanceProfile for the plan's profile, and whether the caller may
  `iam:PassRole` its role (IAM's policy simulator; UNKNOWN when that is unavailable).
- `quotas`: service-quotas ListServiceQuotas for ServiceCode ec2 (paginated), vCPU quotas only;
  if the plan's bucket is not listed, GetServiceQuota then GetAWSDefaultServiceQuota for it.
- `dry_run`: RunInstances with DryRun=True for the plan's exact parameters (opt-in,
  `--dry-run-launch`); AWS's answer is kept verbatim.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import botocore.exceptions

from preflight.collect.aws import CREDENTIAL_CODES, DENIED_CODES, Denied, extra_collector, paginate
from preflight.errors import CredentialsError
from preflight.inventory.extras import (
    DryRun,
    Image,
    InstanceProfile,
    InstanceTypes,
    KeyPairs,
    Offerings,
    PassRole,
    Quota,
    Quotas,
)
from preflight.protocols import Session
from preflight.semantics import quotas as q

INSTANCE_TYPES_TTL = 24 * 3600  # instance-type facts change rarely; a day keeps runs call-free
_VCPU_QUOTA_MARKERS = ("running on-demand", "spot instance requests")

# Instance-type wildcard patterns per quota family (the EC2 `instance-type` filter takes `*`).
_FAMILY_PATTERNS: dict[str, tuple[str, ...]] = {
    "standard": ("a*", "c*", "d*", "h*", "i*", "m*", "r*", "t*", "z*"),
    "g": ("g*", "vt*"), "p": ("p*",), "f": ("f*",), "inf": ("inf*",), "x": ("x*",), "dl": ("dl*",),
    "trn": ("trn*",), "u": ("u*",), "hpc": ("hpc*",),
}


def _code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "") or "Error"


def _message(exc: botocore.exceptions.ClientError) -> str:
    msg = str(exc.response.get("Error", {}).get("Message", ""))
    if msg.lstrip().startswith("<"):  # an HTML error page (a proxy, an emulator): not worth quoting
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        return f"the endpoint answered HTTP {status} without an AWS error"
    return msg


def _raise_unreadable(exc: Exception, permission: str) -> None:
    """Turn an API failure into `Denied` (-> unreadable -> UNKNOWN); credentials end the run."""
    if isinstance(exc, NotImplementedError):  # moto in process lacks the API: not a permission
        raise Denied("", "NotImplemented", str(exc)[:200]) from None
    if isinstance(exc, botocore.exceptions.ClientError):
        code = _code(exc)
        if code in CREDENTIAL_CODES:
            raise CredentialsError(f"AWS rejected the credentials ({code}): check --profile or refresh them") from None
        perm = permission if code in DENIED_CODES or "denied" in code.lower() or "unauthorized" in code.lower() else ""
        raise Denied(perm, code, _message(exc)[:200]) from None
    raise exc


# --- instance types -------------------------------------------------------------------------

def _moto_in_process() -> bool:
    try:
        from moto.core.models import botocore_stubber
    except ImportError:
        return False
    return bool(getattr(botocore_stubber, "enabled", False))


def cacheable(session: Any) -> bool:
    """Only real AWS answers go to the user's cache: not a custom endpoint, not the sandbox."""
    return not getattr(session, "endpoint_url", None) and not _moto_in_process()


def cache_path(region: str) -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("preflight")) / "instance-types" / f"{region}.json"


def _read_cache(region: str, family: str, ttl: float) -> dict[str, Any] | None:
    try:
        data = json.loads(cache_path(region).read_text())
        entry = data["families"][family]
        if time.time() - float(entry["fetched_at"]) <= ttl and isinstance(entry["types"], dict):
            return entry["types"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _write_cache(region: str, family: str, types: dict[str, Any]) -> None:
    path = cache_path(region)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(path.read_text())
            if not isinstance(data.get("families"), dict):
                raise ValueError
        except (OSError, ValueError, AttributeError):
            data = {"families": {}}
        data["families"][family] = {"fetched_at": time.time(), "types": types}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, sort_keys=True)
        os.replace(tmp, path)  # atomic: a concurrent run reads the old or the new file, never half
    except OSError:
        pass  # a cache that cannot be written only costs calls next time


def type_facts(t: dict[str, Any]) -> dict[str, Any]:
    gpus = sum(int(g.get("Count") or 0) for g in (t.get("GpuInfo") or {}).get("Gpus") or [])
    return {
        "vcpus": int((t.get("VCpuInfo") or {}).get("DefaultVCpus") or 0),
        "architectures": sorted((t.get("ProcessorInfo") or {}).get("SupportedArchitectures") or []),
        "gpus": gpus,
        "usage_classes": sorted(t.get("SupportedUsageClasses") or []),
    }


def _page_size(session: Any) -> int | None:
    return getattr(session, "page_size", None)  # None: each API's maximum (tests force 5)


def fetch_family_types(client: Any, family: str, page_size: int | None = None) -> dict[str, Any]:
    types: dict[str, Any] = {}
    patterns = list(_FAMILY_PATTERNS.get(family, ()))
    pages = paginate(client, "describe_instance_types", page_size,
                     Filters=[{"Name": "instance-type", "Values": patterns}])
    for page in pages:
        for t in page.get("InstanceTypes") or []:
            if q.quota_family(t["InstanceType"]) == family:
                types[t["InstanceType"]] = type_facts(t)
    return types


@extra_collector("instance_types", permissions=("ec2:DescribeInstanceTypes",))
def collect_instance_types(session: Session, region: str, plan: Any, ttl: float = INSTANCE_TYPES_TTL) -> InstanceTypes:
    itype = getattr(plan, "instance_type", "") if plan else ""
    others = [g.instance_type for g in getattr(plan, "nodes", ()) or () if g.instance_type != itype]
    if not itype and not others:
        return {}
    first = _instance_types(session, region, itype or others[0], ttl)
    # A launch of several types (a Ray cluster): each further quota family once, merged.
    families = {first["family"]}
    for other in others:
        if q.quota_family(other) in families and q.quota_family(other) is not None:
            continue
        more = _instance_types(session, region, other, ttl)
        families.add(more["family"])
        first["types"] = {**more["types"], **first["types"]}
        first["cached"] = bool(first.get("cached")) and bool(more.get("cached"))
    return first


def _instance_types(session: Session, region: str, itype: str, ttl: float) -> InstanceTypes:
    family = q.quota_family(itype)
    client = session.client("ec2", region)
    if family is None:  # no quota family (mac*, or a malformed name): just this type's facts
        try:
            found = client.describe_instance_types(InstanceTypes=[itype]).get("InstanceTypes") or []
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in ("InvalidInstanceType", "InvalidParameterValue"):
                return {"instance_type": itype, "family": None, "types": {}}
            _raise_unreadable(exc, "ec2:DescribeInstanceTypes")
            raise
        return {"instance_type": itype, "family": None,
                "types": {t["InstanceType"]: type_facts(t) for t in found}}
    use_cache = cacheable(session)
    types = _read_cache(region, family, ttl) if use_cache else None
    cached = types is not None
    if types is None:
        try:
            types = fetch_family_types(client, family, _page_size(session))
        except (botocore.exceptions.ClientError, NotImplementedError) as exc:
            _raise_unreadable(exc, "ec2:DescribeInstanceTypes")
            raise
        if use_cache:
            _write_cache(region, family, types)
    return {"instance_type": itype, "family": family, "types": types, "cached": cached}


# --- offerings, images, key pairs -------------------------------------------------------------

@extra_collector("offerings", permissions=("ec2:DescribeInstanceTypeOfferings",))
def collect_offerings(session: Session, region: str, plan: Any) -> Offerings:
    itype = getattr(plan, "instance_type", "") if plan else ""
    if not itype:
        return {}
    client = session.client("ec2", region)
    zones: set[str] = set()
    try:
        pages = paginate(client, "describe_instance_type_offerings", _page_size(session),
                         LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": [itype]}])
        for page in pages:
            zones.update(o["Location"] for o in page.get("InstanceTypeOfferings") or [])
    except (botocore.exceptions.ClientError, NotImplementedError) as exc:
        _raise_unreadable(exc, "ec2:DescribeInstanceTypeOfferings")
        raise
    return {"instance_type": itype, "zones": sorted(zones)}


@extra_collector("images", permissions=("ec2:DescribeImages",))
def collect_images(session: Session, region: str, plan: Any) -> Image:
    image = getattr(plan, "image", "") if plan else ""
    if not image:
        return {}
    client = session.client("ec2", region)
    try:
        found = client.describe_images(ImageIds=[image], IncludeDeprecated=True,
                                       IncludeDisabled=True).get("Images") or []
    except botocore.exceptions.ClientError as exc:
        code = _code(exc)
        if code.startswith("InvalidAMIID"):
            return {"image": image, "found": False, "error": code, "message": _message(exc)[:300]}
        _raise_unreadable(exc, "ec2:DescribeImages")
        raise
    except NotImplementedError as exc:
        _raise_unreadable(exc, "ec2:DescribeImages")
        raise
    if not found:
        return {"image": image, "found": False, "error": "", "message": ""}
    img = found[0]
    return {
        "image": image, "found": True, "state": img.get("State", ""),
        "architecture": img.get("Architecture", ""), "name": img.get("Name", ""),
        "owner": img.get("OwnerId", ""), "deprecation_time": img.get("DeprecationTime", ""),
    }


@extra_collector("key_pairs", permissions=("ec2:DescribeKeyPairs",))
def collect_key_pairs(session: Session, region: str, plan: Any) -> KeyPairs:
    if not (plan and getattr(plan, "key_name", "")):
        return {}
    client = session.client("ec2", region)
    try:
        pairs = client.describe_key_pairs().get("KeyPairs") or []  # not paginated by AWS
    except (botocore.exceptions.ClientError, NotImplementedError) as exc:
        _raise_unreadable(exc, "ec2:DescribeKeyPairs")
        raise
    return {"names": sorted(p["KeyName"] for p in pairs if p.get("KeyName"))}


# --- instance profile and PassRole --------------------------------------------------------------

def profile_name(value: str) -> str:
    """An instance profile is named by name or by ARN (…:instance-profile/path/name)."""
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def caller_principal(session: Any, region: str) -> tuple[str, str]:
    """(kind, ARN) of the IAM principal the caller acts as; an assumed role's session ARN becomes
    the role's ARN with its path (the simulator needs it exactly)."""
    from preflight.collect.aws import caller_identity
    from preflight.collect.aws_iam import principal_of

    arn = caller_identity(session, region).get("arn", "")
    who = principal_of(arn)
    if ":assumed-role/" in arn:
        role = arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
        return "role", session.client("iam", region).get_role(RoleName=role)["Role"]["Arn"]
    return who["kind"], (who["arn"] if who["kind"] in ("user", "role") else arn)


def simulate_pass_role(session: Session, region: str, role_arn: str) -> PassRole:
    """Ask IAM's policy simulator whether the caller may pass `role_arn` to EC2."""
    perm = "iam:SimulatePrincipalPolicy"
    try:
        kind, principal = caller_principal(session, region)
        if kind == "root":  # the account root (or moto's catch-all identity) is not limited by IAM
            return {"decision": "allowed", "principal": principal, "method": "root"}
        res = session.client("iam", region).simulate_principal_policy(
            PolicySourceArn=principal, ActionNames=["iam:PassRole"], ResourceArns=[role_arn],
            ContextEntries=[{"ContextKeyName": "iam:PassedToService", "ContextKeyValues": ["ec2.amazonaws.com"],
                             "ContextKeyType": "string"}])
    except NotImplementedError:
        return {"decision": "unknown", "reason": "the IAM policy simulator is not available here",
                "permission": perm}
    except botocore.exceptions.ClientError as exc:
        code = _code(exc)
        if code in CREDENTIAL_CODES:
            raise CredentialsError(f"AWS rejected the credentials ({code}): check --profile or refresh them") from None
        reason = f"{code}: {_message(exc)[:200]}"
        need = perm if code in DENIED_CODES else ""
        if code in DENIED_CODES and "GetRole" in _message(exc):
            need = "iam:GetRole"
        return {"decision": "unknown", "reason": reason, "permission": need}
    results = res.get("EvaluationResults") or []
    decision = results[0].get("EvalDecision", "") if results else ""
    statements = [s.get("SourcePolicyId", "") for r in results for s in r.get("MatchedStatements") or []]
    return {"decision": "allowed" if decision == "allowed" else ("denied" if decision else "unknown"),
            "eval_decision": decision, "principal": principal, "matched": statements, "method": "simulate",
            "permission": perm if not decision else ""}


@extra_collector("instance_profiles",
                 permissions=("iam:GetInstanceProfile", "iam:GetRole", "iam:SimulatePrincipalPolicy"))
def collect_instance_profile(session: Session, region: str, plan: Any) -> InstanceProfile:
    value = getattr(plan, "instance_profile", "") if plan else ""
    if not value:
        return {}
    name = profile_name(value)
    iam = session.client("iam", region)
    try:
        prof = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    except botocore.exceptions.ClientError as exc:
        if _code(exc) == "NoSuchEntity":
            return {"name": name, "found": False}
        _raise_unreadable(exc, "iam:GetInstanceProfile")
        raise
    except NotImplementedError as exc:
        _raise_unreadable(exc, "iam:GetInstanceProfile")
        raise
    roles = [{"name": r.get("RoleName", ""), "arn": r.get("Arn", "")} for r in prof.get("Roles") or []]
    out: InstanceProfile = {"name": name, "found": True, "arn": prof.get("Arn", ""), "roles": roles}
    if roles:
        out["pass_role"] = simulate_pass_role(session, region, roles[0]["arn"])
    return out


# --- quotas -----------------------------------------------------------------------------------

def _quota_entry(item: dict[str, Any], default: bool = False) -> Quota:
    return {"name": item.get("QuotaName", ""), "value": item.get("Value"),
            "adjustable": bool(item.get("Adjustable")), "default": default}


@extra_collector("quotas", permissions=("servicequotas:ListServiceQuotas", "servicequotas:GetServiceQuota",
                             "servicequotas:GetAWSDefaultServiceQuota"))
def collect_quotas(session: Session, region: str, plan: Any) -> Quotas:
    itype = getattr(plan, "instance_type", "") if plan else ""
    if not itype:
        return {}
    client = session.client("service-quotas", region)
    found: dict[str, Any] = {}
    try:
        for page in paginate(client, "list_service_quotas", _page_size(session), ServiceCode="ec2"):
            for item in page.get("Quotas") or []:
                name = str(item.get("QuotaName", ""))
                if any(mk in name.lower() for mk in _VCPU_QUOTA_MARKERS):
                    found[item["QuotaCode"]] = _quota_entry(item)
    except (botocore.exceptions.ClientError, NotImplementedError) as exc:
        _raise_unreadable(exc, "servicequotas:ListServiceQuotas")
        raise
    family = q.quota_family(itype)
    ref = q.quota_ref(family, bool(getattr(plan, "spot", False))) if family else None
    if ref is not None and q.find_quota(found, ref) is None:
        # Not every quota has an applied value listed; ask for it, then for AWS's default.
        for op, perm, default in (("get_service_quota", "servicequotas:GetServiceQuota", False),
                                  ("get_aws_default_service_quota", "servicequotas:GetAWSDefaultServiceQuota",
                                   True)):
            try:
                item = getattr(client, op)(ServiceCode="ec2", QuotaCode=ref.code)["Quota"]
                found[ref.code] = _quota_entry(item, default)
                break
            except botocore.exceptions.ClientError as exc:
                if _code(exc) != "NoSuchResourceException":
                    _raise_unreadable(exc, perm)
            except NotImplementedError as exc:
                _raise_unreadable(exc, perm)
    return {"quotas": found}


# --- dry run --------------------------------------------------------------------------------------

def dry_run_params(plan: Any) -> dict[str, Any]:
    """RunInstances parameters for the plan, exactly as a launch would send them."""
    params: dict[str, Any] = {"ImageId": plan.image, "InstanceType": plan.instance_type,
                              "MinCount": plan.count, "MaxCount": plan.count}
    if plan.key_name:
        params["KeyName"] = plan.key_name
    if plan.instance_profile:
        key = "Arn" if plan.instance_profile.startswith("arn:") else "Name"
        params["IamInstanceProfile"] = {key: plan.instance_profile}
    if plan.subnets:
        params["SubnetId"] = plan.subnets[0]
    elif plan.zones:
        params["Placement"] = {"AvailabilityZone": plan.zones[0]}
    if plan.security_group.startswith("sg-"):
        params["SecurityGroupIds"] = [plan.security_group]
    if plan.spot:
        params["InstanceMarketOptions"] = {"MarketType": "spot"}
    return params


@extra_collector("dry_run", permissions=("ec2:RunInstances",))
def collect_dry_run(session: Session, region: str, plan: Any) -> DryRun:
    if not plan or not (plan.instance_type and plan.image):
        missing = [f for f in ("instance_type", "image") if not (plan and getattr(plan, f, ""))]
        return {"skipped": f"the plan names no {' or '.join(missing)}"}
    params = dry_run_params(plan)
    try:
        session.client("ec2", region).run_instances(DryRun=True, **params)
    except botocore.exceptions.ClientError as exc:
        code = _code(exc)
        if code in CREDENTIAL_CODES:
            raise CredentialsError(f"AWS rejected the credentials ({code}): check --profile or refresh them") from None
        return {"ok": code == "DryRunOperation", "code": code, "message": _message(exc), "params": params}
    except NotImplementedError as exc:
        raise Denied("", "NotImplemented", str(exc)[:200]) from None
    # A dry run that "succeeds" without the DryRunOperation error would have launched: say so.
    return {"ok": False, "code": "NoDryRunOperation",
            "message": "RunInstances answered without the DryRunOperation error", "params": params}


# --- candidate instance types (SkyPilot accelerators / cpus / memory) --------------------------

def _amount_fits(have: float, want: str) -> bool:
    """SkyPilot's `4` is exactly 4, `4+` at least 4."""
    if not want:
        return True
    at_least = want.endswith("+")
    n = float(want[:-1] if at_least else want)
    return have >= n if at_least else abs(have - n) < 1e-9


def instance_candidates(session: Session, region: str, accelerators: str = "", cpus: str = "",
                        memory: str = "") -> dict[str, Any]:
    """Instance types of `region` that satisfy a SkyPilot resources request, from EC2's own
    DescribeInstanceTypes (GPU name and count, vCPUs, memory) — no hand table. Smallest first
    (vCPUs, then memory), a stand-in for SkyPilot's cheapest-first order.

    Returns {"types": [...], "facts": {type: {...}}, "gpu_names": [every GPU name seen]}."""
    client = session.client("ec2", region)
    gpu_name, _, count = accelerators.partition(":")
    want_gpus = float(count) if count else (1.0 if gpu_name else 0.0)
    found: dict[str, dict[str, Any]] = {}
    names: set[str] = set()
    try:
        for page in paginate(client, "describe_instance_types", _page_size(session)):
            for t in page.get("InstanceTypes") or []:
                gpus = (t.get("GpuInfo") or {}).get("Gpus") or []
                names.update(str(g.get("Name", "")) for g in gpus if g.get("Name"))
                vcpus = int((t.get("VCpuInfo") or {}).get("DefaultVCpus") or 0)
                mem = float((t.get("MemoryInfo") or {}).get("SizeInMiB") or 0) / 1024
                if gpu_name:
                    match = [g for g in gpus if str(g.get("Name", "")).lower() == gpu_name.lower()]
                    if not match or abs(sum(int(g.get("Count") or 0) for g in match) - want_gpus) > 1e-9:
                        continue
                elif gpus:
                    continue  # a CPU-only request never lands on a GPU type
                if not (_amount_fits(vcpus, cpus) and _amount_fits(mem, memory)):
                    continue
                if not gpu_name and not cpus and not memory:
                    continue
                found[t["InstanceType"]] = {**type_facts(t), "memory_gib": round(mem, 2),
                                            "current_generation": bool(t.get("CurrentGeneration", True))}
    except (botocore.exceptions.ClientError, NotImplementedError) as exc:
        _raise_unreadable(exc, "ec2:DescribeInstanceTypes")
        raise
    order = sorted(found, key=lambda n: (not found[n]["current_generation"], found[n]["vcpus"],
                                         found[n]["memory_gib"], n))
    return {"types": order, "facts": {n: found[n] for n in order}, "gpu_names": sorted(names)}
