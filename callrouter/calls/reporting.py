"""Call records of a period -> the figures a progress report needs.

The municipal working group asks how the one number performs: how many
calls, when, from whom (caller type, age group, region); whether callers
reached a person, on the first try, later, by callback or not at all; how
long that took; whether callbacks came within the agreed time; what triage
concluded; and which hours are busiest (staffing). This module computes
exactly that from records and nothing else, so the table, CSV, JSON and the
plot all show the same numbers.

Pure: records and the period come in, a frozen `Report` goes out. Records
carry no phone numbers, so neither can a report.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from callrouter.callbacks.lifecycle import policy_of
from callrouter.calls.record import CallRecord, ReachedBy
from callrouter.calls.triage import TriageCodes
from callrouter.routing.model import WEEKDAYS, Config

UNKNOWN = "onbekend"
NO_OUTCOME = "geen_uitkomst"
BUSIEST_SHOWN = 5


@dataclass(frozen=True)
class Durations:
    """Nearest-rank median and 90th percentile in seconds: observed values, easy to explain."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, values: Iterable[float]) -> Durations:
        ordered = sorted(values)
        return cls(len(ordered), percentile(ordered, 50), percentile(ordered, 90))


def percentile(ordered: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of sorted values (None for no values)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class CallbackFigures:
    """Callback requests of the period, measured like the callback SLA: claimed in time."""

    requested: int
    within_sla: int
    """Claimed by a staff member within the SLA for that caller (`callbacks.sla`)."""
    late: int
    """Claimed, but after the SLA."""
    not_claimed: int
    reached: int
    """The caller was actually called back and spoke with someone."""
    sla_text: str = ""

    @property
    def within_sla_share(self) -> float | None:
        return self.within_sla / self.requested if self.requested else None


@dataclass(frozen=True)
class OutcomeCount:
    code: str
    label: str
    count: int


@dataclass(frozen=True)
class Report:
    start: dt.datetime
    """First moment of the period (inclusive, local)."""
    end: dt.datetime
    """End of the period (exclusive, local)."""
    calls: int
    by_window: tuple[tuple[str, int], ...]
    by_caller_type: tuple[tuple[str, int], ...]
    by_age_group: tuple[tuple[str, int], ...]
    by_region: tuple[tuple[str, int], ...]
    reached: tuple[tuple[str, int], ...]
    """ReachedBy buckets in fixed order: first_leg, later_leg, callback, not_reached."""
    time_to_person: Durations
    time_to_person_live: Durations
    time_to_person_callback: Durations
    callbacks: CallbackFigures
    outcomes: tuple[OutcomeCount, ...]
    """Configured codes in config order (zeros included), then retired codes, then geen_uitkomst."""
    heatmap: tuple[tuple[int, ...], ...]
    """Calls per local weekday (Monday first) x hour (0-23)."""

    @property
    def busiest(self) -> tuple[tuple[str, int, int], ...]:
        """The busiest (weekday, hour, calls), busiest first."""
        cells = [
            (WEEKDAYS[d], h, n)
            for d, row in enumerate(self.heatmap)
            for h, n in enumerate(row)
            if n
        ]
        cells.sort(key=lambda c: (-c[2], WEEKDAYS.index(c[0]), c[1]))
        return tuple(cells[:BUSIEST_SHOWN])

    @property
    def by_hour(self) -> tuple[int, ...]:
        return tuple(sum(row[h] for row in self.heatmap) for h in range(24))

    def to_dict(self) -> dict[str, Any]:
        def d(durations: Durations) -> dict[str, Any]:
            return {
                "count": durations.count,
                "median_seconds": durations.median,
                "p90_seconds": durations.p90,
            }

        cb = self.callbacks
        return {
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            "calls": self.calls,
            "by_window": dict(self.by_window),
            "by_caller_type": dict(self.by_caller_type),
            "by_age_group": dict(self.by_age_group),
            "by_region": dict(self.by_region),
            "reached": dict(self.reached),
            "time_to_person": d(self.time_to_person),
            "time_to_person_live": d(self.time_to_person_live),
            "time_to_person_callback": d(self.time_to_person_callback),
            "callbacks": {
                "requested": cb.requested,
                "within_sla": cb.within_sla,
                "late": cb.late,
                "not_claimed": cb.not_claimed,
                "reached": cb.reached,
                "sla": cb.sla_text,
            },
            "outcomes": [
                {"code": o.code, "label": o.label, "count": o.count} for o in self.outcomes
            ],
            "busiest_hours": [{"weekday": w, "hour": h, "calls": n} for w, h, n in self.busiest],
            "heatmap": {WEEKDAYS[i]: list(row) for i, row in enumerate(self.heatmap)},
        }


def sla_by_caller(config: Config) -> tuple[Callable[[CallRecord], dt.timedelta], str]:
    """The callback SLA per call from `callbacks.sla` (by caller type, else its kind),
    and a short description for the report ('referrer 10 min, relative 20 min, ...')."""
    policy = policy_of(config)
    kinds = {c.id: c.kind.value for c in config.caller_types}

    def sla(record: CallRecord) -> dt.timedelta:
        caller = record.caller_type or config.default_caller_type
        return dt.timedelta(seconds=policy.sla_for(caller, kinds.get(caller, "resident")))

    text = ", ".join(f"{who} {seconds // 60} min" for who, seconds in policy.sla.items())
    return sla, text


def period_bounds(first: dt.date, end: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """Local midnight of `first` up to (not including) local midnight of `end`:
    `--from 2026-10-01 --to 2026-11-01` is all of October, DST change included."""
    return (
        dt.datetime.combine(first, dt.time(), tzinfo=tz),
        dt.datetime.combine(end, dt.time(), tzinfo=tz),
    )


def _counts(values: Iterable[str | None]) -> tuple[tuple[str, int], ...]:
    counter = Counter(v or UNKNOWN for v in values)
    return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def build_report(
    records: Iterable[CallRecord],
    *,
    start: dt.datetime,
    end: dt.datetime,
    tz: ZoneInfo,
    callback_sla: Callable[[CallRecord], dt.timedelta],
    sla_text: str = "",
    codes: TriageCodes | None = None,
) -> Report:
    """Aggregate the records whose call started in [start, end).

    `callback_sla` gives the claim deadline of a call's callback (it depends
    on the caller type, see `sla_by_caller`); `sla_text` describes it.
    """
    calls = [r for r in records if r.started_at is not None and start <= r.started_at < end]
    reached = Counter(r.reached_by for r in calls)
    heat = [[0] * 24 for _ in range(7)]
    for r in calls:
        assert r.started_at is not None
        local = r.started_at.astimezone(tz)
        heat[local.weekday()][local.hour] += 1

    live = [
        r.time_to_person
        for r in calls
        if r.reached_by in (ReachedBy.FIRST_LEG, ReachedBy.LATER_LEG)
    ]
    by_callback = [r.time_to_person for r in calls if r.reached_by is ReachedBy.CALLBACK]

    within = late = unclaimed = requested = called_back = 0
    for r in calls:
        asked = r.callback_requested_at
        if asked is None:
            continue
        requested += 1
        called_back += r.callback_reached_at is not None
        claimed = r.callback_claimed_at
        if claimed is None:
            unclaimed += 1
        elif claimed - asked <= callback_sla(r):
            within += 1
        else:
            late += 1

    outcome_counts = Counter(r.outcome.code for r in calls if r.outcome is not None)
    outcomes: list[OutcomeCount] = []
    for known in codes.codes if codes else ():
        outcomes.append(OutcomeCount(known.code, known.label, outcome_counts.pop(known.code, 0)))
    for retired, n in sorted(outcome_counts.items()):
        outcomes.append(OutcomeCount(retired, retired, n))
    without = sum(
        1 for r in calls if r.outcome is None and r.reached_by is not ReachedBy.NOT_REACHED
    )
    outcomes.append(OutcomeCount(NO_OUTCOME, "Geen uitkomst gemeld (wel gesproken)", without))

    return Report(
        start=start,
        end=end,
        calls=len(calls),
        by_window=_counts(r.window for r in calls),
        by_caller_type=_counts(r.caller_type for r in calls),
        by_age_group=_counts(r.age_group for r in calls),
        by_region=_counts(r.region for r in calls),
        reached=tuple((bucket.value, reached.get(bucket, 0)) for bucket in ReachedBy),
        time_to_person=Durations.of(v for v in (*live, *by_callback) if v is not None),
        time_to_person_live=Durations.of(v for v in live if v is not None),
        time_to_person_callback=Durations.of(v for v in by_callback if v is not None),
        callbacks=CallbackFigures(requested, within, late, unclaimed, called_back, sla_text),
        outcomes=tuple(outcomes),
        heatmap=tuple(tuple(row) for row in heat),
    )
