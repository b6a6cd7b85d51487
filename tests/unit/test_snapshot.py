"""Snapshots: versioned JSON that loads back identically; bad files are refused with their place."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preflight.inventory import model as m
from preflight.inventory import snapshot


def sample() -> m.Inventory:
    return m.Inventory(
        account="123456789012", region="eu-south-1", source="test",
        vpcs=(m.Vpc(id="vpc-1", cidr_blocks=("10.0.0.0/16",), tags={"Name": "main"}),),
        subnets=(m.Subnet(id="subnet-1", vpc_id="vpc-1", cidr_block="10.0.1.0/24",
                          map_public_ip_on_launch=True),),
        route_tables=(m.RouteTable(
            id="rtb-1", vpc_id="vpc-1",
            routes=(m.Route(destination_cidr="0.0.0.0/0", target_kind="internet_gateway", target_id="igw-1"),),
            associations=(m.RouteTableAssociation(id="a-1", subnet_id="subnet-1"),)),),
        internet_gateways=(m.InternetGateway(id="igw-1", attachments=(m.Attachment("vpc-1", "available"),)),),
        network_acls=(m.NetworkAcl(id="acl-1", vpc_id="vpc-1", entries=(
            m.NaclEntry(rule_number=100, action="allow", protocol="6", cidr_block="0.0.0.0/0",
                        port_from=22, port_to=22),
        )),),
        security_groups=(m.SecurityGroup(id="sg-1", vpc_id="vpc-1", rules=(
            m.SecurityGroupRule(id="sgr-1", group_id="sg-1", ip_protocol="tcp", from_port=8000, to_port=8000,
                                cidr_ipv4="0.0.0.0/0"),
            m.SecurityGroupRule(id="sgr-2", group_id="sg-1", referenced_group=m.UserIdGroupPair(group_id="sg-2")),
        )),),
        unreadable=(m.Unreadable("instances", "UnauthorizedOperation", "ec2:DescribeInstances"),),
        extra={"iam": {"policies": [{"Version": "2012-10-17"}]}},
    )


def test_round_trip_is_identical(tmp_path):
    inv = sample()
    path = tmp_path / "snap.json"
    snapshot.save(path, [inv])
    assert json.loads(path.read_text())["schema"] == "preflight-snapshot/v1"
    assert snapshot.load(path) == [inv]


@given(st.lists(st.tuples(st.integers(1, 32766), st.booleans(), st.sampled_from(["allow", "deny"]),
                          st.sampled_from(["-1", "6", "17"]), st.integers(0, 65535)), max_size=20))
def test_round_trip_property(entries):
    acl = m.NetworkAcl(id="acl-x", vpc_id="vpc-1", entries=tuple(
        m.NaclEntry(rule_number=n, egress=e, action=a, protocol=p, cidr_block="0.0.0.0/0", port_from=port,
                    port_to=port) for n, e, a, p, port in entries))
    inv = m.Inventory(region="eu-south-1", network_acls=(acl,))
    assert snapshot.loads(snapshot.dumps([inv])) == [inv]


@pytest.mark.parametrize("text, problem", [
    ("{not json", "not valid JSON"),
    ('{"schema": "other/v9", "inventories": []}', "not a preflight snapshot"),
    ('{"schema": "preflight-snapshot/v1", "inventories": [{"subnets": [{"id": 5}]}]}',
     "$.inventories[0].subnets[0].id: expected a string"),
    ('{"schema": "preflight-snapshot/v1", "inventories": [{"vpcs": {}}]}', "$.inventories[0].vpcs: expected a list"),
    ('{"schema": "preflight-snapshot/v1", "inventories": [{"bogus": 1}]}', "$.inventories[0].bogus: unknown field"),
])
def test_bad_snapshots_name_the_problem(text, problem):
    with pytest.raises(snapshot.SnapshotError) as exc:
        snapshot.loads(text, "snap.json")
    assert problem in str(exc.value)
    assert str(exc.value).startswith("snap.json")


@pytest.mark.parametrize("where", ["dir", "missing-parent"])
def test_save_to_an_unwritable_path_is_one_line_error(tmp_path, where):
    path = tmp_path if where == "dir" else tmp_path / "nope" / "snap.json"
    with pytest.raises(snapshot.SnapshotError, match=r"^cannot write snapshot .*: (Is a directory|No such file)"):
        snapshot.save(path, [sample()])


def test_checking_a_snapshot_without_a_rules_extra_data_is_unknown_not_a_pass(tmp_path):
    from preflight.runner import Source, Target, run_check

    path = tmp_path / "snap.json"
    snapshot.save(path, [sample()])  # network only: no key_pairs, iam... in `extra`
    report = run_check(Source(Target(snapshot=str(path))), None, ["CMP004", "NET006"], [])
    unknown = [(f.rule, f.status) for f in report.findings if f.status == "UNKNOWN"]
    assert unknown == [("CMP004", "UNKNOWN")]
    assert "key_pairs could not be read (NotInSnapshot)" in report.findings[0].message
    assert report.exit_code() in (1, 3)


@pytest.mark.parametrize("where", ["extra", "top"])
def test_a_snapshot_nested_thousands_deep_is_refused_in_one_line(tmp_path, where):
    """Arrays in arrays 100,000 deep exhaust the decoder's recursion: one line, exit 2, as for any
    other bad snapshot (it was an internal error)."""
    deep = "[" * 100_000 + "]" * 100_000
    text = ('{"schema": "preflight-snapshot/v1", "inventories": [{"region": "r", "extra": {"x": %s}}]}' % deep
            if where == "extra" else deep)
    path = tmp_path / "deep.json"
    path.write_text(text)
    with pytest.raises(snapshot.SnapshotError, match="nested too deeply"):
        snapshot.load(path)
