"""`build_report` counts column by column; here it is held to the plain definition.

`plain_report` below computes every figure the slow, obvious way: one call at
a time, each start converted to a local datetime, each figure a comprehension
over the calls it is about. Random rows (hypothesis, and one large seeded
batch) must give exactly the same `Report`, field for field: rows outside the
period, unknown groups (""), both DST changes, times and claims exactly on the
30 s / 60 s and SLA boundaries, retired and missing triage codes.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from callrouter.calls.record import LIVE_REACH, Reach
from callrouter.calls.reporting import (
    NO_OUTCOME,
    SERVICE_LEVELS,
    AnswerRate,
    CallbackFigures,
    Durations,
    OutcomeCount,
    Report,
    ServiceLevel,
    Week,
    period_bounds,
    sla_by_caller,
)
from callrouter.calls.rows import ReportRow
from tests.helpers import AMS, sample_generation
from tests.test_reporting import report_of

# March to November 2026: both DST changes (29 March, 25 October) fall inside.
PERIOD = period_bounds(dt.date(2026, 3, 1), dt.date(2026, 11, 1), AMS)
LOW_MS = int(PERIOD[0].timestamp() * 1000)
HIGH_MS = int(PERIOD[1].timestamp() * 1000)
MARGIN_MS = 3 * 86_400_000
"""Rows this far outside the period are generated too: they must not count."""

WINDOWS = ("kantoortijd", "avond", "nacht", "")
CALLERS = ("resident", "relative", "huisarts", "politie", "")
AGES = ("18+", "<18", "")
REGIONS = ("nijmegen", "maas_en_waal", "")
OUTCOMES = ("advies", "ambulant", "opname", "retired_code", "")
SECONDS = (0.0, 12.5, 29.9, 30.0, 30.1, 59.0, 60.0, 61.0, 240.0)
"""Times to a person and talk times, the service-level boundaries included."""
MINUTE_MS = 60_000


def plain_report(
    rows: list[ReportRow], sla: Callable[[str], dt.timedelta], minutes: tuple[tuple[str, int], ...]
) -> Report:
    """Every figure of the report, straight from its definition, call by call."""
    start, end = PERIOD
    calls = [
        r
        for r in rows
        if start <= dt.datetime.fromtimestamp(r.start_ms / 1000, dt.UTC).astimezone(AMS) < end
    ]
    live = {r.value for r in LIVE_REACH}
    answered = [r for r in calls if r.reach in live]
    past_menu = [r for r in calls if r.reach != Reach.HUNG_UP_MENU.value]

    def local(row: ReportRow) -> dt.datetime:
        return dt.datetime.fromtimestamp(row.start_ms // 1000, dt.UTC).astimezone(AMS)

    def counted(key: Callable[[ReportRow], str]) -> tuple[tuple[str, int], ...]:
        keys = {key(r) for r in calls}
        pairs = [(k, sum(1 for r in calls if key(r) == k)) for k in keys]
        return tuple(sorted(pairs, key=lambda kv: (-kv[1], kv[0])))

    def rates(key: Callable[[ReportRow], str]) -> tuple[AnswerRate, ...]:
        return tuple(
            AnswerRate(k, n, sum(1 for r in answered if key(r) == k)) for k, n in counted(key)
        )

    def monday(row: ReportRow) -> dt.date:
        day = local(row).date()
        return day - dt.timedelta(days=day.weekday())

    live_times = [r.to_person for r in answered if r.to_person is not None]
    callback_times = [
        r.to_person for r in calls if r.reach == Reach.CALLBACK.value and r.to_person is not None
    ]
    requests = [r for r in calls if r.cb_requested_ms is not None]

    def deadline(r: ReportRow) -> int:
        assert r.cb_requested_ms is not None
        return r.cb_requested_ms + int(sla(r.caller_type).total_seconds() * 1000)

    in_time = sum(
        1 for r in requests if r.cb_claimed_ms is not None and r.cb_claimed_ms <= deadline(r)
    )
    late = sum(1 for r in requests if r.cb_claimed_ms is not None and r.cb_claimed_ms > deadline(r))
    reached = [r for r in requests if r.cb_reached_ms is not None]
    spoke = live | {Reach.CALLBACK.value}
    known = [c.code for c in sample_generation().triage.codes]
    retired = sorted({r.outcome for r in calls if r.outcome and r.outcome not in known})
    mondays = sorted({monday(r) for r in calls})
    return Report(
        start=start,
        end=end,
        calls=len(calls),
        reach=tuple((c.value, sum(1 for r in calls if r.reach == c.value)) for c in Reach),
        service_levels=tuple(
            ServiceLevel(
                s,
                sum(1 for r in answered if r.to_person is not None and r.to_person <= s),
                len(past_menu),
            )
            for s in SERVICE_LEVELS
        ),
        by_window=counted(lambda r: r.window),
        by_caller_type=counted(lambda r: r.caller_type),
        by_age_group=counted(lambda r: r.age_group),
        by_region=counted(lambda r: r.region),
        answer_by_region=rates(lambda r: r.region),
        answer_by_caller_type=rates(lambda r: r.caller_type),
        time_to_person=Durations.of(live_times + callback_times),
        time_to_person_live=Durations.of(live_times),
        time_to_person_callback=Durations.of(callback_times),
        talk=Durations.of([r.talk for r in answered if r.talk is not None]),
        callbacks=CallbackFigures(
            len(requests),
            in_time,
            late,
            len(requests) - in_time - late,
            len(reached),
            sum(
                1 for r in reached if r.cb_reached_ms is not None and r.cb_reached_ms <= deadline(r)
            ),
            minutes,
        ),
        outcomes=tuple(
            OutcomeCount(code, sum(1 for r in calls if r.outcome == code))
            for code in [*known, *retired]
        )
        + (OutcomeCount(NO_OUTCOME, sum(1 for r in calls if not r.outcome and r.reach in spoke)),),
        trend=tuple(
            Week(
                m,
                sum(1 for r in calls if monday(r) == m),
                sum(1 for r in answered if monday(r) == m),
                sum(1 for r in past_menu if monday(r) == m),
                sum(
                    1
                    for r in answered
                    if monday(r) == m and r.to_person is not None and r.to_person <= 30
                ),
            )
            for m in mondays
        ),
        heatmap=tuple(
            tuple(
                sum(1 for r in calls if local(r).weekday() == d and local(r).hour == h)
                for h in range(24)
            )
            for d in range(7)
        ),
    )


def random_row(rng: random.Random) -> ReportRow:
    start = rng.randrange(LOW_MS - MARGIN_MS, HIGH_MS + MARGIN_MS)
    if rng.random() < 0.05:
        start = rng.choice((LOW_MS - 1, LOW_MS, HIGH_MS - 1, HIGH_MS))
    requested = rng.choice((None, start + 90_000))
    sla_ms = 10 * MINUTE_MS  # the shortest SLA (referrers): claims land on both sides of it

    def step() -> int | None:
        if requested is None or rng.random() < 0.3:
            return None
        return requested + rng.choice((0, sla_ms, sla_ms + 1, 20 * MINUTE_MS, 45 * MINUTE_MS))

    return ReportRow(
        start,
        rng.choice(WINDOWS),
        rng.choice(CALLERS),
        rng.choice(AGES),
        rng.choice(REGIONS),
        rng.choice(list(Reach)).value,
        rng.choice((None, *SECONDS)),
        rng.choice((None, *SECONDS)),
        requested,
        step(),
        step(),
        rng.choice(OUTCOMES),
    )


def expected_report(rows: list[ReportRow]) -> Report:
    generation = sample_generation()
    return plain_report(rows, *sla_by_caller(generation.config, generation.callbacks))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 400))
def test_random_rows_give_the_report_of_the_plain_definition(seed: int, count: int) -> None:
    rng = random.Random(seed)
    rows = [random_row(rng) for _ in range(count)]

    assert report_of(rows, PERIOD) == expected_report(rows)


def test_a_large_batch_in_any_order_gives_the_same_report() -> None:
    rng = random.Random(13)
    rows = [random_row(rng) for _ in range(3000)]
    shuffled = rows[::-1]

    assert report_of(rows, PERIOD) == expected_report(rows) == report_of(shuffled, PERIOD)


def test_a_generator_of_rows_counts_like_a_list() -> None:
    rng = random.Random(7)
    rows = [random_row(rng) for _ in range(200)]

    assert report_of(iter(rows), PERIOD) == report_of(rows, PERIOD)
