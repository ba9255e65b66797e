"""Report figures, computed from records written through the call store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pytest
import redis

from callrouter.calls.reporting import (
    Durations,
    Report,
    ServiceLevel,
    Week,
    build_report,
    percentile,
    period_bounds,
    sla_by_caller,
)
from callrouter.calls.rows import ReportRow, row_of
from callrouter.calls.store import CallStore
from callrouter.routing.plan import CallerFacts, route
from tests.helpers import AMS, ams, sample_config, sample_generation

KEY = b"test-pseudonym-key-0123456789"


def write_call(
    store: CallStore,
    sid: str,
    at: dt.datetime,
    facts: CallerFacts,
    *,
    answer_leg: int | None = None,
    ring: float = 20,
    callback_minutes: float | None = None,
    claim_minutes: float = 2,
    outcome: str | None = None,
    talk: float = 0,
    line_answers: str = "",
    hang_up: str = "",
) -> None:
    """One call as the voice and callback code report it: legs, answer or callback, end.

    `line_answers` 'line', 'final' or 'overflow': after the staff legs ring out, that line
    takes the call; `hang_up` 'menu' or 'ringing': the caller gives up there."""
    plan = route(at, facts, sample_config())
    store.started(sid, "+31612344567", at, None if hang_up == "menu" else plan)
    t = at + dt.timedelta(seconds=30)  # the IVR
    legs = 0 if hang_up == "menu" else (answer_leg or len(plan.legs))
    for index in range(1, legs + 1):
        t += dt.timedelta(seconds=ring)
        answered = index == answer_leg
        result = "completed" if answered else "no-answer"
        if hang_up == "ringing" and index == legs:
            result = "canceled"
        store.leg(
            sid,
            index,
            f"m{index}",
            result,
            ring,
            t + dt.timedelta(seconds=talk * answered),
            "oncall",
            talk * answered,
        )
        if answered:
            store.answered(sid, f"m{index}", t, leg=index)
            t += dt.timedelta(seconds=talk)
    if line_answers:
        t += dt.timedelta(seconds=ring + talk)
        who = {"final": "line:fallback", "overflow": "line:achtervang"}.get(
            line_answers, "line:ggz_centrale"
        )
        store.leg(sid, legs + 1, who, "completed", ring, t, line_answers, talk)
    if callback_minutes is not None:
        store.callback(sid, f"cb-{sid}", "requested", t)
    store.ended(sid, (t - at).total_seconds() + 60, t + dt.timedelta(seconds=60))
    if callback_minutes is not None:
        if claim_minutes >= 0:
            store.callback(sid, f"cb-{sid}", "claimed", t + dt.timedelta(minutes=claim_minutes))
        if callback_minutes > 0:
            done = t + dt.timedelta(minutes=callback_minutes)
            store.callback(sid, f"cb-{sid}", "calling", done - dt.timedelta(minutes=1))
            store.callback(sid, f"cb-{sid}", "completed", done)
    if outcome:
        store.report_outcome(sid, outcome, t + dt.timedelta(hours=1), by="m1", via="sms")


@pytest.fixture
def october_store(redis_conn: redis.Redis) -> CallStore:
    store = CallStore(redis_conn, KEY)
    adult, youth = CallerFacts("resident", "18+"), CallerFacts("relative", "<18", "nijmegen")
    gp = CallerFacts("huisarts", "18+", "nijmegen")
    # Tuesday 6 Oct 10:00 (kantoortijd): answered on the first leg after 20 s ring.
    write_call(store, "A", ams(2026, 10, 6, 10, 0), gp, answer_leg=1, outcome="advies", talk=600)
    write_call(
        store, "B", ams(2026, 10, 6, 10, 30), adult, answer_leg=1, outcome="ambulant", talk=300
    )
    # Tuesday 19:00 (avond): second leg.
    write_call(
        store, "C", ams(2026, 10, 6, 19, 0), adult, answer_leg=2, outcome="ambulant", talk=120
    )
    # Saturday night 03:00 (nacht), a relative about a youth: nobody; the callback is
    # claimed after 15 min (SLA for relatives: 20 min) and the caller reached at 25 min.
    write_call(
        store,
        "D",
        ams(2026, 10, 10, 3, 0),
        youth,
        callback_minutes=25,
        claim_minutes=15,
        outcome="veilig_thuis",
    )
    # Sunday 25 Oct 02:30, the second (winter time) occurrence: claimed after 35 min (late).
    write_call(
        store, "E", ams(2026, 10, 25, 2, 30, fold=1), adult, callback_minutes=50, claim_minutes=35
    )
    # Saturday 31 Oct 23:00: callback never claimed, then September/November calls.
    write_call(store, "F", ams(2026, 10, 31, 23, 0), adult, callback_minutes=0, claim_minutes=-1)
    write_call(store, "G", ams(2026, 9, 30, 23, 59), adult, answer_leg=1)
    write_call(store, "H", ams(2026, 11, 1, 0, 0), adult, answer_leg=1)
    # Week of 12 Oct: the 24/7 line, overflow, a hang-up in the menu and one while ringing.
    write_call(store, "I", ams(2026, 10, 13, 19, 0), adult, line_answers="line", talk=240)
    write_call(store, "J", ams(2026, 10, 14, 19, 0), gp, line_answers="overflow", talk=60)
    write_call(store, "K", ams(2026, 10, 15, 19, 0), adult, hang_up="menu")
    write_call(store, "L", ams(2026, 10, 16, 19, 0), youth, hang_up="ringing")
    return store


OCTOBER = period_bounds(dt.date(2026, 10, 1), dt.date(2026, 11, 1), AMS)


@pytest.fixture
def october(october_store: CallStore) -> list[ReportRow]:
    """The rows the store kept as the calls closed (and as late events came in)."""
    return october_store.report_rows(*OCTOBER)


def report_of(
    rows: Iterable[ReportRow], period: tuple[dt.datetime, dt.datetime] = OCTOBER
) -> Report:
    """The report over `rows` with the sample config's SLA and triage codes."""
    generation = sample_generation()
    sla, minutes = sla_by_caller(generation.config, generation.callbacks)
    return build_report(
        rows,
        start=period[0],
        end=period[1],
        tz=AMS,
        callback_sla=sla,
        sla_minutes=minutes,
        codes=generation.triage,
    )


def test_the_kept_rows_are_the_rows_of_the_folded_records(october_store, october) -> None:
    """Rows kept as calls close (and as late events arrive) equal a fold of the stream."""
    folded = [row_of(r) for r in october_store.records(*OCTOBER)]

    assert sorted(october) == sorted(r for r in folded if r is not None)


def test_the_period_holds_october_calls_only(october) -> None:
    assert len(october) == 10
    assert report_of(october).calls == 10


def test_calls_by_window_caller_type_age_group_and_region(october) -> None:
    report = report_of(october)

    # K hung up in the menu: nothing about it is known ("").
    assert dict(report.by_window) == {"kantoortijd": 2, "avond": 4, "nacht": 3, "": 1}
    assert dict(report.by_caller_type) == {"resident": 5, "relative": 2, "huisarts": 2, "": 1}
    assert dict(report.by_age_group) == {"18+": 7, "<18": 2, "": 1}
    assert dict(report.by_region) == {"": 6, "nijmegen": 4}


def test_each_way_a_call_ends_has_its_own_category(october) -> None:
    """The 24/7 line, overflow, hang-ups in the menu and while ringing are no longer
    'nobody', and a later leg is no longer counted with the first."""
    assert report_of(october).reach == (
        ("first_leg", 2),
        ("later_leg", 1),
        ("line", 1),
        ("overflow", 1),
        ("callback", 2),
        ("hung_up_menu", 1),
        ("hung_up_ringing", 1),
        ("nobody", 1),
    )


def test_time_to_a_person_median_and_p90(october) -> None:
    report = report_of(october)

    # Live: A and B after 30 s IVR + 20 s ring = 50 s; C after 30 + 2 x 20 = 70 s;
    # the lines after every staff leg rang out and then 20 s of their own.
    assert report.time_to_person_live.count == 5
    assert (report.time_to_person_live.median, report.time_to_person_live.p90) == (70, 110)
    assert report.time_to_person_callback.count == 2
    assert report.time_to_person.count == 7


def test_service_level_counts_calls_past_the_menu_with_a_person_within_30_and_60_s(
    october,
) -> None:
    assert report_of(october).service_levels == (
        ServiceLevel(30, 0, 9),
        ServiceLevel(60, 2, 9),
    )


def test_answer_rates_per_region_and_caller_type(october) -> None:
    report = report_of(october)

    regions = {r.key: (r.answered, r.calls) for r in report.answer_by_region}
    callers = {r.key: (r.answered, r.calls) for r in report.answer_by_caller_type}
    assert regions == {"": (3, 6), "nijmegen": (2, 4)}
    assert callers == {"resident": (3, 5), "huisarts": (2, 2), "relative": (0, 2), "": (0, 1)}


def test_talk_time_of_conversations_on_the_line(october) -> None:
    talk = report_of(october).talk

    assert (talk.count, talk.median, talk.p90, talk.total) == (5, 240, 600, 1320)


def test_a_weekly_trend_from_monday_local_time(october) -> None:
    trend = report_of(october).trend

    assert [w.monday for w in trend] == [
        dt.date(2026, 10, 5),
        dt.date(2026, 10, 12),
        dt.date(2026, 10, 19),
        dt.date(2026, 10, 26),
    ]
    assert trend[1] == Week(dt.date(2026, 10, 12), calls=4, answered=2, offered=3, within_30=0)


def test_callbacks_claimed_and_completed_within_the_promised_time(october) -> None:
    cb = report_of(october).callbacks

    assert (cb.requested, cb.claimed_in_time, cb.claimed_late, cb.not_claimed) == (3, 1, 1, 1)
    # D was reached after 25 min (promised: 20), E after 50: neither in time.
    assert (cb.reached, cb.reached_in_time) == (2, 0)
    assert dict(cb.sla_minutes) == {"referrer": 10, "relative": 20, "resident": 20}


def test_a_callback_completed_in_time_counts_as_in_time(redis_conn: redis.Redis) -> None:
    store = CallStore(redis_conn, KEY)
    write_call(
        store, "M", ams(2026, 10, 6, 3, 0), CallerFacts("huisarts", "18+"), callback_minutes=8
    )

    cb = report_of(store.report_rows(*OCTOBER)).callbacks

    assert (cb.requested, cb.reached, cb.reached_in_time) == (1, 1, 1)


def test_the_callback_sla_depends_on_the_caller() -> None:
    sla, _minutes = sla_by_caller(sample_config(), sample_generation().callbacks)

    assert sla("huisarts") == dt.timedelta(minutes=10)  # a referrer
    assert sla("relative") == dt.timedelta(minutes=20)


def test_triage_outcomes_in_config_order_with_unreported_calls(october) -> None:
    outcomes = {o.code: o.count for o in report_of(october).outcomes}

    assert list(outcomes)[:2] == ["advies", "actieve_inschatting"]
    assert outcomes["advies"] == 1 and outcomes["ambulant"] == 2
    assert outcomes["veilig_thuis"] == 1 and outcomes["opname"] == 0
    # E (callback), I (24/7 line) and J (overflow) spoke with someone; nobody reported.
    assert outcomes["geen_uitkomst"] == 3


def test_busiest_hours_use_local_time_across_the_dst_change(october) -> None:
    report = report_of(october)

    assert report.heatmap[1][10] == 2  # Tuesday 10:00-11:00
    assert report.heatmap[6][2] == 1  # Sunday 02:30 (second occurrence) is still 02h local
    assert report.busiest[0] == (1, 10, 2)
    assert sum(map(sum, report.heatmap)) == 10
    assert report.days == 31


def test_an_empty_period_is_a_report_of_zeros() -> None:
    report = report_of([])

    assert report.calls == 0
    assert report.time_to_person == Durations(0, None, None)
    assert report.busiest == ()
    assert report.trend == ()
    assert report.service_levels == (ServiceLevel(30, 0, 0), ServiceLevel(60, 0, 0))


def test_the_rows_carry_no_caller_pseudonym_or_number(october_store, october) -> None:
    text = repr(october) + repr(report_of(october))

    assert all(r.caller_ref not in text for r in october_store.records(*OCTOBER))
    assert "612344567" not in text


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([1.0], 90, 1.0),
        ([1.0, 2.0], 50, 1.0),
        ([1.0, 2.0, 3.0], 50, 2.0),
        ([float(v) for v in range(1, 11)], 90, 9.0),
        ([float(v) for v in range(1, 12)], 90, 10.0),
        ([], 50, None),
    ],
)
def test_percentiles_are_nearest_rank(values, pct, expected) -> None:
    assert percentile(values, pct) == expected


def test_a_period_runs_from_local_midnight_to_local_midnight() -> None:
    start, end = OCTOBER

    assert start.utcoffset() == dt.timedelta(hours=2)
    assert end.utcoffset() == dt.timedelta(hours=1)
    assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(days=31, hours=1)
