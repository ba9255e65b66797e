"""The `rules:` of routing.yaml and the `lines:` they dial: which call goes where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callrouter.config.builder import Builder, Problem
from callrouter.config.yaml_marks import PathKey
from callrouter.routing.model import Condition, FinalSpec, LegKind, LegSpec, Line, Rule


@dataclass(frozen=True)
class RuleContext:
    """The names a rule may refer to, from the sections already built."""

    windows: set[str]
    callers: set[str]
    caller_groups: dict[str, set[str]]
    ages: set[str]
    regions: set[str]
    lines: set[str]
    team_roles: dict[str, set[str]]
    fallback: str


def lines(b: Builder) -> tuple[Line, ...]:
    raw = b.table(("lines",), b.doc.data.get("lines"))
    out = []
    for line_id, spec in raw.items():
        p: PathKey = ("lines", line_id)
        if not isinstance(spec, dict):
            spec = {"number": spec}
        spec = b.mapping(p, spec, {"number", "label"}, {"number"})
        out.append(
            Line(
                b.ident(p, line_id),
                b.phone(p + ("number",), spec.get("number")),
                b.text(p + ("label",), spec.get("label")),
                b.src(p),
            )
        )
    return tuple(out)


def rules(b: Builder, ctx: RuleContext) -> tuple[Rule, ...]:
    out = []
    seen: set[str] = set()
    for i, spec in enumerate(b.seq(("rules",), b.doc.data.get("rules"))):
        p: PathKey = ("rules", i)
        spec = b.mapping(
            p, spec, {"name", "description", "when", "legs", "final"}, {"name", "legs", "final"}
        )
        name = b.text(p + ("name",), spec.get("name"), f"rule {i + 1}")
        if name in seen:
            b.err(p + ("name",), f"two rules are called {name!r}", "give each rule its own name")
        seen.add(name)
        out.append(
            Rule(
                name,
                condition(b, p + ("when",), spec.get("when"), ctx),
                tuple(
                    leg(b, p + ("legs", j), raw_leg, ctx)
                    for j, raw_leg in enumerate(b.seq(p + ("legs",), spec.get("legs")))
                ),
                final(b, p + ("final",), spec.get("final"), ctx),
                b.text(p + ("description",), spec.get("description")),
                b.src(p),
            )
        )
    if not out:
        b.err(("rules",), "there are no routing rules", "add rules (see README: Rules)")
    return tuple(out)


def condition(b: Builder, p: PathKey, raw: Any, ctx: RuleContext) -> Condition:
    spec = b.mapping(p, raw, {"window", "caller", "age", "region", "holiday"})

    def refs(
        key: str, known: set[str], what: str, groups: dict[str, set[str]] | None = None
    ) -> frozenset[str]:
        out: set[str] = set()
        for j, v in enumerate(b.seq(p + (key,), spec.get(key))):
            v = str(v)
            if groups and v in groups:
                out |= groups[v]
            elif b.ref(p + (key, j), v, known | set(groups or {}), what):
                out.add(v)
        return frozenset(out)

    holiday = spec.get("holiday")
    return Condition(
        windows=refs("window", ctx.windows, "window"),
        caller_types=refs("caller", ctx.callers, "caller type", ctx.caller_groups),
        age_groups=refs("age", ctx.ages, "age group"),
        regions=refs("region", ctx.regions, "region"),
        holiday=b.boolean(p + ("holiday",), holiday, False) if holiday is not None else None,
    )


def leg(b: Builder, p: PathKey, raw: Any, ctx: RuleContext) -> LegSpec:
    spec = b.mapping(p, raw, {"oncall", "ring_all", "line", "role", "timeout"}, {"timeout"})
    kinds = [k for k in ("oncall", "ring_all", "line") if k in spec]
    timeout = b.integer(p + ("timeout",), spec.get("timeout"), 20, 5, 120)
    if len(kinds) != 1:
        b.err(
            p,
            "a leg needs exactly one of 'oncall: <team>', 'ring_all: <team>' or 'line: <line>'",
            "e.g. {oncall: iht, role: eerste_lijn, timeout: 20}",
        )
        return LegSpec(LegKind.LINE, timeout, line=ctx.fallback, source=b.src(p))
    kind = LegKind(kinds[0])
    target = b.text(p + (kinds[0],), spec[kinds[0]])
    role = spec.get("role")
    if kind is LegKind.LINE:
        b.ref(p + ("line",), target, ctx.lines, "line")
        if role is not None:
            b.err(p + ("role",), "a line leg has no role", "remove 'role:'")
        return LegSpec(kind, timeout, line=target, source=b.src(p))
    if b.ref(p + (kinds[0],), target, ctx.team_roles, "team"):
        if role is not None:
            b.ref(p + ("role",), str(role), ctx.team_roles[target], f"role of team {target!r}")
        elif kind is LegKind.ONCALL:
            b.err(
                p,
                "an oncall leg needs a role",
                "add role: eerste_lijn (or another role of the team)",
            )
    return LegSpec(
        kind,
        timeout,
        team=target,
        role=str(role) if role is not None else None,
        source=b.src(p),
    )


def final(b: Builder, p: PathKey, raw: Any, ctx: RuleContext) -> FinalSpec:
    spec = b.mapping(p, raw, {"callback", "line"})
    line = spec.get("line")
    if line is not None:
        b.ref(p + ("line",), str(line), ctx.lines, "line")
    callback = b.boolean(p + ("callback",), spec.get("callback"), False)
    if line is None and not callback:
        b.err(
            p,
            "the final step must offer a callback or dial a line",
            f"add line: {ctx.fallback or 'fallback'} and/or callback: true",
        )
    return FinalSpec(callback, str(line) if line is not None else None, b.src(p))


def shadowed(b: Builder, rule_list: tuple[Rule, ...]) -> None:
    """A rule below one that matches every call it would match can never fire."""
    for rule in rule_list:
        for other in rule_list:
            if other is rule:
                break
            if other.when.covers(rule.when):
                b.problems.append(
                    Problem(
                        rule.source,
                        f"rule {rule.name!r} can never match: "
                        f"rule {other.name!r} ({other.source}) above it matches every such call",
                        "move it above that rule, or narrow the earlier rule",
                    )
                )
                break
