"""The pure core stays pure: no web, queue or Twilio imports, no clock reads.

This keeps `route()` and the coverage proof importable and testable anywhere
(a CLI, a worker, a property test) and makes every decision a function of
the moment it is given.
"""

from __future__ import annotations

import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import callrouter.routing

PACKAGE_DIR = Path(callrouter.routing.__file__).parent.parent
PURE_PACKAGES = ("routing",)
"""Packages that are pure as a whole: the routing kernel."""
PURE_MODULES = (
    "privacy",
    "callbacks.lifecycle",
    "callbacks.policy",
    "callbacks.section",
    "callbacks.texts",
    "callbacks.requests",
    "callbacks.staff",
    "callbacks.messages",
    "callbacks.replies",
    "callbacks.callback_number",
    "callbacks.seams",
    "calls.codec",
    "calls.labels",
    "calls.policy",
    "calls.record",
    "calls.render",
    "calls.reporting",
    "calls.rows",
    "calls.triage",
    "console.policy",
    "console.board",
)
"""Pure modules inside feature packages (the rest of a feature does I/O)."""
FORBIDDEN = ("flask", "redis", "rq", "twilio", "werkzeug")
CLOCK_READS = ("datetime.now", "datetime.utcnow", "date.today", "time.time", "time.monotonic")


def core_modules() -> list[str]:
    names = [
        f"callrouter.{package}.{m.name}"
        for package in PURE_PACKAGES
        for m in pkgutil.iter_modules([str(PACKAGE_DIR / package)])
    ]
    return sorted(names + [f"callrouter.{name}" for name in PURE_MODULES])


def core_sources() -> list[Path]:
    return [
        PACKAGE_DIR.joinpath(*name.split(".")[1:]).with_suffix(".py") for name in core_modules()
    ]


def test_core_has_the_modules_the_layering_rule_protects() -> None:
    names = core_modules()
    for expected in ("model", "calendar", "windows", "rota", "plan", "numbers", "coverage"):
        assert f"callrouter.routing.{expected}" in names


def test_importing_the_core_imports_no_web_queue_or_twilio_library() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(json.dumps(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=PACKAGE_DIR.parent,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_import_check_would_notice_a_forbidden_import() -> None:
    # Guard against a check that can never fail: the same probe sees flask when imported.
    script = (
        "import sys, flask\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert "'flask'" in result.stdout


def clock_reads(path: Path) -> list[str]:
    """Lines of `path` (outside comments) that call the wall clock."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        code = line.split("#", 1)[0]
        if any(re.search(rf"\b{re.escape(call)}\b", code) for call in CLOCK_READS):
            found.append(f"{path.name}:{number}: {line.strip()}")
    return found


def test_core_source_never_reads_the_clock() -> None:
    sources = core_sources()
    assert len(sources) >= 7  # the scan really looks at the core
    assert [hit for path in sources for hit in clock_reads(path)] == []


def test_the_clock_scan_finds_the_one_allowed_clock_read() -> None:
    # callrouter/clock.py is the one place that reads the clock; the scan must see it.
    assert len(clock_reads(PACKAGE_DIR / "clock.py")) == 1
