"""Engine: ruff-style selection, UNKNOWN for unreadable data, exit codes, entry-point plugins."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from preflight import engine
from preflight.errors import PreflightError
from preflight.inventory import model as m


def make_rule(rid: str, needs=(), severity="high", body=None) -> engine.Rule:
    meta = engine.RuleMeta(id=rid, name=f"rule-{rid.lower()}", severity=severity, summary="s",
                           needs=frozenset(needs))

    def check(ctx):
        if body:
            yield from body(ctx)
    return engine.Rule(meta, check)


RULES = {r.id: r for r in (make_rule("NET001"), make_rule("NET002"), make_rule("SG001"), make_rule("SG010"))}


def test_opt_in_rules_run_only_when_named_by_id():
    slow = engine.Rule(engine.RuleMeta(id="IAM005", name="slow", severity="low", summary="s", opt_in=True),
                       lambda ctx: ())
    rules = {**RULES, "IAM005": slow}
    ids = lambda sel, enable=(): sorted(r.id for r in engine.select_rules(rules, sel, [], enable))  # noqa: E731
    assert "IAM005" not in ids([]) and "IAM005" not in ids(["ALL"])
    # a prefix never pulls in an opt-in rule (`--select CMP` must not call RunInstances for CMP006)
    assert "IAM005" not in ids(["IAM"]) and "IAM005" not in ids(["I"])
    assert ids(["IAM005"]) == ["IAM005"] and ids(["iam005", "NET001"]) == ["IAM005", "NET001"]
    # `enable` (a flag such as --dry-run-launch) adds it on top of the selection; ignore still wins
    assert ids([], ["IAM005"]) == ["IAM005", "NET001", "NET002", "SG001", "SG010"]
    assert ids(["NET"], ["IAM005"]) == ["IAM005", "NET001", "NET002"]
    assert sorted(r.id for r in engine.select_rules(rules, [], ["IAM"], ["IAM005"])) == ["NET001", "NET002", "SG001",
                                                                                        "SG010"]


def test_opt_in_is_enforced_by_the_engine_for_cmp006_and_iam005():
    rules = engine.load_rules()
    assert {rid for rid, r in rules.items() if r.meta.opt_in} == {"CMP006", "IAM005"}
    default = {r.id for r in engine.select_rules(rules)}
    assert "CMP006" not in default and "IAM005" not in default and "CMP001" in default
    assert "CMP006" not in {r.id for r in engine.select_rules(rules, ["CMP"])}
    assert "CMP006" in {r.id for r in engine.select_rules(rules, [], [], ["CMP006"])}


@pytest.mark.parametrize("select, ignore, expected", [
    ([], [], ["NET001", "NET002", "SG001", "SG010"]),
    (["NET"], [], ["NET001", "NET002"]),
    (["SG0"], ["SG010"], ["SG001"]),
    (["net002", "SG010"], [], ["NET002", "SG010"]),
    (["ALL"], ["NET"], ["SG001", "SG010"]),
])
def test_select_and_ignore_by_id_or_prefix(select, ignore, expected):
    assert [r.id for r in engine.select_rules(RULES, select, ignore)] == expected


def test_unknown_rule_id_is_an_error():
    with pytest.raises(PreflightError, match="unknown rule id or prefix 'XYZ9'"):
        engine.select_rules(RULES, ["XYZ9"], [])


def test_unreadable_needed_type_gives_unknown_never_pass():
    def always_fail(ctx):
        yield ctx.fail("x", "should not run")

    inv = m.Inventory(region="eu-south-1", unreadable=(
        m.Unreadable("route_tables", "UnauthorizedOperation", "ec2:DescribeRouteTables"),))
    needing = make_rule("NET002", needs={"subnets", "route_tables"}, body=always_fail)
    not_needing = make_rule("SG001", needs={"security_groups"})
    report = engine.run([inv], [needing, not_needing])
    assert [(f.rule, f.status, f.resource) for f in report.findings] == [("NET002", "UNKNOWN", "eu-south-1")]
    assert "ec2:DescribeRouteTables" in report.findings[0].message
    assert "route_tables could not be read" in report.findings[0].message
    assert report.exit_code() == 3


def test_exit_codes_follow_fail_on():
    def fail_medium(ctx):
        yield ctx.fail("subnet-1", "bad")

    inv = m.Inventory(region="r")
    report = engine.run([inv], [make_rule("NET004", severity="medium", body=fail_medium)])
    assert report.exit_code("low") == 1
    assert report.exit_code("medium") == 1
    assert report.exit_code("high") == 0
    assert engine.run([inv], []).exit_code() == 0


def test_builtin_rules_have_complete_metadata():
    rules = engine.load_rules()
    assert rules, "no built-in rules were discovered"
    for rid, r in rules.items():
        assert r.meta.severity in engine.SEVERITIES
        assert r.meta.name == r.meta.name.lower() and " " not in r.meta.name, rid
        assert r.meta.summary and r.meta.doc, f"{rid} needs a summary and a docstring"


def test_entry_point_plugin_is_discovered(tmp_path):
    """A tiny third-party rule package, installed (as a dist-info) only for this subprocess."""
    pkg = tmp_path / "tiny_plugin"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "tiny.py").write_text(textwrap.dedent('''
        from preflight.engine import rule

        @rule(id="ZZZ001", name="tiny-subnet", severity="low", needs={"subnets"},
              summary="Subnet has fewer than 16 free addresses")
        def check(ctx):
            """Flags subnets too small for a cluster."""
            for s in ctx.inventory.subnets:
                if s.available_ip_address_count < 16:
                    yield ctx.fail(s.id, f"{s.id} has {s.available_ip_address_count} free addresses")
    '''))
    dist = tmp_path / "tiny_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[preflight.rules]\ntiny = tiny_plugin.tiny\n")
    code = textwrap.dedent('''
        from preflight import engine
        from preflight.inventory import model as m
        rules = engine.load_rules()
        assert "ZZZ001" in rules, sorted(rules)
        inv = m.Inventory(region="r", subnets=(m.Subnet(id="subnet-9", available_ip_address_count=3),))
        report = engine.run([inv], [rules["ZZZ001"]])
        print([(f.rule, f.resource, f.message) for f in report.findings])
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert "('ZZZ001', 'subnet-9', 'subnet-9 has 3 free addresses')" in out.stdout


def test_rule_and_fixer_registries_agree_when_they_load():
    from preflight import fix

    fixers = fix.load_fixers()  # raises if the built-in rules and fixers disagree
    rules = engine.load_rules()
    assert all(rid in fixers[r.meta.fixer].meta.fixes for rid, r in rules.items() if r.meta.fixer)
    fixes = {f.meta.id: f.meta.fixes for f in fixers.values()}
    engine.check_fixers(rules, fixes)
    wrong = {**fixes, "route-replace-blackhole": ("NET003",)}  # NET004 names it, but it no longer lists NET004
    with pytest.raises(PreflightError, match="rule NET004 names fixer 'route-replace-blackhole', whose fixes= "
                                             "does not list NET004"):
        engine.check_fixers(rules, wrong)
    with pytest.raises(PreflightError, match="fixer 'x' fixes unknown rule NET999"):
        engine.check_fixers(rules, {**fixes, "x": ("NET999",)})
    with pytest.raises(PreflightError, match="names fixer 'sg-open-missing-ports', which is not registered"):
        engine.check_fixers(rules, {k: v for k, v in fixes.items() if k != "sg-open-missing-ports"})
