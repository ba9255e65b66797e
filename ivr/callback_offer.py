"""The callback offer as a transition table: (step, input) -> the next step.

When every leg failed and the plan offers a callback, the caller hears:
"we can call you back on the number ending in 4 5 6 7: press 1; another
number: press 2; to be put through now: press 3". A typed number is checked,
read back and confirmed. Like `ivr/flow.py`, every transition is in one
total table (`TABLE`), so "can a caller get stuck?" is answered by walking
it (tests/test_ivr_callback_offer.py): every path ends queued (`SUBMIT`),
put through to a person (`PUT_THROUGH`) or hung up (`DONE`) within a few
inputs, because each question is asked `MAX_TRIES` times at most.

Pure: no Flask, Redis, Twilio or clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

MAX_TRIES = 2
"""A question is asked twice at most; then the caller is put through to a person."""


class Step(StrEnum):
    OFFER = "offer"
    """Own number (1), another number (2), or be put through now (3)."""
    ENTER = "enter"
    """Type the number to be called back on, then #."""
    CONFIRM = "confirm"
    """The typed number read back: right (1) or type it again (2)."""
    SPOOLED = "spooled"
    """Redis was down, the request is on disk: 1 puts the caller through now."""
    SUBMIT = "submit"
    """Queue the request (the web carries it out and says what happens next)."""
    PUT_THROUGH = "put_through"
    DONE = "done"
    """The caller hung up, or heard the goodbye."""


END_STEPS = frozenset({Step.SUBMIT, Step.PUT_THROUGH, Step.DONE})


class Input(StrEnum):
    OWN = "own"
    """1 at the offer, with an own number we may call back."""
    OTHER = "other"
    """2 at the offer."""
    NOW = "now"
    """3 at the offer: a person now."""
    NUMBER_OK = "number_ok"
    NUMBER_REFUSED = "number_refused"
    YES = "yes"
    """1 at the confirmation, or at the spooled notice."""
    NO = "no"
    INVALID = "invalid"
    SILENCE = "silence"
    HUNG_UP = "hung_up"


@dataclass(frozen=True)
class Offer:
    step: Step
    tries: int = 0
    """How many times the current question was asked already (0: first time)."""


Transition = Callable[[Offer], Offer]


def _to(step: Step) -> Transition:
    return lambda offer: Offer(step)


def _again(offer: Offer) -> Offer:
    """The same question once more, or a person when it was asked enough."""
    if offer.tries + 1 >= MAX_TRIES:
        return Offer(Step.PUT_THROUGH)
    return replace(offer, tries=offer.tries + 1)


def _enter_again(offer: Offer) -> Offer:
    """Back from the confirmation to typing, counting the tries of typing."""
    return _again(Offer(Step.ENTER, offer.tries))


def _keep_tries(step: Step) -> Transition:
    return lambda offer: Offer(step, offer.tries)


def _stay(offer: Offer) -> Offer:
    return offer


_OFFER: Mapping[Input, Transition] = {
    Input.OWN: _to(Step.SUBMIT),
    Input.OTHER: _to(Step.ENTER),
    Input.NOW: _to(Step.PUT_THROUGH),
    Input.HUNG_UP: _to(Step.DONE),
}
_ENTER: Mapping[Input, Transition] = {
    Input.NUMBER_OK: _keep_tries(Step.CONFIRM),
    Input.NOW: _to(Step.PUT_THROUGH),
    Input.HUNG_UP: _to(Step.DONE),
}
_CONFIRM: Mapping[Input, Transition] = {
    Input.YES: _to(Step.SUBMIT),
    Input.HUNG_UP: _to(Step.DONE),
}
_SPOOLED: Mapping[Input, Transition] = {Input.YES: _to(Step.PUT_THROUGH)}

TABLE: Mapping[tuple[Step, Input], Transition] = {
    **{(Step.OFFER, i): _OFFER.get(i, _again) for i in Input},
    **{(Step.ENTER, i): _ENTER.get(i, _again) for i in Input},
    **{(Step.CONFIRM, i): _CONFIRM.get(i, _enter_again) for i in Input},
    **{(Step.SPOOLED, i): _SPOOLED.get(i, _to(Step.DONE)) for i in Input},
    **{(step, i): _stay for step in END_STEPS for i in Input},
}
"""Total over every step and input; anything unexpected is asked again, never
followed blindly, and asking again is bounded by `MAX_TRIES`."""


def advance(offer: Offer, event: Input) -> Offer:
    return TABLE[offer.step, event](offer)


def offer_input(digit: str, own_number_usable: bool) -> Input:
    """What a key pressed at the offer means."""
    if digit == "1":
        return Input.OWN if own_number_usable else Input.INVALID
    return {"2": Input.OTHER, "3": Input.NOW, "": Input.SILENCE}.get(digit, Input.INVALID)


def confirm_input(digit: str) -> Input:
    return {"1": Input.YES, "2": Input.NO, "": Input.SILENCE}.get(digit, Input.INVALID)
