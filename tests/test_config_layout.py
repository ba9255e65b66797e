"""The config package stays small and acyclic (issue 8: `config_files` <->
`ivr/config` imported each other through a deferred import of the private
`_Builder`, and `core/calendar` <-> `core/model` through another)."""

from __future__ import annotations

import ast
from pathlib import Path

import callrouter

PROJECT = Path(callrouter.__file__).parent.parent
OWNED = [
    *sorted((PROJECT / "callrouter" / "config").rglob("*.py")),
    *sorted((PROJECT / "callrouter" / "routing").glob("*.py")),
    PROJECT / "ivr" / "config.py",
]
MAX_LINES = 400


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(PROJECT).with_suffix("").parts).removesuffix(".__init__")


def is_module(name: str) -> bool:
    base = PROJECT.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imports(path: Path) -> set[str]:
    """Project modules a file imports, at any depth (a deferred import counts)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.split(".")[0] in {"callrouter", "ivr"} and is_module(name):
                found.add(name)
                break
    return found


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    stack, seen = [start], set()
    while stack:
        for nxt in graph.get(stack.pop(), ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def test_no_config_routing_or_ivr_config_module_is_in_an_import_cycle() -> None:
    paths = [*PROJECT.joinpath("callrouter").rglob("*.py"), *PROJECT.joinpath("ivr").glob("*.py")]
    graph = {module_of(p): imports(p) for p in paths}

    assert [module_of(p) for p in OWNED if reaches(graph, module_of(p), module_of(p))] == []


def test_nothing_imports_a_private_name_of_the_config_package() -> None:
    for path in [
        *PROJECT.joinpath("callrouter").rglob("*.py"),
        *PROJECT.joinpath("ivr").glob("*.py"),
    ]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "callrouter.config"
            ):
                assert not [a.name for a in node.names if a.name.startswith("_")], path


def test_config_modules_are_small() -> None:
    sizes = {module_of(p): len(p.read_text(encoding="utf-8").splitlines()) for p in OWNED}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
