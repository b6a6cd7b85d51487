"""SG006 stale-group-reference: positive and near-miss."""

from __future__ import annotations

from preflight.inventory.model import VpcPeeringConnection
from tests.rules.sg_support import grp, r, sg_findings


def test_sg006_deleted_group_and_unpeered_vpc():
    app = grp("sg-app", r("sgr-gone", "tcp", 5432, group="sg-0dead"), r("sgr-far", "tcp", 22, group="sg-ops"))
    ops = grp("sg-ops", vpc_id="vpc-2")
    f = sg_findings(app, ops, select=["SG006"]).one("SG006")
    assert f.resource == "sg-app" and f.path == ("sg-app", "sgr-gone", "sgr-far")
    assert "sgr-gone references sg-0dead, which does not exist" in f.message
    assert "sgr-far references sg-ops in vpc-2, not peered with vpc-1" in f.message


def test_sg006_near_miss_peered_same_vpc_and_other_account():
    app = grp("sg-app", r("a", "tcp", 22, group="sg-ops"), r("b", "tcp", 22, group="sg-app"),
              r("c", "tcp", 22, group="sg-theirs", owner="999999999999"))
    ops = grp("sg-ops", vpc_id="vpc-2")
    peering = VpcPeeringConnection(id="pcx-1", requester_vpc_id="vpc-1", accepter_vpc_id="vpc-2", status="active")
    assert sg_findings(app, ops, vpc_peering_connections=[peering], select=["SG006"]) == []
    dead = grp("sg-app", r("d", "tcp", 22, group="sg-theirs", owner="999999999999", peering="deleted"))
    assert "through a deleted peering" in sg_findings(dead, select=["SG006"]).one("SG006").message
