"""The fixer framework: CLI rendering of calls, journal-before-call, stop on failure, --max-changes,
guard/recover/undo hooks, the registry and plan building. No AWS: a fake session records calls."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from preflight import fix
from preflight.engine import Finding, Fix
from preflight.errors import PreflightError
from preflight.inventory.model import Inventory


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "Op")


class FakeClient:
    def __init__(self, session: FakeSession) -> None:
        self.session = session

    def __getattr__(self, operation: str) -> Any:
        def call(**params: Any) -> dict[str, Any]:
            s = self.session
            # the journal's last line must be the `begin` of this very call
            last = json.loads(s.journal.path.read_text().splitlines()[-1])
            assert last["event"] == "begin" and last["change"]["call"]["params"] == params
            s.calls.append((operation, params))
            outcome = s.script.pop(0) if s.script else {}
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        return call


class FakeSession:
    def __init__(self, journal: fix.Journal, script: list[Any] | None = None) -> None:
        self.journal = journal
        self.script = list(script or [])
        self.calls: list[tuple[str, dict]] = []

    def client(self, service: str, region: str) -> FakeClient:
        return FakeClient(self)


def change(n: int, **kw: Any) -> fix.Change:
    return fix.Change(
        fixer="test-fixer", resource=f"sg-{n}", description=f"change {n}",
        call=fix.Call("ec2", "authorize_security_group_ingress", {"GroupId": f"sg-{n}"}, "eu-south-1"),
        undo=fix.Call("ec2", "revoke_security_group_ingress", {"GroupId": f"sg-{n}"}, "eu-south-1"),
        permissions=("ec2:AuthorizeSecurityGroupIngress",), rules=("SG010",), **kw)


def events(journal: fix.Journal) -> list[tuple[str, int]]:
    return [(e["event"], e.get("seq", 0)) for e in fix.read_journal(journal.path)]


@pytest.fixture
def journal(tmp_path) -> fix.Journal:
    return fix.Journal(directory=tmp_path / "journal", header={"command": "test"})


def test_aws_cli_renders_an_exact_command():
    assert fix.aws_cli("ec2", "revoke_security_group_ingress",
                       {"GroupId": "sg-1", "SecurityGroupRuleIds": ["sgr-a", "sgr-b"]}, "eu-south-1") == (
        "aws ec2 revoke-security-group-ingress --region eu-south-1 --group-id sg-1 --security-group-rule-ids sgr-a "
        "sgr-b")
    cmd = fix.aws_cli("ec2", "authorize_security_group_ingress",
                      {"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 8002}]})
    assert cmd == ("aws ec2 authorize-security-group-ingress --group-id sg-1 "
                   "--ip-permissions '[{\"IpProtocol\":\"tcp\",\"FromPort\":8002}]'")
    assert fix.aws_cli("ec2", "modify_subnet_attribute", {"SubnetId": "subnet-1", "Ipv6Native": True}) == \
        "aws ec2 modify-subnet-attribute --subnet-id subnet-1 --ipv6-native"


def test_each_call_is_journalled_before_it_is_made_and_its_outcome_after(journal):
    session = FakeSession(journal, [{"SecurityGroupRules": []}, {}])
    outcomes = fix.apply_changes([change(1), change(2)], session, journal)
    assert [o.status for o in outcomes] == ["applied", "applied"]
    assert [op for op, _ in session.calls] == ["authorize_security_group_ingress"] * 2
    assert events(journal) == [("run", 0), ("begin", 1), ("done", 1), ("begin", 2), ("done", 2)]
    lines = fix.read_journal(journal.path)
    assert lines[0]["command"] == "test" and lines[0]["version"] == 1
    assert lines[1]["change"]["undo"]["operation"] == "revoke_security_group_ingress"
    assert lines[1]["change"]["permissions"] == ["ec2:AuthorizeSecurityGroupIngress"]
    assert lines[2]["undo"]["params"] == {"GroupId": "sg-1"}
    assert journal.path.parent.name == "journal" and journal.path.suffix == ".jsonl"


def test_a_failure_stops_the_run_and_the_journal_is_exact(journal):
    session = FakeSession(journal, [{}, client_error("UnauthorizedOperation")])
    outcomes = fix.apply_changes([change(1), change(2), change(3)], session, journal)
    assert [o.status for o in outcomes] == ["applied", "failed", "not-attempted"]
    assert outcomes[1].error == "UnauthorizedOperation"
    assert events(journal) == [("run", 0), ("begin", 1), ("done", 1), ("begin", 2), ("failed", 2)]
    assert len(session.calls) == 2


def test_max_changes_refuses_the_whole_plan_before_any_call(journal):
    session = FakeSession(journal)
    with pytest.raises(PreflightError, match="3 changes, more than --max-changes 2; nothing was changed"):
        fix.apply_changes([change(1), change(2), change(3)], session, journal, max_changes=2)
    assert session.calls == [] and not journal.path.exists()
    assert [o.status for o in fix.apply_changes([change(1)], FakeSession(journal), journal, max_changes=1)] == \
        ["applied"]


def test_recover_already_means_success_with_nothing_to_undo(journal):
    c = change(1, recover=lambda actx, ch, exc: fix.ALREADY)
    outcomes = fix.apply_changes([c], FakeSession(journal, [client_error("InvalidPermission.Duplicate")]), journal)
    assert outcomes[0].status == "already" and outcomes[0].error == "InvalidPermission.Duplicate"
    last = fix.read_journal(journal.path)[-1]
    assert last["event"] == "already" and last["undo"] is None


def test_recover_can_narrow_and_retry_and_gives_up_after_max_attempts(journal):
    narrowed = replace(change(1), call=fix.Call("ec2", "authorize_security_group_ingress",
                                                {"GroupId": "sg-1", "Narrow": 1}, "eu-south-1"))
    c = change(1, recover=lambda actx, ch, exc: narrowed)
    session = FakeSession(journal, [client_error("InvalidPermission.Duplicate"), {}])
    outcomes = fix.apply_changes([c], session, journal)
    assert outcomes[0].status == "applied" and outcomes[0].change.call.params["Narrow"] == 1
    assert events(journal)[1:] == [("begin", 1), ("retry", 1), ("begin", 2), ("done", 2)]

    again = change(2, recover=lambda actx, ch, exc: ch)  # conflicts forever
    session = FakeSession(journal, [client_error("InvalidPermission.Duplicate")] * 5)
    out = fix.apply_changes([again], session, journal)
    assert out[0].status == "failed" and "after 3 attempts" in out[0].error and len(session.calls) == 3


def test_recover_none_fails_and_guard_none_skips_without_a_call(journal):
    c = change(1, recover=lambda actx, ch, exc: None)
    assert fix.apply_changes([c], FakeSession(journal, [client_error("Throttled")]), journal)[0].status == "failed"
    session = FakeSession(journal)
    skipped = fix.apply_changes([change(2, guard=lambda actx, ch: None)], session, journal)
    assert skipped[0].status == "already" and session.calls == []


def test_undo_from_response_refines_the_journalled_undo(journal):
    by_ids = fix.Call("ec2", "revoke_security_group_ingress", {"GroupId": "sg-1", "SecurityGroupRuleIds": ["sgr-9"]})
    c = change(1, undo_from_response=lambda resp: by_ids if resp.get("ok") else None)
    fix.apply_changes([c], FakeSession(journal, [{"ok": True}]), journal)
    assert fix.read_journal(journal.path)[-1]["undo"]["params"]["SecurityGroupRuleIds"] == ["sgr-9"]


def test_read_journal_names_a_damaged_line(tmp_path):
    p = tmp_path / "j.jsonl"
    p.write_text('{"event": "run"}\nnot json\n{"event": "begin", "seq": 1}\n')  # (a torn *last* line is in doubt)
    with pytest.raises(PreflightError, match="j.jsonl:2: not a JSON line"):
        fix.read_journal(p)
    with pytest.raises(PreflightError, match="journal not found"):
        fix.read_journal(tmp_path / "missing.jsonl")


def test_journal_dir_follows_xdg_state_home_and_the_override(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert fix.journal_dir() == tmp_path / "state" / "preflight" / "journal"
    monkeypatch.setenv("PREFLIGHT_JOURNAL_DIR", str(tmp_path / "j"))
    assert fix.journal_dir() == tmp_path / "j"


# --- registry and planning -------------------------------------------------------------------------

def test_builtin_fixers_are_registered_with_their_contract():
    registry = fix.load_fixers()
    assert {"sg-open-missing-ports", "sg-remove-duplicate-rules"} <= set(registry)
    assert registry["sg-open-missing-ports"].meta.fixes == ("SG010",)
    assert set(registry["sg-remove-duplicate-rules"].meta.fixes) == {"SG001", "SG002"}
    assert "ec2:AuthorizeSecurityGroupIngress" in registry["sg-open-missing-ports"].meta.permissions
    assert [f.id for f in fix.fixers_for("SG010")] == ["sg-open-missing-ports"]
    with pytest.raises(ValueError, match="registered twice"):
        fix.fixer(id="sg-open-missing-ports", fixes=("SG010",))(lambda ctx, findings: [])


def test_entry_point_fixer_plugins_are_loaded(monkeypatch):
    import importlib.metadata as md
    import sys
    import types

    mod = types.ModuleType("plugin_fixer_mod")
    exec("from preflight.fix import fixer\n"
         "@fixer(id='plugin-fixer', fixes=('SG003',), summary='x')\n"  # a known rule: registries must agree
         "def plan(ctx, findings):\n    return []\n", mod.__dict__)
    monkeypatch.setitem(sys.modules, "plugin_fixer_mod", mod)
    ep = md.EntryPoint(name="plugin", value="plugin_fixer_mod", group="preflight.fixers")
    real = md.entry_points
    monkeypatch.setattr(md, "entry_points", lambda **kw: [ep] if kw.get("group") == "preflight.fixers"
                        else real(**kw))
    monkeypatch.setattr(fix.registry, "_LOADED", False)
    try:
        assert "plugin-fixer" in fix.load_fixers()
    finally:
        fix.registry._FIXERS.pop("plugin-fixer", None)

    bad = md.EntryPoint(name="broken", value="no_such_module_xyz", group="preflight.fixers")
    monkeypatch.setattr(md, "entry_points", lambda **kw: [bad] if kw.get("group") == "preflight.fixers"
                        else real(**kw))
    monkeypatch.setattr(fix.registry, "_LOADED", False)
    with pytest.raises(PreflightError, match="fixer plugin 'broken'"):
        fix.load_fixers()
    monkeypatch.setattr(fix.registry, "_LOADED", True)


def finding(rule: str, resource: str, fixer: str | None = None, status: str = "FAIL") -> Finding:
    return Finding(rule=rule, name="n", severity="high", status=status, resource=resource, region="eu-south-1",
                   message="m", fix=Fix(fixer=fixer) if fixer else None)


def test_build_plan_routes_findings_dedupes_calls_and_keeps_refusals(monkeypatch):
    seen: list[list[str]] = []

    def fake_plan(ctx, findings):
        seen.append([f.resource for f in findings])
        assert ctx.region == "eu-south-1" and ctx.option("allow_world") is False and ctx.option("k") == "v"
        yield change(1)
        yield change(1)  # the very same call twice -> once
        yield fix.Refusal("fake", "sg-9", "needs --allow-world")

    meta = fix.FixerMeta(id="fake", fixes=("ZZZ001",), permissions=(), summary="")
    fix.load_fixers()  # first, so the registries' agreement check (ZZZ001 is no rule) ran before "fake" is added
    monkeypatch.setitem(fix.registry._FIXERS, "fake", fix.Fixer(meta, fake_plan))
    inv = Inventory(region="eu-south-1")
    plan = fix.build_plan([finding("ZZZ001", "sg-1"), finding("ZZZ001", "sg-2", "fake"), finding("NET006", "x"),
                           finding("ZZZ001", "sg-3", status="UNKNOWN")], [inv],
                          options={"allow_world": False}, config={"k": "v"})
    assert seen == [["sg-1", "sg-2"]]
    assert [c.resource for c in plan.changes] == ["sg-1"] and plan.refusals[0].reason == "needs --allow-world"
    assert [f.rule for f in plan.unfixable] == ["NET006"] and len(plan.targeted) == 2
    assert plan.permissions == ["ec2:AuthorizeSecurityGroupIngress"]
    only = fix.build_plan([finding("ZZZ001", "sg-1")], [inv], only=["sg-open-missing-ports"])
    assert only.changes == [] and [f.resource for f in only.unfixable] == ["sg-1"]
    assert json.loads(json.dumps(plan.to_dict()))["changes"][0]["cli"].startswith(
        "aws ec2 authorize-security-group-ingress --region eu-south-1")


class StubSource:
    """What run_fix needs of runner.Source: collect() and target.snapshot."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.target = type("T", (), {"snapshot": None})()
        self.session = None

    def collect(self, needs=None, plan=None) -> list[Inventory]:
        return [self.inventory]


def test_unreadable_groups_are_never_a_clean_bill():
    from preflight.inventory.model import Unreadable

    inv = Inventory(region="eu-south-1", unreadable=(
        Unreadable("security_groups", "UnauthorizedOperation", "ec2:DescribeSecurityGroups"),))
    run = fix.run_fix(StubSource(inv), None, ["SG"], [])
    assert run.fix_plan.changes == [] and run.exit_code() == 3
    assert {f.rule for f in run.unknown} == {"SG001", "SG002", "SG010"}
    text = fix.render_fix(run)
    assert "nothing to change." in text and "Could not evaluate 3 check(s), so this is not a clean bill" in text
    assert "ec2:DescribeSecurityGroups" in text
    assert json.loads(fix.render_fix(run, "json"))["exit_code"] == 3
    clean = fix.run_fix(StubSource(Inventory(region="eu-south-1")), None, ["SG"], [])
    assert clean.exit_code() == 0 and clean.unknown == []


def test_a_guard_error_or_a_lost_connection_stops_the_run_with_the_outcomes_kept(journal):
    from botocore.exceptions import EndpointConnectionError

    def gone(actx, ch):
        raise PreflightError("the route table this fix created earlier ($RTB) cannot be found; re-run the fix")

    session = FakeSession(journal, [{}])
    outcomes = fix.apply_changes([change(1), change(2, guard=gone), change(3)], session, journal)
    assert [o.status for o in outcomes] == ["applied", "failed", "not-attempted"]
    assert outcomes[1].error.startswith("the route table this fix created earlier ($RTB) cannot be found")
    assert events(journal) == [("run", 0), ("begin", 1), ("done", 1)] and len(session.calls) == 1

    lost = fix.Journal(directory=journal.directory, header={"command": "test"})
    session = FakeSession(lost, [EndpointConnectionError(endpoint_url="https://ec2.example")])
    outcomes = fix.apply_changes([change(1), change(2)], session, lost)
    assert [o.status for o in outcomes] == ["failed", "not-attempted"]
    assert outcomes[0].error.startswith("EndpointConnectionError: ") and "in doubt" in outcomes[0].error
    assert events(lost) == [("run", 0), ("begin", 1)]  # no outcome line: undo treats it as in doubt


def test_already_done_carries_why_from_a_guard_a_recover_or_a_confirm(journal):
    """"Already exists and equal" is done, and says who did it; a conflict said in words fails."""
    reason = fix.AlreadyDone("made meanwhile, by a concurrent run")
    out = fix.apply_changes([change(1, guard=lambda actx, ch: reason)], FakeSession(journal), journal)
    assert (out[0].status, out[0].error) == ("already", "made meanwhile, by a concurrent run")

    c = change(2, recover=lambda actx, ch, exc: reason)
    out = fix.apply_changes([c], FakeSession(journal, [client_error("RouteAlreadyExists")]), journal)
    assert (out[0].status, out[0].error) == ("already", "RouteAlreadyExists: made meanwhile, by a concurrent run")

    def conflict(actx: Any, ch: fix.Change, exc: Exception) -> None:
        raise PreflightError("0.0.0.0/0 now goes to nat-1, not igw-1")
    out = fix.apply_changes([change(3, recover=conflict)], FakeSession(journal, [client_error("RouteAlreadyExists")]),
                            journal)
    assert (out[0].status, out[0].error) == ("failed", "RouteAlreadyExists: 0.0.0.0/0 now goes to nat-1, not igw-1")

    # confirm: the call answered, but the answer shows someone else's doing: "already", no undo journalled
    c = change(4, confirm=lambda actx, ch, resp: reason if resp.get("existing") else None)
    out = fix.apply_changes([c, change(5, confirm=lambda actx, ch, resp: None)],
                            FakeSession(journal, [{"existing": True}, {}]), journal)
    assert [o.status for o in out] == ["already", "applied"]
    last = fix.read_journal(journal.path)
    assert [(e["event"], e.get("undo") is None) for e in last[-3:]] == [
        ("already", True), ("begin", True), ("done", False)]
