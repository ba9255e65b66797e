"""The transition table: total, and no caller can get stuck in it.

The walk explores every path from a new call under every input Twilio can
report at each step (a choice, an invalid key, silence, a language request,
a dial result, a hang-up), with routings that never stop asking, with and
without a callback offer or an overflow line, before and after the time
bound, and with the real sample config at moments that ask all, some or
none of the questions. Every path reaches a `<Dial>` within a fixed number
of inputs, no state repeats, every path ends (a conversation, a hang-up, or
the spoken referral) within a fixed number of steps, and no prompt is heard
more than twice.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from dataclasses import dataclass

import pytest

from callrouter.routing.callers import recognise
from callrouter.routing.plan import CallerFacts
from ivr.flow import (
    DIALLING_STEPS,
    FINISHING_STEPS,
    LINE_STEPS,
    TABLE,
    Call,
    Event,
    Input,
    Routing,
    Step,
    advance,
    announcement,
    begin,
    finishing,
)
from ivr.menus import Question
from ivr.route_context import RouteContext
from tests.helpers import ams, sample_config

MAX_INPUTS_BEFORE_DIALLING = 7
"""Three questions, each answered invalidly twice at most, plus one change of
language (silence routes at once)."""
MAX_STEPS_AFTER_DIALLING = 6 + 2 + 1 + 2 + 1 + 1
"""Six legs, the final line twice, the offer, the overflow line twice, the
offer or the final line once more after a rollover, and the referral."""

MENU_EVENTS = (
    Event(Input.CHOICE, "resident"),
    Event(Input.CHOICE, "<18"),
    Event(Input.CHOICE, None),
    Event(Input.INVALID),
    Event(Input.SILENCE),
    Event(Input.SWITCH_LANGUAGE, "en"),
    Event(Input.SWITCH_LANGUAGE, "nl"),
    Event(Input.HUNG_UP),
)
LEG_EVENTS = (Event(Input.ANSWERED), Event(Input.UNANSWERED), Event(Input.HUNG_UP))
EVENTS = MENU_EVENTS + LEG_EVENTS[:2]
TERMINAL = frozenset({Step.DONE, Step.REFERRAL})


@dataclass
class EndlessQuestions:
    """A routing that would ask every question for ever, with `legs` legs."""

    legs: int = 3
    callback: bool = True
    overflow: bool = True
    late: bool = False
    """The caller has waited past the time bound."""

    def open_questions(self, call: Call) -> tuple[Question, ...]:
        return tuple(Question)

    def next_leg(self, call: Call) -> int | None:
        return call.leg + 1 if call.leg + 1 < self.legs else None

    def finish(self, call: Call) -> tuple[Step, ...]:
        return finishing(self.callback, self.overflow, call.fallback, call.rolled)

    def attempts(self, call: Call) -> int:
        return 2 if call.step in LINE_STEPS else 1

    def overdue(self, call: Call) -> bool:
        return self.late


ROUTINGS = [
    EndlessQuestions(),
    EndlessQuestions(late=True),
    EndlessQuestions(callback=False),
    EndlessQuestions(overflow=False),
    EndlessQuestions(legs=0, callback=False, overflow=False),
    EndlessQuestions(legs=6),
]


def inputs_until_dialling(start: Call, routing: Routing) -> int:
    """The most inputs any path from `start` takes to reach a dialling step or DONE."""
    memo: dict[Call, int] = {}
    on_path: set[Call] = set()

    def walk(call: Call) -> int:
        if call.step in DIALLING_STEPS or call.step in FINISHING_STEPS or call.step is Step.DONE:
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


def possible(call: Call) -> tuple[Event, ...]:
    """What Twilio can report at this step: menu answers, or a dial's outcome."""
    return MENU_EVENTS if call.step.question is not None else LEG_EVENTS


def heard(before: Call | None, call: Call) -> tuple[object, ...] | None:
    """The prompt the caller hears on entering `call`, as a key to count repeats."""
    if call.step.question is not None:
        return (call.step, call.attempt > 0, call.lang)
    prompt = announcement(before, call)
    return (prompt,) if prompt is not None else None


def walk_every_path(start: Call, routing: Routing) -> int:
    """The longest path from `start` under every possible input, in steps.

    Asserts for every path: no state is revisited (no loop), every state has
    a way out, every path ends at DONE or the spoken referral, and no prompt
    is heard more than twice (counted per prompt as the most any path from a
    state hears it, an upper bound)."""
    memo: dict[Call, tuple[int, Counter[object]]] = {}
    on_path: set[Call] = set()

    def walk(call: Call) -> tuple[int, Counter[object]]:
        if call.step in TERMINAL:
            return 0, Counter()
        if call in memo:
            return memo[call]
        assert call not in on_path, f"the call loops at {call}"
        nexts = {advance(call, e, routing) for e in possible(call)}
        assert nexts - {call}, f"no way out of {call}"
        on_path.add(call)
        longest, counts = 0, Counter[object]()
        for nxt in nexts:
            steps, heard_after = walk(nxt)
            prompt = heard(call, nxt)
            heard_here = heard_after + Counter([prompt] if prompt is not None else [])
            longest = max(longest, 1 + steps)
            counts = counts | heard_here
        on_path.discard(call)
        memo[call] = longest, counts
        return memo[call]

    longest, counts = walk(start)
    first = heard(None, start)
    counts = counts + Counter([first] if first is not None else [])
    repeated = {p: n for p, n in counts.items() if n > 2}
    assert not repeated, f"heard more than twice: {repeated}"
    return longest


def test_the_table_has_a_transition_for_every_step_and_input() -> None:
    assert set(TABLE) == set(itertools.product(Step, Input))


@pytest.mark.parametrize("routing", ROUTINGS, ids=repr)
@pytest.mark.parametrize("blocked", [False, True], ids=["menu", "blocked"])
def test_every_path_ends_at_a_person_or_the_referral_without_loops_or_thrice_told_prompts(
    routing: EndlessQuestions, blocked: bool
) -> None:
    start = begin("nl", 0, CallerFacts(), routing, straight_to_fallback=blocked)

    assert walk_every_path(start, routing) <= MAX_INPUTS_BEFORE_DIALLING + MAX_STEPS_AFTER_DIALLING


def test_with_a_routing_that_never_stops_asking_every_path_still_reaches_a_dial() -> None:
    routing = EndlessQuestions()
    start = begin("nl", 0, CallerFacts(), routing)

    assert start.step is Step.CALLER
    assert inputs_until_dialling(start, routing) == MAX_INPUTS_BEFORE_DIALLING


@pytest.mark.parametrize(
    "moment",
    [
        ams(2026, 4, 28, 10, 0),  # Tuesday office hours
        ams(2026, 4, 28, 19, 0),  # Tuesday evening
        ams(2026, 4, 29, 3, 0),  # night
        ams(2026, 4, 27, 11, 0),  # King's Day
        ams(2026, 12, 24, 18, 0),  # Christmas Eve closure
    ],
    ids=["office", "evening", "night", "kings-day", "christmas-eve"],
)
@pytest.mark.parametrize(
    "caller",
    ["+31612345678", "+31247000201", "+31485123456", None],
    ids=["mobile", "known-huisarts", "landline-land-van-cuijk", "withheld"],
)
@pytest.mark.parametrize("waited", [0, 300], ids=["at-once", "after-5-min"])
def test_on_the_sample_config_every_path_ends_at_a_person_or_the_referral(
    moment: dt.datetime, caller: str | None, waited: int
) -> None:
    config = sample_config()
    at = int(moment.timestamp())
    routing = RouteContext(config, tuple(Question), lambda numbers: frozenset(), now=at + waited)
    start = begin("nl", at, recognise(caller, config).facts, routing)

    assert inputs_until_dialling(start, routing) <= MAX_INPUTS_BEFORE_DIALLING
    assert walk_every_path(start, routing) <= MAX_INPUTS_BEFORE_DIALLING + MAX_STEPS_AFTER_DIALLING
    call = dialling_after_silence(start, routing)
    steps = []
    while call.step not in TERMINAL:
        steps.append(call.step)
        call = advance(call, Event(Input.UNANSWERED), routing)
    assert call.step is Step.REFERRAL
    if waited:  # rolled over to the overflow line at once, then offer / final line
        assert steps[0] is Step.OVERFLOW and Step.DIAL not in steps
    else:
        assert steps.count(Step.FINAL) == 2 and steps.count(Step.OVERFLOW) == 1


def dialling_after_silence(call: Call, routing: RouteContext) -> Call:
    """Answer every question with silence until the call dials."""
    while call.step.question is not None:
        call = advance(call, Event(Input.SILENCE), routing)
    return call


def test_silence_routes_the_call_at_once_with_what_is_known() -> None:
    routing = EndlessQuestions()
    call = begin("nl", 0, CallerFacts(), routing)

    routed = advance(call, Event(Input.SILENCE), routing)

    assert (routed.step, routed.leg) == (Step.DIAL, 0)
    assert routed.facts.caller_type is None  # routing fills in the default caller type


def test_an_invalid_answer_gets_one_clearer_retry_then_the_next_question() -> None:
    routing = EndlessQuestions()
    call = begin("nl", 0, CallerFacts(), routing)

    retry = advance(call, Event(Input.INVALID), routing)
    moved_on = advance(retry, Event(Input.INVALID), routing)

    assert (retry.step, retry.attempt) == (Step.CALLER, 1)
    assert (moved_on.step, moved_on.attempt) == (Step.AGE, 0)
    assert Question.CALLER in moved_on.asked


def test_an_answer_is_recorded_and_the_next_open_question_follows() -> None:
    routing = EndlessQuestions()
    call = begin("nl", 0, CallerFacts(), routing)

    after = advance(call, Event(Input.CHOICE, "relative"), routing)

    assert after.facts.caller_type == "relative"
    assert after.step is Step.AGE


def test_english_on_request_repeats_the_question_in_english_without_using_the_retry() -> None:
    routing = EndlessQuestions()
    call = advance(begin("nl", 0, CallerFacts(), routing), Event(Input.INVALID), routing)

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
    again = advance(call, Event(Input.UNANSWERED), EndlessQuestions())
    assert (again.step, again.attempt) == (Step.FALLBACK, 1)
    assert advance(again, Event(Input.UNANSWERED), EndlessQuestions()).step is Step.OVERFLOW


def test_legs_only_move_forward_even_if_the_routing_says_otherwise() -> None:
    @dataclass
    class Backwards(EndlessQuestions):
        def next_leg(self, call: Call) -> int | None:
            return 0

    call = Call(step=Step.DIAL, lang="nl", at=0, leg=0)

    assert advance(call, Event(Input.UNANSWERED), Backwards()).step is Step.OFFER


def test_a_reload_that_drops_the_offer_mid_call_skips_no_last_step() -> None:
    """The offer was switched off while the caller was on the final line (its
    stage 1 of offer, final, overflow, referral): the overflow line still comes
    next, not the referral that sits at stage 2 of the shorter list."""
    on_final = Call(step=Step.FINAL, lang="nl", at=0, leg=2, stage=1, attempt=1)
    without_offer = EndlessQuestions(callback=False)

    after = advance(on_final, Event(Input.UNANSWERED), without_offer)

    assert (after.step, after.stage) == (Step.OVERFLOW, 1)
    assert advance(on_final, Event(Input.UNANSWERED), EndlessQuestions()).step is Step.OVERFLOW


def test_after_a_conversation_or_a_hang_up_the_call_is_done() -> None:
    dialling = Call(step=Step.DIAL, lang="nl", at=0, leg=1)

    assert advance(dialling, Event(Input.ANSWERED), EndlessQuestions()).step is Step.DONE
    assert advance(dialling, Event(Input.HUNG_UP), EndlessQuestions()).step is Step.DONE
