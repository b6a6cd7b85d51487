"""Real-API page shapes: MaxResults where the API takes it, every NextToken followed.

moto returns everything in one response for most Describes, so a missed NextToken would go
unnoticed against it. `strict_pages` makes the in-process moto answer as EC2 does (at most
MaxResults items and a token for the rest), and the collector runs with pages of 5.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import boto3
import botocore.session
import pytest
from moto import mock_aws

from preflight.collect import aws
from preflight.errors import PreflightError

REGION = "eu-south-1"


def strict_pages(client: Any, seen: dict[str, list[Any]]) -> None:
    """Page every paginated call of `client` like AWS does (at most the page size asked for, and a
    token for the rest), recording each call's page size in `seen[operation]`. Where moto pages a
    call itself its own tokens pass through; where it answers everything at once, this cuts the
    answer at the page size (all its result lists alike) and hands out a token of its own, which it
    takes back off the next request before moto sees it. botocore's paginator models say which
    parameters and keys each call uses."""
    meta = client.meta.service_model
    loader = botocore.session.get_session().get_component("data_loader")
    model = loader.load_service_model(meta.service_name, "paginators-1", meta.api_version)["pagination"]
    service = meta.service_id.hyphenize()
    for op, cfg in model.items():
        if "limit_key" not in cfg or not all(isinstance(cfg[k], str) for k in ("input_token", "output_token")):
            continue
        keys = [cfg["result_key"]] if isinstance(cfg["result_key"], str) else list(cfg["result_key"])
        if not all(k.isalnum() for k in keys):  # JMESPath result keys: not used by preflight
            continue

        def params(params: dict[str, Any], context: dict[str, Any], cfg: dict[str, Any] = cfg, op: str = op,
                   **_: Any) -> None:
            seen.setdefault(op, []).append(params.get(cfg["limit_key"]))
            token, start = params.get(cfg["input_token"]), 0
            if isinstance(token, str) and token.startswith("strict:"):
                start = int(token.removeprefix("strict:"))
                del params[cfg["input_token"]]
            context["strict"] = (params.get(cfg["limit_key"]), start)

        def pages(parsed: dict[str, Any], context: dict[str, Any], cfg: dict[str, Any] = cfg,
                  keys: list[str] = keys, **_: Any) -> None:
            size, start = context.get("strict", (None, 0))
            if size is None or parsed.get(cfg["output_token"]):  # no page size asked, or moto paged
                return
            items = [(k, x) for k in keys for x in parsed.get(k) or []]
            page = items[start:start + size]
            for k in keys:
                if k in parsed:
                    parsed[k] = [x for kk, x in page if kk == k]
            more = start + size < len(items)
            if more:
                parsed[cfg["output_token"]] = f"strict:{start + size}"
            else:
                parsed.pop(cfg["output_token"], None)
            if "more_results" in cfg:
                parsed[cfg["more_results"]] = more

        client.meta.events.register(f"provide-client-params.{service}.{op}", params)
        client.meta.events.register(f"after-call.{service}.{op}", pages)


def seed(ec2: Any, n: int = 7) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.create_egress_only_internet_gateway(VpcId=vpc)
    subnet = ""
    for i in range(n):
        ec2.create_vpc(CidrBlock=f"10.{i + 1}.0.0/16")
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"]
        ec2.create_route_table(VpcId=vpc)
        ec2.create_internet_gateway()
        ec2.create_network_acl(VpcId=vpc)
        g = ec2.create_security_group(GroupName=f"g{i}", Description="d", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=g, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8000 + j, "ToPort": 8000 + j, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}
            for j in range(2)])
    image = "ami-12c6146b"  # one of moto's built-in images
    for _ in range(n):
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet)
    return vpc


def test_pages_of_five_read_every_item_and_follow_every_token():
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        seed(ec2)
        whole = aws.collect(aws.AwsSession(region=REGION), REGION)
        session = aws.AwsSession(region=REGION, page_size=5)
        seen: dict[str, list[Any]] = {}
        strict_pages(session.client("ec2", REGION), seen)
        paged = aws.collect(session, REGION)
    for name in ("vpcs", "subnets", "route_tables", "internet_gateways", "network_acls", "security_groups",
                 "instances", "network_interfaces"):
        got, want = getattr(paged, name), getattr(whole, name)
        assert len(want) > 5, name  # more than one page each
        assert sorted(x.id for x in got) == sorted(x.id for x in want), name
    assert sorted(r.id for g in paged.security_groups for r in g.rules) == \
        sorted(r.id for g in whole.security_groups for r in g.rules)
    pages = session.stats.pages
    for op in ("ec2:DescribeSubnets", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroupRules",
               "ec2:DescribeInstances", "ec2:DescribeVpcs"):
        assert pages[op] >= 2, (op, pages)
    # MaxResults on every call of every Describe whose API takes it, within the API's own range.
    for op, sizes in seen.items():
        assert sizes and all(s == 5 for s in sizes), (op, sizes)


def _rule_filters(client: Any) -> list[Any]:
    """The Filters of each DescribeSecurityGroupRules call `client` makes, in order."""
    calls: list[Any] = []
    client.meta.events.register("provide-client-params.ec2.DescribeSecurityGroupRules",
                                lambda params, **_: calls.append(params.get("Filters")))
    return calls


@pytest.mark.parametrize("shard", [3, None])
def test_rules_beyond_one_page_are_read_by_group_id_shards(monkeypatch, shard):
    """More rules than a page: after the first page the rules are read by group-id filters sized
    to about a page each (here of at most 3 groups, EC2's limit per filter standing in), all at
    once, and none is lost or doubled. When one round of shards would be a single shard (here at
    most one shard at a time), the one chain is followed instead."""
    if shard:
        monkeypatch.setattr(aws, "FILTER_VALUES", shard)
    else:
        monkeypatch.setattr(aws, "MAX_SHARDS_AT_ONCE", 1)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        seed(ec2, 3)
        whole = aws.collect(aws.AwsSession(region=REGION), REGION)
        session = aws.AwsSession(region=REGION, page_size=5)
        client = session.client("ec2", REGION)
        strict_pages(client, {})
        filters = _rule_filters(client)
        paged = aws.collect(session, REGION)
    rules = sorted(r.id for g in whole.security_groups for r in g.rules)
    assert len(rules) > 10 and len(whole.security_groups) > 3  # over two pages, and more than one shard
    assert sorted(r.id for g in paged.security_groups for r in g.rules) == rules
    assert filters[0] is None  # the first page is read whole: one page of rules needs no shards
    if shard:
        assert all(f[0]["Name"] == "group-id" and len(f[0]["Values"]) <= shard for f in filters[1:])
        assert {v for f in filters[1:] for v in f[0]["Values"]} == {g.id for g in whole.security_groups}
    else:
        assert filters == [None] * len(filters) and len(filters) >= 2  # the chain, page after page


def _rules(*groups: int) -> list[dict[str, str]]:
    """A first page of rules: group i with groups[i] rules, listed together as EC2 lists them."""
    return [{"GroupId": f"sg-{i}", "SecurityGroupRuleId": f"sgr-{i}-{j}"} for i, n in enumerate(groups)
            for j in range(n)]


@pytest.mark.parametrize(("groups", "first", "page", "shards"), [
    (505, _rules(*[10] * 100), 1000, 7),  # bench S: 10 rules a group, 80 groups fit a page
    (2000, _rules(*[10] * 100), 1000, 16),  # bench M: one round of 16 shards of 125 groups
    (10_000, _rules(*[1] * 1000), 1000, 50),  # 1 rule a group: filters of 200 groups, EC2's limit
    (150, _rules(*[60] * 17), 1000, 12),  # fewer groups than a filter holds, 60 rules each
    (150, _rules(*[10] * 100), 1000, 0),  # 1,500 rules: the second page is as fast as any shard
    (1, _rules(1000), 1000, 0),  # one group: nothing to shard by
])
def test_rule_shards_are_sized_to_about_a_page(groups, first, page, shards):
    ids = [f"sg-{i:05}" for i in range(groups)]
    got = aws.rule_shards(ids, first, page)
    assert len(got) == shards
    assert sorted(i for part in got for i in part) == (ids if shards else [])
    assert all(len(part) <= aws.FILTER_VALUES for part in got)


def test_default_page_size_is_each_apis_documented_maximum():
    with mock_aws():
        session = aws.AwsSession(region=REGION)
        ec2 = session.client("ec2", REGION)
        seen: dict[str, list[Any]] = {}
        strict_pages(ec2, seen)
        aws.collect(session, REGION)
    assert seen["DescribeRouteTables"] == [100]  # 1000 would be InvalidParameterValue on EC2
    assert seen["DescribeEgressOnlyInternetGateways"] == [255]
    assert seen["DescribeInstances"] == [1000] and seen["DescribeSecurityGroupRules"] == [1000]
    assert aws.page_limit(ec2, "describe_subnets") == 1000


def test_a_token_that_repeats_is_an_error_not_an_endless_loop():
    with mock_aws():
        session = aws.AwsSession(region=REGION)
        ec2 = session.client("ec2", REGION)
        ec2.meta.events.register("after-call.ec2.DescribeVpcs",
                                 lambda parsed, **_: parsed.__setitem__("NextToken", "same"))
        with pytest.raises(PreflightError, match="DescribeVpcs|describe_vpcs"):
            aws.fetch_all(ec2, aws.FETCHERS["vpcs"])


# --- the extra collectors' paginated calls (IAM, Organizations, compute) --------------------------

def _iam_world(iam: Any, n: int = 7) -> None:
    """A user with more than a page of everything the policy reads list: inline and attached
    policies, groups, and other users around it (GetAccountAuthorizationDetails)."""
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*",
                                                              "Resource": "*"}]})
    iam.create_user(UserName="dev")
    for i in range(n):
        iam.create_user(UserName=f"other{i}")
        iam.put_user_policy(UserName="dev", PolicyName=f"inline{i}", PolicyDocument=doc)
        arn = iam.create_policy(PolicyName=f"managed{i}", PolicyDocument=doc)["Policy"]["Arn"]
        iam.attach_user_policy(UserName="dev", PolicyArn=arn)
        iam.create_group(GroupName=f"group{i}")
        iam.add_user_to_group(GroupName=f"group{i}", UserName="dev")
        iam.put_group_policy(GroupName=f"group{i}", PolicyName=f"gp{i}", PolicyDocument=doc)


def test_iam_policy_reads_use_pages_of_five_and_follow_every_marker():
    from preflight.collect import aws_iam

    who = aws_iam.principal_of("arn:aws:iam::123456789012:user/dev")
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        _iam_world(iam)
        whole = {how: read(iam, who) for how, read in (("gaad", aws_iam._policies_via_gaad),
                                                        ("per-principal", aws_iam._policies_per_principal))}
        paged_iam = boto3.client("iam", region_name=REGION)
        seen: dict[str, list[Any]] = {}
        strict_pages(paged_iam, seen)
        paged = {"gaad": aws_iam._policies_via_gaad(paged_iam, who, 5),
                 "per-principal": aws_iam._policies_per_principal(paged_iam, who, 5)}
    for how in whole:
        names = sorted(p["name"] for p in paged[how]["policies"])
        assert names == sorted(p["name"] for p in whole[how]["policies"]), how
        assert len(names) == 21, how  # 7 inline, 7 attached, 7 through groups: more than a page each
    for op in ("GetAccountAuthorizationDetails", "ListUserPolicies", "ListAttachedUserPolicies", "ListGroupsForUser"):
        assert len(seen[op]) >= 2, (op, seen)  # every marker followed
    assert all(size == 5 for sizes in seen.values() for size in sizes), seen


def test_iam_reads_default_to_the_largest_page():
    from preflight.collect import aws_iam

    who = aws_iam.principal_of("arn:aws:iam::123456789012:user/dev")
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        _iam_world(iam, 2)
        seen: dict[str, list[Any]] = {}
        strict_pages(iam, seen)
        aws_iam._policies_via_gaad(iam, who)
        aws_iam._policies_per_principal(iam, who)
    assert seen and all(size == 1000 for sizes in seen.values() for size in sizes), seen  # IAM's default is 100


def test_scp_reads_use_pages_of_five():
    from preflight.collect import aws_iam

    with mock_aws():
        org = boto3.client("organizations", region_name=REGION)
        org.create_organization(FeatureSet="ALL")
        member = org.create_account(Email="m@example.com", AccountName="m")["CreateAccountStatus"]["AccountId"]
        for i in range(6):
            body = json.dumps({"Version": "2012-10-17", "Statement": [
                {"Sid": f"S{i}", "Effect": "Deny", "Action": f"ec2:Action{i}", "Resource": "*"}]})
            pid = org.create_policy(Content=body, Description="", Name=f"scp{i}",
                                    Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]["Id"]
            org.attach_policy(PolicyId=pid, TargetId=member)
        whole, _ = aws_iam.read_scps(aws.AwsSession(region=REGION), REGION, member)
        session = aws.AwsSession(region=REGION, page_size=5)
        seen: dict[str, list[Any]] = {}
        strict_pages(session.client("organizations", REGION), seen)
        paged, _ = aws_iam.read_scps(session, REGION, member)
    assert paged == whole and len(whole[-1]) == 7  # FullAWSAccess and the six: two pages of at most 5
    assert seen["ListPoliciesForTarget"].count(5) >= 3, seen  # root level + the account's two pages


class _StubbedSession:
    """The part of AwsSession an extra collector uses, on stubbed clients (moto reads every
    instance type per call, too slow for pages of 5, and lacks Service Quotas)."""

    endpoint_url = "http://stubbed.invalid"  # never cached as AWS's own answers

    def __init__(self, page_size: int | None = None) -> None:
        from botocore.stub import Stubber

        self.page_size = page_size
        self.clients = {s: boto3.client(s, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
                        for s in ("ec2", "service-quotas")}
        self.stubs = {s: Stubber(c) for s, c in self.clients.items()}

    def client(self, service: str, region: str) -> Any:
        return self.clients[service]


def _itype(name: str) -> dict[str, Any]:
    return {"InstanceType": name, "VCpuInfo": {"DefaultVCpus": 2}, "MemoryInfo": {"SizeInMiB": 4096},
            "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]}, "SupportedUsageClasses": ["on-demand"]}


def _two_pages(stub: Any, op: str, key: str, items: list[Any], size: int, **params: Any) -> None:
    """Expect `op` asked with MaxResults=`size`, answered in two pages (the second behind a token;
    AWS may return fewer items than asked with a token, so the cut is always after 5)."""
    stub.add_response(op, {key: items[:5], "NextToken": "t1"}, {**params, "MaxResults": size})
    stub.add_response(op, {key: items[5:]}, {**params, "MaxResults": size, "NextToken": "t1"})


# Each API's largest page (botocore's model), asked when no page size is forced.
LARGEST = {"describe_instance_types": 100, "describe_instance_type_offerings": 1000, "list_service_quotas": 100}


@pytest.mark.parametrize("page_size", [5, None])
def test_compute_extras_page_at_the_size_asked_and_follow_every_token(page_size):
    from preflight.collect import aws_compute
    from preflight.plan import Plan
    from preflight.semantics import quotas as q

    def size(op: str) -> int:
        return page_size or LARGEST[op]

    plan = Plan(region=REGION, instance_type="inf1.xlarge")
    s = _StubbedSession(page_size)
    ec2, quotas = s.stubs["ec2"], s.stubs["service-quotas"]
    types = [_itype(f"inf1.{n}") for n in ("xlarge", "2xlarge", "6xlarge", "24xlarge")] + \
        [_itype(f"inf2.{n}") for n in ("xlarge", "8xlarge", "24xlarge")]
    _two_pages(ec2, "describe_instance_types", "InstanceTypes", types, size("describe_instance_types"),
               Filters=[{"Name": "instance-type", "Values": ["inf*"]}])
    zones = [{"InstanceType": "inf1.xlarge", "LocationType": "availability-zone", "Location": f"{REGION}{z}"}
             for z in "abcabcd"]
    _two_pages(ec2, "describe_instance_type_offerings", "InstanceTypeOfferings", zones,
               size("describe_instance_type_offerings"),
               LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": ["inf1.xlarge"]}])
    _two_pages(ec2, "describe_instance_types", "InstanceTypes", types, size("describe_instance_types"))
    inf = q.quota_ref("inf", False).code  # the plan's bucket, on the second page: no GetServiceQuota
    quota = [{"ServiceCode": "ec2", "QuotaCode": f"L-{i}" if i < 6 else inf,
              "QuotaName": f"Running On-Demand Inf {i} instances", "Value": 8.0} for i in range(7)]
    _two_pages(quotas, "list_service_quotas", "Quotas", quota, size("list_service_quotas"), ServiceCode="ec2")
    with ec2, quotas:
        family = aws_compute.collect_instance_types(s, REGION, plan)
        offered = aws_compute.collect_offerings(s, REGION, plan)
        candidates = aws_compute.instance_candidates(s, REGION, cpus="2")
        limits = aws_compute.collect_quotas(s, REGION, plan)
        ec2.assert_no_pending_responses()
        quotas.assert_no_pending_responses()
    assert sorted(family["types"]) == sorted(t["InstanceType"] for t in types)  # both pages read
    assert offered["zones"] == [f"{REGION}{z}" for z in "abcd"]  # "d" is on the second page only
    assert "inf2.24xlarge" in candidates["types"] and "inf1.xlarge" in candidates["types"]
    assert sorted(limits["quotas"]) == sorted(x["QuotaCode"] for x in quota)


def _emits_before_parse() -> bool:
    import inspect

    import botocore.endpoint

    return "before-parse." in inspect.getsource(botocore.endpoint)


def test_group_rule_lists_are_cut_only_from_the_collectors_own_reads():
    """The collector reads rules from DescribeSecurityGroupRules, so DescribeSecurityGroups' copies
    are not parsed; a fixer's DescribeSecurityGroups on the same client still gets them."""
    with mock_aws():
        seed(boto3.client("ec2", region_name=REGION), 2)
        session = aws.AwsSession(region=REGION)
        client = session.client("ec2", REGION)
        parsed: list[Any] = []
        client.meta.events.register("after-call.ec2.DescribeSecurityGroups",
                                    lambda **kw: parsed.append(kw["parsed"]))
        inv = aws.collect(session, REGION)
        whole = client.describe_security_groups()["SecurityGroups"]
    [collected] = parsed[:1]
    cut = all("IpPermissions" not in g and "IpPermissionsEgress" not in g for g in collected["SecurityGroups"])
    # botocore emits before-parse since 1.35 or so; on older ones (the lowest bound, 1.34.0) the
    # collector parses the rule lists as before: slower, never wrong.
    assert cut is _emits_before_parse()
    assert sum(len(g.get("IpPermissions") or []) for g in whole) >= 2  # the fixer's read is whole
    by_id = {g["GroupId"]: g for g in whole}
    for g in inv.security_groups:  # every field the inventory keeps, as the whole answer says
        assert (g.group_name, g.vpc_id, g.owner_id, g.description) == (
            by_id[g.id]["GroupName"], by_id[g.id]["VpcId"], by_id[g.id]["OwnerId"], by_id[g.id]["Description"])
    assert sum(1 for g in inv.security_groups for r in g.rules if not r.egress) >= 4  # from the rules API


class InterruptingPool:
    """The reads' thread pool, with a KeyboardInterrupt raised at the `at`-th submit made from
    `runner` (where the reads are started: a Ctrl-C or SIGTERM lands in that thread between two
    submits). It keeps every future it hands out, and `foreign`: each future a read was given to
    wait for that this pool had not handed out before (a read of its own started earlier, which
    ends): nothing would complete it if the interrupt came before whatever was to."""

    def __init__(self, at: int, runner: threading.Thread) -> None:
        self.handed: list[Future[Any]] = []
        self.foreign: list[Future[Any]] = []
        made = 0
        outer = self

        class Pool(ThreadPoolExecutor):
            def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
                nonlocal made
                if threading.current_thread() is runner:
                    made += 1
                    if made == at:
                        raise KeyboardInterrupt
                outer.foreign += [a for a in (*args, *kwargs.values()) if isinstance(a, Future)
                                  and not any(a is h for h in outer.handed)]
                future = super().submit(fn, *args, **kwargs)
                outer.handed.append(future)
                return future

        self.pool = Pool


def interrupted_read(client: Any, at: int, monkeypatch: pytest.MonkeyPatch) -> BaseException | None:
    """What comes out of `_read` (None: it ended normally) with an interrupt at its `at`-th submit,
    started in a helper thread standing in for the main thread. Every read it submitted must have
    ended, and waited only for reads submitted before it. The 60 s join is a safety net (the reads
    take well under a second): a read left waiting is then released, so the failure is reported
    instead of the suite hanging."""
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            aws._read(client, 5, (), None)
            outcome.append(None)
        except BaseException as exc:  # noqa: B036 - the interrupt is what is looked for
            outcome.append(exc)

    runner = threading.Thread(target=read, daemon=True)
    hooked = InterruptingPool(at, runner)
    monkeypatch.setattr(aws, "ThreadPoolExecutor", hooked.pool)
    runner.start()
    runner.join(60)
    stuck = runner.is_alive()
    for future in hooked.foreign:
        if not future.done():
            future.set_exception(RuntimeError("released by the test"))
    runner.join()
    assert not stuck, f"an interrupt at submit {at} left a read waiting forever"
    assert hooked.foreign == [], f"a read waits for a future its pool had not handed out (submit {at})"
    assert all(f.done() for f in hooked.handed), at
    return outcome[0]


def test_an_interrupt_between_the_reads_submits_leaves_no_read_waiting(monkeypatch):
    """The rule read, sharded once the groups are known, waits for the groups' read. An interrupt
    (Ctrl-C, SIGTERM) at any submit of the concurrent reads must come out as the interrupt, with
    every read already submitted ended: a read left waiting for a future that nothing completes
    would keep the pool's shutdown, and so the interrupted command, waiting forever. The first
    submits are interrupted in turn (the groups', the rules' and the next); the uninterrupted run
    shows every read waits only for reads submitted before it, which makes every later position
    as safe."""
    monkeypatch.setattr(aws, "FILTER_VALUES", 2)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        for i in range(4):  # 12 rules and more: pages of 5 make the rule read wait for the groups
            g = ec2.create_security_group(GroupName=f"g{i}", Description="d")["GroupId"]
            ec2.authorize_security_group_ingress(GroupId=g, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 8000 + j, "ToPort": 8000 + j, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}
                for j in range(3)])
        client = aws.AwsSession(region=REGION, page_size=5).client("ec2", REGION)
        strict_pages(client, {})
        filters = _rule_filters(client)
        sharded = []
        for at in (1, 2, 3, 4, 10_000):
            filters.clear()
            outcome = interrupted_read(client, at, monkeypatch)
            assert (outcome is None) if at == 10_000 else isinstance(outcome, KeyboardInterrupt), (at, outcome)
            # the rule read waited for the groups, then read by group-id filters
            sharded.append(any(f and f[0]["Name"] == "group-id" for f in filters))
    assert sharded == [False, False, True, True, True]  # submitted second, after the groups' read
