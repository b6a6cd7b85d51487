"""GCP collector: which of the launch's permissions does this account hold on the project?

One question, asked with the real client: `resourcemanager_v3.ProjectsClient.test_iam_permissions`
on `projects/<id>` with every permission in the catalogue (in batches of 100, the API's limit),
over the REST transport. Credentials come from `--gcp-credentials FILE` (a service-account key
or an authorized-user file) or Application Default Credentials. `--gcp-endpoint` /
PREFLIGHT_GCP_ENDPOINT points the client at another endpoint (the sandbox's loopback fake);
with no credentials file there, AnonymousCredentials are used.

The result is an `Inventory(cloud="gcp", region="global")` whose `extra["gcp"]` holds
`{project, account, granted, requested}`; the IAM rules read it. Verdicts are cached per
identity (account email + project + SHA-256 of the credentials file) by `preflight.permcache`.
No token, key or credential is ever stored or printed: only the account email and file hash.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preflight.collect.registry import GCP_RULE_NEED, non_gcp_rule_ids, resolve_cloud  # noqa: F401 - re-exported
from preflight.errors import CredentialsError, PreflightError
from preflight.inventory.model import Inventory
from preflight.settings import RunSettings

ENDPOINT_ENV = "PREFLIGHT_GCP_ENDPOINT"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
BATCH = 100


@dataclass
class GcpIdentity:
    credentials: Any
    account: str
    credentials_sha256: str
    source: str  # "file <path>", "application default credentials", "anonymous"
    project_hint: str = ""


def _adc_path() -> Path | None:
    env = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if env:
        return Path(env)
    base = Path(os.environ.get("CLOUDSDK_CONFIG") or Path.home() / ".config" / "gcloud")
    p = base / "application_default_credentials.json"
    return p if p.exists() else None


def load_identity(credentials_file: str | None, endpoint: str | None) -> GcpIdentity:
    """Credentials and the account they belong to, without any network call."""
    if credentials_file:
        path = Path(credentials_file)
        try:
            info = json.loads(path.read_text())
        except FileNotFoundError:
            raise CredentialsError(f"--gcp-credentials: file not found: {path}") from None
        except (OSError, UnicodeDecodeError, ValueError):
            raise CredentialsError(f"--gcp-credentials: {path} is not a JSON credentials file") from None
        if not isinstance(info, dict):
            raise CredentialsError(f"--gcp-credentials: {path} is not a JSON credentials file")
        from preflight import permcache

        digest = permcache.file_sha256(path)
        kind = info.get("type")
        try:
            if kind == "service_account":
                from google.oauth2 import service_account

                creds = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
                return GcpIdentity(creds, info.get("client_email", ""), digest, f"file {path}",
                                   info.get("project_id", ""))
            if kind == "authorized_user":
                from google.oauth2 import credentials as user_credentials

                creds = user_credentials.Credentials.from_authorized_user_info(info, scopes=SCOPES)
                return GcpIdentity(creds, info.get("account", ""), digest, f"file {path}",
                                   info.get("quota_project_id", ""))
        except (ValueError, KeyError, TypeError):
            # The library's message may quote the file; ours never does.
            raise CredentialsError(f"--gcp-credentials: {path} is not a usable {kind} credentials file "
                                   "(missing or malformed fields)") from None
        raise CredentialsError(f"--gcp-credentials: {path}: unsupported credentials type {kind!r} "
                               "(service_account or authorized_user)")
    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        return GcpIdentity(AnonymousCredentials(), os.environ.get("PREFLIGHT_GCP_ACCOUNT", "anonymous"), "",
                           "anonymous")
    import google.auth
    import google.auth.exceptions

    try:
        creds, project = google.auth.default(scopes=SCOPES)
    except google.auth.exceptions.DefaultCredentialsError:
        raise CredentialsError("no GCP credentials found: run `gcloud auth application-default login`, "
                               "or pass --gcp-credentials FILE (a service-account key)") from None
    from preflight import permcache

    adc = _adc_path()
    digest = permcache.file_sha256(adc) if adc and adc.exists() else ""
    account = getattr(creds, "service_account_email", "") or getattr(creds, "account", "") or ""
    if account == "default":  # metadata-server credentials name themselves "default"
        account = "compute-default-service-account"
    return GcpIdentity(creds, account or "application-default", digest, "application default credentials",
                       project or "")


def _client(identity: GcpIdentity, endpoint: str | None) -> Any:
    from google.cloud import resourcemanager_v3

    options = {"api_endpoint": endpoint} if endpoint else None
    return resourcemanager_v3.ProjectsClient(credentials=identity.credentials, transport="rest",
                                             client_options=options)


def test_permissions(identity: GcpIdentity, project: str, perms: list[str], endpoint: str | None) -> list[str]:
    """The subset of `perms` the identity holds on the project; one-line errors otherwise."""
    import google.api_core.exceptions as gexc
    import google.auth.exceptions

    client = _client(identity, endpoint)
    granted: list[str] = []
    who = identity.account
    try:
        for i in range(0, len(perms), BATCH):
            resp = client.test_iam_permissions(
                request={"resource": f"projects/{project}", "permissions": perms[i:i + BATCH]}, timeout=30)
            granted += list(resp.permissions)
    except gexc.NotFound:
        raise PreflightError(
            f"GCP project {project!r} not found: check --project (or `project:` in the plan)") from None
    except (gexc.PermissionDenied, gexc.Forbidden):
        raise PreflightError(f"GCP project {project!r} does not exist or {who} has no access to it: "
                             "check --project and the account (gcloud auth list)") from None
    except (gexc.Unauthenticated, gexc.Unauthorized):
        raise CredentialsError(f"GCP rejected the credentials of {who} (401): refresh them "
                               "(gcloud auth application-default login) or pass another --gcp-credentials") from None
    except google.auth.exceptions.RefreshError:
        raise CredentialsError(f"cannot get a GCP access token for {who}: the credentials were refused "
                               "(revoked key, expired login?)") from None
    except google.auth.exceptions.TransportError:
        raise PreflightError("cannot reach the GCP token endpoint: check the network or --gcp-endpoint") from None
    except gexc.GoogleAPIError as exc:
        code = getattr(exc, "code", "") or type(exc).__name__
        raise PreflightError(f"GCP testIamPermissions on {project!r} failed ({code})") from None
    except Exception as exc:  # requests' connection errors arrive unwrapped from the REST transport
        if type(exc).__module__.startswith(("requests", "urllib3")):
            raise PreflightError(f"cannot reach the GCP endpoint {endpoint or 'cloudresourcemanager.googleapis.com'}"
                                 ) from None
        raise
    return granted


def collect(project: str | None, credentials_file: str | None = None, endpoint: str | None = None,
            plan: Any = None, source: str = "gcp", settings: RunSettings | None = None) -> Inventory:
    """Ask GCP which catalogue permissions the account holds on the project (cached per identity)."""
    settings = settings or RunSettings()
    endpoint = endpoint or os.environ.get(ENDPOINT_ENV) or None
    identity = load_identity(credentials_file, endpoint)
    project = project or getattr(plan, "project", "") or identity.project_hint
    if not project:
        raise PreflightError("no GCP project: pass --project PROJECT_ID (or set `project:` in the plan)")
    # Imported here: `check --snapshot` imports this module to resolve --cloud, and reads no permissions.
    from preflight import permcache, permissions

    perms = permissions.all_permissions("gcp", settings.permissions_file)
    cache_identity = {"cloud": "gcp", "account": identity.account, "project": project,
                      "credentials_sha256": identity.credentials_sha256}
    cache = permcache.lookup(cache_identity, settings=settings.cache)
    cached = (cache.get("verdicts") or {}).get("global") if cache.get("state") == "fresh" else None
    notes = [f"credentials: {identity.source}"]
    if cached and all(p in cached for p in perms):
        granted = [p for p in perms if cached[p].get("decision") == permissions.ALLOW]
        method = "cache"
        notes.append(f"verdicts from the permission cache ({cache.get('created_at', '')}); --refresh to re-check")
    else:
        granted = test_permissions(identity, project, perms, endpoint)
        method = "testIamPermissions"
        verdicts = {p: {"decision": permissions.ALLOW if p in granted else permissions.IMPLICIT_DENY} for p in perms}
        permcache.store(cache_identity, verdicts, scope="global", settings=settings.cache)
    data = {"project": project, "account": identity.account, "granted": sorted(set(granted)),
            "requested": perms, "method": method, "notes": notes,
            "cache": {k: v for k, v in cache.items() if k != "verdicts"}}
    from preflight import launch_needs

    if launch_needs.launcher_of(plan) == "skypilot":
        from preflight.collect import skypilot_state

        data["skypilot"] = skypilot_state.read_state()
    return Inventory(cloud="gcp", account=identity.account, region="global",
                     collected_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
                     source=source, extra={"gcp": data})


# --- the GCP sandbox ------------------------------------------------------------------------------

@dataclass
class GcpWorld:
    """What a GCP sandbox scenario seeds: projects, accounts and their grants on the loopback fake."""

    fake: Any
    directory: Path
    project: str = ""
    credentials_file: str = ""
    keys: dict[str, str] = field(default_factory=dict)

    def add_project(self, project: str) -> str:
        self.fake.add_project(project)
        self.project = self.project or project
        return project

    def service_account(self, email: str, grants: list[str] | tuple[str, ...] = (), project: str = "") -> str:
        """A service account with a generated key file (token_uri -> the fake) and `grants` on the project."""
        from preflight.collect.gcp_fake import service_account_key

        project = project or self.project
        self.fake.grant(project, email, list(grants))
        path = self.directory / f"{email.split('@')[0]}.json"
        path.write_text(json.dumps(service_account_key(email, self.fake.token_uri, project)))
        path.chmod(0o600)
        self.keys[email] = str(path)
        self.credentials_file = self.credentials_file or str(path)
        return str(path)

    def use(self, email: str) -> None:
        self.credentials_file = self.keys[email]

    @property
    def endpoint(self) -> str:
        return self.fake.url


@contextlib.contextmanager
def sandbox(name: str) -> Iterator[GcpWorld]:
    """Start the loopback fake GCP, seed the `cloud="gcp"` scenario `name`, yield the world; stop it after."""
    from preflight.collect.gcp_fake import FakeGcp
    from preflight.collect.sandbox import get_scenario, load_scenarios

    sc = get_scenario(name)
    if sc.cloud != "gcp":
        gcp_names = [n for n, s in load_scenarios().items() if s.cloud == "gcp"]
        raise PreflightError(f"sandbox scenario {name!r} is an AWS scenario; with --cloud gcp use one of: "
                             f"{', '.join(gcp_names)}")
    import shutil
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="preflight-gcp-sandbox-"))
    fake = FakeGcp().start()
    try:
        world = GcpWorld(fake=fake, directory=directory)
        sc.seed(world)  # type: ignore[arg-type]  # GCP scenarios take a GcpWorld, not an AWS Seeder
        yield world
    finally:
        fake.stop()
        shutil.rmtree(directory, ignore_errors=True)


# --- the CLI's way in: a Source that run_check/run_gate can use like the AWS one ------------------

@dataclass
class GcpSource:
    """Duck-types `preflight.runner.Source` for a GCP check: collect() returns one inventory."""

    target: Any
    project: str | None
    credentials_file: str | None
    endpoint: str | None
    source: str = "gcp"
    session: Any = None
    seeder: Any = None
    others: list[Any] = field(default_factory=list)
    settings: RunSettings = field(default_factory=RunSettings)

    def sessions(self) -> list[Any]:
        return []

    def collect(self, needs: set[str] | None = None, plan: Any = None) -> list[Inventory]:
        return [collect(self.project, self.credentials_file, self.endpoint, plan, self.source, self.settings)]


@contextlib.contextmanager
def open_gcp_target(target: Any, plan: Any, project: str | None, credentials_file: str | None,
                    endpoint: str | None) -> Iterator[GcpSource]:
    """The GCP counterpart of `runner.open_target`: live project, or the loopback sandbox."""
    if getattr(target, "snapshot", None):
        raise PreflightError("--snapshot is AWS-only for now; a GCP check reads the project live")
    settings = getattr(target, "settings", None) or RunSettings()
    if target.sandbox:
        with sandbox(target.sandbox) as world:
            # made-up identities (fresh keys each run): keep them out of the cache
            yield GcpSource(target, project or world.project, credentials_file or world.credentials_file,
                            world.endpoint, source=f"sandbox:{target.sandbox}", settings=settings.without_cache())
        return
    yield GcpSource(target, project, credentials_file, endpoint, settings=settings)
