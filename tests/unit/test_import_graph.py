"""The import graph of the installed package (issue 13 item 3): no cycles, and rules and semantics
never import the layers above them (collect, fix, launch, report, cli). Read from the source with
`ast`, so an import inside a function counts as much as one at the top of a module."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

# Top-level packages preflight installs (issue 12 moves `rules`/`fixers` under `preflight.`).
ROOTS = [name for name in ("preflight", "rules", "fixers") if importlib.util.find_spec(name) is not None]
FORBIDDEN_FOR_PURE = ("collect", "fix", "fixers", "launch", "report", "cli", "runner", "api")


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for root in ROOTS:
        spec = importlib.util.find_spec(root)
        assert spec is not None and spec.submodule_search_locations
        base = Path(next(iter(spec.submodule_search_locations)))
        for path in base.rglob("*.py"):
            rel = path.relative_to(base).with_suffix("")
            parts = [root, *rel.parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, top_level_only: bool = False) -> set[str]:
    """The package modules `name` imports (an `import a.b.c` names a.b.c; `from a.b import c` names
    a.b.c when that is a module, else a.b). Imports under `if TYPE_CHECKING:` never run."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if top_level_only and inner:
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for a in child.names:
                    found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base)
            visit(child, inner)

    visit(tree, False)
    # `import a.b.c` also imports a and a.b, except the packages `name` itself lives in: those run before
    # it does, so a sibling import (`preflight.fix.apply` -> `preflight.fix.journal`) passes through a
    # package that is already there. An explicit `from a.b import X` still counts as importing a.b.
    own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    closed = set()
    for mod in found:
        parts = mod.split(".")
        closed.update(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) not in own)
        closed.add(mod)
    return {m for m in closed if m in MODULES and m != name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = dfs(node)
            if found:
                return found
    return None


def test_the_walk_sees_the_package() -> None:
    assert {"preflight.engine", "preflight.semantics.routes", "preflight.collect.aws"} <= set(MODULES)
    assert any(m.endswith("net001_no_usable_subnet") for m in MODULES)
    assert "preflight.inventory.model" in imports_of("preflight.engine")


def test_no_import_cycle_at_import_time() -> None:
    """A module-level cycle makes import order matter (and breaks `import preflight.x` alone)."""
    graph = {name: imports_of(name, top_level_only=True) for name in MODULES}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_no_import_cycle_even_through_lazy_imports_of_the_core() -> None:
    """Inside functions too, the pure core (engine, semantics, inventory, plan, scope, settings...) never
    reaches back up: `semantics -> engine -> graph -> semantics` was one such cycle."""
    core = {n for n in MODULES if n.startswith(("preflight.semantics", "preflight.inventory"))
            or n in ("preflight.engine", "preflight.graph", "preflight.scope", "preflight.settings",
                     "preflight.plan", "preflight.errors", "preflight.permissions", "preflight.permcache")}
    graph = {name: {m for m in imports_of(name) if m in core} for name in core}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] in ("rules", "fixers"):
        return parts[0]
    return parts[1] if len(parts) > 1 else ""


PURE = sorted(n for n in MODULES if _layer(n) in ("rules", "semantics") and not n.startswith("preflight.rules._"))


@pytest.mark.parametrize("name", PURE)
def test_rules_and_semantics_never_import_collect_fix_launch_report_or_cli(name: str) -> None:
    forbidden = FORBIDDEN_FOR_PURE + (("engine",) if _layer(name) == "semantics" else ())
    bad = sorted(m for m in imports_of(name) if _layer(m) in forbidden)
    assert bad == [], f"{name} imports {bad}: rules name the data they need (`needs=`), semantics stay pure"


def test_a_forbidden_import_is_caught(tmp_path: Path) -> None:
    """Near miss for the walk itself: a rule that imports a collector inside its function is found."""
    fake = tmp_path / "rule.py"
    fake.write_text("def check(ctx):\n    import preflight.collect.aws_iam\n    from preflight.fix import Call\n")
    MODULES["rules.zz_fake"] = fake
    try:
        assert {"preflight.collect.aws_iam", "preflight.fix"} <= imports_of("rules.zz_fake")
        assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
        # a submodule importing its sibling is fine; importing a name from its own package is a cycle
        sub = tmp_path / "sub.py"
        sub.write_text("from preflight.fix.journal import Journal\nfrom preflight.fix import Change\n")
        MODULES["preflight.fix.zz_sub"] = sub
        assert "preflight.fix.journal" in imports_of("preflight.fix.zz_sub", top_level_only=True)
        sub.write_text("from preflight.fix.journal import Journal\n")
        assert "preflight.fix" not in imports_of("preflight.fix.zz_sub", top_level_only=True)
        sub.write_text("from preflight.fix import Change\n")
        assert "preflight.fix" in imports_of("preflight.fix.zz_sub", top_level_only=True)
    finally:
        del MODULES["rules.zz_fake"]
        MODULES.pop("preflight.fix.zz_sub", None)
