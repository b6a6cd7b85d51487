"""Snapshots that hold nothing, or resources without ids (issue 16, item 8): never "No problems
found", never a command with an empty id."""

from __future__ import annotations

import json

import pytest

from preflight.cli import main
from preflight.inventory.snapshot import SCHEMA, SnapshotError, loads


def minimal(**resources: list[dict]) -> dict:
    inv = {"account": "123456789012", "region": "eu-south-1", "cloud": "aws", "source": "test"}
    inv.update(resources)
    return {"schema": SCHEMA, "inventories": [inv]}


CASES = {
    "no-inventories": ({"schema": SCHEMA, "inventories": []}, "$.inventories: empty"),
    "subnet-empty-object": (minimal(subnets=[{}]), "$.inventories[0].subnets[0].id: required"),
    "subnet-without-vpc": (minimal(subnets=[{"id": "subnet-1"}]), "subnets[0].vpc_id: required"),
    "route-table-without-id": (minimal(route_tables=[{"vpc_id": "vpc-1"}]), "route_tables[0].id: required"),
    "vpc-empty-id": (minimal(vpcs=[{"id": ""}]), "vpcs[0].id: required"),
    "group-without-vpc": (minimal(security_groups=[{"id": "sg-1"}]), "security_groups[0].vpc_id: required"),
    "no-region": ({"schema": SCHEMA, "inventories": [{"account": "1"}]}, "region: required"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_loads_refuses(case):
    data, expected = CASES[case]
    with pytest.raises(SnapshotError) as exc:
        loads(json.dumps(data), "s.json")
    assert expected in str(exc.value)


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_exits_2_not_0(case, tmp_path, capsys):
    data, expected = CASES[case]
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SystemExit) as exc:
        main(["check", "--snapshot", str(path)])
    captured = capsys.readouterr()
    assert exc.value.code == 2
    assert expected in captured.err and "No problems found" not in captured.out


def test_a_well_formed_minimal_snapshot_still_loads():
    data = minimal(vpcs=[{"id": "vpc-1"}], subnets=[{"id": "subnet-1", "vpc_id": "vpc-1"}])
    (inv,) = loads(json.dumps(data))
    assert inv.subnets[0].id == "subnet-1"
