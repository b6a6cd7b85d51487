"""Network fixers: exact calls and CLI, shared main tables, created gateways, idempotence, refusals."""

from __future__ import annotations

from pathlib import Path

from preflight.collect.sandbox import Seeder, get_scenario
from preflight.plan import plan_from_dict
from tests.unit.netfix_support import REGION, account, apply, check, fails, plan_fixes, state


def scenario(name: str):
    return get_scenario(name).seed


def shared_main(s: Seeder) -> None:
    """A public subnet on the VPC's main table, which a private subnet shares; the main table
    also routes 172.16.0.0/12 to a NAT gateway."""
    s.aws_like_default_vpc()
    vpc = s.vpc("10.5.0.0/16", "shared-vpc")
    s.igw(vpc, "shared-igw")
    public = s.subnet(vpc, "10.5.1.0/24", name="pub", public_ip=True)
    s.subnet(vpc, "10.5.2.0/24", name="priv", public_ip=False)
    nat = s.nat(public, "nat")
    s.route(s.main_route_table(vpc), "172.16.0.0/12", NatGatewayId=nat)
    s.ids["vpc"] = vpc


def no_igw(s: Seeder) -> None:
    s.aws_like_default_vpc()
    vpc = s.vpc("10.6.0.0/16", "bare-vpc")
    subnet = s.subnet(vpc, "10.6.1.0/24", name="bare-pub", public_ip=True)
    s.route_table(vpc, [subnet], name="bare-rt")
    s.ids["vpc"] = vpc


def test_route_add_default_on_explicit_table(tmp_path: Path) -> None:
    with account(scenario("main-table-shadowed")) as (session, s):
        table, igw, subnet = s.ids["app-empty-rt"], s.ids["app-igw"], s.ids["app-public"]
        fplan = plan_fixes(session)
        [change] = fplan.changes
        assert (change.fixer, change.resource, change.rules) == ("route-add-default", table, ("NET002",))
        assert change.cli == (f"aws ec2 create-route --region {REGION} --route-table-id {table} "
                              f"--destination-cidr-block 0.0.0.0/0 "
                              f"--gateway-id {igw}")
        assert change.undo is not None and change.undo.cli() == (
            f"aws ec2 delete-route --region {REGION} --route-table-id {table} --destination-cidr-block 0.0.0.0/0")
        assert {"ec2:CreateRoute", "ec2:DeleteRoute"} <= set(change.permissions)
        assert subnet in change.description
        _, outcomes, _ = apply(session, tmp_path)
        assert [o.status for o in outcomes] == ["applied"]
        assert ("NET002", subnet) not in fails(check(session))
        # A second --apply makes no change: nothing planned, and a stale plan's guard says "already".
        assert plan_fixes(session).changes == []
        before = state(session)
        from preflight.fix import Journal, apply_changes
        stale = apply_changes(fplan.changes, session, Journal(directory=tmp_path / "again"))
        assert [o.status for o in stale] == ["already"] and state(session) == before


def test_shared_main_table_gets_a_table_of_its_own(tmp_path: Path) -> None:
    with account(shared_main) as (session, s):
        vpc, pub, priv, igw, nat = s.ids["vpc"], s.ids["pub"], s.ids["priv"], s.ids["shared-igw"], s.ids["nat"]
        main = s.main_route_table(vpc)
        fplan = plan_fixes(session, ("NET002",))
        calls = [(c.call.operation, c.call.params.get("DestinationCidrBlock", "")) for c in fplan.changes]
        assert calls == [("create_route_table", ""), ("create_route", "172.16.0.0/12"),
                         ("create_route", "0.0.0.0/0"), ("associate_route_table", "")]
        first = fplan.changes[0]
        assert f"{main} is the main route table of {vpc}, also used by 1 other subnet(s) ({priv})" in first.description
        assert f"create a route table for {pub} alone" in first.description
        assert fplan.changes[2].cli == (f"aws ec2 create-route --region {REGION} --route-table-id $RTB "
                                        f"--destination-cidr-block "
                                        f"0.0.0.0/0 --gateway-id {igw}")
        assert fplan.changes[3].cli == (f"aws ec2 associate-route-table --region {REGION} --route-table-id $RTB "
                                        f"--subnet-id {pub}")
        _, outcomes, _ = apply(session, tmp_path, ("NET002",))
        assert [o.status for o in outcomes] == ["applied"] * 4
        tables = session.client("ec2", REGION).describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
        own = [t for t in tables if any(a.get("SubnetId") == pub for a in t.get("Associations", []))]
        [table] = own
        routes = {r.get("DestinationCidrBlock"): r.get("GatewayId") or r.get("NatGatewayId") for r in table["Routes"]}
        assert routes == {"10.5.0.0/16": "local", "172.16.0.0/12": nat, "0.0.0.0/0": igw}
        main_routes = next(t for t in tables if t["RouteTableId"] == main)["Routes"]
        assert "0.0.0.0/0" not in {r.get("DestinationCidrBlock") for r in main_routes}  # private stays private
        assert ("NET002", pub) not in fails(check(session))
        assert plan_fixes(session, ("NET002",)).changes == []


def test_vpc_without_gateway_gets_one_created_and_attached(tmp_path: Path) -> None:
    with account(no_igw) as (session, s):
        vpc, table, subnet = s.ids["vpc"], s.ids["bare-rt"], s.ids["bare-pub"]
        fplan = plan_fixes(session, ("NET002",))
        ops = [c.call.operation for c in fplan.changes]
        assert ops == ["create_internet_gateway", "attach_internet_gateway", "create_route"]
        assert fplan.changes[1].cli == (f"aws ec2 attach-internet-gateway --region {REGION} "
                                        f"--internet-gateway-id $IGW --vpc-id {vpc}")
        _, outcomes, journal = apply(session, tmp_path, ("NET002",))
        assert [o.status for o in outcomes] == ["applied"] * 3
        ec2 = session.client("ec2", REGION)
        [igw] = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])[
            "InternetGateways"]
        [t] = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"]
        assert any(r.get("GatewayId") == igw["InternetGatewayId"] for r in t["Routes"])
        # The journal holds the resolved ids, not the placeholders.
        text = journal.path.read_text()
        assert igw["InternetGatewayId"] in text and "delete_internet_gateway" in text
        assert ("NET002", subnet) not in fails(check(session))


def test_igw_attach_for_detached_gateway(tmp_path: Path) -> None:
    with account(scenario("detached-igw")) as (session, s):
        igw, vpc = s.ids["web-igw"], s.ids["web-vpc"]
        fplan = plan_fixes(session, ("NET003",))
        [change] = fplan.changes
        assert (change.fixer, change.resource) == ("igw-attach", igw)
        assert change.cli == (f"aws ec2 attach-internet-gateway --region {REGION} --internet-gateway-id {igw} "
                              f"--vpc-id {vpc}")
        assert change.undo is not None and change.undo.operation == "detach_internet_gateway"
        apply(session, tmp_path, ("NET003",))
        assert fails(check(session)) == []  # NET002/NET003/NET004 all came from the detached gateway


def test_subnet_map_public_ip(tmp_path: Path) -> None:
    with account(scenario("public-route-no-public-ip")) as (session, s):
        subnet = s.ids["app-public"]
        [change] = plan_fixes(session, ("NET005",)).changes
        assert change.cli == (f"aws ec2 modify-subnet-attribute --region {REGION} --subnet-id {subnet} "
                              f"--map-public-ip-on-launch")
        assert change.undo is not None
        assert change.undo.cli().endswith("--no-map-public-ip-on-launch")
        apply(session, tmp_path, ("NET005",))
        assert fails(check(session, ("NET005",))) == []


def test_route_replace_blackhole_with_the_one_live_nat(tmp_path: Path) -> None:
    def seed(s: Seeder) -> None:
        get_scenario("blackhole-route").seed(s)
        s.nat(s.ids["app-public"], "app-nat-2")

    with account(seed) as (session, s):
        table, dead, live = s.ids["app-private-rt"], s.ids["app-nat"], s.ids["app-nat-2"]
        fplan = plan_fixes(session, ("NET004",))
        [change] = fplan.changes
        assert change.cli == (f"aws ec2 replace-route --region {REGION} --route-table-id {table} "
                              f"--destination-cidr-block 0.0.0.0/0 "
                              f"--nat-gateway-id {live}")
        assert change.undo is None and change.before == {"route": {"destination": "0.0.0.0/0", "NatGatewayId": dead}}
        apply(session, tmp_path, ("NET004",))
        assert fails(check(session, ("NET004",))) == []


def test_route_replace_blackhole_refuses_without_an_obvious_target() -> None:
    with account(scenario("blackhole-route")) as (session, s):
        fplan = plan_fixes(session, ("NET004",))
        assert fplan.changes == []
        [refusal] = fplan.refusals
        assert refusal.resource == s.ids["app-private-rt"] and "no obvious live target" in refusal.reason
        assert "aws ec2 delete-route --region eu-south-1" in refusal.reason


def test_incident_fixed_by_subnet_make_public(tmp_path: Path) -> None:
    with account(scenario("no-default-route")) as (session, s):
        subnet, table, igw = s.ids["app-subnet"], s.ids["app-rt"], s.ids["app-igw"]
        fplan = plan_fixes(session)
        assert [c.cli for c in fplan.changes] == [
            f"aws ec2 create-route --region {REGION} --route-table-id {table} --destination-cidr-block "
            f"0.0.0.0/0 --gateway-id {igw}",
            f"aws ec2 modify-subnet-attribute --region {REGION} --subnet-id {subnet} --map-public-ip-on-launch",
        ]
        apply(session, tmp_path)
        assert fails(check(session)) == [("NET006", REGION)]  # info: no default VPC, by design


def test_plan_asking_for_public_ip_skips_the_subnet_attribute() -> None:
    plan = plan_from_dict({"region": REGION, "public_ip": True})
    with account(scenario("no-default-route")) as (session, _):
        ops = [c.call.operation for c in plan_fixes(session, plan=plan).changes]
        assert ops == ["create_route"]


def test_nat_private_subnet_is_refused_not_exposed() -> None:
    def seed(s: Seeder) -> None:
        s.aws_like_default_vpc()
        ids = s.public_vpc(name="app")
        private = s.subnet(ids["vpc"], "10.0.2.0/24", name="app-private", public_ip=True)
        nat = s.nat(ids["subnet"], "app-nat")
        s.route(s.route_table(ids["vpc"], [private], name="priv-rt"), "0.0.0.0/0", NatGatewayId=nat)

    with account(seed) as (session, s):
        fplan = plan_fixes(session, ("NET002",))
        assert fplan.changes == []
        [refusal] = fplan.refusals
        assert refusal.resource == s.ids["app-private"] and "private by design" in refusal.reason


def test_routes_to_another_vpcs_gateway_get_their_own_and_are_repointed_in_one_run(tmp_path: Path) -> None:
    def seed(s: Seeder) -> None:
        s.aws_like_default_vpc()
        a = s.public_vpc("10.10.0.0/16", "10.10.1.0/24", name="a")
        b = s.vpc("10.11.0.0/16", "b-vpc")
        sub = s.subnet(b, "10.11.1.0/24", name="b-pub", public_ip=True)
        s.route(s.route_table(b, [sub], name="b-rt"), "0.0.0.0/0", GatewayId=a["igw"])

    with account(seed) as (session, s):
        fplan = plan_fixes(session, ("NET003",))
        ops = [(c.fixer, c.call.operation) for c in fplan.changes]
        assert ops == [("igw-attach", "create_internet_gateway"), ("igw-attach", "attach_internet_gateway"),
                       ("igw-attach", "replace_route")]
        assert fplan.changes[1].call.params == {"InternetGatewayId": "$IGW", "VpcId": s.ids["b-vpc"]}
        assert fplan.changes[2].resource == s.ids["b-rt"] and fplan.changes[2].call.params["GatewayId"] == "$IGW"
        apply(session, tmp_path / "1", ("NET003",))
        assert plan_fixes(session, ("NET004",)).changes == []
        assert fails(check(session)) == []


def test_igw_attach_refuses_when_the_vpc_is_unclear() -> None:
    def seed(s: Seeder) -> None:
        s.aws_like_default_vpc()
        s.vpc("10.12.0.0/16", "x-vpc")
        s.vpc("10.13.0.0/16", "y-vpc")
        s.igw(name="loose-igw")

    with account(seed) as (session, s):
        fplan = plan_fixes(session, ("NET003",))
        assert fplan.changes == []
        [refusal] = fplan.refusals
        assert refusal.resource == s.ids["loose-igw"] and "not clear which VPC it belongs to (2 candidates)" in \
            refusal.reason


def lone_main(s: Seeder) -> None:
    """A public subnet alone on its VPC's main route table, which has no default route."""
    s.aws_like_default_vpc()
    vpc = s.vpc("10.9.0.0/16", "lone-vpc")
    s.igw(vpc, "lone-igw")
    s.subnet(vpc, "10.9.1.0/24", name="lone-pub", public_ip=True)
    s.ids["vpc"] = vpc


def test_a_route_added_to_a_main_table_says_so_and_is_not_safe(tmp_path: Path) -> None:
    with account(lone_main) as (session, s):
        vpc, pub, igw = s.ids["vpc"], s.ids["lone-pub"], s.ids["lone-igw"]
        main = s.main_route_table(vpc)
        [change] = plan_fixes(session, ("NET002",)).changes
        assert (change.call.operation, change.resource) == ("create_route", main)
        assert change.call.params == {"RouteTableId": main, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw}
        assert change.safe is False  # the main table is shared with every subnet created later
        assert f"{main} is the main route table of {vpc}" in change.description
        assert "subnets created later" in change.description
        assert pub in change.description
