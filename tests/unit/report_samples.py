"""A small, fixed Report used by the reporter tests: two rules, a FAIL with a fix, an UNKNOWN, an
info FAIL, one unreadable type, and text that needs escaping in every format."""

from __future__ import annotations

from preflight.engine import Finding, Fix, Report, Rule, RuleMeta
from preflight.inventory.model import Inventory, Unreadable

NET002 = RuleMeta(
    id="NET002", name="subnet-without-default-route", severity="high",
    summary="Public subnet has no default route to an attached internet gateway",
    references=("https://docs.aws.amazon.com/vpc/latest/userguide/route-table-options.html",),
    fixer="route-add-default",
    doc="What it does\n  Finds public subnets without a default route.\n\nWhy is this bad?\n  Launches hang.\n\n"
        "Example\n  Fix: add 0.0.0.0/0 -> igw-… to the subnet's route table",
)
NET006 = RuleMeta(id="NET006", name="no-default-vpc", severity="info",
                  summary="The region has no default VPC")
SG001 = RuleMeta(id="SG001", name="plan-port-not-open", severity="medium", summary="A port the plan needs is closed")


def _noop(ctx):  # pragma: no cover - never run
    return ()


def sample_report(findings: bool = True) -> Report:
    inv = Inventory(account="123456789012", region="eu-south-1", source="sandbox:test",
                    unreadable=(Unreadable("network_acls", "UnauthorizedOperation", "ec2:DescribeNetworkAcls"),))
    fail = Finding(
        rule="NET002", name=NET002.name, severity="high", status="FAIL", resource="subnet-0abc",
        region="eu-south-1", account="123456789012",
        message="subnet subnet-0abc maps public IPs but rtb-1 has no 0.0.0.0/0 route | 100% <b>",
        path=("subnet-0abc", "rtb-1", "igw-9"),
        fix=Fix(fixer="route-add-default",
                commands=("aws ec2 create-route --route-table-id rtb-1 --destination-cidr-block 0.0.0.0/0 "
                          "--gateway-id igw-9",),
                description="add a default route to igw-9"),
    )
    unknown = Finding(rule="SG001", name=SG001.name, severity="medium", status="UNKNOWN", resource="eu-south-1",
                      region="eu-south-1", account="123456789012",
                      message="cannot evaluate: security_groups could not be read (UnauthorizedOperation)\nline2")
    info = Finding(rule="NET006", name=NET006.name, severity="info", status="FAIL", resource="eu-south-1",
                   region="eu-south-1", account="123456789012", message="eu-south-1 has no default VPC, a: b, c")
    rules = [Rule(m, _noop) for m in (NET002, NET006, SG001)]
    return Report(findings=[fail, unknown, info] if findings else [], inventories=[inv], rules=rules)
