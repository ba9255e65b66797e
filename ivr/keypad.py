"""The triage keypad after a bridged callback, as a transition table.

"Toets de uitkomst: 1 voor Advies, ...": one key records the outcome
(`RECORDED`); an invalid key or silence asks once more, then the staff member
hears how to send the outcome by SMS instead (`BY_SMS`); a store that failed
says so (`FAILED`), so an outcome is never confirmed that was lost. Total,
and a test walks it: every path ends within `MAX_TRIES` inputs.

Pure: no Flask, Redis, Twilio or clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

MAX_TRIES = 2


class Step(StrEnum):
    ASK = "ask"
    RECORDED = "recorded"
    BY_SMS = "by_sms"
    FAILED = "failed"


END_STEPS = frozenset({Step.RECORDED, Step.BY_SMS, Step.FAILED})


class Input(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    SILENCE = "silence"
    STORE_FAILED = "store_failed"


@dataclass(frozen=True)
class Keypad:
    step: Step
    tries: int = 0


def _again(pad: Keypad) -> Keypad:
    if pad.tries + 1 >= MAX_TRIES:
        return Keypad(Step.BY_SMS)
    return replace(pad, tries=pad.tries + 1)


def _to(step: Step) -> Callable[[Keypad], Keypad]:
    return lambda pad: Keypad(step)


TABLE: Mapping[tuple[Step, Input], Callable[[Keypad], Keypad]] = {
    (Step.ASK, Input.VALID): _to(Step.RECORDED),
    (Step.ASK, Input.INVALID): _again,
    (Step.ASK, Input.SILENCE): _again,
    (Step.ASK, Input.STORE_FAILED): _to(Step.FAILED),
    **{(step, i): (lambda pad: pad) for step in END_STEPS for i in Input},
}


def advance(pad: Keypad, event: Input) -> Keypad:
    return TABLE[pad.step, event](pad)
