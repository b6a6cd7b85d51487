"""One retry layer for throttling (issue 16, item 10).

A throttled call is retried by botocore's own retry handler (adaptive mode, at most
`collect.aws.MAX_ATTEMPTS` HTTP requests); preflight's retry (`launch/retry.py`) only retries what
botocore does not: EC2's eventual consistency (`*.NotFound` right after a creation). Faults are
injected on the wire (tests/hostile/faultproxy.py), where botocore's retry handler sees them,
and every HTTP request is counted: one throttled call must cost at most MAX_ATTEMPTS requests, not
MAX_ATTEMPTS x preflight's attempts (it was 4 x 6 = 24 per call, 54 for a launch).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import botocore.exceptions
import pytest

from preflight.collect.aws import MAX_ATTEMPTS, AwsSession
from preflight.collect.sandbox import Seeder, get_scenario
from preflight.launch.retry import RetryExhausted, RetryPolicy, call_with_retry
from tests.hostile.faultproxy import FaultProxy, fault_proxy

REGION = "eu-south-1"
PLAN = str(Path(__file__).resolve().parents[2] / "examples" / "launch.yaml")

pytestmark = pytest.mark.e2e


@pytest.fixture
def proxy(moto_server) -> Iterator[FaultProxy]:
    with fault_proxy(moto_server.url) as p:
        yield p


def seed(url: str, scenario: str = "no-default-route") -> Seeder:
    seeder = Seeder(AwsSession(region=REGION, endpoint_url=url), REGION)
    get_scenario(scenario).seed(seeder)
    return seeder


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from preflight.cli import main

    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


# (case, fault: action, code, times (None: forever), preflight attempts,
#  expected: HTTP requests for the action, outcome)
CALLS = [
    ("throttled-forever", ("RequestLimitExceeded", None), 6, MAX_ATTEMPTS, "RequestLimitExceeded"),
    ("throttled-twice", ("RequestLimitExceeded", 2), 6, 3, "ok"),
    ("throttled-other-code", ("Throttling", None), 6, MAX_ATTEMPTS, "Throttling"),
    ("not-found-twice", ("InvalidInstanceID.NotFound", 2), 6, 3, "ok"),
    ("not-found-forever", ("InvalidInstanceID.NotFound", None), 3, 3, "RetryExhausted"),
    ("other-error", ("UnauthorizedOperation", None), 6, 1, "UnauthorizedOperation"),
]


@pytest.mark.parametrize(("case", "fault", "attempts", "requests", "outcome"), CALLS, ids=[c[0] for c in CALLS])
def test_each_code_has_one_retry_layer(case, fault, attempts, requests, outcome, proxy, fast_botocore, moto_server):
    """The bare mechanics: botocore retries throttling (preflight never sees it until botocore gives
    up), preflight retries NotFound (botocore does not), nobody retries anything else."""
    ec2 = moto_server.client("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    iid = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"])["Instances"][0]["InstanceId"]
    code, times = fault
    proxy.error("DescribeInstances", code, times=times, status=503 if "Throttl" in code or "Limit" in code else 400)
    client = AwsSession(region=REGION, endpoint_url=proxy.url).client("ec2", REGION)
    preflight_retries: list[str] = []
    policy = RetryPolicy(attempts=attempts, base=0, jitter=0, sleep=lambda s: None)
    try:
        call_with_retry(lambda: client.describe_instances(InstanceIds=[iid]), policy, what="wait", ids=[iid],
                        on_retry=lambda n, c, p: preflight_retries.append(c))
        got = "ok"
    except RetryExhausted:
        got = "RetryExhausted"
    except botocore.exceptions.ClientError as exc:
        got = exc.response["Error"]["Code"]
    assert (got, proxy.count("DescribeInstances")) == (outcome, requests)
    # preflight's own layer retried NotFound only, never a throttle
    assert set(preflight_retries) <= {"InvalidInstanceID.NotFound"}
    assert len(preflight_retries) == (min(times or attempts, attempts - 1 if outcome != "ok" else attempts)
                                      if "NotFound" in code else 0)


FAST = ("--retry-base", "0", "--retry-jitter", "0", "--retry-attempts", "6")

# (case, command, action throttled forever): each action is one API call of that command
THROTTLED = [
    ("launch-run-instances", "launch", "RunInstances"),
    ("launch-tag-replica-ports", "launch", "CreateTags"),
    ("fix-create-route", "fix", "CreateRoute"),
]


def command(kind: str, url: str) -> list[str]:
    if kind == "launch":
        return ["launch", PLAN, "--fix", "--apply", "--select", "NET,SG,PORT", *FAST, "--endpoint-url", url,
                "--format", "json"]
    return ["fix", "--select", "NET", "--apply", "--region", REGION, "--endpoint-url", url, "--format", "json"]


@pytest.mark.parametrize(("case", "kind", "action"), THROTTLED, ids=[c[0] for c in THROTTLED])
def test_one_throttled_call_costs_at_most_botocores_attempts(case, kind, action, proxy, fast_botocore, tmp_path,
                                                            monkeypatch, capsys):
    monkeypatch.setenv("PREFLIGHT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PREFLIGHT_JOURNAL_DIR", str(tmp_path / "journal"))
    seed(proxy.url)
    proxy.counts.clear()
    proxy.throttle(action)
    code, out, err = run_main(capsys, *command(kind, proxy.url))
    assert proxy.count(action) == MAX_ATTEMPTS, (proxy.count(action), out[-2000:], err)
    assert code == 1, (out[-2000:], err)
    assert "RequestLimitExceeded" in out + err
    # botocore backed off between its own attempts only
    assert len(fast_botocore.seconds) == MAX_ATTEMPTS - 1, case
