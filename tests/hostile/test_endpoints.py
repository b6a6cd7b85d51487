"""Endpoints that hang or are not AWS (issue 16, items 2, 3 and the URL part of 19): one line,
exit 2, bounded time, and never a password from the URL in the output."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from preflight.cli import main

BODIES = {
    "empty-200": (200, b"", "text/xml"),
    "html-200": (200, b"<html><body>Welcome to nginx!</body></html>", "text/html"),
    "oops-500": (500, b"oops", "text/plain"),
    "json-200": (200, b'{"hello": "world"}', "application/json"),
    "wrong-xml-200": (200, b"<Other><x>1</x></Other>", "text/xml"),
}


class _Handler(BaseHTTPRequestHandler):
    mode = "empty-200"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, body, ctype = BODIES[self.server.mode]  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def not_aws() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """Accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    sock.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    return int(exc.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize("mode", sorted(BODIES))
def test_non_aws_answers_are_one_line(mode, not_aws, capsys, monkeypatch):
    monkeypatch.setenv("PREFLIGHT_READ_TIMEOUT", "2")
    not_aws.mode = mode  # type: ignore[attr-defined]
    url = f"http://admin:hunter2@127.0.0.1:{not_aws.server_address[1]}"
    code, err = run(capsys, "check", "--region", "eu-south-1", "--endpoint-url", url)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("preflight: error: "), err
    assert "internal error" not in err and "Traceback" not in err
    assert "hunter2" not in err and "admin" not in err


def test_silent_endpoint_fails_in_bounded_time(silent_endpoint, capsys, monkeypatch):
    monkeypatch.setenv("PREFLIGHT_READ_TIMEOUT", "0.5")
    t0 = time.monotonic()
    code, err = run(capsys, "check", "--region", "eu-south-1", "--endpoint-url", silent_endpoint)
    elapsed = time.monotonic() - t0
    assert code == 2, err
    assert "did not answer in time" in err and err.count("\n") == 1
    # 4 attempts x 0.5 s plus botocore's backoff: the budget is bounded, not 8 x 60 s
    assert elapsed < 30


@pytest.mark.parametrize("value", ["0", "-1", "nan", "abc", "99999"])
def test_timeout_setting_is_validated(value, capsys, monkeypatch, not_aws):
    monkeypatch.setenv("PREFLIGHT_READ_TIMEOUT", value)
    code, err = run(capsys, "check", "--region", "eu-south-1", "--endpoint-url",
                    f"http://127.0.0.1:{not_aws.server_address[1]}")
    assert code == 2 and "PREFLIGHT_READ_TIMEOUT" in err


def test_password_in_bad_url_is_redacted(capsys):
    code, err = run(capsys, "check", "--region", "eu-south-1", "--endpoint-url", "http://admin:s3cret@:::/x y")
    assert code == 2
    assert "s3cret" not in err
