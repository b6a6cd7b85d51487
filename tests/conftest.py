"""Shared fixtures: a moto server on 127.0.0.1 for end-to-end tests, fake credentials, and a way to
run the installed `preflight` command against it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import traceback
import types
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from hypothesis import settings

# No per-example deadline: hypothesis's 200 ms default is a timed assertion, and on a loaded 2-core
# CI machine a first example that imports or warms a cache took 480 ms once and failed the run
# (speed targets live in bench/, not in tests).
settings.register_profile("preflight", deadline=None)
settings.load_profile("preflight")


def _share_botocore_data_files() -> None:
    """Parse each of botocore's bundled JSON files (service models, endpoints, partitions) once
    per test process instead of once per boto3 session.

    Every `AwsSession`, sandbox and moto backend makes a fresh botocore session, and each fresh
    session re-parses the EC2 model and the endpoint data (into OrderedDicts: ~0.15 s per session,
    over a third of the everyday suite's CPU). A user's run makes one session, so this is a cost of
    the suite only. Within one session botocore already hands every caller the same parsed objects
    (its loader's instance cache), so nothing may mutate them; sharing them across sessions keeps
    that contract. Subprocess tests (the installed CLI) parse as a user's run does."""
    from botocore import loaders

    original = loaders.JSONFileLoader.load_file
    parsed: dict[str, Any] = {}
    lock = threading.Lock()

    def load_file(self: Any, file_path: str) -> Any:
        with lock:
            if file_path not in parsed:
                parsed[file_path] = original(self, file_path)
            return parsed[file_path]

    loaders.JSONFileLoader.load_file = load_file  # type: ignore[method-assign]


_share_botocore_data_files()


def _drop_moto_backends_on_reset() -> None:
    """moto's reset (leaving `mock_aws`, the server's /moto-api/reset) drops every backend in use,
    but first re-creates each one in place (an EC2 backend builds its default VPC, subnets and
    security group per region): work thrown away at once, a tenth of the everyday suite's CPU.
    Here the backends are only dropped; the next call creates fresh ones as after moto's own reset.
    moto code looks its backends up per request, so none keeps one across a reset."""
    from moto.core import base_backend

    if not (hasattr(base_backend, "backend_lock") and hasattr(base_backend.BackendDict, "_instances")):
        return  # another moto: its own reset, as it is

    def reset(cls: type[base_backend.BackendDict[Any]]) -> None:
        with base_backend.backend_lock:
            for backend in base_backend.BackendDict._instances:
                backend.clear()
            base_backend.BackendDict._instances.clear()

    base_backend.BackendDict.reset = classmethod(reset)  # type: ignore[method-assign,assignment]


_drop_moto_backends_on_reset()

FAKE_CREDS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
}


SLOW_LIST = Path(__file__).with_name("slow-tests.txt")


def slow_tests() -> set[str]:
    """`path::name` of the tests marked slow (see tests/slow-tests.txt)."""
    lines = (line.strip() for line in SLOW_LIST.read_text(encoding="utf-8").splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slow tests: the listed ones and everything under tests/launchers/."""
    slow = slow_tests()
    root = Path(__file__).resolve().parent.parent
    for item in items:
        path = Path(str(item.path)).resolve().relative_to(root).as_posix()
        name = item.name.split("[", 1)[0]
        cls = item.cls.__name__ if item.cls is not None else ""
        if (path.startswith("tests/launchers/") or f"{path}::{name}" in slow
                or (cls and f"{path}::{cls}" in slow)):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test may reach a real account, or read or write the user's own cache and state."""
    for key, value in FAKE_CREDS.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("NO_COLOR", "1")
    # moto builds thousands of public AMIs per region unless told not to; tests that launch or look
    # images up opt back in with the `moto_amis` fixture.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture
def moto_amis(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's public AMI catalogue, for tests that run instances or look images up."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "true")


class Sleeps:
    """botocore's back-off sleeps, recorded instead of slept (the count of requests is what is
    tested; the seconds are botocore's own business and bounded by its max backoff)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def sleep(self, s: float) -> None:
        self.seconds.append(s)


@pytest.fixture
def fast_botocore(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """botocore retries without waiting: its back-off sleeps are recorded, and adaptive mode's
    client-side rate limiter (which waits on a real clock after a throttle) lets every request go."""
    import botocore.endpoint
    import botocore.retries.bucket

    sleeps = Sleeps()
    shim = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    shim.sleep = sleeps.sleep
    monkeypatch.setattr(botocore.endpoint, "time", shim)
    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "acquire", lambda self, amount=1, block=True: True)
    return sleeps


@dataclass
class MotoServer:
    url: str

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def client(self, service: str, region: str = "eu-south-1") -> Any:
        return boto3.client(service, region_name=region, endpoint_url=self.url,
                            aws_access_key_id="testing", aws_secret_access_key="testing")


class OneRequestAtATime:
    """WSGI middleware: the moto server answers one request at a time.

    AWS makes each call atomic: a DynamoDB conditional write, an AuthorizeSecurityGroupIngress that
    fails with InvalidPermission.Duplicate, a CreateRoute that fails with RouteAlreadyExists. moto's
    threaded server does not: it evaluates a ConditionExpression and writes without a lock, so two
    requests at once can both pass `attribute_not_exists` (the 8-process ledger test saw one port
    handed out twice on a loaded machine). Clients still race as they would against AWS (processes,
    threads, interleaved calls); only each call is made atomic, as AWS makes it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


@pytest.fixture(scope="session")
def _moto_server_process() -> Iterator[MotoServer]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    server._server.app = OneRequestAtATime(server._server.app)  # type: ignore[union-attr]
    try:
        yield MotoServer(f"http://127.0.0.1:{server._server.server_port}")
    finally:
        server.stop()


@pytest.fixture
def moto_server(_moto_server_process: MotoServer) -> MotoServer:
    """A moto server on loopback shared by the session, reset for each test."""
    _moto_server_process.reset()
    return _moto_server_process


def preflight_exe() -> list[str]:
    exe = shutil.which("preflight", path=str(Path(sys.executable).parent)) or shutil.which("preflight")
    assert exe, "the preflight console script is not installed (pip install -e .)"
    return [exe]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: str | Path | None = None,
            timeout: float = 120) -> Result:
    """Run the installed `preflight` as a user would, in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([*preflight_exe(), *args], capture_output=True, text=True, env=full_env,
                          cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def run_in_process(*args: str, env: dict[str, str] | None = None, cwd: str | Path | None = None,
                   timeout: float = 120) -> Result:
    """`preflight ARGS` run in this process as the console script runs it (`preflight._entry.main`
    on sys.argv), with run_cli's signature and result: the same code path, minus the interpreter
    start and imports that make each subprocess cost about a second.

    What a subprocess would show is shown: the output streams, the exit code (SystemExit as Python
    turns it into one, an uncaught exception as a traceback and exit 1), and the warnings Python's
    default filters print on stderr. `env` overlays the environment for the run only; stdin is
    /dev/null. What only a real process shows (the console script itself, start-up imports, the
    exit of leftover threads) is left to the subprocess tests (run_cli); `timeout` is not enforced."""
    from preflight import _entry

    out, err = io.StringIO(), io.StringIO()
    saved = (sys.argv, sys.stdin, os.getcwd())
    code = 0
    with open(os.devnull, encoding="utf-8") as devnull, patch.dict(os.environ, env or {}), \
            warnings.catch_warnings(record=True) as caught, \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        # Python's default filters (not pytest's), so a warning the user would see is seen.
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)
        sys.argv, sys.stdin = ["preflight", *args], devnull
        try:
            if cwd is not None:
                os.chdir(cwd)
            _entry.main()
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                err.write(f"{exc.code}\n")
                code = 1
        except Exception:
            traceback.print_exc(file=err)
            code = 1
        finally:
            sys.argv, sys.stdin = saved[0], saved[1]
            os.chdir(saved[2])
        for w in caught:
            err.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line))
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli
