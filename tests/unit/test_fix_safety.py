"""Fix safety (ruff's idea, issue 13 item 5): which fixers are unsafe and why (their docstrings),
`--apply` makes only safe changes and names what it skipped, `--unsafe-fixes` makes the others, in
`fix` and in `launch --fix`; `preflight fixers` lists safety, rules and permissions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from preflight import fix
from preflight.cli import main
from preflight.collect import sandbox as sb
from preflight.collect.sandbox import Seeder
from preflight.engine import Finding, Fix
from preflight.fixers import SAFETY
from preflight.inventory.model import Inventory
from preflight.plan import plan_from_dict
from tests.unit.netfix_support import REGION, account, plan_fixes, state

# The decisions, pinned in preflight.fixers.SAFETY (which fix hints read without loading the fixers):
# changing one means editing both it and the fixer's decorator (and its docstring says why).
OPENING = {"safe": "Safe.", "unsafe": "Unsafe.", "sometimes-unsafe": "Sometimes unsafe."}


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    out = capsys.readouterr()
    return int(exit_.value.code or 0), out.out, out.err


def test_every_fixer_declares_its_safety_and_its_docstring_says_why() -> None:
    fixers = fix.load_fixers()
    assert {fid: f.meta.safety for fid, f in fixers.items()} == SAFETY
    for fid, f in fixers.items():
        note = f.meta.safety_note()
        assert note.startswith(OPENING[f.meta.safety]), (fid, note)
        assert f.meta.safe is (f.meta.safety == "safe")
        if f.meta.safety != "safe":
            assert "--unsafe-fixes" in note, fid


def test_fixer_safety_must_be_a_known_word() -> None:
    with pytest.raises(ValueError, match="safety 'maybe' is not one of safe, unsafe, sometimes-unsafe"):
        fix.fixer(id="zz-bad", fixes=("SG003",), safety="maybe")  # type: ignore[arg-type]


def change(n: int, fixer_id: str, safe: bool = True) -> fix.Change:
    return fix.Change(fixer=fixer_id, resource=f"sg-{n}", description=f"change {n}",
                      call=fix.Call("ec2", "authorize_security_group_ingress", {"GroupId": f"sg-{n}"}, REGION),
                      undo=None, rules=("ZZZ001",), safe=safe)


def test_build_plan_marks_an_unsafe_fixers_changes_and_a_safe_twin_wins(monkeypatch) -> None:
    def risky(ctx, findings):
        yield change(1, "zz-risky")  # the fixer is unsafe, so this change is, whatever it says
        yield change(2, "zz-risky")

    def careful(ctx, findings):
        yield change(2, "zz-careful")  # the very same call from a safe fixer: applied by --apply

    registry = fix.registry._FIXERS
    monkeypatch.setitem(registry, "zz-careful", fix.Fixer(
        fix.FixerMeta(id="zz-careful", fixes=("ZZZ002",), permissions=(), summary=""), careful))
    monkeypatch.setitem(registry, "zz-risky", fix.Fixer(
        fix.FixerMeta(id="zz-risky", fixes=("ZZZ001",), permissions=(), summary="", safety="unsafe"), risky))
    findings = [Finding(rule=rule, name="n", severity="high", status="FAIL", resource="sg-1", region=REGION,
                        message="m", fix=Fix(fixer=fid)) for rule, fid in (("ZZZ001", "zz-risky"),
                                                                          ("ZZZ002", "zz-careful"))]
    fplan = fix.build_plan(findings, [Inventory(region=REGION)])
    assert [(c.resource, c.fixer, c.safe) for c in fplan.changes] == [
        ("sg-2", "zz-careful", True), ("sg-1", "zz-risky", False)]


def candidates(n: int) -> Callable[[Seeder], None]:
    """No default VPC; one VPC with a gateway and `n` private-looking subnets, each on its own table
    with no default route: NET001 has `n` candidates (with two, making one public is a choice)."""
    def seed(s: Seeder) -> None:
        s.delete_default_vpc()
        vpc = s.vpc("10.9.0.0/16", "cand-vpc")
        s.igw(vpc, "cand-igw")
        for i in range(n):
            sub = s.subnet(vpc, f"10.9.{i}.0/24", name=f"cand-{i}", public_ip=False)
            s.route_table(vpc, [sub], name=f"cand-rt-{i}")
        s.ids["vpc"] = vpc
    return seed


def shared_explicit_table(s: Seeder) -> None:
    """Two public subnets on one explicit table with no default route, in a VPC with no gateway."""
    s.aws_like_default_vpc()
    vpc = s.vpc("10.4.0.0/16", "sh-vpc")
    a = s.subnet(vpc, "10.4.1.0/24", name="sh-a", public_ip=True)
    b = s.subnet(vpc, "10.4.2.0/24", name="sh-b", public_ip=True)
    s.route_table(vpc, [a, b], name="sh-rt")


def own_table(s: Seeder) -> None:
    s.aws_like_default_vpc()
    vpc = s.vpc("10.3.0.0/16", "own-vpc")
    s.igw(vpc, "own-igw")
    a = s.subnet(vpc, "10.3.1.0/24", name="own-a", public_ip=True)
    s.route_table(vpc, [a], name="own-rt")


def test_route_add_default_is_unsafe_as_a_whole_only_on_a_shared_table() -> None:
    with account(shared_explicit_table) as (session, _):
        changes = plan_fixes(session, ("NET002",)).changes
        ops = [c.call.operation for c in changes]
        assert ops == ["create_internet_gateway", "attach_internet_gateway", "create_route"]
        assert [c.safe for c in changes] == [False, False, False]  # no gateway made for a route not added
    with account(own_table) as (session, _):
        changes = plan_fixes(session, ("NET002",)).changes
        assert [(c.call.operation, c.safe) for c in changes] == [("create_route", True)]


@pytest.mark.parametrize("seed, safe", [(candidates(1), True), (candidates(2), False)])
def test_subnet_make_public_is_unsafe_when_it_picks_among_candidates(seed, safe) -> None:
    with account(seed) as (session, s):
        plan = plan_from_dict({"region": REGION, "vpc": s.ids["vpc"]})
        changes = plan_fixes(session, ("NET001",), plan).changes
        assert [c.call.operation for c in changes] == ["create_route", "modify_subnet_attribute"]
        assert {c.safe for c in changes} == {safe}


@pytest.fixture
def two_candidate_scenario(tmp_path, monkeypatch) -> Iterator[Path]:
    monkeypatch.setenv("PREFLIGHT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PREFLIGHT_JOURNAL_DIR", str(tmp_path / "journal"))
    monkeypatch.setitem(sb.SCENARIOS, "test-two-candidates",
                        sb.Scenario("test-two-candidates", "two candidates", candidates(2)))
    plan = tmp_path / "launch.yaml"
    plan.write_text("name: web\ncloud: aws\nregion: eu-south-1\nports: [8000]\ninstance_type: t3.micro\n"
                    "image: ami-04681a1dbd79675a5\ncount: 1\n")
    yield plan


def test_launch_fix_apply_skips_unsafe_fixes_and_names_the_flag(two_candidate_scenario, capsys) -> None:
    plan = str(two_candidate_scenario)
    args = ("launch", plan, "--sandbox", "test-two-candidates", "--fix", "--select", "NET,SG,PORT")
    code, out, _ = cli(capsys, *args)  # the dry run says so too
    assert code == 1 and "! fix      every change is unsafe: pass --unsafe-fixes to apply them" in out
    assert "(unsafe: skipped without --unsafe-fixes)" in out
    code, out, _ = cli(capsys, *args, "--apply")
    assert code == 1, out
    assert ("! fix      1 blocking finding(s) left after fixing; 2 unsafe change(s) skipped: pass --unsafe-fixes "
            "to apply them") in out
    assert "skipped (unsafe): route 0.0.0.0/0 from rtb-" in out
    assert "✓ run" not in out and not list((two_candidate_scenario.parent / "journal").glob("*.jsonl"))


def test_launch_fix_apply_with_unsafe_fixes_makes_them(two_candidate_scenario, capsys) -> None:
    code, out, _ = cli(capsys, "launch", str(two_candidate_scenario), "--sandbox", "test-two-candidates", "--fix",
                       "--apply", "--unsafe-fixes", "--select", "NET,SG,PORT")
    assert code == 0, out
    assert "✓ fix      2 change(s) applied" in out and "[applied] make subnet-" in out and "✓ verify" in out


def test_fix_apply_in_process_skips_then_applies_with_unsafe_fixes(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PREFLIGHT_JOURNAL_DIR", str(tmp_path / "journal"))
    base = ("fix", "--sandbox", "duplicate-port-rule", "--ports", "8000,8002,8004", "--select", "SG001,SG002",
            "--apply")
    code, out, _ = cli(capsys, *base)
    assert code == 1 and "[skipped] revoke ingress rule(s) sgr-" in out
    assert "Skipped 1 unsafe change(s) of sg-remove-duplicate-rules" in out and "add --unsafe-fixes" in out
    assert "Journal:" not in out and "remaining SG001" in out  # nothing was made, nothing journalled
    code, out, _ = cli(capsys, *base, "--unsafe-fixes")
    assert code == 0 and "[applied] revoke ingress rule(s) sgr-" in out and "remaining none" in out
    code, out, _ = cli(capsys, *base[:-1])  # the dry run marks it
    assert code == 1 and "(unsafe: applied only with --unsafe-fixes)" in out
    assert "--apply will skip 1 unsafe change(s) of sg-remove-duplicate-rules" in out


def test_fixers_listing_table_and_json_agree_with_the_fix_policy(capsys) -> None:
    from preflight.iam_policy import policy_document

    code, out, err = cli(capsys, "fixers", "--format", "json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["schema"] == "preflight-fixers/v1"
    rows = {r["id"]: r for r in data["fixers"]}
    assert {fid: r["safety"] for fid, r in rows.items()} == SAFETY
    fixers = fix.load_fixers()
    for fid, r in rows.items():
        assert r["fixes"] == list(fixers[fid].meta.fixes) and r["fix_safety"].startswith(OPENING[r["safety"]])
        assert r["permissions"] == sorted(set(fixers[fid].meta.permissions))
    granted = {a for s in policy_document("fix")["Statement"] for a in s["Action"]}
    assert set().union(*(r["permissions"] for r in rows.values())) <= granted
    assert rows["sg-remove-duplicate-rules"]["permissions"] == [
        "ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress", "ec2:DescribeSecurityGroupRules",
        "ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress"]

    code, out, _ = cli(capsys, "fixers")
    assert code == 0
    assert "sg-remove-duplicate-rules: unsafe, fixes SG001, SG002\n" in out
    assert "route-add-default: sometimes-unsafe, fixes NET002\n" in out
    assert "igw-attach: safe, fixes NET003, NET004\n" in out
    assert "  permissions: ec2:DescribeRouteTables, ec2:ReplaceRoute\n" in out
    assert "7 fixers (4 unsafe or sometimes unsafe)" in out and "--unsafe-fixes" in out


@pytest.mark.parametrize("argv, message", [
    (("fixers", "--format", "xml"), "preflight: error: --format: unknown format 'xml' (table or json)"),
    (("fixers", "--bogus"), "preflight: error: No such option: --bogus (see `preflight fixers --help`)"),
    (("fixers", "extra"), "preflight: error: Got unexpected extra argument"),
])
def test_fixers_bad_flags_are_one_line_exit_2(capsys, argv, message) -> None:
    code, out, err = cli(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith(message), err


def test_fix_without_unsafe_fixes_changes_nothing_unsafe_in_the_account(tmp_path) -> None:
    """Near miss of the apply tests: --apply on a plan whose only change is unsafe leaves the
    account exactly as it was (compared by snapshot)."""
    from preflight.fix import run_fix
    from preflight.runner import Target, open_target

    with open_target(Target(sandbox="duplicate-port-rule"), None) as source:
        before = state(source.session)
        run = run_fix(source, None, ["SG001", "SG002"], [], apply=True)
        assert [o.status for o in run.outcomes] == ["skipped"] and run.exit_code() == 1
        assert state(source.session) == before and run.journal == ""
        run = run_fix(source, None, ["SG001", "SG002"], [], apply=True, unsafe_fixes=True)
        assert [o.status for o in run.outcomes] == ["applied"] and run.exit_code() == 0
        assert state(source.session) != before
