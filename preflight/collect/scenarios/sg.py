"""Security-group scenarios: the duplicate-port incident and one scenario per SG rule."""

from __future__ import annotations

from typing import Any

from preflight.collect.sandbox import Seeder, scenario


def _tcp(port: int | tuple[int, int], *cidrs: str) -> dict[str, Any]:
    lo, hi = (port, port) if isinstance(port, int) else port
    return {"IpProtocol": "tcp", "FromPort": lo, "ToPort": hi, "IpRanges": [{"CidrIp": c} for c in cidrs]}


@scenario(
    "duplicate-port-rule",
    "A reused, user-made group: all traffic from the VPC, tcp 8000 from the world, tcp 8000 from the VPC "
    "written twice (10.0.0.0/16 and 10.0.5.9/16); the plan needs 8000, 8002, 8004",
    expect=("SG001", "SG002", "SG010"),
    plan={"ports": [8000, 8002, 8004], "security_group": "ml-serving"},
)
def duplicate_port_rule(s: Seeder) -> None:
    """The incident's shape: a `-1` rule plus an 8000 rule, non-contiguous plan ports. AWS rejects
    byte-identical duplicates, but accepts the same network written with host bits set, which is
    how real groups end up with two rules that mean the same thing."""
    s.aws_like_default_vpc()
    ids = s.public_vpc(name="app")
    s.security_group(ids["vpc"], "ml-serving", description="model server (reused)", ingress=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "inside the VPC"}]},
        _tcp(8000, "0.0.0.0/0", "10.0.0.0/16"),
    ])
    # A second permission entry, added later by hand: the same VPC network written from an instance IP.
    s.ec2.authorize_security_group_ingress(GroupId=s.ids["ml-serving"], IpPermissions=[_tcp(8000, "10.0.5.9/16")])


@scenario(
    "admin-port-open",
    "A group opens SSH (22) and PostgreSQL (5432) to 0.0.0.0/0",
    expect=("SG004",),
)
def admin_port_open(s: Seeder) -> None:
    s.aws_like_default_vpc()
    ids = s.public_vpc(name="app")
    s.security_group(ids["vpc"], "db-admin", ingress=[_tcp(22, "0.0.0.0/0"), _tcp(5432, "0.0.0.0/0"),
                                                      _tcp(443, "0.0.0.0/0")])


@scenario(
    "overlapping-ports",
    "A group has tcp 8000-8010 and tcp 8005-8020 for the same office network",
    expect=("SG003",),
)
def overlapping_ports(s: Seeder) -> None:
    s.aws_like_default_vpc()
    ids = s.public_vpc(name="app")
    s.security_group(ids["vpc"], "web", ingress=[_tcp((8000, 8010), "203.0.113.0/24"),
                                                 _tcp((8005, 8020), "203.0.113.0/24")])


@scenario(
    "sg-rule-quota",
    "A group with 59 inbound rules; the plan needs two more ports (quota 60)",
    expect=("SG005", "SG010"),
    plan={"ports": [9001, 9003], "security_group": "crowded", "source_cidr": "198.51.100.0/24"},
)
def sg_rule_quota(s: Seeder) -> None:
    s.aws_like_default_vpc()
    ids = s.public_vpc(name="app")
    gid = s.security_group(ids["vpc"], "crowded")
    s.ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        _tcp(10000 + 2 * i, "198.51.100.0/24") for i in range(59)])


@scenario(
    "stale-group-reference",
    "An app group allows PostgreSQL from a database-admin group that lives in another, unpeered VPC",
    expect=("SG006",),
)
def stale_group_reference(s: Seeder) -> None:
    s.aws_like_default_vpc()
    app = s.public_vpc(name="app")
    other = s.vpc("10.9.0.0/16", "ops-vpc")
    ops = s.security_group(other, "ops-admins")
    s.security_group(app["vpc"], "app", ingress=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": ops}]}])
