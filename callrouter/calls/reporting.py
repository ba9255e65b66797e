"""Report rows of a period -> the figures a progress report needs.

The municipal working group asks how the one number performs: how many
calls, when, from whom (caller type, age group, region); how each call
ended for the caller (`record.Reach`: a person on the first or a later leg,
the 24/7 line, overflow, a callback, a hang-up in the menu or while it
rang, nobody); the service level (a person within 30 s / 60 s); answer
rates per region and caller type; talk time; whether callbacks were
claimed and completed within the promised time; what triage concluded;
the weekly trend and the busiest hours. This module computes exactly that,
so the table, CSV, JSON and the plot all show the same numbers.

Pure: report rows and the period come in, a frozen `Report` goes out, with
ids only (labels are the renderer's business). Counted column by column
(`build_report`), so the per-call work runs in C, not in a Python loop.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from callrouter.callbacks.policy import CallbackPolicy
from callrouter.calls.record import LIVE_REACH, Reach
from callrouter.calls.rows import ReportRow
from callrouter.calls.triage import TriageCodes
from callrouter.routing.model import Config

UNKNOWN = ""
"""Group key of calls whose window, caller type, age group or region is not known."""
NO_OUTCOME = "geen_uitkomst"
SERVICE_LEVELS = (30, 60)
"""Seconds within which a person should have the caller on the line."""
BUSIEST_SHOWN = 5
_HOUR_MS = 3_600_000
_LIVE = frozenset(r.value for r in LIVE_REACH)
_SPOKE = _LIVE | {Reach.CALLBACK.value}


@dataclass(frozen=True)
class Durations:
    """Nearest-rank median and 90th percentile in seconds: observed values, easy to explain."""

    count: int
    median: float | None
    p90: float | None
    total: float = 0.0

    @classmethod
    def of(cls, values: Iterable[float]) -> Durations:
        ordered = sorted(values)
        return cls(len(ordered), percentile(ordered, 50), percentile(ordered, 90), sum(ordered))


def percentile(ordered: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of sorted values (None for no values)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class ServiceLevel:
    """Calls past the menu that had a person on the line within `seconds`."""

    seconds: int
    within: int
    offered: int
    """Calls that got past the menu (a caller who hangs up in the menu never waited)."""


@dataclass(frozen=True)
class AnswerRate:
    """Calls of one group (a region, a caller type) and how many a person took live."""

    key: str
    calls: int
    answered: int


@dataclass(frozen=True)
class Week:
    """One week of the trend (Monday, local time)."""

    monday: dt.date
    calls: int
    answered: int
    """A person took the call live."""
    offered: int
    within_30: int


@dataclass(frozen=True)
class CallbackFigures:
    """Callback requests of the period against the time the caller was promised."""

    requested: int
    claimed_in_time: int
    """Claimed by a staff member within the SLA for that caller (`callbacks.sla`)."""
    claimed_late: int
    not_claimed: int
    reached: int
    """The caller was called back and spoke with someone."""
    reached_in_time: int
    """... within the promised time (the SLA counted from the request)."""
    sla_minutes: tuple[tuple[str, int], ...] = ()
    """The SLA per caller type or kind, as configured."""


@dataclass(frozen=True)
class OutcomeCount:
    code: str
    count: int


@dataclass(frozen=True)
class Report:
    start: dt.datetime
    """First moment of the period (inclusive, local)."""
    end: dt.datetime
    """End of the period (exclusive, local)."""
    calls: int
    reach: tuple[tuple[str, int], ...]
    """`Reach` categories in their fixed order, zeros included."""
    service_levels: tuple[ServiceLevel, ...]
    by_window: tuple[tuple[str, int], ...]
    by_caller_type: tuple[tuple[str, int], ...]
    by_age_group: tuple[tuple[str, int], ...]
    by_region: tuple[tuple[str, int], ...]
    answer_by_region: tuple[AnswerRate, ...]
    answer_by_caller_type: tuple[AnswerRate, ...]
    time_to_person: Durations
    time_to_person_live: Durations
    time_to_person_callback: Durations
    talk: Durations
    callbacks: CallbackFigures
    outcomes: tuple[OutcomeCount, ...]
    """Configured codes in config order (zeros included), then retired codes, then geen_uitkomst."""
    trend: tuple[Week, ...]
    heatmap: tuple[tuple[int, ...], ...]
    """Calls per local weekday (Monday first) x hour (0-23), summed over the period."""

    @property
    def days(self) -> int:
        """Length of the period in (local) days: what the heat map sums over."""
        return (self.end.date() - self.start.date()).days

    @property
    def busiest(self) -> tuple[tuple[int, int, int], ...]:
        """The busiest (weekday index, hour, calls), busiest first."""
        cells = [(d, h, n) for d, row in enumerate(self.heatmap) for h, n in enumerate(row) if n]
        cells.sort(key=lambda c: (-c[2], c[0], c[1]))
        return tuple(cells[:BUSIEST_SHOWN])


def sla_by_caller(
    config: Config, policy: CallbackPolicy
) -> tuple[Callable[[str], dt.timedelta], tuple[tuple[str, int], ...]]:
    """The callback SLA per caller type from `callbacks.sla` (by caller type, else
    its kind), and the configured SLA in minutes per caller type or kind."""
    kinds = {c.id: c.kind.value for c in config.caller_types}

    def sla(caller_type: str) -> dt.timedelta:
        caller = caller_type or config.default_caller_type
        return dt.timedelta(seconds=policy.sla_for(caller, kinds.get(caller, "resident")))

    return sla, tuple((who, seconds // 60) for who, seconds in policy.sla.items())


def period_bounds(first: dt.date, end: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """Local midnight of `first` up to (not including) local midnight of `end`:
    `--from 2026-10-01 --to 2026-11-01` is all of October, DST change included."""
    return (
        dt.datetime.combine(first, dt.time(), tzinfo=tz),
        dt.datetime.combine(end, dt.time(), tzinfo=tz),
    )


def _sorted(counter: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _rates(calls: Counter[str], answered: Counter[str]) -> tuple[AnswerRate, ...]:
    return tuple(AnswerRate(key, n, answered[key]) for key, n in _sorted(calls))


class _LocalHours:
    """(weekday, hour, Monday of the week) of a UTC hour (ms // 3,600,000), cached:
    the zone's offsets are whole hours, and a month has only ~750 of them."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.cache: dict[int, tuple[int, int, dt.date]] = {}

    def __call__(self, utc_hour: int) -> tuple[int, int, dt.date]:
        found = self.cache.get(utc_hour)
        if found is None:
            local = dt.datetime.fromtimestamp(utc_hour * 3600, self.tz)
            day = local.date()
            found = (local.weekday(), local.hour, day - dt.timedelta(days=local.weekday()))
            self.cache[utc_hour] = found
        return found


def _columns(rows: list[ReportRow]) -> list[tuple[Any, ...]]:
    """The rows transposed: one tuple per `ReportRow` field, in field order."""
    return list(zip(*rows, strict=True)) if rows else [()] * len(ReportRow._fields)


def build_report(
    rows: Iterable[ReportRow],
    *,
    start: dt.datetime,
    end: dt.datetime,
    tz: ZoneInfo,
    callback_sla: Callable[[str], dt.timedelta],
    sla_minutes: tuple[tuple[str, int], ...] = (),
    codes: TriageCodes | None = None,
) -> Report:
    """Aggregate the rows of calls that started in [start, end).

    `callback_sla` gives the promised callback time for a caller type (see
    `sla_by_caller`); `sla_minutes` describes it.

    Column by column rather than row by row: the rows are transposed once and
    counted by `Counter` over tuples of the few fields a figure depends on, so
    the per-call work runs in C and Python only loops over what is distinct:
    group combinations (a few hundred), UTC hours (~750 a month) and callback
    requests. `tests/test_reporting_columns.py` holds this to the plain
    call-by-call definition on random rows.
    """
    low, high = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    kept = [row for row in rows if low <= row.start_ms < high]
    (
        starts,
        windows,
        caller_types,
        age_groups,
        regions,
        categories,
        to_person,
        talk_seconds,
        cb_requested,
        cb_claimed,
        cb_reached,
        outcome_codes,
    ) = _columns(kept)

    reach: Counter[str] = Counter()
    by_window: Counter[str] = Counter()
    callers: Counter[str] = Counter()
    ages: Counter[str] = Counter()
    by_region: Counter[str] = Counter()
    answered_callers: Counter[str] = Counter()
    answered_regions: Counter[str] = Counter()
    groups = Counter(zip(windows, caller_types, age_groups, regions, categories, strict=True))
    for (window, caller_type, age_group, region, category), n in groups.items():
        reach[category] += n
        by_window[window] += n
        callers[caller_type] += n
        ages[age_group] += n
        by_region[region] += n
        if category in _LIVE:
            answered_callers[caller_type] += n
            answered_regions[region] += n
    offered = len(kept) - reach[Reach.HUNG_UP_MENU.value]

    local = _LocalHours(tz)
    heat = [[0] * 24 for _ in range(7)]
    weeks: dict[dt.date, list[int]] = {}
    hours = Counter(zip([ms // _HOUR_MS for ms in starts], categories, strict=True))
    for (utc_hour, category), n in hours.items():
        weekday, hour, monday = local(utc_hour)
        heat[weekday][hour] += n
        week = weeks.get(monday)
        if week is None:
            week = weeks[monday] = [0, 0, 0, 0]
        week[0] += n
        if category in _LIVE:
            week[1] += n
        if category != Reach.HUNG_UP_MENU:
            week[2] += n
    quick = Counter(
        ms // _HOUR_MS
        for ms, category, seconds in zip(starts, categories, to_person, strict=True)
        if seconds is not None and seconds <= SERVICE_LEVELS[0] and category in _LIVE
    )
    for utc_hour, n in quick.items():
        weeks[local(utc_hour)[2]][3] += n

    live = sorted(
        seconds
        for category, seconds in zip(categories, to_person, strict=True)
        if seconds is not None and category in _LIVE
    )
    by_callback = [
        seconds
        for category, seconds in zip(categories, to_person, strict=True)
        if seconds is not None and category == Reach.CALLBACK
    ]
    talk = [
        seconds
        for category, seconds in zip(categories, talk_seconds, strict=True)
        if seconds is not None and category in _LIVE
    ]

    outcomes: Counter[str] = Counter()
    for (code, category), n in Counter(zip(outcome_codes, categories, strict=True)).items():
        if code:
            outcomes[code] += n
        elif category in _SPOKE:
            outcomes[NO_OUTCOME] += n
    no_outcome = outcomes.pop(NO_OUTCOME, 0)
    ordered: list[OutcomeCount] = []
    for known in codes.codes if codes else ():
        ordered.append(OutcomeCount(known.code, outcomes.pop(known.code, 0)))
    ordered += [OutcomeCount(code, n) for code, n in sorted(outcomes.items())]
    ordered.append(OutcomeCount(NO_OUTCOME, no_outcome))
    return Report(
        start=start,
        end=end,
        calls=len(kept),
        reach=tuple((r.value, reach[r.value]) for r in Reach),
        service_levels=tuple(
            ServiceLevel(s, bisect.bisect_right(live, s), offered) for s in SERVICE_LEVELS
        ),
        by_window=_sorted(by_window),
        by_caller_type=_sorted(callers),
        by_age_group=_sorted(ages),
        by_region=_sorted(by_region),
        answer_by_region=_rates(by_region, answered_regions),
        answer_by_caller_type=_rates(callers, answered_callers),
        time_to_person=Durations.of([*live, *by_callback]),
        time_to_person_live=Durations.of(live),
        time_to_person_callback=Durations.of(by_callback),
        talk=Durations.of(talk),
        callbacks=_callbacks(
            zip(caller_types, cb_requested, cb_claimed, cb_reached, strict=True),
            callback_sla,
            sla_minutes,
        ),
        outcomes=tuple(ordered),
        trend=tuple(Week(monday, *weeks[monday]) for monday in sorted(weeks)),
        heatmap=tuple(tuple(row) for row in heat),
    )


def _callbacks(
    requests: Iterable[tuple[str, int | None, int | None, int | None]],
    callback_sla: Callable[[str], dt.timedelta],
    sla_minutes: tuple[tuple[str, int], ...],
) -> CallbackFigures:
    """(caller type, requested, claimed, reached ms) of every call -> the callback figures."""
    requested = claimed_in_time = claimed_late = reached = reached_in_time = 0
    slas: dict[str, int] = {}
    for caller_type, requested_ms, claimed_ms, reached_ms in requests:
        if requested_ms is None:
            continue
        requested += 1
        promised = slas.get(caller_type)
        if promised is None:
            promised = slas[caller_type] = int(callback_sla(caller_type).total_seconds() * 1000)
        deadline = requested_ms + promised
        if claimed_ms is not None:
            if claimed_ms <= deadline:
                claimed_in_time += 1
            else:
                claimed_late += 1
        if reached_ms is not None:
            reached += 1
            reached_in_time += reached_ms <= deadline
    return CallbackFigures(
        requested,
        claimed_in_time,
        claimed_late,
        requested - claimed_in_time - claimed_late,
        reached,
        reached_in_time,
        sla_minutes,
    )
