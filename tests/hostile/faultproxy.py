"""HTTP-level fault injection: a tiny loopback proxy in front of a moto server.

Why a proxy and not `preflight.launch.faults.FaultInjector`: that injector answers in botocore's
`before-call` event, which fires once per API call, *outside* botocore's retry loop, so botocore
never retries what it injects. A fault on the wire is what AWS really sends: botocore parses it,
its retry handler (standard/adaptive) sees it and retries, and every HTTP request is counted here.
It also works for a CLI started as a subprocess (pass the proxy's URL as AWS_ENDPOINT_URL), which
is how the interrupted-apply tests hold a call in flight or make the endpoint vanish mid-apply.

    proxy.throttle("RunInstances")               # every RunInstances answered 503 RequestLimitExceeded
    proxy.throttle("RunInstances", times=2)      # the first two only
    proxy.hold("CreateRoute", nth=3)             # the 3rd CreateRoute waits until proxy.release()
    proxy.cut("CreateRoute", nth=3)              # from the 3rd CreateRoute on, connections are dropped
    proxy.count("RunInstances")                  # HTTP requests seen for an action
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERROR_XML = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>"
                "<Message>injected by the fault proxy</Message></Error></Errors><RequestID>fault-proxy</RequestID>"
                "</Response>")


def action_of(body: bytes, headers: dict[str, str]) -> str:
    """The API action of a request: the query protocol's `Action=` form field (EC2, STS, IAM), or
    the JSON protocols' `X-Amz-Target` (DynamoDB: `DynamoDB_20120810.GetItem` -> `GetItem`)."""
    target = headers.get("x-amz-target", "")
    if target:
        return target.rsplit(".", 1)[-1]
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    return (form.get("Action") or [""])[0]


@dataclass
class _Rule:
    kind: str  # error | hold | cut
    action: str
    times: int | None = None  # throttle: None = forever
    nth: int = 1  # hold / cut: the n-th matching request (1-based)
    code: str = "RequestLimitExceeded"
    status: int = 503
    match: bytes = b""
    seen: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.counts: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []  # (action, what the proxy did)
        self._rules: list[_Rule] = []
        self._cut = False
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                proxy._handle(self)

            do_GET = do_POST

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- configuring ---------------------------------------------------------------------------

    def throttle(self, action: str, times: int | None = None, code: str = "RequestLimitExceeded") -> FaultProxy:
        return self.error(action, code, times=times, status=503)

    def error(self, action: str, code: str, times: int | None = None, status: int = 400,
              match: bytes = b"") -> FaultProxy:
        """Answer `action` with EC2's error document for `code` (`times` requests, None: forever),
        only requests whose body contains `match` if given."""
        self._rules.append(_Rule("error", action, times=times, code=code, status=status, match=match))
        return self

    def hold(self, action: str, nth: int = 1) -> _Rule:
        rule = _Rule("hold", action, nth=nth)
        self._rules.append(rule)
        return rule

    def cut(self, action: str, nth: int = 1) -> _Rule:
        """From the `nth` matching request on, the endpoint is gone: every connection is closed
        without an answer (the request that tripped it never reaches the server)."""
        rule = _Rule("cut", action, nth=nth)
        self._rules.append(rule)
        return rule

    def release(self) -> None:
        for rule in self._rules:
            rule.released.set()

    def count(self, action: str) -> int:
        return self.counts[action]

    # --- serving -------------------------------------------------------------------------------

    def _decide(self, action: str, body: bytes) -> _Rule | None:
        with self._lock:
            self.counts[action] += 1
            if self._cut:
                return _Rule("cut", action)
            for rule in self._rules:
                if rule.action != action or (rule.match and rule.match not in body):
                    continue
                rule.seen += 1
                if rule.kind == "error" and (rule.times is None or rule.seen <= rule.times):
                    return rule
                if rule.kind in ("hold", "cut") and rule.seen == rule.nth:
                    if rule.kind == "cut":
                        self._cut = True
                    return rule
        return None

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in req.headers.items()}
        action = action_of(body, headers)
        rule = self._decide(action, body)
        if rule is not None and rule.kind == "cut":
            self.log.append((action, "cut"))
            rule.reached.set()
            req.close_connection = True
            req.connection.close()
            return
        if rule is not None and rule.kind == "error":
            self.log.append((action, rule.code))
            self._answer(req, rule.status, {"Content-Type": "text/xml"}, ERROR_XML.format(code=rule.code).encode())
            return
        if rule is not None and rule.kind == "hold":
            self.log.append((action, "held"))
            rule.reached.set()
            rule.released.wait(60)
        self.log.append((action, ""))
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        try:
            conn.request(req.command, req.path, body=body,
                         headers={k: v for k, v in req.headers.items() if k.lower() != "connection"})
            resp = conn.getresponse()
            data = resp.read()
            out = {k: v for k, v in resp.getheaders()
                   if k.lower() not in ("connection", "transfer-encoding", "content-length")}
            self._answer(req, resp.status, out, data)
        finally:
            conn.close()

    @staticmethod
    def _answer(req: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
        req.send_response(status)
        for k, v in headers.items():
            req.send_header(k, v)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()
