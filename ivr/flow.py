"""The conversation as a transition table: (step, input) -> the next step.

Pure: no Flask, Redis, Twilio or clock. Like h11's state machine, every
transition lives in one table (`TABLE`), which is total over every step and
input, so "can a caller get stuck?" is a question a test answers by walking
it (tests/test_ivr_flow.py): from any step, any sequence of inputs reaches a
`<Dial>` within a few steps, and every path ends, within a bounded number of
steps, at a person, a callback or the spoken referral.

Termination does not depend on the routing: a question is asked at most
twice (once more after an invalid answer; silence routes the call at once,
the caller may not be able to speak), is never asked again once asked, and
the language can be switched once. After the legs come the last steps
(`finishing`), each taken once, each line rung at most `Routing.attempts`
times; a caller who waited too long (`Routing.overdue`) skips ahead to the
overflow line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from callrouter.routing.plan import CallerFacts
from ivr.menus import FACT_FIELD, Prompt, Question


class Step(StrEnum):
    """Where a call is; the question steps share their value with `Question`."""

    CALLER = "caller"
    AGE = "age"
    REGION = "region"
    DIAL = "dial"
    """Ringing leg `Call.leg` of the route plan."""
    OFFER = "offer"
    """The callback offer (the `CallbackOffer` seam of the voice webhooks)."""
    FINAL = "final"
    """The plan's final line (or the fallback line), rung a bounded number of times."""
    OVERFLOW = "overflow"
    """The backup centre of a neighbouring region (routing.yaml `overflow`)."""
    FALLBACK = "fallback"
    """The 24/7 fallback line, without the plan (blocked callers, degraded service)."""
    REFERRAL = "referral"
    """The very last step: where else to turn (113, 0800-0113, 112), then the call ends."""
    DONE = "done"
    """The caller hung up, or spoke to someone and the conversation ended."""

    @property
    def question(self) -> Question | None:
        return _QUESTION_OF.get(self)


_QUESTION_OF: Mapping[Step, Question] = {Step(q.value): q for q in Question}
QUESTION_STEPS: tuple[Step, ...] = tuple(_QUESTION_OF)
LINE_STEPS: frozenset[Step] = frozenset({Step.FINAL, Step.OVERFLOW, Step.FALLBACK})
"""Steps that ring a 24/7 line, each a bounded number of times."""
DIALLING_STEPS: frozenset[Step] = frozenset({Step.DIAL}) | LINE_STEPS
FINISHING_STEPS: frozenset[Step] = LINE_STEPS | {Step.OFFER, Step.REFERRAL}
"""The steps after the plan's legs, in the order `finishing` gives them."""


def finishing(
    callback: bool, overflow: bool, fallback: bool = False, rolled: bool = False
) -> tuple[Step, ...]:
    """The bounded last steps of a call, in order, once the legs are exhausted.

    A callback offer (when the plan has one; "press 3" puts the caller
    through to the final line), the final line, the overflow line (when it
    takes calls now), and the spoken referral. A call that `rolled` over to
    the overflow line on the time bound gets the offer and the final line
    after it. A call on the fallback path (no plan: a blocked number, a
    degraded service) rings the fallback line, then the overflow line.
    """
    offer = (Step.OFFER,) if callback and not fallback else ()
    over = (Step.OVERFLOW,) if overflow else ()
    if fallback:
        return (Step.FALLBACK, *over, Step.REFERRAL)
    if rolled and overflow:
        return (Step.OVERFLOW, *offer, Step.FINAL, Step.REFERRAL)
    return (*offer, Step.FINAL, *over, Step.REFERRAL)


class Input(StrEnum):
    CHOICE = "choice"
    """A recognised answer; `Event.value` holds it (None: "don't know")."""
    INVALID = "invalid"
    SILENCE = "silence"
    SWITCH_LANGUAGE = "switch_language"
    """`Event.value` is the language asked for."""
    ANSWERED = "answered"
    """The dialled person accepted (pressed 1) and the conversation has ended."""
    UNANSWERED = "unanswered"
    """Busy, no answer, failed, or answered without accepting (e.g. voicemail)."""
    HUNG_UP = "hung_up"


@dataclass(frozen=True)
class Event:
    input: Input
    value: str | None = None


@dataclass(frozen=True)
class Call:
    """Everything the conversation must remember between two webhooks.

    Small on purpose: it travels signed in the action URLs (`ivr/state.py`),
    so web processes keep nothing in memory and need no Redis to continue.
    """

    step: Step
    lang: str
    at: int
    """The routing moment (epoch seconds, read once when the call came in):
    every webhook of this call routes as of then, so leg 2 is leg 2 of the
    same plan even when a rota hands over mid-call."""
    facts: CallerFacts = field(default_factory=CallerFacts)
    """What the caller's number or answers told us; None is unknown."""
    asked: frozenset[Question] = frozenset()
    attempt: int = 0
    """0 for the first time a question is asked, 1 for the retry; at FINAL, re-dials."""
    leg: int = -1
    """Index in the plan's legs of the leg being rung (-1 before the first)."""
    switched: bool = False
    """The caller changed language once already."""
    since: int = 0
    """When the current step's TwiML was sent (epoch seconds), for ring times."""
    ref: str = ""
    """The call's short reference in the call log ('48213097'; '' without one): the
    whisper tells it to staff, who report the triage outcome with it."""
    stage: int = -1
    """Index in `Routing.finish(call)` once the legs are done (-1 before)."""
    fallback: bool = False
    """On the fallback path: no plan, no menu (a blocked number, a degraded service)."""
    rolled: bool = False
    """Rolled over to the overflow line on the time bound, straight from a staff leg."""


class Routing(Protocol):
    """What the conversation needs to know from the routing at this moment."""

    def open_questions(self, call: Call) -> tuple[Question, ...]:
        """Questions whose answer could still change the route, in asking order."""
        ...

    def next_leg(self, call: Call) -> int | None:
        """The first leg after `call.leg` with someone free to ring, or None."""
        ...

    def finish(self, call: Call) -> tuple[Step, ...]:
        """The call's last steps (`finishing`), at its routing moment."""
        ...

    def attempts(self, call: Call) -> int:
        """How often the line of `call.step` is rung in all."""
        ...

    def overdue(self, call: Call) -> bool:
        """The caller has waited the configured time without reaching a person."""
        ...


Transition = Callable[[Call, Event, Routing], Call]


def begin(
    lang: str,
    at: int,
    facts: CallerFacts,
    routing: Routing,
    straight_to_fallback: bool = False,
    ref: str = "",
) -> Call:
    """The first step of a new call: the first open question, or dialling.

    `straight_to_fallback` skips the menu and the plan (a blocked number,
    when the config says so): the caller still reaches a person. `ref` is
    the call's short reference in the call log.
    """
    if straight_to_fallback:
        return Call(Step.FALLBACK, lang, at, facts, ref=ref, stage=0, fallback=True)
    return _ask_next(Call(step=Step.CALLER, lang=lang, at=at, facts=facts, ref=ref), routing)


def advance(call: Call, event: Event, routing: Routing) -> Call:
    """The step after `event`; `TABLE` is total, so there is always one."""
    return TABLE[call.step, event.input](call, event, routing)


def _ask_next(call: Call, routing: Routing) -> Call:
    for question in routing.open_questions(call):
        if question not in call.asked:
            return replace(call, step=Step(question.value), attempt=0)
    return _next_leg(call, event=None, routing=routing)


def _next_leg(call: Call, event: Event | None, routing: Routing) -> Call:
    """The next leg with someone free; after the last one, the last steps.
    A caller who waited too long rolls over to the overflow line at once."""
    if routing.overdue(call):
        rolled = replace(call, rolled=True)
        steps = routing.finish(rolled)
        if steps[0] is Step.OVERFLOW:
            return _to_stage(rolled, 0, steps)
    steps = routing.finish(call)
    leg = routing.next_leg(call)
    if leg is None or leg <= call.leg:
        return _to_stage(call, 0, steps)
    return replace(call, step=Step.DIAL, leg=leg, attempt=0)


def _onwards(call: Call, event: Event, routing: Routing) -> Call:
    """The offer was declined or not possible, or a line did not take the call:
    ring the line once more while it has attempts left, else the next last step."""
    steps = routing.finish(call)
    # Where the call is in today's last steps: a config reload since the
    # previous webhook (an offer switched off, an overflow window changed) may
    # have moved its step, and counting on from the old index would skip one.
    here = steps.index(call.step) if call.step in steps else call.stage
    overflow = steps.index(Step.OVERFLOW) if Step.OVERFLOW in steps else -1
    if routing.overdue(call) and overflow > here:
        return _to_stage(call, overflow, steps)
    if call.step in LINE_STEPS and call.attempt + 1 < routing.attempts(call):
        return replace(call, attempt=call.attempt + 1)
    return _to_stage(call, here + 1, steps)


def _to_stage(call: Call, index: int, steps: tuple[Step, ...]) -> Call:
    """`call` at last step `index`; past the end (a reload shortened them) the referral."""
    if 0 <= index < len(steps):
        return replace(call, step=steps[index], stage=index, attempt=0)
    return replace(call, step=Step.REFERRAL, stage=len(steps), attempt=0)


def _choose(call: Call, event: Event, routing: Routing) -> Call:
    question = _question(call)
    facts = replace(call.facts, **{FACT_FIELD[question]: event.value})
    return _ask_next(replace(call, facts=facts, asked=call.asked | {question}), routing)


def _retry_or_move_on(call: Call, event: Event, routing: Routing) -> Call:
    """Once more with the clearer prompt; then carry on with what is known
    (routing fills the gap with the configured default caller type / age)."""
    if call.attempt == 0:
        return replace(call, attempt=1)
    return _ask_next(replace(call, asked=call.asked | {_question(call)}), routing)


def _switch_language(call: Call, event: Event, routing: Routing) -> Call:
    """The same question again in the new language; the caller keeps their retry."""
    if call.switched or event.value is None or event.value == call.lang:
        return _retry_or_move_on(call, event, routing)
    return replace(call, lang=event.value, switched=True)


def _stop_asking(call: Call, event: Event, routing: Routing) -> Call:
    """A dial result while in a menu cannot come from Twilio; never loop on it."""
    return _next_leg(replace(call, asked=call.asked | set(Question)), event, routing)


def _route_now(call: Call, event: Event, routing: Routing) -> Call:
    """Silence: the caller may not be able to speak. Ask nothing more and put
    them through with what is known (the configured defaults fill the gaps)."""
    return _next_leg(replace(call, asked=call.asked | set(Question)), None, routing)


def _stay(call: Call, event: Event, routing: Routing) -> Call:
    return call


def _done(call: Call, event: Event, routing: Routing) -> Call:
    return replace(call, step=Step.DONE)


def _question(call: Call) -> Question:
    question = call.step.question
    if question is None:
        raise ValueError(f"{call.step} is not a question step")
    return question


_QUESTION_ROW: Mapping[Input, Transition] = {
    Input.CHOICE: _choose,
    Input.INVALID: _retry_or_move_on,
    Input.SILENCE: _route_now,
    Input.SWITCH_LANGUAGE: _switch_language,
    Input.ANSWERED: _stop_asking,
    Input.UNANSWERED: _stop_asking,
    Input.HUNG_UP: _done,
}
_MENU_INPUTS = (Input.CHOICE, Input.INVALID, Input.SILENCE, Input.SWITCH_LANGUAGE)

TABLE: Mapping[tuple[Step, Input], Transition] = {
    **{(step, i): t for step in QUESTION_STEPS for i, t in _QUESTION_ROW.items()},
    (Step.DIAL, Input.ANSWERED): _done,
    (Step.DIAL, Input.UNANSWERED): _next_leg,
    (Step.DIAL, Input.HUNG_UP): _done,
    **{(Step.DIAL, i): _stay for i in _MENU_INPUTS},
    **{
        (step, i): t
        for step in LINE_STEPS | {Step.OFFER}
        for i, t in {
            Input.ANSWERED: _done,
            Input.UNANSWERED: _onwards,
            Input.HUNG_UP: _done,
            **{i: _stay for i in _MENU_INPUTS},
        }.items()
    },
    **{(Step.REFERRAL, i): _done for i in Input},
    **{(Step.DONE, i): _stay for i in Input},
}


def announcement(before: Call | None, after: Call) -> Prompt | None:
    """What the caller is told on the way from `before` to `after`, and only
    what is true: "another crisis worker" only when another one is rung, "the
    crisis service of another region" only when the overflow line is. None
    when the step speaks for itself (questions, the offer) or the caller
    already heard it twice (a third leg rings with the ringback tone alone).
    """
    step = after.step
    if step is Step.DIAL:
        if before is None:
            return Prompt.CONNECTING
        if before.step is not Step.DIAL:
            return None  # straight after an answer: the ringback tone, not a second of speech
        return Prompt.STILL_CONNECTING if after.leg <= 2 else None
    if step in LINE_STEPS:
        if after.attempt > 0:
            return Prompt.LINE_RETRY
        if before is not None and before.step is Step.OFFER:
            return None  # the offer said "we are putting you through" already
        return Prompt.OVERFLOW if step is Step.OVERFLOW else Prompt.FINAL_LINE
    return Prompt.REFERRAL if step is Step.REFERRAL else None
