"""Eventual consistency and throttling: retry.py against real boto3 clients on moto, with faults
injected through botocore's event system."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from preflight.errors import PreflightError
from preflight.launch.faults import FaultInjector, InjectedCrash
from preflight.launch.retry import RetryExhausted, RetryPolicy, call_with_retry, wait_until_running
from tests.fakes.clock import FakeTime

AMI = "ami-04681a1dbd79675a5"


def policy(t: FakeTime, **kw: Any) -> RetryPolicy:
    return RetryPolicy(sleep=t.sleep, clock=t.clock, rng=random.Random(1), **kw)


@pytest.fixture
def ec2() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ec2", region_name="eu-south-1")


def run_two(ec2: Any) -> list[str]:
    return [i["InstanceId"] for i in ec2.run_instances(ImageId=AMI, InstanceType="t3.micro",
                                                         MinCount=2, MaxCount=2)["Instances"]]


def test_default_schedule_is_three_to_five_seconds_and_bounded() -> None:
    p = RetryPolicy(rng=random.Random(3))
    first = [p.delay(0) for _ in range(200)]
    assert 3.0 <= min(first) and max(first) <= 5.0
    assert 6.0 <= p.delay(1) <= 8.0 and 30.0 <= p.delay(9) <= 32.0  # capped
    assert p.max_total_delay() == pytest.approx(5 + 8 + 14 + 26 + 32)


@given(attempts=st.integers(1, 8), base=st.floats(0, 5), jitter=st.floats(0, 3), seed=st.integers(0, 99))
def test_total_sleep_never_exceeds_the_bound(attempts: int, base: float, jitter: float, seed: int) -> None:
    t = FakeTime()
    p = RetryPolicy(attempts=attempts, base=base, jitter=jitter, sleep=t.sleep, rng=random.Random(seed))
    err = botocore.exceptions.ClientError({"Error": {"Code": "InvalidInstanceID.NotFound"}}, "X")

    def always() -> None:
        raise err

    with pytest.raises(RetryExhausted):
        call_with_retry(always, p, what="x")
    assert len(t.sleeps) == attempts - 1
    assert sum(t.sleeps) <= p.max_total_delay() + 1e-9


def test_bad_limits_are_one_line_errors() -> None:
    with pytest.raises(PreflightError, match="at least 1"):
        RetryPolicy(attempts=0)


def test_not_found_for_first_k_calls_then_running(ec2: Any) -> None:
    ids = run_two(ec2)
    faults = FaultInjector(ec2).error("DescribeInstances", "InvalidInstanceID.NotFound", times=3)
    t = FakeTime()
    seen: list[tuple[int, str]] = []
    got = wait_until_running(ec2, ids, policy(t), on_retry=lambda n, code, s: seen.append((n, code)))
    assert [i["InstanceId"] for i in got] == ids and all(i["State"]["Name"] == "running" for i in got)
    assert faults.injected("InvalidInstanceID.NotFound") == 3
    assert seen == [(1, "InvalidInstanceID.NotFound"), (2, "InvalidInstanceID.NotFound"),
                    (3, "InvalidInstanceID.NotFound")]
    assert len(t.sleeps) == 3 and 3 <= t.sleeps[0] <= 5 and 6 <= t.sleeps[1] <= 8 and 12 <= t.sleeps[2] <= 14


def test_not_found_forever_is_a_clear_error_naming_the_instances(ec2: Any) -> None:
    ids = run_two(ec2)
    faults = FaultInjector(ec2).error("DescribeInstances", "InvalidInstanceID.NotFound")
    t = FakeTime()
    with pytest.raises(RetryExhausted) as info:
        wait_until_running(ec2, ids, policy(t, attempts=4))
    msg = str(info.value)
    assert msg.startswith("waiting for instances to run: EC2 still answers InvalidInstanceID.NotFound for "
                          f"{ids[0]}, {ids[1]} after 4 attempts over ")
    assert f"aws ec2 describe-instances --instance-ids {ids[0]} {ids[1]}" in msg
    assert "\n" not in msg and info.value.ids == tuple(ids) and faults.injected() == 4
    assert isinstance(info.value, PreflightError)  # -> one line, exit 2, no traceback


def test_throttling_is_left_to_botocore(ec2: Any) -> None:
    """A throttle that reaches preflight's layer has already been retried by botocore (adaptive
    mode, tests/hostile/test_retry_layers.py counts the HTTP requests): preflight does not retry it
    again, so the budgets never multiply."""
    faults = FaultInjector(ec2).throttle(rate=1.0, operations={"RunInstances"})
    t = FakeTime()
    with pytest.raises(botocore.exceptions.ClientError, match="ThrottlingException"):
        call_with_retry(lambda: ec2.run_instances(ImageId=AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1),
                        policy(t, attempts=8), what="run instances")
    assert faults.injected("ThrottlingException") == 1 and t.sleeps == []


def test_other_errors_are_not_retried(ec2: Any) -> None:
    t = FakeTime()
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidVpcID.NotFound"):
        call_with_retry(lambda: ec2.delete_vpc(VpcId="vpc-0000000000000dead"), policy(t), what="x")
    assert t.sleeps == []


def test_terminated_instance_is_named(ec2: Any) -> None:
    ids = run_two(ec2)
    ec2.terminate_instances(InstanceIds=[ids[1]])
    with pytest.raises(PreflightError, match=f"instances did not start: {ids[1]} is (terminated|shutting-down)"):
        wait_until_running(ec2, ids, policy(FakeTime()))


def test_pending_times_out_with_names() -> None:
    class Pending:
        def describe_instances(self, **_: Any) -> dict[str, Any]:
            return {"Reservations": [{"Instances": [{"InstanceId": "i-1", "State": {"Name": "pending"}}]}]}

    t = FakeTime()
    with pytest.raises(RetryExhausted, match="i-1 not running after 30s"):
        wait_until_running(Pending(), ["i-1"], policy(t), timeout=30, poll=5)
    assert sum(t.sleeps) == 30


def test_crash_after_two_calls(ec2: Any) -> None:
    faults = FaultInjector(ec2).crash_after(2, operations={"CreateVpc"})
    ec2.create_vpc(CidrBlock="10.0.0.0/16")
    ec2.describe_vpcs()  # not counted
    ec2.create_vpc(CidrBlock="10.1.0.0/16")
    with pytest.raises(InjectedCrash):
        ec2.create_vpc(CidrBlock="10.2.0.0/16")
    faults.remove()
    ec2.create_vpc(CidrBlock="10.3.0.0/16")


def test_a_very_long_schedule_stays_at_the_cap_instead_of_overflowing() -> None:
    p = RetryPolicy(attempts=3000, rng=random.Random(1))
    assert 30.0 <= p.delay(1500) <= 32.0
    assert p.max_total_delay() == pytest.approx(5 + 8 + 14 + 26 + 32 * 2995)
    assert RetryPolicy(attempts=3000, base=0, jitter=0).delay(2000) == 0.0
