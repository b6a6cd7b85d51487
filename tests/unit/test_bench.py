"""The benchmark's generator plants a known set of faults; every rule run on it finds exactly
those (precision and recall 1.0), so the benchmark measures the rules it claims to."""

from __future__ import annotations

from bench.generate import FAULT_RULES, REGION, Size, build, counts, inventory
from preflight import engine

TINY = Size(vpcs=3, subnets=60, route_tables=15, groups=80, rules=900, instances=20, faults=2)


def test_planted_faults_are_found_and_nothing_else():
    acc = build(TINY)
    inv = inventory(acc)
    c = counts(inv)
    assert c["subnets"] == 60 and c["security_groups"] == 80 and c["security_group_rules"] == 900
    report = engine.run([inv], engine.select_rules(engine.load_rules()))
    got = {(f.rule, f.resource) for f in report.findings}
    assert got == acc.expected
    per_rule = {r for r, _ in acc.expected}
    assert per_rule == set(FAULT_RULES)
    assert ("NET006", REGION) in got
    assert sum(1 for r, _ in acc.expected if r == "SG004") == TINY.faults


def test_generation_is_deterministic():
    assert inventory(build(TINY, seed=3)) == inventory(build(TINY, seed=3))


def test_latency_front_cuts_answers_like_ec2_and_botocore_reads_them():
    """bench/run.py's LatencyMoto cuts moto's whole answer at MaxResults with a token, as EC2
    does; botocore must parse each page, and the pages together must be the whole answer."""
    from botocore import parsers
    from botocore.session import get_session

    from bench.run import Answer, result_sets

    sets = result_sets()
    assert sets["DescribeSecurityGroupRules"] == "securityGroupRuleSet"
    assert sets["DescribeInstances"] == "reservationSet"
    ns = "http://ec2.amazonaws.com/doc/2016-11-15/"
    items = "".join(f"<item><securityGroupRuleId>sgr-{i}</securityGroupRuleId><groupId>sg-1</groupId>"
                    f"<tagSet><item><key>k</key><value>{i}</value></item></tagSet></item>" for i in range(5))
    xml = (f'<DescribeSecurityGroupRulesResponse xmlns="{ns}"><requestId>r</requestId>'
           f"<securityGroupRuleSet>{items}</securityGroupRuleSet></DescribeSecurityGroupRulesResponse>").encode()
    answer = Answer(xml, sets["DescribeSecurityGroupRules"])
    shape = get_session().get_service_model("ec2").operation_model("DescribeSecurityGroupRules").output_shape
    parser = parsers.create_parser("ec2")

    def parse(body: bytes) -> dict:
        return parser.parse({"body": body, "headers": {}, "status_code": 200}, shape)

    first, second = parse(answer.page(0, 3)), parse(answer.page(3, 3))
    assert [r["SecurityGroupRuleId"] for r in first["SecurityGroupRules"]] == ["sgr-0", "sgr-1", "sgr-2"]
    assert first["NextToken"] == "bench:3" and "NextToken" not in second
    assert [r["SecurityGroupRuleId"] for r in second["SecurityGroupRules"]] == ["sgr-3", "sgr-4"]
    assert second["SecurityGroupRules"][1]["Tags"] == [{"Key": "k", "Value": "4"}]  # nested items intact
    assert len(parse(answer.page(0, None))["SecurityGroupRules"]) == 5  # no MaxResults: the whole answer
