"""The call record: folding events into one record and what a record says about the call."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callrouter.calls.record import (
    Answered,
    CallbackChanged,
    CallRecord,
    Ended,
    LegAttempt,
    LegTried,
    Outcome,
    OutcomeReported,
    Reach,
    Routed,
    Started,
    apply,
    fold,
    leg_result,
    who_of,
)
from callrouter.routing.plan import CallerFacts, route
from tests.helpers import ams, sample_config

T0 = ams(2026, 10, 6, 19, 0)


def s(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def evening_plan():
    return route(T0, CallerFacts("resident", "18+"), sample_config())


def test_a_routed_call_keeps_window_facts_and_rule_but_no_number() -> None:
    started = Started(T0, "7", "abc123", "+31 ***** 45 67")
    record = fold("CA1", [started, Routed.from_plan(evening_plan(), T0)])

    assert (record.window, record.caller_type, record.age_group) == ("avond", "resident", "18+")
    assert record.rule == evening_plan().rule
    assert record.started_at == T0
    assert {f.name for f in dataclasses.fields(CallRecord)}.isdisjoint(
        {"number", "caller_number", "from_number", "phone"}
    )


def test_who_of_a_leg_names_members_or_the_line_never_a_number() -> None:
    plan = evening_plan()
    names = [who_of(leg) for leg in plan.legs]

    assert names
    for leg, name in zip(plan.legs, names, strict=True):
        assert all(t.number not in name for t in leg.targets)
        assert name.startswith("line:") == (leg.line is not None)


def _events():
    return [
        Started(T0, "7", "abc", "+31 ***** 45 67"),
        Routed(s(40), "avond", None, None, "resident", "18+", "volwassenen_iht"),
        LegTried(LegAttempt(1, "anna", "no-answer", 20, s(60), "oncall")),
        LegTried(LegAttempt(2, "bram", "answered", 8, s(70), "oncall")),
        Answered(s(70), "bram", 2),
        Ended(s(400), 400),
    ]


def test_events_fold_into_one_record_in_any_order() -> None:
    events = _events()

    forward = fold("CA1", events)
    backward = fold("CA1", list(reversed(events)))

    assert forward == backward
    assert [a.who for a in forward.legs] == ["anna", "bram"]
    assert forward.answered_by == "bram"
    assert forward.reach is Reach.LATER_LEG
    assert forward.time_to_person == 70
    assert forward.duration == 400


def test_a_repeated_webhook_does_not_count_a_leg_twice() -> None:
    events = _events()

    assert fold("CA1", events + events[2:4]) == fold("CA1", events)


def test_answered_on_the_first_leg() -> None:
    record = fold(
        "CA1",
        [
            Started(T0),
            LegTried(LegAttempt(1, "anna", "completed", 5, s(25))),
            Answered(s(25), "anna", 1),
        ],
    )

    assert record.reach is Reach.FIRST_LEG
    assert record.legs[0].result == "answered"


def test_callback_reached_the_caller() -> None:
    record = fold(
        "CA1",
        [
            Started(T0),
            LegTried(LegAttempt(1, "anna", "no-answer", 25, s(60))),
            CallbackChanged(s(90), "cb1", "requested"),
            Ended(s(100), 100),
            CallbackChanged(s(900), "cb1", "claimed"),
            CallbackChanged(s(1290), "cb1", "completed"),
        ],
    )

    assert record.reach is Reach.CALLBACK
    assert record.callback_id == "cb1"
    assert [st.state for st in record.callback_steps] == ["requested", "claimed", "completed"]
    assert record.callback_requested_at == s(90)
    assert record.time_to_person == 1290


def test_nobody_reached() -> None:
    record = fold(
        "CA1", [Started(T0), LegTried(LegAttempt(1, "anna", "busy", 0, s(30))), Ended(s(35), 35)]
    )

    assert record.reach is Reach.NOBODY
    assert record.time_to_person is None


def test_the_latest_triage_outcome_counts() -> None:
    record = fold(
        "CA1",
        [
            Started(T0),
            OutcomeReported(Outcome("advies", s(600), "bram", "sms")),
            OutcomeReported(Outcome("ambulant", s(700), "bram", "cli")),
        ],
    )

    assert record.outcome is not None and record.outcome.code == "ambulant"


def test_a_stale_end_is_replaced_by_the_real_one() -> None:
    record = fold("CA1", [Started(T0), Ended(s(7 * 3600), None, "stale")])

    assert apply(record, Ended(s(300), 300)).end_reason == "completed"
    assert apply(apply(record, Ended(s(300), 300)), Ended(s(400), 1)).duration == 300


def test_events_without_a_start_still_make_a_record() -> None:
    record = fold("CA1", [CallbackChanged(s(90), "cb1", "requested")])

    assert record.started_at == s(90)
    assert record.end_reason == "incomplete"


@pytest.mark.parametrize(
    ("raw", "result"),
    [
        ("completed", "answered"),
        ("no-answer", "no-answer"),
        ("NO_ANSWER", "no-answer"),
        ("busy", "busy"),
        ("", "failed"),
        ("declined", "declined"),
    ],
)
def test_dial_call_status_is_normalised(raw, result) -> None:
    assert leg_result(raw) == result


@given(st.lists(st.sampled_from(range(8)), max_size=12))
def test_fold_is_independent_of_event_order(order) -> None:
    base = _events() + [
        CallbackChanged(s(5), "cb", "requested"),
        OutcomeReported(Outcome("advies", s(500))),
    ]
    chosen = [base[i] for i in order]

    assert fold("CA1", chosen) == fold("CA1", list(reversed(chosen)))
