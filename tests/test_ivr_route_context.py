"""Only the questions the routing needs; only staff who are free."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from callrouter.routing.plan import CallerFacts
from ivr.flow import Call, Step
from ivr.menus import Question
from ivr.route_context import QuestionsMemo, RouteContext
from tests.helpers import ams, sample_config

ALL = tuple(Question)
ANNA, BRAM, EVA = "+31610000001", "+31610000002", "+31610000005"


UNKNOWN = CallerFacts()


def asked_at(
    moment: dt.datetime,
    facts: CallerFacts = UNKNOWN,
    asked: frozenset[Question] = frozenset(),
    questions: tuple[Question, ...] = ALL,
) -> tuple[Question, ...]:
    context = RouteContext(sample_config(), questions, busy=lambda numbers: frozenset())
    call = Call(step=Step.CALLER, lang="nl", at=int(moment.timestamp()), facts=facts, asked=asked)
    return context.open_questions(call)


def test_in_office_hours_the_region_matters_because_land_van_cuijk_has_its_own_team() -> None:
    assert asked_at(ams(2026, 4, 28, 10, 0)) == ALL


@pytest.mark.parametrize(
    "moment",
    [ams(2026, 4, 28, 19, 0), ams(2026, 4, 29, 3, 0), ams(2026, 4, 27, 11, 0)],
    ids=["evening", "night", "kings-day"],
)
def test_outside_office_hours_nobody_is_asked_for_their_region(moment: dt.datetime) -> None:
    assert asked_at(moment) == (Question.CALLER, Question.AGE)


def test_a_known_referrer_is_only_asked_the_age_because_youth_go_to_the_cit() -> None:
    facts = CallerFacts(caller_type="huisarts", region="nijmegen")

    assert asked_at(ams(2026, 4, 28, 10, 0), facts) == (Question.AGE,)


def test_for_a_child_nothing_else_matters() -> None:
    assert asked_at(ams(2026, 4, 28, 10, 0), CallerFacts(age_group="<18")) == ()


def test_a_question_already_asked_is_not_asked_again_even_without_an_answer() -> None:
    asked = asked_at(ams(2026, 4, 28, 10, 0), asked=frozenset({Question.CALLER}))

    assert Question.CALLER not in asked


def test_only_configured_menus_are_asked() -> None:
    assert asked_at(ams(2026, 4, 28, 10, 0), questions=(Question.AGE,)) == (Question.AGE,)


def test_the_answer_is_computed_once_per_situation_and_config() -> None:
    memo: QuestionsMemo = {}
    config = sample_config()
    first = RouteContext(config, ALL, busy=lambda numbers: frozenset(), memo=memo)
    later = RouteContext(config, ALL, busy=lambda numbers: frozenset(), memo=memo)
    tuesday = Call(step=Step.CALLER, lang="nl", at=int(ams(2026, 4, 28, 10, 0).timestamp()))
    next_week = Call(step=Step.CALLER, lang="nl", at=int(ams(2026, 5, 5, 11, 0).timestamp()))

    answers = first.open_questions(tuesday), later.open_questions(next_week)

    assert answers == (ALL, ALL)
    assert len(memo) == 1  # same window, no holiday, same facts: one computation


def call_at(moment: dt.datetime, leg: int = -1) -> Call:
    facts = CallerFacts("resident", "18+", "nijmegen")
    return Call(step=Step.DIAL, lang="nl", at=int(moment.timestamp()), facts=facts, leg=leg)


def test_a_leg_whose_staff_are_all_on_a_crisis_call_is_skipped() -> None:
    # Tuesday 28 April 2026, 10:00: iht eerste_lijn is Anna, achterwacht Eva.
    free = RouteContext(sample_config(), ALL, busy=lambda numbers: frozenset())
    anna_busy = RouteContext(sample_config(), ALL, busy=lambda numbers: frozenset(numbers) & {ANNA})
    call = call_at(ams(2026, 4, 28, 10, 0))

    assert [t.number for t in free.plan(call).legs[0].targets] == [ANNA]
    assert free.next_leg(call) == 0
    assert anna_busy.next_leg(call) == 1


def test_when_every_leg_is_busy_the_call_goes_to_the_final_step() -> None:
    everyone_busy = RouteContext(sample_config(), ALL, busy=lambda numbers: frozenset(numbers))

    assert everyone_busy.next_leg(call_at(ams(2026, 4, 28, 10, 0))) is None


def test_busy_staff_are_looked_up_once_per_leg() -> None:
    lookups: list[tuple[str, ...]] = []

    def busy(numbers: Sequence[str]) -> frozenset[str]:
        lookups.append(tuple(numbers))
        return frozenset()

    context = RouteContext(sample_config(), ALL, busy=busy)
    call = call_at(ams(2026, 4, 28, 10, 0))
    leg = context.plan(call).legs[context.next_leg(call) or 0]
    context.free(leg)
    context.free(leg)

    assert lookups == [(ANNA,)]
