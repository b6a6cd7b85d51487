from __future__ import annotations

import dataclasses
import datetime as dt
import textwrap
from pathlib import Path

import pytest

from preflight.config import ConfigError, Suppression, find_config, load_config
from preflight.engine import Finding
from tests.unit.report_samples import sample_report

TODAY = dt.date(2026, 6, 1)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


FULL = """
[tool.preflight]
select = ["NET", "SG"]
ignore = "NET006"
fail-on = "medium"
admin-ports = [3389, 22, 22]

[tool.preflight.severity]
NET005 = "low"

[tool.preflight.quotas]
sg-rule-quota = {inbound = 120}

[tool.preflight.options]
max-fanout = 3

[[tool.preflight.suppress]]
rule = "NET002"
resource = "subnet-0a*"
reason = "bastion subnet, public IP from an EIP"
expires = 2026-12-31

[[tool.preflight.suppress]]
rule = "SG"
resource = "*"
reason = "legacy account"
region = "us-*"
"""


def test_pyproject_table_is_read(tmp_path):
    cfg = load_config(write(tmp_path / "pyproject.toml", FULL))
    assert cfg.select == ["NET", "SG"] and cfg.ignore == ["NET006"] and cfg.fail_on == "medium"
    assert cfg.admin_ports == [22, 3389]
    assert cfg.severity == {"NET005": "low"}
    assert cfg.rule_options() == {"max_fanout": 3, "severity_overrides": {"NET005": "low"},
                                  "quotas": {"sg-rule-quota": {"inbound": 120}}, "admin_ports": [22, 3389],
                                  "sg_rule_quota": {"inbound": 120}}
    first, second = cfg.suppressions
    assert first == Suppression("NET002", "subnet-0a*", "bastion subnet, public IP from an EIP",
                                dt.date(2026, 12, 31), where=f"{tmp_path}/pyproject.toml:16")
    assert second.region == "us-*" and second.expires is None and second.where.endswith(":22")


def test_lookup_walks_up_and_dotfile_wins(tmp_path):
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    write(tmp_path / "pyproject.toml", FULL)
    write(tmp_path / "a" / "pyproject.toml", "[project]\nname = 'x'\n")  # no [tool.preflight]: skipped
    assert find_config(deep) == tmp_path / "pyproject.toml"
    write(tmp_path / "a" / ".preflight.toml", 'select = ["NET001"]\n')
    assert find_config(deep) == tmp_path / "a" / ".preflight.toml"
    assert load_config(start=deep).select == ["NET001"]


def test_no_config_anywhere_is_empty(tmp_path):
    cfg = load_config(start=tmp_path)
    assert cfg.path is None and cfg.suppressions == [] and cfg.rule_options()["quotas"] == {}


@pytest.mark.parametrize(("name", "text", "expected"), [
    (".preflight.toml", 'select = ["NET"\nfail-on = "x"\n', ":2: invalid TOML"),
    (".preflight.toml", 'select = ["NET"]\nfail_on = "high"\n', ":2: unknown key 'fail_on' (did you mean 'fail-on'?)"),
    (".preflight.toml", 'fail-on = "severe"\n',
     ":1: fail-on: 'severe' is not one of info, low, medium, high, critical"),
    (".preflight.toml", '\nadmin-ports = [22, 70000]\n', ":2: admin-ports must be a list of port numbers 1-65535"),
    (".preflight.toml", 'select = [1]\n', ":1: select must be a list of rule ids or prefixes"),
    (".preflight.toml", '[severity]\nNET001 = "low"\nNET002 = "urgent"\n', ":3: severity.NET002: 'urgent' is not"),
    (".preflight.toml", '[quotas]\nvcpus = "many"\n', ":2: quotas.vcpus: expected a non-negative number"),
    (".preflight.toml", '[[suppress]]\nrule = "NET002"\nresource = "subnet-1"\n\n[[suppress]]\nrule = "NET002"\n'
     'resource = "x"\n', ":1: suppress: 'reason' is required and must be a non-empty string (say why"),
    (".preflight.toml", '[[suppress]]\nrule = "NET002"\nresource = "subnet-1"\nreason = "ok"\n\n[[suppress]]\n'
     'rule = "NET002"\nresource = "x"\nreason = "  "\n', ":6: suppress: 'reason' is required"),
    (".preflight.toml", '[[suppress]]\nrule = "NET002"\nresource = "s"\nreason = "r"\nexpires = "next week"\n',
     ":5: suppress: expires 'next week' is not a date (YYYY-MM-DD)"),
    (".preflight.toml", '[[suppress]]\nrule = "NET002"\nresource = "s"\nreason = "r"\nuntil = 2026-01-01\n',
     ":5: suppress: unknown key 'until'"),
    ("pyproject.toml", '[project]\nname = "x"\n', ":1: no [tool.preflight] table"),
    ("pyproject.toml", '[project]\nname = "x"\n\n[tool.preflight]\nselect = ["NET"]\nbogus = 1\n',
     ":6: unknown key 'bogus' (known keys:"),
])
def test_malformed_config_names_file_line_and_problem(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path}{expected}"), str(exc.value)


def test_missing_explicit_config(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_unknown_rule_code_in_config_names_the_line(tmp_path):
    from preflight.engine import load_rules

    cfg = load_config(write(tmp_path / ".preflight.toml", 'select = ["NET"]\nignore = ["XYZ9"]\n'))
    with pytest.raises(ConfigError, match=r"\.preflight\.toml:2: ignore: unknown rule id or prefix 'XYZ9'"):
        cfg.check_rule_codes(load_rules())
    cfg = load_config(write(tmp_path / ".preflight.toml", 'select = ["NET"]\n'))
    cfg.check_rule_codes(load_rules())


SUPPRESS = """
[[suppress]]
rule = "NET002"
resource = "subnet-0a*"
reason = "accepted until the migration"
expires = {expires}
"""


def test_active_suppression_drops_the_matching_finding_only(tmp_path):
    cfg = load_config(write(tmp_path / ".preflight.toml", SUPPRESS.format(expires="2026-06-01")))
    report = sample_report()
    warnings = cfg.apply_suppressions(report, today=TODAY)  # the expiry day itself still suppresses
    assert warnings == []
    assert [f.rule for f in report.findings] == ["SG001", "NET006"]
    assert report.gate.suppressed == [{
        "rule": "NET002", "resource": "subnet-0abc", "region": "eu-south-1", "account": "123456789012",
        "reason": "accepted until the migration", "where": f"{tmp_path}/.preflight.toml:1",
        "expires": "2026-06-01"}]


def test_near_miss_resource_glob_does_not_suppress(tmp_path):
    cfg = load_config(write(tmp_path / ".preflight.toml", SUPPRESS.format(expires="2027-01-01")))
    report = sample_report()
    report.findings[0] = dataclasses.replace(report.findings[0], resource="subnet-0bcd")
    cfg.apply_suppressions(report, today=TODAY)
    assert [f.resource for f in report.findings][0] == "subnet-0bcd"


def test_expired_suppression_stops_suppressing_and_says_so(tmp_path):
    cfg = load_config(write(tmp_path / ".preflight.toml", SUPPRESS.format(expires="2026-05-31")))
    report = sample_report()
    warnings = cfg.apply_suppressions(report, today=TODAY)
    assert warnings == [f"{tmp_path}/.preflight.toml:1: suppression of NET002 on subnet-0a* expired on 2026-05-31 "
                        "(accepted until the migration); it no longer suppresses: renew `expires` or remove it"]
    back = report.findings[0]
    assert back.rule == "NET002" and back.resource == "subnet-0abc"
    assert back.message.endswith("(suppression expired on 2026-05-31: accepted until the migration; "
                                 f"see {tmp_path}/.preflight.toml:1)")
    assert back.details["suppression_expired"]["expires"] == "2026-05-31"
    assert report.exit_code("low") == 1


def test_suppression_rule_prefix_glob_region_and_account():
    f = Finding(rule="SG010", name="n", severity="high", status="FAIL", resource="sg-1", region="us-east-1",
                account="111122223333", message="m")
    assert Suppression("SG", "*", "r").matches(f)
    assert Suppression("SG0*", "sg-?", "r", region="us-*").matches(f)
    assert not Suppression("SG", "*", "r", region="eu-*").matches(f)
    assert not Suppression("SG", "*", "r", account="999*").matches(f)
    assert not Suppression("NET", "*", "r").matches(f)
    assert not Suppression("SG01", "sg-10", "r").matches(f)


def _world_group(*ports: int):
    from preflight.inventory.model import Inventory, SecurityGroup, SecurityGroupRule

    rules = tuple(SecurityGroupRule(id=f"sgr-{p}", group_id="sg-1", ip_protocol="tcp", from_port=p, to_port=p,
                                    cidr_ipv4="0.0.0.0/0") for p in ports)
    return Inventory(account="1", region="eu-south-1", security_groups=(
        SecurityGroup(id="sg-1", group_name="web", vpc_id="vpc-1", rules=rules),))


def test_config_reaches_rules_admin_ports_and_quotas(tmp_path):
    from preflight import engine

    all_rules = engine.load_rules()
    inv = _world_group(8080, 8081)
    chosen = engine.select_rules(all_rules, ["SG004", "SG005"])
    plain = engine.run([inv], chosen, None, load_config(start=tmp_path).rule_options())
    assert [f.rule for f in plain.findings] == []  # 8080 is no admin port; 2 rules is far under 60
    cfg = load_config(write(tmp_path / ".preflight.toml", """
        admin-ports = [8080]
        [quotas]
        sg-rule-quota = 1
        [severity]
        SG005 = "critical"
        """))
    report = engine.run([inv], chosen, None, cfg.rule_options())
    got = {(f.rule, f.resource, f.severity) for f in report.findings}
    assert got == {("SG004", "sg-1", "high"), ("SG005", "sg-1", "critical")}
    sg004 = next(f for f in report.findings if f.rule == "SG004")
    assert "8080" in sg004.message and "sgr-8080" in sg004.message and "sgr-8081" not in sg004.message


def test_json_lists_suppressed_findings_with_their_reason(tmp_path):
    import json

    from preflight.report import render

    cfg = load_config(write(tmp_path / ".preflight.toml", SUPPRESS.format(expires="2027-01-01")))
    report = sample_report()
    cfg.apply_suppressions(report, today=TODAY)
    doc = json.loads(render(report, "json"))
    assert [(s["rule"], s["resource"], s["reason"]) for s in doc["suppressed"]] == [
        ("NET002", "subnet-0abc", "accepted until the migration")]
    assert "NET002" not in [f["rule"] for f in doc["findings"]]


def test_unreadable_pyproject_on_the_way_up_is_skipped(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.preflight]\nselect = ['NET']\n")
    inner = tmp_path / "a"
    inner.mkdir()
    locked = inner / "pyproject.toml"
    locked.write_text("[tool.preflight]\n")
    real = Path.read_text

    def read_text(self, *args, **kwargs):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    assert find_config(inner) == tmp_path / "pyproject.toml"
