"""What a launch needs (the catalogue) and what the current identity has (the assessment).

The catalogue is data (`preflight/data/permissions.yaml`, overridable with PREFLIGHT_PERMISSIONS):
per cloud and capability, the exact permissions a launch uses. The assessment joins it with the
permission data a collector stored in `Inventory.extra` — AWS policy documents evaluated locally
(or `--simulate` results), GCP `testIamPermissions` answers — into one verdict per permission,
which the IAM rules read. Nothing here talks to a cloud.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from preflight.errors import PreflightError
from preflight.semantics import iam

ALLOW, DENY, IMPLICIT_DENY, UNKNOWN = "ALLOW", "DENY", "IMPLICIT_DENY", "UNKNOWN"
CLOUDS = ("aws", "gcp")


@dataclass(frozen=True)
class Capability:
    name: str
    description: str
    permissions: tuple[str, ...]
    # Checked only when a plan names it (`capabilities: [..., ports-ledger]`): a capability only
    # some setups use (the DynamoDB port ledger) must not fail everyone else's check.
    opt_in: bool = False


def _parse_catalogue(doc: Any, where: str) -> dict[str, dict[str, Capability]]:
    if not isinstance(doc, dict):
        raise PreflightError(f"{where}: expected a mapping of clouds (aws, gcp)")
    out: dict[str, dict[str, Capability]] = {}
    for cloud, caps in doc.items():
        if cloud == "version":
            continue
        if cloud not in CLOUDS or not isinstance(caps, dict):
            raise PreflightError(f"{where}: {cloud!r} must be aws or gcp, mapping capability names to permissions")
        out[cloud] = {}
        for name, body in caps.items():
            perms = body.get("permissions") if isinstance(body, dict) else body
            if not isinstance(perms, list) or not perms or not all(isinstance(p, str) and p for p in perms):
                raise PreflightError(f"{where}: {cloud}.{name}.permissions must be a non-empty list of strings")
            desc = body.get("description", "") if isinstance(body, dict) else ""
            opt_in = body.get("opt_in", False) if isinstance(body, dict) else False
            if not isinstance(opt_in, bool):
                raise PreflightError(f"{where}: {cloud}.{name}.opt_in must be true or false")
            out[cloud][str(name)] = Capability(str(name), str(desc), tuple(dict.fromkeys(perms)), opt_in)
    return out


@functools.lru_cache(maxsize=8)
def _load(override: str | None) -> dict[str, dict[str, Capability]]:
    text = resources.files("preflight").joinpath("data/permissions.yaml").read_text()
    catalogue = _parse_catalogue(yaml.safe_load(text), "permissions.yaml")
    if override:
        path = Path(override)
        try:
            doc = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise PreflightError(f"PREFLIGHT_PERMISSIONS: cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError:
            raise PreflightError(f"PREFLIGHT_PERMISSIONS: {path} is not valid YAML") from None
        for cloud, caps in _parse_catalogue(doc, str(path)).items():
            catalogue.setdefault(cloud, {}).update(caps)
    return catalogue


def catalogue(permissions_file: str | None = None) -> dict[str, dict[str, Capability]]:
    """The built-in catalogue, extended/overridden by `permissions_file` (a run's
    `RunSettings.permissions_file`, from PREFLIGHT_PERMISSIONS)."""
    return _load(permissions_file or None)


def capabilities_for(cloud: str, plan: Any = None, permissions_file: str | None = None) -> dict[str, Capability]:
    """The capabilities the plan names (without a plan, all but the opt-in ones), in catalogue order."""
    caps = catalogue(permissions_file).get(cloud, {})
    wanted = tuple(getattr(plan, "capabilities", ()) or ())
    if not wanted:
        return {name: cap for name, cap in caps.items() if not cap.opt_in}
    unknown = [c for c in wanted if c not in caps]
    if unknown:
        raise PreflightError(f"capabilities: {unknown[0]!r} is not a {cloud} capability "
                             f"(one of: {', '.join(caps)})")
    return {name: cap for name, cap in caps.items() if name in wanted}


def all_permissions(cloud: str, permissions_file: str | None = None, opt_in: bool = False) -> list[str]:
    """Every permission of the catalogue's capabilities (`opt_in`: also the opt-in ones)."""
    caps = catalogue(permissions_file).get(cloud, {}).values()
    return list(dict.fromkeys(p for cap in caps if opt_in or not cap.opt_in
                              for p in cap.permissions))


# --- AWS: verdicts from policy documents --------------------------------------------------------

def parse_aws_policies(data: dict[str, Any]) -> tuple[list[iam.Policy], list[iam.Policy], list[list[iam.Policy]]]:
    """identity policies, boundary (0 or 1), SCP levels; raises PolicyError on a malformed one."""
    identity = [iam.parse_policy(p.get("document"), p.get("name", "?"), "identity") for p in data.get("policies", [])]
    b = data.get("boundary")
    boundary = [iam.parse_policy(b.get("document"), b.get("name", "boundary"), "boundary")] if b else []
    scps = [[iam.parse_policy(p.get("document"), p.get("name", "?"), "scp") for p in level]
            for level in data.get("scps") or []]
    return identity, boundary, scps


def aws_verdicts(data: dict[str, Any], permissions: Iterable[str], region: str = "") -> dict[str, dict[str, Any]]:
    """Evaluate each permission for the principal in `data` (the `iam` extra)."""
    perms = list(permissions)
    if data.get("kind") == "root":
        return {p: {"decision": ALLOW, "reason": "the account root user is not limited by IAM policies"}
                for p in perms}
    try:
        identity, boundary, scps = parse_aws_policies(data)
    except iam.PolicyError as exc:
        return {p: {"decision": UNKNOWN, "reason": f"malformed policy document: {exc}"} for p in perms}
    context = {"aws:RequestedRegion": region} if region else {}
    out = {}
    for p in perms:
        req = iam.Request(p, region=region, account=data.get("account", ""), context=context)
        out[p] = iam.evaluate(req, identity, boundary, scps).to_dict()
    return out


# --- the assessment the rules read ------------------------------------------------------------

@dataclass
class Assessment:
    cloud: str
    principal: str  # AWS principal ARN, or GCP account email
    kind: str  # user, role, root, service_account, account
    account: str = ""
    project: str = ""
    capabilities: dict[str, Capability] = field(default_factory=dict)
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    method: str = ""  # local policy evaluation, simulate, testIamPermissions, cache
    notes: list[str] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)
    name: str = ""  # the IAM user or role name (AWS), for fix commands

    def decision(self, permission: str) -> str:
        return self.verdicts.get(permission, {}).get("decision", UNKNOWN)

    def missing(self, cap: str) -> list[str]:
        return [p for p in self.capabilities[cap].permissions if self.decision(p) in (DENY, IMPLICIT_DENY)]

    def undecided(self, cap: str) -> list[str]:
        return [p for p in self.capabilities[cap].permissions if self.decision(p) == UNKNOWN]

    def works(self, cap: str) -> bool:
        return all(self.decision(p) == ALLOW for p in self.capabilities[cap].permissions)

    @property
    def who(self) -> str:
        where = f" on project {self.project}" if self.project else ""
        return f"{self.principal}{where}"


def assess(inventory: Any, plan: Any = None, permissions_file: str | None = None) -> Assessment | None:
    """The permission assessment for one inventory, or None when no permission data was collected."""
    if inventory.cloud == "gcp":
        data = inventory.extra.get("gcp")
        if not data:
            return None
        caps = capabilities_for("gcp", plan, permissions_file)
        granted = set(data.get("granted", []))
        requested = set(data.get("requested", []))
        project = data.get("project", "")
        verdicts: dict[str, dict[str, Any]] = {}
        for cap in caps.values():
            for p in cap.permissions:
                if p in granted:
                    verdicts[p] = {"decision": ALLOW, "reason": f"granted on project {project}"}
                elif p in requested:
                    verdicts[p] = {"decision": IMPLICIT_DENY,
                                   "reason": f"not granted to {data.get('account', '?')} on project {project}"}
                else:
                    verdicts[p] = {"decision": UNKNOWN, "reason": "not tested (catalogue changed since collection)"}
        return Assessment(cloud="gcp", principal=data.get("account", "") or "unknown account", kind="account",
                          account=data.get("account", ""), project=project, capabilities=caps,
                          verdicts=verdicts, method=data.get("method", "testIamPermissions"),
                          cache=data.get("cache", {}), notes=list(data.get("notes", [])))
    data = inventory.extra.get("iam")
    if not data:
        return None
    caps = capabilities_for("aws", plan, permissions_file)
    wanted = [p for cap in caps.values() for p in cap.permissions]
    stored = data.get("verdicts", {})
    todo = [p for p in wanted if p not in stored]
    if todo and "policies" not in data and data.get("kind") != "root":
        # Verdicts from the simulator or the cache, no policy documents: nothing to evaluate a
        # permission added to the catalogue since with (an empty policy set would deny it).
        fresh = {p: {"decision": UNKNOWN, "reason": "not checked (catalogue changed since collection)"}
                 for p in todo}
    else:
        fresh = aws_verdicts(data, todo, inventory.region) if todo else {}
    verdicts = {**stored, **fresh}
    return Assessment(cloud="aws", principal=data.get("principal", ""), kind=data.get("kind", ""),
                      account=data.get("account", inventory.account), capabilities=caps, verdicts=verdicts,
                      method=data.get("method", "local"), notes=list(data.get("notes", [])),
                      cache=data.get("cache", {}), name=data.get("name", ""))


def cached_assessment(ctx: Any) -> Assessment | None:
    """One assessment per rule run, shared by the IAM rules."""
    return ctx.cached(f"permissions:{id(ctx.inventory)}",
                      lambda: assess(ctx.inventory, ctx.plan, ctx.settings.permissions_file))


def join(items: Iterable[str], limit: int = 6) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


def and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- fix commands -------------------------------------------------------------------------------

GCP_ROLE_ID = "preflightLaunch"


def fix_commands(a: Assessment, perms: list[str]) -> tuple[str, ...]:
    """The exact commands that grant `perms` to the identity (least privilege: just these)."""
    import json

    if not perms:
        return ()
    if a.cloud == "gcp":
        member = ("serviceAccount:" if a.principal.endswith(".gserviceaccount.com") else "user:") + a.principal
        return (
            f"gcloud iam roles create {GCP_ROLE_ID} --project={a.project} --permissions={','.join(perms)}",
            f"gcloud projects add-iam-policy-binding {a.project} --member={member} "
            f"--role=projects/{a.project}/roles/{GCP_ROLE_ID}",
        )
    doc = json.dumps({"Version": "2012-10-17",
                      "Statement": [{"Effect": "Allow", "Action": perms, "Resource": "*"}]}, separators=(",", ":"))
    if a.kind == "user":
        return (f"aws iam put-user-policy --user-name {a.name} --policy-name preflight-launch "
                f"--policy-document '{doc}'",)
    if a.kind == "role":
        return (f"aws iam put-role-policy --role-name {a.name} --policy-name preflight-launch "
                f"--policy-document '{doc}'",)
    return ()
