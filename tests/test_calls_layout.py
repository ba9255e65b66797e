"""The call log's modules stay small, acyclic and apart from the callbacks.

Issue 8 found `jobs` <-> `jobs_records` importing each other (one side
deferred to dodge the cycle) and RQ jobs named by dotted strings; these
tests keep both from coming back.
"""

from __future__ import annotations

import ast
from pathlib import Path

import callrouter

ROOT = Path(callrouter.__file__).parent
CALLS = ROOT / "calls"
MAX_LINES = 400


def _module(path: Path) -> str:
    return "callrouter." + ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _imports(path: Path) -> set[str]:
    """Every callrouter module a file imports, at any depth (deferred imports count)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("callrouter")
        ):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(
                    candidate
                    if (ROOT / "/".join(candidate.split(".")[1:])).with_suffix(".py").exists()
                    else node.module
                )
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("callrouter"))
    return found


def _graph() -> dict[str, set[str]]:
    return {_module(p): _imports(p) for p in ROOT.rglob("*.py")}


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_no_call_log_module_is_part_of_an_import_cycle() -> None:
    graph = _graph()
    cycles = {
        name: _cycle_through(graph, name) for name in graph if name.startswith("callrouter.calls.")
    }
    assert {k: v for k, v in cycles.items() if v} == {}


def test_the_cycle_check_would_notice_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle_through(graph, "a") == ["a", "b", "c", "a"]
    assert _cycle_through(graph, "d") is None


def test_the_call_log_core_never_imports_the_callbacks() -> None:
    """Callbacks are reached through `callrouter.calls.events` seams, injected."""
    for name in ("record", "codec", "reader", "store", "outcomes", "scripts", "events"):
        imported = _imports(CALLS / f"{name}.py")
        assert not {m for m in imported if m.startswith("callrouter.callbacks")}, name


def test_call_log_modules_are_small() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in CALLS.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_no_job_is_named_by_a_dotted_string() -> None:
    for path in ROOT.rglob("*.py"):
        assert '"callrouter.calls.' not in path.read_text(), path
