"""A small fake of the GCP APIs preflight calls, on 127.0.0.1, for the GCP sandbox and the tests.

It speaks just enough HTTP for the real Google client libraries (REST transport) to run their
whole request/response path against it:

- Bearer tokens: its own (below), or the self-signed JWTs client libraries make for service
  accounts (the `iss` claim names the account). Signatures are not checked: it is a fake.
- `POST /token`: the OAuth 2.0 token endpoint a service-account key's `token_uri` names. It
  reads the JWT assertion's `iss` (the service account email), without checking the signature,
  and returns an opaque bearer token for that account.
- `POST /v3/projects/{id}:testIamPermissions`: the permissions of the request that the calling
  account holds on the project (by bearer token; requests without one act as the default
  account, for AnonymousCredentials). Unknown project: 403 PERMISSION_DENIED, as GCP answers
  (or 404 with `missing_project_status=404`). Unknown token: 401 UNAUTHENTICATED.
- `GET /v3/projects/{id}`: the project, or the same errors.

Nothing leaves the machine: the server binds 127.0.0.1 on a free port, and whoever starts it
stops it (`with FakeGcp() as fake:` or start()/stop()).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeGcp:
    def __init__(self, missing_project_status: int = 403) -> None:
        self.grants: dict[str, dict[str, set[str]]] = {}  # project -> account -> permissions
        self.tokens: dict[str, str] = {}  # bearer token -> account
        self.default_account = ""  # for requests without a token (AnonymousCredentials)
        self.missing_project_status = missing_project_status
        self.requests: list[dict[str, Any]] = []  # what was asked, for tests (never the token)
        self.bearer_tokens: set[str] = set()  # in memory only: tests scan outputs for them
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- configuration ---------------------------------------------------------------------
    def add_project(self, project: str) -> None:
        with self._lock:
            self.grants.setdefault(project, {})

    def grant(self, project: str, account: str, permissions: list[str] | tuple[str, ...]) -> None:
        with self._lock:
            self.grants.setdefault(project, {}).setdefault(account, set()).update(permissions)

    @property
    def url(self) -> str:
        assert self._server is not None, "FakeGcp is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeGcp:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                fake._handle(self, "POST")

            def do_GET(self) -> None:  # noqa: N802
                fake._handle(self, "GET")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-gcp", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeGcp:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- HTTP ----------------------------------------------------------------------------------
    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    @classmethod
    def _error(cls, h: BaseHTTPRequestHandler, status: int, reason: str, message: str) -> None:
        cls._send(h, status, {"error": {"code": status, "status": reason, "message": message}})

    def _account(self, h: BaseHTTPRequestHandler) -> str | None:
        auth = h.headers.get("Authorization", "")
        if not auth:
            return self.default_account or None
        token = auth.removeprefix("Bearer ").strip()
        with self._lock:
            self.bearer_tokens.add(token)
            if token in self.tokens:
                return self.tokens[token]
        # Client libraries sign their own JWT for service accounts (self-signed JWT access),
        # skipping the token endpoint; its `iss` names the account. Signatures are not checked.
        claims = _jwt_claims(token)
        return claims.get("iss") if claims else None

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        path = urllib.parse.urlsplit(h.path).path
        if method == "POST" and path == "/token":
            return self._token(h, raw)
        m = re.fullmatch(r"/v3/projects/([^/:]+)(:testIamPermissions)?", path)
        if not m:
            return self._error(h, 404, "NOT_FOUND", f"no such method {method} {path}")
        project, is_test = m.group(1), bool(m.group(2))
        account = self._account(h)
        with self._lock:
            self.requests.append({"method": method, "path": path, "account": account,
                                  "authenticated": bool(h.headers.get("Authorization"))})
        if account is None:
            return self._error(h, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        with self._lock:
            known = project in self.grants
            held = set(self.grants.get(project, {}).get(account, set()))
        if not known:
            if self.missing_project_status == 404:
                return self._error(h, 404, "NOT_FOUND", f"Project '{project}' not found.")
            return self._error(h, 403, "PERMISSION_DENIED",
                               f"The caller does not have permission (or project {project} does not exist)")
        if not is_test:
            if method != "GET":
                return self._error(h, 405, "METHOD_NOT_ALLOWED", "GET only")
            return self._send(h, 200, {"name": f"projects/{abs(hash(project)) % 10**12}", "projectId": project,
                                       "state": "ACTIVE"})
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._error(h, 400, "INVALID_ARGUMENT", "body is not JSON")
        asked = body.get("permissions") or []
        granted = [p for p in asked if p in held]
        return self._send(h, 200, {"permissions": granted} if granted else {})

    def _token(self, h: BaseHTTPRequestHandler, raw: bytes) -> None:
        form = urllib.parse.parse_qs(raw.decode())
        claims = _jwt_claims((form.get("assertion") or [""])[0])
        account = claims.get("iss") if claims else None
        if not account:
            return self._send(h, 400, {"error": "invalid_grant", "error_description": "bad assertion"})
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = account
        return self._send(h, 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})


def _jwt_claims(token: str) -> dict[str, Any] | None:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def service_account_key(account: str, token_uri: str, project: str = "") -> dict[str, Any]:
    """A service-account key file (JSON) for `account` whose token_uri is the fake's, with a fresh
    RSA key: the google-auth library signs real JWTs with it. Test material, never a real key."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:  # a plain install: only the sandbox and the tests make keys
        from preflight.errors import PreflightError

        raise PreflightError("the GCP sandbox needs cryptography: pip install 'cloud-preflight[sandbox]'") from None

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {
        "type": "service_account",
        "project_id": project or account.split("@")[-1].split(".")[0],
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": account,
        "client_id": str(secrets.randbelow(10**20)),
        "token_uri": token_uri,
    }
