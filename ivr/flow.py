"""The conversation as a transition table: (step, input) -> the next step.

Pure: no Flask, Redis, Twilio or clock. Like h11's state machine, every
transition lives in one table (`TABLE`), which is total over every step and
input, so "can a caller get stuck?" is a question a test answers by walking
it (tests/test_ivr_flow.py): from any step, any sequence of inputs reaches a
`<Dial>` (a leg, the final line or the fallback line) within a few steps, or
ends because the caller hung up or has spoken to someone.

Termination does not depend on the routing: each question is asked at most
twice (once more, more clearly, after silence or an invalid answer), is never
asked again once asked, and the language can be switched once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from callrouter.routing.plan import CallerFacts
from ivr.menus import FACT_FIELD, Question


class Step(StrEnum):
    """Where a call is; the question steps share their value with `Question`."""

    CALLER = "caller"
    AGE = "age"
    REGION = "region"
    DIAL = "dial"
    """Ringing leg `Call.leg` of the route plan."""
    FINAL = "final"
    """Every leg failed: the plan's final step (callback offer or final line)."""
    FALLBACK = "fallback"
    """The 24/7 fallback line, without the plan (blocked callers, degraded service)."""
    DONE = "done"
    """The caller hung up, or spoke to someone and the conversation ended."""

    @property
    def question(self) -> Question | None:
        return _QUESTION_OF.get(self)


_QUESTION_OF: Mapping[Step, Question] = {Step(q.value): q for q in Question}
QUESTION_STEPS: tuple[Step, ...] = tuple(_QUESTION_OF)
DIALLING_STEPS: frozenset[Step] = frozenset({Step.DIAL, Step.FINAL, Step.FALLBACK})


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
    """The call's short reference in the call log ('1042'; '' without one): the
    whisper tells it to staff, who report the triage outcome with it."""


class Routing(Protocol):
    """What the conversation needs to know from the routing at this moment."""

    def open_questions(self, call: Call) -> tuple[Question, ...]:
        """Questions whose answer could still change the route, in asking order."""
        ...

    def next_leg(self, call: Call) -> int | None:
        """The first leg after `call.leg` with someone free to ring, or None."""
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
    call = Call(step=Step.FALLBACK, lang=lang, at=at, facts=facts, ref=ref)
    return call if straight_to_fallback else _ask_next(call, routing)


def advance(call: Call, event: Event, routing: Routing) -> Call:
    """The step after `event`; `TABLE` is total, so there is always one."""
    return TABLE[call.step, event.input](call, event, routing)


def _ask_next(call: Call, routing: Routing) -> Call:
    for question in routing.open_questions(call):
        if question not in call.asked:
            return replace(call, step=Step(question.value), attempt=0)
    return _next_leg(call, event=None, routing=routing)


def _next_leg(call: Call, event: Event | None, routing: Routing) -> Call:
    leg = routing.next_leg(call)
    if leg is None or leg <= call.leg:
        return replace(call, step=Step.FINAL, attempt=0)
    return replace(call, step=Step.DIAL, leg=leg, attempt=0)


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


def _redial(call: Call, event: Event, routing: Routing) -> Call:
    """The final or fallback line did not take the call: ring it again; the
    caller hears that we keep trying, and is never hung up on."""
    return replace(call, attempt=call.attempt + 1)


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
    Input.SILENCE: _retry_or_move_on,
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
    (Step.FINAL, Input.ANSWERED): _done,
    (Step.FINAL, Input.UNANSWERED): _redial,
    (Step.FINAL, Input.HUNG_UP): _done,
    **{(Step.FINAL, i): _stay for i in _MENU_INPUTS},
    (Step.FALLBACK, Input.ANSWERED): _done,
    (Step.FALLBACK, Input.UNANSWERED): _redial,
    (Step.FALLBACK, Input.HUNG_UP): _done,
    **{(Step.FALLBACK, i): _stay for i in _MENU_INPUTS},
    **{(Step.DONE, i): _stay for i in Input},
}
