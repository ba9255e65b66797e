"""Report figures, computed from records written through the call store."""

from __future__ import annotations

import datetime as dt

import pytest
import redis

from callrouter.calls.record import CallRecord
from callrouter.calls.reporting import (
    Durations,
    build_report,
    percentile,
    period_bounds,
    sla_by_caller,
)
from callrouter.calls.store import CallStore
from callrouter.calls.triage import codes_from
from callrouter.routing.plan import CallerFacts, route
from tests.helpers import AMS, ams, sample_config

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
) -> None:
    """One call as the voice and callback code report it: legs, answer or callback, end."""
    plan = route(at, facts, sample_config())
    store.started(sid, "+31612344567", at, plan)
    t = at + dt.timedelta(seconds=30)  # the IVR
    for index in range(1, (answer_leg or len(plan.legs)) + 1):
        t += dt.timedelta(seconds=ring)
        answered = index == answer_leg
        store.leg(sid, index, f"m{index}", "completed" if answered else "no-answer", ring, t)
        if answered:
            store.answered(sid, f"m{index}", t, leg=index)
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
def october(redis_conn: redis.Redis) -> list[CallRecord]:
    store = CallStore(redis_conn, KEY)
    adult, youth = CallerFacts("resident", "18+"), CallerFacts("relative", "<18", "nijmegen")
    gp = CallerFacts("huisarts", "18+", "nijmegen")
    # Tuesday 6 Oct 10:00 (kantoortijd): answered on the first leg after 20 s ring.
    write_call(store, "A", ams(2026, 10, 6, 10, 0), gp, answer_leg=1, outcome="advies")
    write_call(store, "B", ams(2026, 10, 6, 10, 30), adult, answer_leg=1, outcome="ambulant")
    # Tuesday 19:00 (avond): second leg.
    write_call(store, "C", ams(2026, 10, 6, 19, 0), adult, answer_leg=2, outcome="ambulant")
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
    start, end = period_bounds(dt.date(2026, 10, 1), dt.date(2026, 11, 1), AMS)
    return store.records(start, end)


def report_of(records: list[CallRecord]):
    start, end = period_bounds(dt.date(2026, 10, 1), dt.date(2026, 11, 1), AMS)
    config = sample_config()
    sla, text = sla_by_caller(config)
    return build_report(
        records,
        start=start,
        end=end,
        tz=AMS,
        callback_sla=sla,
        sla_text=text,
        codes=codes_from(config.extra["triage"]),
    )


def test_the_period_holds_october_calls_only(october) -> None:
    assert sorted(r.call_id for r in october) == ["A", "B", "C", "D", "E", "F"]
    assert report_of(october).calls == 6


def test_calls_by_window_caller_type_age_group_and_region(october) -> None:
    report = report_of(october)

    assert dict(report.by_window) == {"kantoortijd": 2, "avond": 1, "nacht": 3}
    assert dict(report.by_caller_type) == {"resident": 4, "relative": 1, "huisarts": 1}
    assert dict(report.by_age_group) == {"18+": 5, "<18": 1}
    assert dict(report.by_region) == {"onbekend": 4, "nijmegen": 2}


def test_how_callers_reached_a_person(october) -> None:
    assert report_of(october).reached == (
        ("first_leg", 2),
        ("later_leg", 1),
        ("callback", 2),
        ("not_reached", 1),
    )


def test_time_to_a_person_median_and_p90(october) -> None:
    report = report_of(october)

    # Live: A and B after 30 s IVR + 20 s ring = 50 s; C after 30 + 2 x 20 = 70 s.
    assert report.time_to_person_live == Durations(3, 50, 70)
    assert report.time_to_person_callback.count == 2
    assert report.time_to_person.count == 5
    assert report.time_to_person.median == 70


def test_callbacks_within_the_sla(october) -> None:
    cb = report_of(october).callbacks

    assert (cb.requested, cb.within_sla, cb.late, cb.not_claimed, cb.reached) == (3, 1, 1, 1, 2)
    assert cb.sla_text == "referrer 10 min, relative 20 min, resident 20 min"


def test_the_callback_sla_depends_on_the_caller(october) -> None:
    sla, _text = sla_by_caller(sample_config())
    by_id = {r.call_id: r for r in october}

    assert sla(by_id["A"]) == dt.timedelta(minutes=10)  # huisarts: a referrer
    assert sla(by_id["D"]) == dt.timedelta(minutes=20)


def test_triage_outcomes_in_config_order_with_unreported_calls(october) -> None:
    outcomes = {o.code: o.count for o in report_of(october).outcomes}

    assert list(outcomes)[:2] == ["advies", "actieve_inschatting"]
    assert outcomes["advies"] == 1 and outcomes["ambulant"] == 2
    assert outcomes["veilig_thuis"] == 1 and outcomes["opname"] == 0
    assert outcomes["geen_uitkomst"] == 1  # E reached a person but nobody reported an outcome


def test_busiest_hours_use_local_time_across_the_dst_change(october) -> None:
    report = report_of(october)

    assert report.heatmap[1][10] == 2  # Tuesday 10:00-11:00
    assert report.heatmap[6][2] == 1  # Sunday 02:30 (second occurrence) is still 02h local
    assert report.busiest[0] == ("tue", 10, 2)
    assert sum(map(sum, report.heatmap)) == 6


def test_an_empty_period_is_a_report_of_zeros() -> None:
    report = report_of([])

    assert report.calls == 0
    assert report.time_to_person == Durations(0, None, None)
    assert report.busiest == ()
    assert report.callbacks.within_sla_share is None


def test_the_report_carries_no_caller_pseudonym_or_number(october) -> None:
    text = repr(report_of(october).to_dict())

    assert all(r.caller_ref not in text for r in october)
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
    start, end = period_bounds(dt.date(2026, 10, 1), dt.date(2026, 11, 1), AMS)

    assert start.utcoffset() == dt.timedelta(hours=2)
    assert end.utcoffset() == dt.timedelta(hours=1)
    assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(days=31, hours=1)
