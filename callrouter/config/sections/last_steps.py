"""`final_line:` and `overflow:` of routing.yaml: how every call ends when nobody answers.

The rule's final line is rung a bounded number of times; then the backup
centre ("achtervang") in the windows it takes our calls; a caller who has
waited `overflow.after` seconds rolls over to it whatever is ringing (see
`ivr.flow.finishing`). Attempts are 1 or 2, so no caller hears "we are trying
once more" more than twice.
"""

from __future__ import annotations

from typing import Any

from callrouter.config.builder import Builder
from callrouter.config.yaml_marks import PathKey
from callrouter.routing.model import Attempts, Overflow


def attempts(b: Builder, p: PathKey, raw: Any) -> Attempts:
    spec = b.mapping(p, raw, {"attempts", "timeout"})
    return Attempts(
        b.integer(p + ("attempts",), spec.get("attempts"), 2, 1, 2),
        b.integer(p + ("timeout",), spec.get("timeout"), 30, 5, 120),
        b.src(p),
    )


def overflow(b: Builder, lines: set[str], windows: set[str]) -> Overflow | None:
    """The backup centre: a line, its hours as windows, the time bound."""
    p: PathKey = ("overflow",)
    raw = b.doc.data.get("overflow")
    if raw is None:
        return None
    own = {"line", "windows", "after"}
    spec = b.mapping(p, raw, {"attempts", "timeout"} | own, frozenset({"line", "after"}))
    line = b.text(p + ("line",), spec.get("line"))
    b.ref(p + ("line",), line, lines, "line")
    names = set()
    for j, name in enumerate(b.seq(p + ("windows",), spec.get("windows"))):
        if b.ref(p + ("windows", j), str(name), windows, "window"):
            names.add(str(name))
    return Overflow(
        line,
        frozenset(names),
        b.integer(p + ("after",), spec.get("after"), 180, 30, 900),
        attempts(b, p, {k: v for k, v in spec.items() if k not in own}),
        b.src(p),
    )
