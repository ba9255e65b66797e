"""The routing decision: `route(moment, facts, config) -> RoutePlan`.

Pure: no clock read, no I/O. The plan carries its own explanation (window,
holiday, rule, why) so the CLI, call records and the coverage proof all show
the same reasoning the call followed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from callrouter.routing.calendar import Calendar
from callrouter.routing.model import Condition, Config, LegKind, LegSpec, Rule
from callrouter.routing.rota import on_call, ring_group
from callrouter.routing.windows import WindowMatch, resolve_window


@dataclass(frozen=True)
class CallerFacts:
    """What the IVR and the caller's number told us; None means unknown."""

    caller_type: str | None = None
    age_group: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Target:
    """One phone to ring; `member` is None for a fixed line."""

    number: str
    name: str
    member: str | None = None


@dataclass(frozen=True)
class Leg:
    """A resolved step: ring these targets at once for `timeout` seconds."""

    kind: LegKind
    timeout: int
    targets: tuple[Target, ...]
    team: str | None = None
    role: str | None = None
    line: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "team": self.team,
            "role": self.role,
            "line": self.line,
            "number": self.targets[0].number if len(self.targets) == 1 else None,
            "numbers": [t.number for t in self.targets],
            "names": [t.name for t in self.targets],
            "timeout": self.timeout,
            "note": self.note,
        }


@dataclass(frozen=True)
class Final:
    """After the last leg: offer a callback, and/or dial a line."""

    callback: bool
    line: str | None
    number: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"callback": self.callback, "line": self.line, "number": self.number}


@dataclass(frozen=True)
class RoutePlan:
    local: dt.datetime
    window: str | None
    holiday: str | None
    closure: str | None
    counts_as: str
    facts: CallerFacts
    rule: str | None
    reasons: tuple[str, ...]
    legs: tuple[Leg, ...]
    final: Final

    @property
    def reaches_someone(self) -> bool:
        """True when the plan can end at a person (a leg or line) or a callback."""
        return (
            any(leg.targets for leg in self.legs)
            or self.final.callback
            or self.final.number is not None
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.local.isoformat(),
            "window": self.window,
            "holiday": self.holiday,
            "closure": self.closure,
            "counts_as": self.counts_as,
            "caller": self.facts.caller_type,
            "age": self.facts.age_group,
            "region": self.facts.region,
            "rule": self.rule,
            "reasons": list(self.reasons),
            "legs": [leg.to_dict() for leg in self.legs],
            "final": self.final.to_dict(),
        }


def with_defaults(facts: CallerFacts, config: Config) -> CallerFacts:
    """Fill unknown caller type / age group with the configured defaults, so a
    caller who did not answer a menu is still routed (never left in a loop)."""
    caller = facts.caller_type
    if caller is None or config.caller_type(caller) is None:
        caller = config.default_caller_type
    age = facts.age_group
    if age is None or config.age_group(age) is None:
        age = config.default_age_group
    region = facts.region if facts.region and config.region(facts.region) else None
    return CallerFacts(caller, age, region)


def matches(cond: Condition, window: str | None, holiday: bool, facts: CallerFacts) -> bool:
    def ok(allowed: frozenset[str], value: str | None) -> bool:
        return not allowed or value in allowed

    return (
        ok(cond.windows, window)
        and ok(cond.caller_types, facts.caller_type)
        and ok(cond.age_groups, facts.age_group)
        and ok(cond.regions, facts.region)
        and (cond.holiday is None or cond.holiday == holiday)
    )


def _explain(rule: Rule, where: WindowMatch, facts: CallerFacts) -> str:
    parts = []
    for label, allowed, value in (
        ("window", rule.when.windows, where.window),
        ("caller", rule.when.caller_types, facts.caller_type),
        ("age", rule.when.age_groups, facts.age_group),
        ("region", rule.when.regions, facts.region),
    ):
        parts.append(f"{label} {value} in {sorted(allowed)}" if allowed else f"{label} any")
    if rule.when.holiday is not None:
        parts.append("holiday" if rule.when.holiday else "not a holiday")
    return f"rule {rule.name!r} ({rule.source}) matched: " + ", ".join(parts)


def resolve_leg(spec: LegSpec, config: Config, local: dt.datetime) -> Leg:
    """Turn a configured leg into numbers to ring at this moment."""
    base = Leg(spec.kind, spec.timeout, (), spec.team, spec.role, spec.line)
    if spec.kind is LegKind.LINE:
        line = config.line(spec.line or "")
        if line is None:
            return replace(base, note="unknown line")
        return replace(base, targets=(Target(line.number, line.label or line.id),))
    team = config.team(spec.team or "")
    if team is None:
        return replace(base, note="unknown team")
    role = team.role(spec.role) if spec.role else None
    if spec.kind is LegKind.RING_ALL:
        members = ring_group(team, role, local)
        targets = tuple(Target(m.mobile, m.name, m.id) for m in members)
        return replace(base, targets=targets, note=f"{len(targets)} members at once")
    if role is None:
        return replace(base, note="unknown role")
    member, why = on_call(team, role, local)
    if member is None:
        return replace(base, note=f"nobody on call ({why})")
    return replace(base, targets=(Target(member.mobile, member.name, member.id),), note=why)


def first_match(
    config: Config, window: str | None, holiday: bool, facts: CallerFacts
) -> Rule | None:
    """The first rule (in configured order) matching these facts, memoised
    on the config because it depends on nothing else."""
    key = (window, holiday, facts.caller_type, facts.age_group, facts.region)
    memo = config.rule_memo
    if key not in memo:
        memo[key] = next((r for r in config.rules if matches(r.when, window, holiday, facts)), None)
    return memo[key]


def route_local(
    local: dt.datetime, facts: CallerFacts, config: Config, calendar: Calendar
) -> RoutePlan:
    """`route` for a moment already converted to the config's timezone."""
    facts = with_defaults(facts, config)
    where = resolve_window(calendar, config.windows, local.date(), local.hour * 60 + local.minute)
    holiday = where.day.holiday
    reasons = [
        f"{local:%A %Y-%m-%d %H:%M %Z}: window {where.window or 'none'}"
        + (f" (holiday {holiday}, counts as {where.day.weekday_token})" if holiday else "")
        + (f" (closure {where.closure.name})" if where.closure else "")
    ]
    rule = first_match(config, where.window, holiday is not None, facts)
    if rule is None:
        reasons.append("no rule matches: dialling the fallback line")
        legs: tuple[Leg, ...] = ()
        final_line = config.line(config.fallback_line)
        callback = False
    else:
        reasons.append(_explain(rule, where, facts))
        legs = tuple(resolve_leg(spec, config, local) for spec in rule.legs)
        final_line = config.line(rule.final.line) if rule.final.line else None
        callback = rule.final.callback
    final = Final(
        callback, final_line.id if final_line else None, final_line.number if final_line else None
    )
    return RoutePlan(
        local,
        where.window,
        holiday,
        where.closure.name if where.closure else None,
        where.day.weekday_token,
        facts,
        rule.name if rule else None,
        tuple(reasons),
        legs,
        final,
    )


def route(moment: dt.datetime, facts: CallerFacts, config: Config) -> RoutePlan:
    """Who this call goes to, for an aware `moment` (any timezone)."""
    if moment.tzinfo is None:
        raise ValueError("route() needs a timezone-aware moment")
    return route_local(moment.astimezone(config.timezone), facts, config, config.calendar)
