"""SkyPilot's own subnet/VPC choice equals preflight's prediction for the SkyPilot profile.

On generated moto accounts (the incident, a detached gateway, several VPCs, duplicate VPC names,
zone filters, use_internal_ips), SkyPilot 0.14.1's own `_get_subnet_and_vpc_id` (installed from
the registry, the `[launchers]` extra) is run with boto3 under moto's mock_aws, and its answer —
the subnets in order and their VPC, or the error it stops with — is compared with
`preflight.launchers.skypilot.select_subnets` on the inventory preflight's collector read from the
same account. SkyPilot's import is slow, so it happens once per module.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from preflight.collect import aws
from preflight.collect.sandbox import Seeder
from preflight.launchers.skypilot import VERSION, select_subnets

REGION = "eu-south-1"
ZONES = [f"{REGION}a", f"{REGION}b", f"{REGION}c"]


@pytest.fixture(scope="module")
def sky_config() -> Any:
    pytest.importorskip("sky", reason="SkyPilot is installed by the [launchers] extra")
    import sky
    from sky.provision.aws import config

    assert sky.__version__ == VERSION, f"the SkyPilot profile models {VERSION}, installed is {sky.__version__}"
    return config


def skypilot_choice(config: Any, vpc_name: str | None, zones: str | None, internal: bool) -> tuple[Any, ...]:
    """SkyPilot's own answer: ('ok', [subnet ids in order], vpc) or ('error', message)."""
    import boto3
    from sky.utils import annotations

    annotations.clear_request_level_cache()  # SkyPilot caches route tables per request
    ec2 = boto3.resource("ec2", region_name=REGION)
    try:
        subnets, vpc = config._get_subnet_and_vpc_id(ec2, None, REGION, availability_zone=zones,
                                                     use_internal_ips=internal, vpc_name=vpc_name, subnet_names=None)
    except RuntimeError as exc:
        return ("error", str(exc).replace("SKYPILOT_ERROR_NO_NODES_LAUNCHED: ", "").split(" To fix")[0]
                .split(" Choose a different")[0])
    return ("ok", [s.subnet_id for s in subnets], vpc)


def preflight_choice(inv: Any, vpc_name: str | None, zones: str | None, internal: bool) -> tuple[Any, ...]:
    sel = select_subnets(inv, vpc_name, tuple(z.strip() for z in zones.split(",")) if zones else (), internal)
    if sel.error:
        return ("error", sel.error.split(" To fix")[0].removesuffix("."))
    return ("ok", list(sel.subnets), sel.vpc)


def _norm(answer: tuple[Any, ...]) -> tuple[Any, ...]:
    if answer[0] == "error":
        # SkyPilot prints the list of VPC objects for duplicate names; compare the sentence only.
        return ("error", answer[1].split(" found in")[0].removesuffix("."))
    return answer


# --- generated accounts ---------------------------------------------------------------------------

def incident(s: Seeder) -> None:
    s.delete_default_vpc()
    vpc = s.vpc("10.0.0.0/16", "app-vpc")
    s.igw(vpc, "app-igw")
    subnet = s.subnet(vpc, "10.0.1.0/24", name="app-subnet")
    s.route_table(vpc, [subnet], name="app-rt")


def fixed_incident(s: Seeder) -> None:
    incident(s)
    s.route(s.ids["app-rt"], "0.0.0.0/0", GatewayId=s.ids["app-igw"])


def detached_igw(s: Seeder) -> None:
    s.aws_like_default_vpc()
    ids = s.public_vpc(name="web")
    s.ec2.detach_internet_gateway(InternetGatewayId=ids["igw"], VpcId=ids["vpc"])


def generated(seed: int) -> Callable[[Seeder], None]:
    """A random account: maybe no default VPC, 1-3 VPCs (names may repeat), subnets in random zones,
    explicit or main route tables with or without an igw route, gateways attached or not."""
    def seed_fn(s: Seeder) -> None:
        rnd = random.Random(seed)
        if rnd.random() < 0.4:
            s.delete_default_vpc()
        elif rnd.random() < 0.5:
            s.aws_like_default_vpc()
        for v in range(rnd.randint(1, 3)):
            vpc = s.vpc(f"10.{v + 1}.0.0/16")
            s.ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": rnd.choice(["app", "ml", f"v{v}"])}])
            igw = s.igw(vpc if rnd.random() < 0.7 else "")
            if rnd.random() < 0.5:
                s.route(s.main_route_table(vpc), "0.0.0.0/0", GatewayId=igw)
            for n in range(rnd.randint(0, 3)):
                sub = s.subnet(vpc, f"10.{v + 1}.{n}.0/24", az=rnd.choice(ZONES), public_ip=rnd.random() < 0.5)
                if rnd.random() < 0.5:
                    table = s.route_table(vpc, [sub])
                    if rnd.random() < 0.6:
                        s.route(table, "0.0.0.0/0", GatewayId=igw)
    return seed_fn


ACCOUNTS: dict[str, Callable[[Seeder], None]] = {
    "incident": incident, "fixed-incident": fixed_incident, "detached-igw": detached_igw,
    **{f"generated-{n}": generated(n) for n in range(8)},
}
OPTIONS = [  # (vpc_name, zones, use_internal_ips)
    (None, None, False), ("app-vpc", None, False), ("app", None, False), ("web", None, False),
    ("ml", f"{REGION}c,{REGION}a", False), (None, f"{REGION}b", False), ("app", None, True), (None, None, True),
]


@contextlib.contextmanager
def account_of(fn: Callable[[Seeder], None]) -> Iterator[Any]:
    """A moto account seeded by `fn` (in process); yields preflight's AwsSession on it."""
    from moto import mock_aws

    from preflight.collect.aws import AwsSession

    with mock_aws():
        session = AwsSession(region=REGION)
        fn(Seeder(session, REGION))
        yield session


@pytest.mark.parametrize("account", sorted(ACCOUNTS))
def test_preflight_predicts_skypilots_own_subnet_and_vpc_choice(sky_config: Any, account: str) -> None:
    with account_of(ACCOUNTS[account]) as session:
        inv = aws.collect(session, REGION, set(), None)  # what `preflight check` reads, once
        for vpc_name, zones, internal in OPTIONS:
            theirs = _norm(skypilot_choice(sky_config, vpc_name, zones, internal))
            ours = _norm(preflight_choice(inv, vpc_name, zones, internal))
            assert ours == theirs, f"{account} vpc_name={vpc_name} zones={zones} internal={internal}"


def test_the_generated_accounts_cover_both_verdicts(sky_config: Any) -> None:
    """The comparison above is only worth something if SkyPilot both launches and refuses."""
    kinds: set[str] = set()
    for account in ("incident", "fixed-incident", "detached-igw", "generated-0", "generated-1"):
        with account_of(ACCOUNTS[account]):
            for vpc_name, zones, internal in OPTIONS:
                answer = skypilot_choice(sky_config, vpc_name, zones, internal)
                kinds.add(answer[0] if answer[0] == "ok" else answer[1].split(" ")[0:3][-1])
    assert "ok" in kinds and len(kinds) >= 3, kinds
