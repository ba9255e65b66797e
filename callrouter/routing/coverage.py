"""The coverage proof: no caller, at no moment, ends in a dead end.

Routing depends on the local time of day and on a handful of day facts
(what today and yesterday count as, whether they are holidays, which
closures apply). Days with the same facts route identically, so instead of
trying every minute of a year the proof groups the days of the horizon by
those facts and checks each group once per interval between two window or
closure boundaries (interval arithmetic). Rotas are checked separately, at
every handover and override boundary of the horizon, for every role a rule
rings.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from callrouter.routing.calendar import Calendar, DayInfo
from callrouter.routing.model import MINUTES_PER_DAY, Config, LegKind, Rule, Team
from callrouter.routing.paths import Estimator, Situation, Worst, worst_paths
from callrouter.routing.plan import CallerFacts, first_match, with_defaults
from callrouter.routing.rota import on_call
from callrouter.routing.windows import resolve_window

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Gap:
    """A concrete stretch of time where some callers would hit a dead end."""

    who: str
    when: str
    what: str

    def __str__(self) -> str:
        return f"{self.who}, {self.when}: {self.what}"


@dataclass(frozen=True)
class CoverageReport:
    first_day: dt.date
    days: int
    gaps: tuple[Gap, ...]
    rota_gaps: tuple[Gap, ...]
    unused_rules: tuple[Rule, ...]
    day_groups: int
    evaluations: int
    paths: tuple[Worst, ...] = ()
    """Worst case per caller path (`routing.paths`), when an estimator was given."""
    path_gaps: tuple[Gap, ...] = ()
    """Paths that do not end at a person, the overflow line, a callback or the referral."""

    @property
    def ok(self) -> bool:
        return not (self.gaps or self.rota_gaps or self.unused_rules or self.path_gaps)


DaySignature = tuple[int, bool, int, bool, tuple[str, ...]]


def signature(calendar: Calendar, date: dt.date) -> DaySignature:
    """The day facts routing depends on; equal signatures route identically."""
    today: DayInfo = calendar.day(date)
    yesterday = calendar.day(date - dt.timedelta(days=1))
    closures = tuple(c.name for c in calendar.closures_on(date))
    return (
        today.counts_as,
        today.holiday is not None,
        yesterday.counts_as,
        yesterday.holiday is not None,
        closures,
    )


def _is_normal(sig: DaySignature) -> bool:
    return not sig[1] and not sig[3] and not sig[4]


def breakpoints(config: Config, calendar: Calendar, date: dt.date) -> list[int]:
    """Minutes of `date` at which the window in force may change."""
    points = {0}
    for window in config.windows:
        for seg in window.segments:
            points.update((seg.start, seg.end % MINUTES_PER_DAY))
    for closure in calendar.closures_on(date):
        points.update((closure.start, closure.end % MINUTES_PER_DAY))
    return sorted(points)


def combos(config: Config) -> list[CallerFacts]:
    """Every caller type x age group x region (and 'region unknown')."""
    regions: list[str | None] = [r.id for r in config.regions] + [None]
    return [
        CallerFacts(c.id, a.id, r)
        for c, a, r in itertools.product(config.caller_types, config.age_groups, regions)
    ]


def _who(facts: CallerFacts) -> tuple[str, str]:
    return (facts.caller_type or "", facts.age_group or "")


def _fold(raw: list[tuple[tuple[str, str], str, str, str]], config: Config) -> list[Gap]:
    """One gap line per (when, what), naming callers as compactly as possible:
    'every caller', 'every caller aged <18', or 'huisarts, politie (18+)'."""
    by_when: dict[tuple[str, str, str], set[tuple[str, str]]] = defaultdict(set)
    for who, regions, when, what in raw:
        by_when[(when, regions, what)].add(who)
    callers = [c.id for c in config.caller_types]
    ages = [a.id for a in config.age_groups]
    gaps = []
    for (when, regions, what), whos in by_when.items():
        parts = []
        full_ages = [a for a in ages if all((c, a) in whos for c in callers)]
        if len(full_ages) == len(ages):
            parts.append("every caller")
        else:
            parts += [f"every caller aged {a}" for a in full_ages]
            for a in ages:
                if a not in full_ages:
                    names = [c for c in callers if (c, a) in whos]
                    if names:
                        parts.append(f"{', '.join(names)} ({a})")
        gaps.append(Gap("; ".join(parts) + regions, when, what))
    return gaps


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


Seen = dict[tuple[str | None, bool], Situation]
"""One moment per (window, holiday) the proof met: the situations whose whole
call path is walked (`routing.paths`)."""


def _day_intervals(
    config: Config,
    calendar: Calendar,
    date: dt.date,
    facts: list[CallerFacts],
    used: set[str],
    seen: Seen,
) -> dict[CallerFacts, list[tuple[int, int]]]:
    """For each caller, the minute ranges of `date` where no rule matches."""
    points = breakpoints(config, calendar, date) + [MINUTES_PER_DAY]
    holes: dict[CallerFacts, list[tuple[int, int]]] = defaultdict(list)
    for start, end in itertools.pairwise(points):
        where = resolve_window(calendar, config.windows, date, start)
        holiday = where.day.holiday is not None
        if (where.window, holiday) not in seen:
            local = dt.datetime.combine(date, dt.time(start // 60, start % 60))
            label = f"{WEEKDAY_NAMES[date.weekday()]} {date} {_hhmm(start)} ({where.window})"
            seen[where.window, holiday] = Situation(local.replace(tzinfo=config.timezone), label)
        for f in facts:
            rule = first_match(config, where.window, holiday, f)
            if rule is None:
                holes[f].append((start, end))
            else:
                used.add(rule.name)
    return holes


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _wrap_week(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join a gap that runs into Sunday midnight with the one starting Monday 00:00."""
    week = 7 * MINUTES_PER_DAY
    if len(ranges) > 1 and ranges[0][0] == 0 and ranges[-1][1] == week:
        return [(ranges[-1][0], ranges[0][1] + week), *ranges[1:-1]]
    return ranges


def _group_regions(
    holes: dict[CallerFacts, list[tuple[int, int]]],
) -> dict[tuple[tuple[str, str], tuple[int, int]], list[str | None]]:
    """Fold per-region gaps together so a gap for every region reads as one line."""
    grouped: dict[tuple[tuple[str, str], tuple[int, int]], list[str | None]] = defaultdict(list)
    for facts, ranges in holes.items():
        for rng in ranges:
            grouped[(_who(facts), rng)].append(facts.region)
    return grouped


def _describe_regions(regions: list[str | None], config: Config) -> str:
    if len(regions) == len(config.regions) + 1:
        return ""
    names = ["region unknown" if r is None else f"region {r}" for r in regions]
    return " (" + ", ".join(names) + ")"


def _week_gaps(
    config: Config,
    calendar: Calendar,
    normal: dict[int, dt.date],
    facts: list[CallerFacts],
    used: set[str],
    seen: Seen,
) -> list[Gap]:
    """Gaps of a normal week (no holidays), merged across midnight."""
    gaps: list[tuple[tuple[str, str], str, str, str]] = []
    week: dict[CallerFacts, list[tuple[int, int]]] = defaultdict(list)
    for weekday, date in normal.items():
        for f, ranges in _day_intervals(config, calendar, date, facts, used, seen).items():
            week[f] += [
                (weekday * MINUTES_PER_DAY + s, weekday * MINUTES_PER_DAY + e) for s, e in ranges
            ]
    merged = {f: _wrap_week(_merge(r)) for f, r in week.items()}
    for (who, (start, end)), regions in sorted(
        _group_regions(merged).items(), key=lambda kv: kv[0][1]
    ):
        sd, sm = divmod(start, MINUTES_PER_DAY)
        ed, em = divmod(end, MINUTES_PER_DAY)
        if em == 0 and ed > sd:
            ed, em = ed - 1, MINUTES_PER_DAY
        span = (
            f"{WEEKDAY_NAMES[sd]} {_hhmm(sm)}-{_hhmm(em)}"
            if sd == ed
            else f"{WEEKDAY_NAMES[sd]} {_hhmm(sm)}-{WEEKDAY_NAMES[ed % 7]} {_hhmm(em)}"
        )
        gaps.append((who, _describe_regions(regions, config), span, "no rule matches"))
    return _fold(gaps, config)


def _day_label(calendar: Calendar, date: dt.date) -> str:
    """'2026-12-25 (Eerste kerstdag)'; a day after a holiday names that holiday."""
    names = [n for n in (calendar.holiday(date),) if n] + [
        c.name for c in calendar.closures_on(date)
    ]
    if not names:
        names = [f"day after {calendar.holiday(date - dt.timedelta(days=1))}"]
    return f"{WEEKDAY_NAMES[date.weekday()]} {date.isoformat()} ({' + '.join(names)})"


def _special_gaps(
    config: Config,
    calendar: Calendar,
    special: dict[DaySignature, list[dt.date]],
    facts: list[CallerFacts],
    used: set[str],
    seen: Seen,
) -> list[Gap]:
    gaps: list[tuple[tuple[str, str], str, str, str]] = []
    for dates in special.values():
        found = _day_intervals(config, calendar, dates[0], facts, used, seen)
        holes = {f: _merge(r) for f, r in found.items()}
        label = ", ".join(_day_label(calendar, d) for d in dates[:4])
        label += f" and {len(dates) - 4} more" if len(dates) > 4 else ""
        for (who, (start, end)), regions in sorted(_group_regions(holes).items()):
            gaps.append(
                (
                    who,
                    _describe_regions(regions, config),
                    f"{label} {_hhmm(start)}-{_hhmm(end)}",
                    "no rule matches",
                )
            )
    return _fold(gaps, config)


def roles_rung(config: Config) -> set[tuple[str, str]]:
    """(team, role) pairs that some rule's oncall leg depends on."""
    return {
        (leg.team, leg.role)
        for rule in config.rules
        for leg in rule.legs
        if leg.kind is LegKind.ONCALL and leg.team and leg.role
    }


def rota_gaps(config: Config, first: dt.date, days: int) -> list[Gap]:
    """Every (team, role) a rule uses must have someone on call at every moment."""
    tz = config.timezone
    start = dt.datetime.combine(first, dt.time(), tzinfo=tz)
    stop = start + dt.timedelta(days=days)
    gaps = []
    for team_id, role_name in sorted(roles_rung(config)):
        team = config.team(team_id)
        role = team.role(role_name) if team else None
        if team is None or role is None:
            continue
        for begin, end, why in _rota_holes(team, role_name, start, stop):
            gaps.append(
                Gap(
                    f"team {team_id} role {role_name}",
                    f"{begin:%Y-%m-%d %H:%M}-{end:%Y-%m-%d %H:%M}",
                    f"nobody on call ({why})",
                )
            )
    return gaps


def _rota_holes(
    team: Team, role_name: str, start: dt.datetime, stop: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime, str]]:
    role = team.role(role_name)
    assert role is not None
    rota = role.rota
    tz = start.tzinfo
    points = {start, stop}
    day = start.date() - dt.timedelta(days=1)
    while day <= stop.date():
        if (day - rota.start).days % rota.period_days == 0:
            points.add(
                dt.datetime.combine(
                    day, dt.time(rota.handover // 60, rota.handover % 60), tzinfo=tz
                )
            )
        day += dt.timedelta(days=1)
    for o in team.overrides:
        points.update((o.start.astimezone(tz), o.end.astimezone(tz)))
    ordered = sorted(p for p in points if start <= p <= stop)
    holes: list[tuple[dt.datetime, dt.datetime, str]] = []
    for begin, end in itertools.pairwise(ordered):
        member, why = on_call(team, role, begin)
        if member is None:
            if holes and holes[-1][1] == begin and holes[-1][2] == why:
                holes[-1] = (holes[-1][0], end, why)
            else:
                holes.append((begin, end, why))
    return holes


def prove(
    config: Config,
    first: dt.date,
    days: int = 366,
    estimate: Estimator | None = None,
    answers: Sequence[CallerFacts] = (),
) -> CoverageReport:
    """Check every caller at every moment of a normal week and of every
    holiday or closure day in `[first, first + days)`; with `estimate`, also
    walk every caller path in every situation met (`routing.paths`), a
    prompt caller giving each of `answers` (the menus' keys)."""
    calendar = Calendar(config.holidays, config.closures)
    facts = [with_defaults(f, config) for f in combos(config)]
    facts = list(dict.fromkeys(facts))
    groups: dict[DaySignature, list[dt.date]] = defaultdict(list)
    for offset in range(days):
        date = first + dt.timedelta(days=offset)
        groups[signature(calendar, date)].append(date)
    normal = {sig[0]: dates[0] for sig, dates in groups.items() if _is_normal(sig)}
    # A normal weekday the horizon happens not to contain is still checked,
    # on the nearest date after the horizon with that weekday.
    probe = first + dt.timedelta(days=days)
    while len(normal) < 7:
        if _is_normal(signature(calendar, probe)) and probe.weekday() not in normal:
            normal[probe.weekday()] = probe
        probe += dt.timedelta(days=1)
    special = {sig: dates for sig, dates in groups.items() if not _is_normal(sig)}
    used: set[str] = set()
    seen: Seen = {}
    gaps = _week_gaps(config, calendar, normal, facts, used, seen)
    gaps += _special_gaps(config, calendar, special, facts, used, seen)
    worst, problems = worst_paths(seen.values(), answers, estimate) if estimate else ((), ())
    unused = tuple(r for r in config.rules if r.name not in used)
    evaluations = sum(
        len(breakpoints(config, calendar, d))
        for d in list(normal.values()) + [v[0] for v in special.values()]
    ) * len(facts)
    return CoverageReport(
        first,
        days,
        tuple(gaps),
        tuple(rota_gaps(config, first, days)),
        unused,
        len(normal) + len(special),
        evaluations,
        worst,
        tuple(Gap("a caller path", where, what) for where, what in problems),
    )
