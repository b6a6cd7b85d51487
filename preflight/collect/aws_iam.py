"""AWS permission data: who is calling, what their policies say, and what they have used.

Two extra collectors (see `preflight.collect.aws.extra_collector`):

- `iam`: the caller (STS GetCallerIdentity), its identity-based policies — attached managed,
  inline and group policies for a user; attached and inline for a role (an assumed-role ARN is
  mapped to its role) — its permission boundary, and the SCPs that apply when the organisation
  lets us read them. Read with one paginated GetAccountAuthorizationDetails sequence, or the
  per-principal calls when that is denied. The policies are evaluated locally
  (`preflight.semantics.iam`) for every permission in the catalogue, or with
  `iam:SimulatePrincipalPolicy` when `--simulate` is set; verdicts are cached per identity
  (`preflight.permcache`).
- `iam_last_accessed`: IAM's service last-accessed report for the principal (IAM005).

Both store plain JSON in `Inventory.extra`; policy documents are not secrets, credentials are
never read or stored here.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
from typing import Any, cast

import botocore.exceptions
import botocore.parsers

from preflight import permcache, permissions
from preflight.collect.aws import (
    CREDENTIAL_CODES,
    DENIED_CODES,
    AwsSession,
    Denied,
    caller_identity,
    extra_collector,
    page_size_for,
    paginate,
)
from preflight.errors import CredentialsError
from preflight.inventory.extras import Iam, IamLastAccessed

USER_READS = ("iam:GetUser", "iam:ListUserPolicies", "iam:GetUserPolicy", "iam:ListAttachedUserPolicies",
              "iam:ListGroupsForUser", "iam:ListGroupPolicies", "iam:GetGroupPolicy",
              "iam:ListAttachedGroupPolicies", "iam:GetPolicy", "iam:GetPolicyVersion")
ROLE_READS = ("iam:GetRole", "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
              "iam:GetPolicy", "iam:GetPolicyVersion")
MOTO_DEFAULT_SUFFIX = ":user/moto"


def principal_of(arn: str) -> dict[str, str]:
    """kind (user, role, root, federated), name, account and the IAM ARN that names it."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return {"kind": "unknown", "name": "", "account": "", "arn": arn}
    _, partition, service, _, account, rest = parts
    if service == "iam" and rest == "root":
        return {"kind": "root", "name": "root", "account": account, "arn": arn}
    if service == "iam" and rest.startswith("user/"):
        return {"kind": "user", "name": rest.rsplit("/", 1)[-1], "account": account, "arn": arn}
    if service == "iam" and rest.startswith("role/"):
        return {"kind": "role", "name": rest.rsplit("/", 1)[-1], "account": account, "arn": arn}
    if service == "sts" and rest.startswith("assumed-role/"):
        role = rest.split("/")[1]
        return {"kind": "role", "name": role, "account": account, "arn": f"arn:{partition}:iam::{account}:role/{role}"}
    if service == "sts" and rest == "user/moto":
        # moto's answer for credentials that belong to no IAM user. Real AWS never returns an STS
        # ARN for a user; moto authorises this identity for everything, like an account root.
        return {"kind": "root", "name": "moto", "account": account, "arn": arn}
    if service == "sts" and rest.startswith("federated-user/"):
        return {"kind": "federated", "name": rest.split("/", 1)[1], "account": account, "arn": arn}
    return {"kind": "unknown", "name": rest, "account": account, "arn": arn}


def _code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _raise_if_credentials(exc: botocore.exceptions.ClientError) -> None:
    if _code(exc) in CREDENTIAL_CODES:
        raise CredentialsError(
            f"AWS rejected the credentials ({_code(exc)}): check --profile or refresh them") from None


def _default_document(versions: list[dict[str, Any]]) -> Any:
    for v in versions:
        if v.get("IsDefaultVersion"):
            return v.get("Document")
    return versions[0].get("Document") if versions else None


def _policies_via_gaad(iam: Any, who: dict[str, str], page_size: int | None = None) -> dict[str, Any]:
    """One paginated GetAccountAuthorizationDetails sequence, filtered to the principal's type."""
    kind_filter = ["User", "Group"] if who["kind"] == "user" else ["Role"]
    users: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    managed: dict[str, dict[str, Any]] = {}
    for page in paginate(iam, "get_account_authorization_details", page_size,
                         Filter=[*kind_filter, "LocalManagedPolicy", "AWSManagedPolicy"]):
        users += page.get("UserDetailList") or []
        roles += page.get("RoleDetailList") or []
        for g in page.get("GroupDetailList") or []:
            groups[g["GroupName"]] = g
        for p in page.get("Policies") or []:
            managed[p["Arn"]] = p
    entries = users if who["kind"] == "user" else roles
    key = "UserName" if who["kind"] == "user" else "RoleName"
    me = next((e for e in entries if e.get(key) == who["name"]), None)
    if me is None:
        raise Denied("iam:GetAccountAuthorizationDetails", "PrincipalNotFound",
                     f"{who['arn']} is not in this account's IAM data (a principal from another account?)")
    inline_key = "UserPolicyList" if who["kind"] == "user" else "RolePolicyList"
    policies: list[dict[str, Any]] = []
    for p in me.get(inline_key) or []:
        policies.append({"name": p["PolicyName"], "source": "inline", "document": p.get("PolicyDocument")})

    def attached(items: list[dict[str, Any]], source: str) -> None:
        for a in items or []:
            doc = _default_document((managed.get(a["PolicyArn"]) or {}).get("PolicyVersionList") or [])
            policies.append({"name": a["PolicyName"], "arn": a["PolicyArn"], "source": source, "document": doc})

    attached(me.get("AttachedManagedPolicies") or [], "attached")
    for gname in me.get("GroupList") or []:
        g = groups.get(gname) or {}
        for p in g.get("GroupPolicyList") or []:
            policies.append({"name": p["PolicyName"], "source": f"group {gname}", "document": p.get("PolicyDocument")})
        attached(g.get("AttachedManagedPolicies") or [], f"group {gname}")
    boundary = None
    b_arn = (me.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    if b_arn:
        doc = _default_document((managed.get(b_arn) or {}).get("PolicyVersionList") or [])
        if doc is None:
            doc = _managed_document(iam, b_arn)
        boundary = {"name": b_arn.rsplit("/", 1)[-1], "arn": b_arn, "document": doc}
    return {"policies": policies, "boundary": boundary, "read_with": "iam:GetAccountAuthorizationDetails"}


def _managed_document(iam: Any, arn: str) -> Any:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]


def _all(iam: Any, op: str, key: str, page_size: int | None = None, **kw: Any) -> list[Any]:
    out: list[Any] = []
    for page in paginate(iam, op, page_size, **kw):
        out += page.get(key) or []
    return out


def _own_policies(iam: Any, kind: str, name: str, source: str = "",
                  page_size: int | None = None) -> list[dict[str, Any]]:
    """Inline, then attached managed policies of one user, group or role (`kind`); `source` labels
    them (default "inline" / "attached")."""
    key = {"user": "UserName", "group": "GroupName", "role": "RoleName"}[kind]
    out: list[dict[str, Any]] = []
    for pname in _all(iam, f"list_{kind}_policies", "PolicyNames", page_size, **{key: name}):
        doc = getattr(iam, f"get_{kind}_policy")(**{key: name}, PolicyName=pname)["PolicyDocument"]
        out.append({"name": pname, "source": source or "inline", "document": doc})
    for a in _all(iam, f"list_attached_{kind}_policies", "AttachedPolicies", page_size, **{key: name}):
        out.append({"name": a["PolicyName"], "arn": a["PolicyArn"], "source": source or "attached",
                    "document": _managed_document(iam, a["PolicyArn"])})
    return out


def _policies_per_principal(iam: Any, who: dict[str, str], page_size: int | None = None) -> dict[str, Any]:
    """The principal's own read calls: fewer permissions needed than GetAccountAuthorizationDetails."""
    name = who["name"]
    if who["kind"] == "user":
        detail = iam.get_user(UserName=name)["User"]
        policies = _own_policies(iam, "user", name, page_size=page_size)
        for g in _all(iam, "list_groups_for_user", "Groups", page_size, UserName=name):
            policies += _own_policies(iam, "group", g["GroupName"], f"group {g['GroupName']}", page_size)
    else:
        detail = iam.get_role(RoleName=name)["Role"]
        policies = _own_policies(iam, "role", name, page_size=page_size)
    boundary = None
    b_arn = (detail.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    if b_arn:
        boundary = {"name": b_arn.rsplit("/", 1)[-1], "arn": b_arn, "document": _managed_document(iam, b_arn)}
    return {"policies": policies, "boundary": boundary, "read_with": "per-principal IAM reads"}


def read_policies(iam: Any, who: dict[str, str], page_size: int | None = None) -> dict[str, Any]:
    """GetAccountAuthorizationDetails, else the per-principal calls, else Denied (-> UNKNOWN)."""
    first_error = ""
    try:
        return _policies_via_gaad(iam, who, page_size)
    except botocore.exceptions.ClientError as exc:
        _raise_if_credentials(exc)
        first_error = _code(exc)
    except (NotImplementedError, botocore.parsers.ResponseParserError):
        first_error = "NotImplemented"
    try:
        return _policies_per_principal(iam, who, page_size)
    except botocore.exceptions.ClientError as exc:
        _raise_if_credentials(exc)
        reads = USER_READS if who["kind"] == "user" else ROLE_READS
        raise Denied("iam:GetAccountAuthorizationDetails", first_error or _code(exc) or "AccessDenied",
                     f"cannot read the policies of {who['arn']}: grant iam:GetAccountAuthorizationDetails, "
                     f"or {', '.join(reads)}") from None


def read_scps(session: AwsSession, region: str, account: str) -> tuple[list[list[dict[str, Any]]] | None, str]:
    """SCP levels from the root down to the account, or None with a note when not readable."""
    try:
        org = session.client("organizations", region)
        if org.describe_organization()["Organization"].get("MasterAccountId") == account:
            return None, "the management account: SCPs do not apply to its users and roles"
        targets = [account]
        child = account
        for _ in range(8):  # the organisation tree is at most 5 OUs deep
            parents = org.list_parents(ChildId=child).get("Parents") or []
            if not parents:
                break
            child = parents[0]["Id"]
            targets.append(child)
            if parents[0].get("Type") == "ROOT":
                break
        levels: list[list[dict[str, Any]]] = []
        for target in reversed(targets):
            level = []
            for p in _all(org, "list_policies_for_target", "Policies", getattr(session, "page_size", None),
                          TargetId=target, Filter="SERVICE_CONTROL_POLICY"):
                content = org.describe_policy(PolicyId=p["Id"])["Policy"]["Content"]
                level.append({"name": p.get("Name", p["Id"]), "id": p["Id"], "document": content})
            levels.append(level)
        return levels, f"SCPs read for {len(levels)} organisation levels"
    except botocore.exceptions.ClientError as exc:
        code = _code(exc)
        if code == "AWSOrganizationsNotInUseException":
            return None, "the account is not in an AWS Organization: no SCPs apply"
        return None, f"SCPs not readable ({code or 'error'}): evaluated identity policies and boundary only"
    except (NotImplementedError, botocore.exceptions.BotoCoreError):
        return None, "SCPs not readable here: evaluated identity policies and boundary only"


def simulate(iam: Any, who: dict[str, str], perms: list[str], region: str,
             page_size: int | None = None) -> dict[str, dict[str, Any]]:
    """Ask IAM itself (iam:SimulatePrincipalPolicy), in one paginated sequence."""
    out: dict[str, dict[str, Any]] = {}
    context = [{"ContextKeyName": "aws:RequestedRegion", "ContextKeyValues": [region], "ContextKeyType": "string"}]
    try:
        for i in range(0, len(perms), 100):
            for page in paginate(iam, "simulate_principal_policy", page_size,
                                 PolicySourceArn=who["arn"], ActionNames=perms[i:i + 100], ContextEntries=context):
                for r in page.get("EvaluationResults") or []:
                    out[r["EvalActionName"]] = _simulation_verdict(r)
    except botocore.exceptions.ClientError as exc:
        _raise_if_credentials(exc)
        raise Denied("iam:SimulatePrincipalPolicy", _code(exc) or "AccessDenied",
                     f"--simulate needs iam:SimulatePrincipalPolicy on {who['arn']}") from None
    except (NotImplementedError, botocore.parsers.ResponseParserError):
        raise Denied("", "NotImplemented", "this endpoint does not implement SimulatePrincipalPolicy") from None
    return out


def _simulation_verdict(r: dict[str, Any]) -> dict[str, Any]:
    decision = r.get("EvalDecision", "")
    refs = [{"policy": s.get("SourcePolicyId", "?"), "kind": _source_kind(s.get("SourcePolicyType", "")),
             "sid": "", "effect": "Deny" if decision == "explicitDeny" else "Allow", "reason": ""}
            for s in r.get("MatchedStatements") or []]
    missing = r.get("MissingContextValues") or []
    if decision == "allowed" and missing:
        return {"decision": permissions.UNKNOWN, "undecided": refs,
                "reason": f"IAM needs context values it cannot know before launch: {', '.join(missing)}"}
    if decision == "allowed":
        return {"decision": permissions.ALLOW, "allowed_by": refs, "reason": "allowed (IAM policy simulator)"}
    if decision == "explicitDeny":
        return {"decision": permissions.DENY, "denied_by": refs,
                "reason": "explicitly denied by " + ", ".join(x["policy"] for x in refs) + " (IAM policy simulator)"}
    return {"decision": permissions.IMPLICIT_DENY, "reason": "no policy allows it (IAM policy simulator)"}


def _source_kind(policy_type: str) -> str:
    t = policy_type.lower()
    return "boundary" if "boundary" in t else "scp" if "organization" in t or "scp" in t else "identity"


# Policies are read once per run (IAM is global); verdicts are made per region because a policy
# may condition on aws:RequestedRegion.
_MEMO: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _profile(session: Any) -> str:
    """The AWS profile the session's credentials come from ("default" for env or instance creds)."""
    try:
        return str(session.session.profile_name or "default")
    except AttributeError:
        return "default"


def _read_once(session: AwsSession, region: str, who: dict[str, str], ident: dict[str, str]) -> dict[str, Any]:
    with _LOCK:
        memo = _MEMO.get(session)
        if memo is not None and memo.get("arn") == ident.get("arn"):
            return memo
        cache_identity = {"cloud": "aws", "account": who["account"], "principal": who["arn"]}
        slot = _profile(session)
        memo = {"arn": ident.get("arn"), "cache_identity": cache_identity, "slot": slot,
                "cache": permcache.lookup(cache_identity, slot, session.settings.cache), "stored": False,
                "read_lock": threading.Lock()}
        _MEMO[session] = memo
    return memo


def _skypilot(plan: Any) -> dict[str, Any]:
    """SkyPilot's cached enabled clouds, when SkyPilot runs the launch (see IAM003)."""
    from preflight import launch_needs
    from preflight.collect import skypilot_state

    return {"skypilot": skypilot_state.read_state()} if launch_needs.launcher_of(plan) == "skypilot" else {}


# Either GetAccountAuthorizationDetails or the per-principal reads are enough (the collector falls
# back from one to the other); SCPs and --simulate are read when allowed.
@extra_collector("iam", permissions=("iam:GetAccountAuthorizationDetails", *USER_READS, *ROLE_READS,
                                     "organizations:DescribeOrganization", "organizations:ListParents",
                                     "organizations:ListPoliciesForTarget", "organizations:DescribePolicy",
                                     "iam:SimulatePrincipalPolicy"))
def collect_iam(session: AwsSession, region: str, plan: Any) -> Iam:
    return cast(Iam, {**_collect_iam(session, region, plan), **_skypilot(plan)})


def _collect_iam(session: AwsSession, region: str, plan: Any) -> dict[str, Any]:
    ident = caller_identity(session, region)
    who = principal_of(ident.get("arn", ""))
    base = {"principal": who["arn"], "caller_arn": ident.get("arn", ""), "kind": who["kind"], "name": who["name"],
            "account": who["account"] or ident.get("account", "")}
    settings = session.settings
    perms = permissions.all_permissions("aws", settings.permissions_file)
    if who["kind"] == "root":
        return {**base, "method": "root", "verdicts": permissions.aws_verdicts({"kind": "root"}, perms)}
    if who["kind"] not in ("user", "role"):
        reason = (f"{who['kind']} principal {who['arn']}: its permissions come from a session or federation "
                  "policy preflight cannot read")
        return {**base, "method": "unsupported",
                "verdicts": {p: {"decision": permissions.UNKNOWN, "reason": reason} for p in perms}}
    memo = _read_once(session, region, who, ident)
    cache = memo["cache"]
    cached = (cache.get("verdicts") or {}).get(region) if cache.get("state") == "fresh" else None
    public_cache = {k: v for k, v in cache.items() if k != "verdicts"}
    # A catalogue grown since is read afresh; so is a cached UNKNOWN: it may depend on what this
    # run's plan fixes (instance type, subnet...), which only the policy documents can tell.
    if cached and all(p in cached and cached[p].get("decision") != permissions.UNKNOWN for p in perms):
        return {**base, "method": "cache", "verdicts": cached, "cache": public_cache,
                "notes": [f"verdicts from the permission cache ({cache.get('created_at', '')}); --refresh to re-read"]}
    iam = session.client("iam", region)
    with memo["read_lock"]:  # IAM is global: regions checked concurrently share one read
        docs = memo.get("docs")
        if docs is None:
            if settings.simulate:
                docs = {"policies": [], "boundary": None, "scps": None,
                        "notes": ["verdicts from iam:SimulatePrincipalPolicy"]}
            else:
                docs = read_policies(iam, who, getattr(session, "page_size", None))
                scps, note = read_scps(session, region, who["account"])
                docs["scps"] = scps
                docs["notes"] = [f"policies read with {docs.pop('read_with')}", note]
            memo["docs"] = docs
    data = {**base, **docs, "method": "simulate" if settings.simulate else "local", "cache": public_cache}
    if settings.simulate:
        data["verdicts"] = simulate(iam, who, perms, region, getattr(session, "page_size", None))
    else:
        data["verdicts"] = permissions.aws_verdicts(data, perms, region)
    with _LOCK:
        permcache.store(memo["cache_identity"], data["verdicts"], scope=region, merge=memo["stored"],
                        slot=memo["slot"], settings=settings.cache)
        memo["stored"] = True
    return data


@extra_collector("iam_last_accessed", permissions=("iam:GenerateServiceLastAccessedDetails",
                                                     "iam:GetServiceLastAccessedDetails"))
def collect_last_accessed(session: AwsSession, region: str, plan: Any) -> IamLastAccessed:
    """IAM's service last-accessed report for the caller (generate, then poll until complete)."""
    ident = caller_identity(session, region)
    who = principal_of(ident.get("arn", ""))
    if who["kind"] not in ("user", "role"):
        return {"principal": who["arn"], "kind": who["kind"], "services": [], "applicable": False}
    iam = session.client("iam", region)
    try:
        job = iam.generate_service_last_accessed_details(Arn=who["arn"])["JobId"]
        delay, deadline = 0.2, time.monotonic() + 30
        services: list[dict[str, Any]] = []
        marker: str | None = None
        # (no botocore paginator for this call: its token is followed by hand)
        size = page_size_for(iam, "get_service_last_accessed_details", getattr(session, "page_size", None))
        while True:
            kw: dict[str, Any] = {"JobId": job, "MaxItems": size, **({"Marker": marker} if marker else {})}
            page = iam.get_service_last_accessed_details(**kw)
            status = page.get("JobStatus")
            if status == "IN_PROGRESS":
                if time.monotonic() > deadline:
                    raise Denied("", "Timeout", "IAM did not finish the last-accessed report within 30 s")
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if status == "FAILED":
                raise Denied("", "JobFailed", str((page.get("Error") or {}).get("Message", ""))[:200])
            for s in page.get("ServicesLastAccessed") or []:
                last = s.get("LastAuthenticated")
                services.append({
                    "namespace": s.get("ServiceNamespace", ""), "name": s.get("ServiceName", ""),
                    "last_authenticated": last.isoformat() if isinstance(last, dt.datetime) else (last or None),
                    "entities": int(s.get("TotalAuthenticatedEntities") or 0)})
            if page.get("IsTruncated") and page.get("Marker"):
                marker = page["Marker"]
                continue
            break
    except botocore.exceptions.ClientError as exc:
        _raise_if_credentials(exc)
        code = _code(exc)
        perm = "iam:GenerateServiceLastAccessedDetails" if code in DENIED_CODES else ""
        raise Denied(perm, code or "Error", str(exc.response.get("Error", {}).get("Message", ""))[:200]) from None
    except (NotImplementedError, botocore.parsers.ResponseParserError):
        # moto in process raises NotImplementedError; moto server answers an HTML 500.
        raise Denied("", "NotImplemented", "this endpoint does not implement IAM last-accessed data") from None
    return {"principal": who["arn"], "kind": who["kind"], "applicable": True, "services": services,
            "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()}
