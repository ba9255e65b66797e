"""The transition table: total, and no caller can get stuck in it.

The walk explores every state reachable from a new call under every input
(a choice, an invalid key, silence, a language request, a dial result, a
hang-up), with a routing that never stops asking and with the real sample
config at moments that ask all, some or none of the questions. Every path
reaches a `<Dial>` step (a leg, the final line, the fallback line) within a
fixed number of inputs, or ends because the caller hung up.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import pytest

from callrouter.routing.callers import recognise
from callrouter.routing.plan import CallerFacts
from ivr.flow import DIALLING_STEPS, TABLE, Call, Event, Input, Routing, Step, advance, begin
from ivr.menus import Question
from ivr.route_context import RouteContext
from tests.helpers import ams, sample_config

MAX_INPUTS_BEFORE_DIALLING = 7
"""Three questions, each asked twice at most, plus one change of language."""

EVENTS = (
    Event(Input.CHOICE, "resident"),
    Event(Input.CHOICE, "<18"),
    Event(Input.CHOICE, None),
    Event(Input.INVALID),
    Event(Input.SILENCE),
    Event(Input.SWITCH_LANGUAGE, "en"),
    Event(Input.SWITCH_LANGUAGE, "nl"),
    Event(Input.ANSWERED),
    Event(Input.UNANSWERED),
    Event(Input.HUNG_UP),
)


@dataclass
class EndlessQuestions:
    """A routing that would ask every question for ever, with `legs` legs."""

    legs: int = 3

    def open_questions(self, call: Call) -> tuple[Question, ...]:
        return tuple(Question)

    def next_leg(self, call: Call) -> int | None:
        return call.leg + 1 if call.leg + 1 < self.legs else None


def inputs_until_dialling(start: Call, routing: Routing) -> int:
    """The most inputs any path from `start` takes to reach a dialling step or DONE."""
    memo: dict[Call, int] = {}
    on_path: set[Call] = set()

    def walk(call: Call) -> int:
        if call.step in DIALLING_STEPS or call.step is Step.DONE:
            return 0
        if call in memo:
            return memo[call]
        assert call not in on_path, f"the caller can loop in a menu: {call}"
        on_path.add(call)
        worst = 1 + max(walk(advance(call, e, routing)) for e in EVENTS)
        on_path.discard(call)
        memo[call] = worst
        return worst

    return walk(start)


def test_the_table_has_a_transition_for_every_step_and_input() -> None:
    assert set(TABLE) == set(itertools.product(Step, Input))


def test_with_a_routing_that_never_stops_asking_every_path_still_reaches_a_dial() -> None:
    routing = EndlessQuestions()
    start = begin("nl", 0, CallerFacts(), routing)

    assert start.step is Step.CALLER
    assert inputs_until_dialling(start, routing) == MAX_INPUTS_BEFORE_DIALLING


@pytest.mark.parametrize(
    "moment",
    [
        ams(2026, 4, 28, 10, 0),  # Tuesday office hours: every question matters
        ams(2026, 4, 28, 19, 0),  # Tuesday evening
        ams(2026, 4, 29, 3, 0),  # night
        ams(2026, 4, 27, 11, 0),  # King's Day
        ams(2026, 12, 24, 18, 0),  # Christmas Eve closure
    ],
    ids=["office", "evening", "night", "kings-day", "christmas-eve"],
)
@pytest.mark.parametrize(
    "caller",
    ["+31612345678", "+31247000201", "+31487123456", None],
    ids=["mobile", "known-huisarts", "landline-maas-en-waal", "withheld"],
)
def test_on_the_sample_config_every_path_reaches_a_dial_and_the_legs_end_at_the_final_step(
    moment: dt.datetime, caller: str | None
) -> None:
    config = sample_config()
    routing = RouteContext(config, tuple(Question), busy=lambda numbers: frozenset())
    start = begin("nl", int(moment.timestamp()), recognise(caller, config).facts, routing)

    assert inputs_until_dialling(start, routing) <= MAX_INPUTS_BEFORE_DIALLING
    legs = len(routing.plan(start).legs)
    call = dialling_after_silence(start, routing)
    for _ in range(legs + 1):
        if call.step is Step.FINAL:
            break
        call = advance(call, Event(Input.UNANSWERED), routing)
    assert call.step is Step.FINAL
    assert advance(call, Event(Input.UNANSWERED), routing).step is Step.FINAL  # rung again


def dialling_after_silence(call: Call, routing: RouteContext) -> Call:
    """Answer every question with silence until the call dials."""
    while call.step not in DIALLING_STEPS:
        call = advance(call, Event(Input.SILENCE), routing)
    return call


def test_silence_gets_one_clearer_retry_then_the_call_moves_on_without_that_answer() -> None:
    routing = EndlessQuestions()
    call = begin("nl", 0, CallerFacts(), routing)

    retry = advance(call, Event(Input.SILENCE), routing)
    moved_on = advance(retry, Event(Input.INVALID), routing)

    assert (retry.step, retry.attempt) == (Step.CALLER, 1)
    assert (moved_on.step, moved_on.attempt) == (Step.AGE, 0)
    assert moved_on.facts.caller_type is None  # routing fills in the default caller type
    assert Question.CALLER in moved_on.asked


def test_an_answer_is_recorded_and_the_next_open_question_follows() -> None:
    routing = EndlessQuestions()
    call = begin("nl", 0, CallerFacts(), routing)

    after = advance(call, Event(Input.CHOICE, "relative"), routing)

    assert after.facts.caller_type == "relative"
    assert after.step is Step.AGE


def test_english_on_request_repeats_the_question_in_english_without_using_the_retry() -> None:
    routing = EndlessQuestions()
    call = advance(begin("nl", 0, CallerFacts(), routing), Event(Input.SILENCE), routing)

    english = advance(call, Event(Input.SWITCH_LANGUAGE, "en"), routing)
    again = advance(english, Event(Input.SWITCH_LANGUAGE, "nl"), routing)

    assert (english.step, english.lang, english.attempt) == (Step.CALLER, "en", 1)
    assert again.lang == "en" and again.step is Step.AGE  # a second switch is just invalid


def test_a_known_referrer_is_not_asked_who_is_calling() -> None:
    config = sample_config()
    routing = RouteContext(config, tuple(Question), busy=lambda numbers: frozenset())
    moment = int(ams(2026, 4, 28, 10, 0).timestamp())

    stranger = begin("nl", moment, CallerFacts(), routing)
    huisarts = begin("nl", moment, CallerFacts(caller_type="huisarts"), routing)

    assert stranger.step is Step.CALLER
    assert huisarts.step is Step.AGE


def test_a_blocked_caller_can_go_straight_to_the_fallback_line() -> None:
    call = begin("nl", 0, CallerFacts(), EndlessQuestions(), straight_to_fallback=True)

    assert call.step is Step.FALLBACK
    assert advance(call, Event(Input.UNANSWERED), EndlessQuestions()).step is Step.FALLBACK


def test_legs_only_move_forward_even_if_the_routing_says_otherwise() -> None:
    @dataclass
    class Backwards(EndlessQuestions):
        def next_leg(self, call: Call) -> int | None:
            return 0

    call = Call(step=Step.DIAL, lang="nl", at=0, leg=0)

    assert advance(call, Event(Input.UNANSWERED), Backwards()).step is Step.FINAL


def test_after_a_conversation_or_a_hang_up_the_call_is_done() -> None:
    dialling = Call(step=Step.DIAL, lang="nl", at=0, leg=1)

    assert advance(dialling, Event(Input.ANSWERED), EndlessQuestions()).step is Step.DONE
    assert advance(dialling, Event(Input.HUNG_UP), EndlessQuestions()).step is Step.DONE
