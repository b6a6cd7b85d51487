"""What a launch needs (the catalogue) and what the current identity has (the assessment).

The catalogue is data (`preflight/data/permissions.yaml`, overridable with PREFLIGHT_PERMISSIONS):
per cloud and capability, the exact permissions a launch uses. The assessment joins it with the
permission data a collector stored in `Inventory.extra` — AWS policy documents evaluated locally
(or `--simulate` results), GCP `testIamPermissions` answers — into one verdict per permission,
which the IAM rules read. Nothing here talks to a cloud.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from preflight import launch_needs, launcher_permissions, sar
from preflight.errors import PreflightError
from preflight.launcher_permissions import SHIPPED_YAML_LOADER, ActionSpec
from preflight.semantics import iam
from preflight.semantics.iam_requests import LaunchFacts, build_requests

ALLOW, DENY, IMPLICIT_DENY, UNKNOWN = "ALLOW", "DENY", "IMPLICIT_DENY", "UNKNOWN"
CLOUDS = ("aws", "gcp")


@dataclass(frozen=True)
class Capability:
    name: str
    description: str
    permissions: tuple[str, ...]  # the names verdicts are stored under (IAM actions, GCP permissions)
    # How each is requested (launcher profiles: resource types, create action); () = plain actions.
    specs: tuple[ActionSpec, ...] = ()
    optional: tuple[str, ...] = ()  # calls the launcher survives being refused: noted, never a FAIL
    when: str = ""  # needed only when the launch uses this (buckets, instance_profile, …)
    # Checked only when a plan names it (`capabilities: [..., ports-ledger]`): a capability only
    # some setups use (the DynamoDB port ledger) must not fail everyone else's check.
    opt_in: bool = False

    def spec(self, key: str) -> ActionSpec:
        return next((s for s in self.specs if s.key == key), None) or ActionSpec(key, key=key)


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
            when = str(body.get("when", "")) if isinstance(body, dict) else ""
            if when and when not in launcher_permissions.WHEN:
                raise PreflightError(f"{where}: {cloud}.{name}.when must be one of "
                                     f"{', '.join(launcher_permissions.WHEN)}")
            opt_in = body.get("opt_in", False) if isinstance(body, dict) else False
            if not isinstance(opt_in, bool):
                raise PreflightError(f"{where}: {cloud}.{name}.opt_in must be true or false")
            out[cloud][str(name)] = Capability(str(name), str(desc), tuple(dict.fromkeys(perms)), when=when,
                                               opt_in=opt_in)
    return out


@functools.lru_cache(maxsize=8)
def _load(override: str | None) -> dict[str, dict[str, Capability]]:
    text = resources.files("preflight").joinpath("data/permissions.yaml").read_text()
    catalogue = _parse_catalogue(yaml.load(text, Loader=SHIPPED_YAML_LOADER), "permissions.yaml")
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


def _from_profile(cap: launcher_permissions.LauncherCapability, uses: frozenset[str]) -> Capability:
    specs = tuple(a for a in cap.actions if not a.when or a.when in uses)
    return Capability(cap.name, cap.description, tuple(dict.fromkeys(a.key for a in specs)), specs,
                      tuple(a.key for a in specs if a.optional), cap.when)


def plan_uses(plan: Any) -> frozenset[str]:
    """What the launch uses beyond instances (`when:` names in the data files)."""
    if plan is None:
        return frozenset()
    uses = set()
    store = "gs" if getattr(plan, "cloud", "aws") == "gcp" else "s3"
    b = launch_needs.buckets_of(plan, store)
    if b.all:
        uses.add("buckets")
    if b.created:
        uses.add("creates_buckets")
    prof = launch_profile(plan)
    if getattr(plan, "instance_profile", "") or (prof is not None and prof.role):
        uses.add("instance_profile")
    if getattr(plan, "replicas", None) is not None:
        uses.add("replicas")
    return frozenset(uses)


def launch_profile(plan: Any) -> launcher_permissions.Profile | None:
    """The permission profile of the plan's launcher (SkyPilot, Ray, preflight launch), if any."""
    name = launch_needs.launcher_of(plan)
    return launcher_permissions.profile(name) if name else None


def capabilities_for(cloud: str, plan: Any = None, unused: bool = False,
                     permissions_file: str | None = None) -> dict[str, Capability]:
    """The capabilities the launch needs, in data order: the plan's own `capabilities` list if it
    has one; else those of its launcher's permission profile (or the catalogue) that the launch
    uses — storage only when it mounts or creates buckets. Without a plan, all of them. Opt-in
    capabilities (the DynamoDB port ledger) only when the plan's `capabilities` names them.
    `unused=True` returns the others instead (evaluated for context, never a FAIL)."""
    prof = launch_profile(plan) if plan is not None else None
    uses = plan_uses(plan)
    if prof is not None and prof.clouds.get(cloud):
        caps = {name: _from_profile(c, uses) for name, c in prof.clouds[cloud].items()}
    else:
        caps = dict(catalogue(permissions_file).get(cloud, {}))
    wanted = tuple(getattr(plan, "capabilities", ()) or ())
    if wanted:
        unknown = [c for c in wanted if c not in caps]
        if unknown:
            raise PreflightError(f"capabilities: {unknown[0]!r} is not a {cloud} capability "
                                 f"(one of: {', '.join(caps)})")
        needed = {name for name in caps if name in wanted}
    elif plan is None:
        needed = {name for name, cap in caps.items() if not cap.opt_in}
    else:
        needed = {name for name, cap in caps.items() if not cap.opt_in and (not cap.when or cap.when in uses)}
    return {name: cap for name, cap in caps.items() if (name in needed) != unused}


def all_permissions(cloud: str, permissions_file: str | None = None) -> list[str]:
    """Every permission any capability or launcher profile may need (what collectors ask about;
    opt-in capabilities too: their verdicts are collected, and judged only when a plan names them)."""
    base = [p for cap in catalogue(permissions_file).get(cloud, {}).values() for p in cap.permissions]
    extra = sorted(launcher_permissions.all_aws_actions()) if cloud == "aws" else \
        launcher_permissions.all_gcp_permissions() if cloud == "gcp" else []
    return list(dict.fromkeys([*base, *extra]))


# --- AWS: verdicts from policy documents --------------------------------------------------------

def parse_aws_policies(data: dict[str, Any]) -> tuple[list[iam.Policy], list[iam.Policy], list[list[iam.Policy]]]:
    """identity policies, boundary (0 or 1), SCP levels; raises PolicyError on a malformed one."""
    identity = [iam.parse_policy(p.get("document"), p.get("name", "?"), "identity") for p in data.get("policies", [])]
    b = data.get("boundary")
    boundary = [iam.parse_policy(b.get("document"), b.get("name", "boundary"), "boundary")] if b else []
    scps = [[iam.parse_policy(p.get("document"), p.get("name", "?"), "scp") for p in level]
            for level in data.get("scps") or []]
    return identity, boundary, scps


def aws_verdicts(data: dict[str, Any], permissions: Iterable[str], region: str = "",
                 facts: LaunchFacts | None = None, specs: Mapping[str, ActionSpec] | None = None
                 ) -> dict[str, dict[str, Any]]:
    """Evaluate each permission for the principal in `data` (the `iam` extra): every request AWS
    would make for it in this launch (`facts`; region and account only when not given) must be
    allowed. `specs` says how a permission is requested (resource types, create action)."""
    perms = list(permissions)
    if data.get("kind") == "root":
        return {p: {"decision": ALLOW, "reason": "the account root user is not limited by IAM policies"}
                for p in perms}
    try:
        identity, boundary, scps = parse_aws_policies(data)
    except iam.PolicyError as exc:
        return {p: {"decision": UNKNOWN, "reason": f"malformed policy document: {exc}"} for p in perms}
    facts = facts or LaunchFacts(region=region, account=data.get("account", ""), principal=data.get("principal", ""))
    table = sar.load()
    out = {}
    for p in perms:
        spec = (specs or {}).get(p) or ActionSpec(p, key=p)
        try:
            requests = build_requests(spec.action, facts, table, spec.resources, spec.create_action)
        except ValueError as exc:  # a profile naming a resource type the action does not take
            out[p] = {"decision": UNKNOWN, "reason": str(exc)}
            continue
        out[p] = iam.evaluate_all(requests, identity, boundary, scps).to_dict()
    return out


def _resolve(items: Iterable[Any], value: str) -> Any:
    """An inventory item by id or Name tag."""
    return next((i for i in items if value in (i.id, (getattr(i, "tags", None) or {}).get("Name"))), None)


def launch_facts(plan: Any, inventory: Any, data: Mapping[str, Any]) -> LaunchFacts:
    """What the plan and the account fix about this launch's requests (see iam_requests)."""
    region = inventory.region
    account = data.get("account") or inventory.account
    base = LaunchFacts(region=region, account=account, principal=data.get("principal", ""))
    if plan is None:
        return base
    prof = launch_profile(plan)
    vpcs = getattr(inventory, "vpcs", ())
    vpc = _resolve(vpcs, plan.vpc) if getattr(plan, "vpc", "") else next((v for v in vpcs if v.is_default), None)
    subnets = tuple((_resolve(getattr(inventory, "subnets", ()), s) or s) for s in getattr(plan, "subnets", ()))
    subnet_ids = tuple(getattr(s, "id", s) for s in subnets)
    groups: tuple[str, ...] = ()
    sg = getattr(plan, "security_group", "")
    if sg:
        found = next((g for g in getattr(inventory, "security_groups", ())
                      if sg in (g.id, g.group_name) and (vpc is None or g.vpc_id == vpc.id)), None)
        groups = (found.id,) if found else ((sg,) if sg.startswith("sg-") else ())
    profile_name = getattr(plan, "instance_profile", "") or (prof.instance_profile if prof else "")
    if profile_name.startswith("arn:"):
        profile_name = profile_name.rsplit("/", 1)[-1]
    role = prof.role if prof and not getattr(plan, "instance_profile", "") else ""
    ip = (inventory.extra.get("instance_profiles") or {}) if hasattr(inventory, "extra") else {}
    if ip.get("roles"):
        role = ip["roles"][0].get("name", role)
    candidates = tuple(getattr(plan, "candidates", ()) or ())
    itype = getattr(plan, "instance_type", "") or (candidates[0] if len(candidates) == 1 else "")
    zones = tuple(getattr(plan, "zones", ()) or ())
    store = "gs" if getattr(plan, "cloud", "aws") == "gcp" else "s3"
    tags: dict[str, str | None] | None = {t: None for t in prof.tags} if prof else None
    return LaunchFacts(
        region=region, account=account, principal=data.get("principal", ""), instance_type=itype,
        image=getattr(plan, "image", "") or "", vpc=vpc.id if vpc is not None else "",
        subnets=subnet_ids, security_groups=groups, key_name=getattr(plan, "key_name", "") or "",
        instance_profile=profile_name, role=role, zone=zones[0] if len(zones) == 1 else "",
        spot=bool(getattr(plan, "spot", False)), tags=tags,
        buckets=launch_needs.buckets_of(plan, store).all, uses=plan_uses(plan))


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

    unused: dict[str, Capability] = field(default_factory=dict)  # evaluated for context, never a FAIL
    facts: LaunchFacts | None = None  # what the plan fixed about the requests (AWS, policies read)
    skypilot: dict[str, Any] = field(default_factory=dict)  # SkyPilot's cached enabled clouds (IAM003)

    def decision(self, permission: str) -> str:
        return self.verdicts.get(permission, {}).get("decision", UNKNOWN)

    def _cap(self, cap: str) -> Capability:
        return self.capabilities.get(cap) or self.unused[cap]

    def _required(self, cap: str) -> list[str]:
        c = self._cap(cap)
        return [p for p in c.permissions if p not in c.optional]

    def missing(self, cap: str) -> list[str]:
        return [p for p in self._required(cap) if self.decision(p) in (DENY, IMPLICIT_DENY)]

    def undecided(self, cap: str) -> list[str]:
        return [p for p in self._required(cap) if self.decision(p) == UNKNOWN]

    def works(self, cap: str) -> bool:
        return all(self.decision(p) == ALLOW for p in self._required(cap))

    def undecided_any(self) -> bool:
        return any(self.undecided(cap) for cap in self.capabilities)

    def optional_refused(self) -> list[str]:
        """Calls the launcher survives being refused, that are not allowed (a note)."""
        return [p for c in self.capabilities.values() for p in c.optional if self.decision(p) != ALLOW]

    def detail(self, permission: str) -> str:
        """`iam:PassRole on arn:…:role/x` when the verdict was for a resource, with what failed."""
        v = self.verdicts.get(permission, {})
        res = v.get("resource")
        near = v.get("near_misses") or []
        why = ""
        if near and v.get("decision") == IMPLICIT_DENY:
            first = near[0]
            why = f" ({first.get('policy', '?')} statement {first.get('sid', '?')}: {first.get('reason', '')})"
        # The resource is worth naming when it is a definite one (the role to pass) or when a
        # statement for the action missed it; for an action nothing grants, `instance/i-*` is noise.
        if res and (why or "*" not in res):
            return f"{permission} on {res}{why}"
        return permission

    @property
    def who(self) -> str:
        where = f" on project {self.project}" if self.project else ""
        return f"{self.principal}{where}"


def assess(inventory: Any, plan: Any = None, permissions_file: str | None = None) -> Assessment | None:
    """The permission assessment for one inventory, or None when no permission data was collected."""
    data = inventory.permission_data()
    if data is None:
        return None
    if inventory.cloud == "gcp":
        caps = capabilities_for("gcp", plan, permissions_file=permissions_file)
        unused = capabilities_for("gcp", plan, unused=True, permissions_file=permissions_file)
        granted = set(data.get("granted", []))
        requested = set(data.get("requested", []))
        project = data.get("project", "")
        verdicts: dict[str, dict[str, Any]] = {}
        for cap in (*caps.values(), *unused.values()):
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
                          cache=data.get("cache", {}), notes=list(data.get("notes", [])), unused=unused,
                          skypilot=data.get("skypilot") or {})
    caps = capabilities_for("aws", plan, permissions_file=permissions_file)
    unused = capabilities_for("aws", plan, unused=True, permissions_file=permissions_file)
    specs = {k: cap.spec(k) for cap in (*caps.values(), *unused.values()) for k in cap.permissions}
    stored = data.get("verdicts", {})
    facts = None
    if data.get("kind") == "root" or (data.get("method", "local") == "local" and "policies" in data):
        # The policy documents are here: evaluate every request this launch makes, with the
        # resources and context the plan and the account fix.
        facts = launch_facts(plan, inventory, data)
        verdicts = aws_verdicts(data, list(specs), inventory.region, facts, specs)
    else:
        # Verdicts from the simulator or the cache (per action, no policy documents to evaluate
        # anything else with: an empty policy set would deny it).
        missing = {"decision": UNKNOWN, "reason": "not checked (catalogue changed since collection)"}
        verdicts = {k: stored.get(spec.action) or missing for k, spec in specs.items()}
    return Assessment(cloud="aws", principal=data.get("principal", ""), kind=data.get("kind", ""),
                      account=data.get("account", inventory.account), capabilities=caps, verdicts=verdicts,
                      method=data.get("method", "local"), notes=list(data.get("notes", [])),
                      cache=data.get("cache", {}), name=data.get("name", ""), unused=unused, facts=facts,
                      skypilot=data.get("skypilot") or {})


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
    if a.facts is not None:
        # Least privilege: exactly the missing calls, on the resources this launch touches.
        from preflight import launch_policy

        specs = [a._cap(cap).spec(p) for cap in (*a.capabilities, *a.unused) for p in a._cap(cap).permissions
                 if p in perms]
        policy = launch_policy.document(list({s.key: s for s in specs}.values()), a.facts)
    else:
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": perms, "Resource": "*"}]}
    doc = json.dumps(policy, separators=(",", ":"))
    if a.kind == "user":
        return (f"aws iam put-user-policy --user-name {a.name} --policy-name preflight-launch "
                f"--policy-document '{doc}'",)
    if a.kind == "role":
        return (f"aws iam put-role-policy --role-name {a.name} --policy-name preflight-launch "
                f"--policy-document '{doc}'",)
    return ()
