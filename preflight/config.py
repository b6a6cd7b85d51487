"""Project configuration: `[tool.preflight]` in pyproject.toml, or a `.preflight.toml`.

Looked up from the current directory upward; in each directory `.preflight.toml` wins over a
pyproject.toml, and a pyproject.toml without a `[tool.preflight]` table is skipped (as ruff does).
`--config FILE` names the file explicitly. Keys (kebab-case):

    select = ["NET", "SG"]            # rule ids or prefixes, like --select
    ignore = ["NET006"]               # like --ignore (the command line adds to these)
    fail-on = "medium"                # like --fail-on (the command line wins)
    admin-ports = [22, 3389, 5432]    # ports rules treat as administrative (ctx.option("admin_ports"))
    ports-ledger = "dynamodb://preflight-ports?region=eu-south-1"   # the replica port ledger (--ledger)
    [severity]                        # severity overrides per rule id
    NET006 = "low"
    [quotas]                          # quota values rules assume, e.g. an account that raised them
    sg-rule-quota = 120               # SG005 (or {inbound = 120, outbound = 60})
    [options]                         # free-form options for rules and plugins
    iam-unused-days = 60              # IAM005
    [[suppress]]                      # accept one finding (or a glob of them), with a reason
    rule = "NET005"                   # id, prefix or glob
    resource = "subnet-0abc*"         # glob
    reason = "bastion subnet: public IP comes from an Elastic IP"
    expires = 2026-12-31              # optional; after this date it stops suppressing
    region = "eu-*"                   # optional glob, default every region
    account = "123456789012"          # optional glob, default every account

(in pyproject.toml the tables are `[tool.preflight.severity]`, `[[tool.preflight.suppress]]`...)

Keys of `[quotas]` and `[options]` reach rules as `ctx.option(name)` with `-` turned into `_`
(`sg-rule-quota` -> `ctx.option("sg_rule_quota")`); all quotas are also `ctx.option("quotas")`.

An expired suppression stops suppressing: the finding comes back, its message says which
suppression expired and when, and a warning line names the file and line of the suppression so it
can be renewed or removed. A malformed file is a PreflightError naming the file, line and problem
(exit 2).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from preflight.engine import SEVERITIES, Finding, Report, Rule, Suppressed
from preflight.errors import PreflightError, read_input

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

CONFIG_NAMES = (".preflight.toml", "pyproject.toml")
KEYS = ("select", "ignore", "fail-on", "admin-ports", "ports-ledger", "severity", "quotas", "options", "suppress")
SUPPRESS_KEYS = ("rule", "resource", "reason", "expires", "region", "account")


class ConfigError(PreflightError):
    pass


@dataclass(frozen=True)
class Suppression:
    rule: str
    resource: str
    reason: str
    expires: dt.date | None = None
    region: str = "*"
    account: str = "*"
    where: str = ""  # "file:line", for messages

    def matches(self, f: Finding) -> bool:
        rule = self.rule.upper()
        rule_ok = f.rule == rule or fnmatchcase(f.rule, rule) or (rule.isalnum() and f.rule.startswith(rule))
        return (rule_ok and fnmatchcase(f.resource, self.resource) and fnmatchcase(f.region, self.region)
                and fnmatchcase(f.account, self.account))

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and today > self.expires

    def describe(self) -> str:
        return f"{self.rule} on {self.resource}"


@dataclass
class Config:
    path: Path | None = None
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    fail_on: str | None = None
    admin_ports: list[int] | None = None
    ports_ledger: str | None = None  # a ledger URL (preflight.ports.parse_ledger_url), checked on load
    severity: dict[str, str] = field(default_factory=dict)
    quotas: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    suppressions: list[Suppression] = field(default_factory=list)
    _locator: _Locator | None = None

    def rule_options(self) -> dict[str, Any]:
        """What rules see through ctx.option(): free-form options plus the typed keys."""
        opts: dict[str, Any] = {k.replace("-", "_"): v for k, v in self.options.items()}
        for k, v in self.quotas.items():
            opts.setdefault(k.replace("-", "_"), v)
        opts["severity_overrides"] = dict(self.severity)
        opts["quotas"] = dict(self.quotas)
        if self.admin_ports is not None:
            opts["admin_ports"] = list(self.admin_ports)
        return opts

    def check_rule_codes(self, all_rules: dict[str, Rule]) -> None:
        """select/ignore/severity name rules that exist (with file and line when they do not)."""
        for key, codes in (("select", self.select), ("ignore", self.ignore), ("severity", list(self.severity))):
            for code in codes:
                c = code.upper()
                if c != "ALL" and not any(rid.startswith(c) for rid in all_rules):
                    line = self._locator.line(key, code if key == "severity" else None) if self._locator else 0
                    raise ConfigError(f"{self.path}:{line}: {key}: unknown rule id or prefix {code!r} "
                                      "(see `preflight rules`)")
        for sup in self.suppressions:  # a suppression naming no rule hides nothing, silently
            pattern = sup.rule.upper()
            if not any(rid == pattern or fnmatchcase(rid, pattern) or (pattern.isalnum() and rid.startswith(pattern))
                       for rid in all_rules):
                raise ConfigError(f"{sup.where}: suppress: unknown rule id, prefix or glob {sup.rule!r} "
                                  "(see `preflight rules`)")

    def apply_suppressions(self, report: Report, today: dt.date | None = None) -> list[str]:
        """Drop suppressed findings from the report; return warning lines (expired suppressions).

        `report.gate.suppressed` lists what was suppressed and why.
        """
        today = today or dt.datetime.now(dt.timezone.utc).date()
        warnings = [f"{s.where}: suppression of {s.describe()} expired on {s.expires} ({s.reason}); "
                    "it no longer suppresses: renew `expires` or remove it"
                    for s in self.suppressions if s.expired(today)]
        if not self.suppressions:
            return warnings
        kept: list[Finding] = []
        suppressed: list[Suppressed] = []
        for f in report.findings:
            active = next((s for s in self.suppressions if not s.expired(today) and s.matches(f)), None)
            if active is not None:
                suppressed.append({"rule": f.rule, "resource": f.resource, "region": f.region,
                                   "account": f.account, "reason": active.reason, "where": active.where,
                                   "expires": active.expires.isoformat() if active.expires else None})
                continue
            lapsed = next((s for s in self.suppressions if s.expired(today) and s.matches(f)), None)
            if lapsed is not None:
                f = replace(f, message=f"{f.message} (suppression expired on {lapsed.expires}: {lapsed.reason}; "
                                       f"see {lapsed.where})",
                            details={**f.details, "suppression_expired": {
                                "expires": lapsed.expires.isoformat() if lapsed.expires else None,
                                "reason": lapsed.reason, "where": lapsed.where}})
            kept.append(f)
        report.findings = kept
        report.gate.suppressed = suppressed
        return warnings


class _Locator:
    """Finds the line of a key in TOML text (tomllib gives values, not positions)."""

    HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")

    def __init__(self, text: str, prefix: tuple[str, ...]) -> None:
        self.lines = text.splitlines()
        self.prefix = prefix

    @staticmethod
    def _name(raw: str) -> tuple[str, ...]:
        return tuple(p.strip().strip("\"'") for p in raw.split("."))

    def line(self, table: str, key: str | None = None, index: int | None = None) -> int:
        """Line of `key` in table `table` (its `index`-th element for an array of tables); without
        `key`, the table's header (or `table = ...` line). Falls back to the nearest known line."""
        full = (*self.prefix, table)
        current: tuple[str, ...] = ()
        count = -1
        header = inline = 0
        key_re = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=") if key else None
        table_re = re.compile(rf"^\s*[\"']?{re.escape(table)}[\"']?\s*=")
        for n, text in enumerate(self.lines, 1):
            m = self.HEADER.match(text)
            if m:
                current = self._name(m.group(2))
                if current == full:
                    count += 1
                    if (index is None or count == index) and not header:
                        header = n
                continue
            if current == self.prefix and not inline and table_re.match(text):
                inline = n
            if key_re and current == full and (index is None or count == index) and key_re.match(text):
                return n
        return header or inline or self._prefix_line()

    def _prefix_line(self) -> int:
        for n, text in enumerate(self.lines, 1):
            m = self.HEADER.match(text)
            if m and self._name(m.group(2)) == self.prefix:
                return n
        return 1


def find_config(start: Path | None = None) -> Path | None:
    """The nearest .preflight.toml, or pyproject.toml with [tool.preflight], from `start` upward."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        dotfile = d / ".preflight.toml"
        if dotfile.is_file():
            return dotfile
        pyproject = d / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text())
            except OSError:
                continue  # unreadable (someone else's directory): not ours to judge
            except (UnicodeDecodeError, tomllib.TOMLDecodeError):
                # A broken pyproject.toml that might be ours: let load_config report it properly.
                if "[tool.preflight" in pyproject.read_text(errors="replace"):
                    return pyproject
                continue
            if "preflight" in data.get("tool", {}):
                return pyproject
    return None


def load_config(path: str | Path | None = None, start: Path | None = None) -> Config:
    """Load `path`, or the nearest config file; an empty Config when there is none."""
    if path is None:
        found = find_config(start)
        if found is None:
            return Config()
        path = found
    p = Path(path)
    return parse_config(read_input(p, "config", ConfigError), p)


def _err(path: Path, line: int, problem: str) -> ConfigError:
    return ConfigError(f"{path}:{line}: {problem}")


def parse_config(text: str, path: Path) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else 1
        problem = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg) or "invalid TOML"
        raise _err(path, line, f"invalid TOML: {problem}") from None
    is_pyproject = path.name == "pyproject.toml"
    prefix: tuple[str, ...] = ("tool", "preflight") if is_pyproject else ()
    if is_pyproject:
        table = data.get("tool", {}).get("preflight")
        if table is None:
            raise _err(path, 1, "no [tool.preflight] table")
        if not isinstance(table, dict):
            raise _err(path, 1, "tool.preflight must be a table")
    else:
        table = data
    loc = _Locator(text, prefix)
    cfg = Config(path=path, _locator=loc)

    for key in table:
        if key not in KEYS:
            hint = {"fail_on": "fail-on", "admin_ports": "admin-ports", "ports_ledger": "ports-ledger",
                    "suppressions": "suppress",
                    "severity_overrides": "severity", "severity-overrides": "severity"}.get(key)
            also = f" (did you mean {hint!r}?)" if hint else f" (known keys: {', '.join(KEYS)})"
            raise _err(path, loc.line(key), f"unknown key {key!r}{also}")

    def codes(key: str) -> list[str]:
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _err(path, loc.line(key), f"{key} must be a list of rule ids or prefixes, e.g. [\"NET\", \"SG001\"]")
        return [c.strip().upper() for v in value for c in v.split(",") if c.strip()]

    cfg.select, cfg.ignore = codes("select"), codes("ignore")
    if "fail-on" in table:
        fail_on = table["fail-on"]
        if fail_on not in SEVERITIES:
            raise _err(path, loc.line("fail-on"), f"fail-on: {fail_on!r} is not one of {', '.join(SEVERITIES)}")
        cfg.fail_on = fail_on
    if "admin-ports" in table:
        ports = table["admin-ports"]
        if not isinstance(ports, list) or not all(isinstance(x, int) and not isinstance(x, bool) and 0 < x < 65536
                                                  for x in ports):
            raise _err(path, loc.line("admin-ports"), "admin-ports must be a list of port numbers 1-65535")
        cfg.admin_ports = sorted(set(ports))
    if "ports-ledger" in table:
        from preflight.ports import PortsError, parse_ledger_url

        value = table["ports-ledger"]
        try:
            parse_ledger_url(value if isinstance(value, str) else repr(value), "ports-ledger")
        except PortsError as exc:
            raise _err(path, loc.line("ports-ledger"), str(exc)) from None
        cfg.ports_ledger = table["ports-ledger"]
    for key in ("severity", "quotas", "options"):
        if key in table and not isinstance(table[key], dict):
            raise _err(path, loc.line(key), f"{key} must be a table")
    for rid, sev in table.get("severity", {}).items():
        if sev not in SEVERITIES:
            raise _err(path, loc.line("severity", rid),
                       f"severity.{rid}: {sev!r} is not one of {', '.join(SEVERITIES)}")
        cfg.severity[rid.upper()] = sev
    def quota_ok(v: Any) -> bool:
        return not isinstance(v, bool) and isinstance(v, (int, float)) and v >= 0

    for name, value in table.get("quotas", {}).items():
        if not (quota_ok(value) or (isinstance(value, dict) and value and all(map(quota_ok, value.values())))):
            raise _err(path, loc.line("quotas", name),
                       f"quotas.{name}: expected a non-negative number (or a table of them), got {value!r}")
        cfg.quotas[name] = value
    cfg.options = dict(table.get("options", {}))

    entries = table.get("suppress", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise _err(path, loc.line("suppress"), "suppress must be an array of tables ([[suppress]])")
    for i, e in enumerate(entries):
        line = loc.line("suppress", None, i)
        for key in e:
            if key not in SUPPRESS_KEYS:
                raise _err(path, loc.line("suppress", key, i) or line,
                           f"suppress: unknown key {key!r} (known: {', '.join(SUPPRESS_KEYS)})")
        for key in ("rule", "resource", "reason"):
            value = e.get(key)
            if not isinstance(value, str) or not value.strip():
                why = " (say why this finding is accepted)" if key == "reason" else ""
                raise _err(path, line, f"suppress: {key!r} is required and must be a non-empty string{why}")
        expires = e.get("expires")
        if isinstance(expires, dt.datetime):
            expires = expires.date()
        elif isinstance(expires, str):
            try:
                expires = dt.date.fromisoformat(expires)
            except ValueError:
                raise _err(path, loc.line("suppress", "expires", i),
                           f"suppress: expires {expires!r} is not a date (YYYY-MM-DD)") from None
        elif expires is not None and not isinstance(expires, dt.date):
            raise _err(path, loc.line("suppress", "expires", i), "suppress: expires must be a date (YYYY-MM-DD)")
        for key in ("region", "account"):
            if key in e and not isinstance(e[key], str):
                raise _err(path, loc.line("suppress", key, i), f"suppress: {key} must be a string (glob)")
        cfg.suppressions.append(Suppression(
            rule=e["rule"].strip(), resource=e["resource"].strip(), reason=e["reason"].strip(), expires=expires,
            region=e.get("region", "*"), account=e.get("account", "*"), where=f"{path}:{line}"))
    return cfg
