"""The bridged callback, staff side, as a transition table.

The worker calls the staff member who claimed a request. They hear who is
waiting and press 1 (`WHISPER`); the caller is dialled with the crisis number
as caller id (`CONNECT`); after the conversation the staff member is still on
the line and is asked the triage outcome (`TRIAGE`, the table in
`ivr/keypad.py`). Every other end is one failed attempt: back to the queue
(`REQUEUED`) or, after the last attempt, closed (`GIVEN_UP`). A request that
is no longer being called (`GONE`) ends politely. The table is total and a
test walks it: every path ends within two inputs.

Pure: no Flask, Redis, Twilio or clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Step(StrEnum):
    WHISPER = "whisper"
    CONNECT = "connect"
    TRIAGE = "triage"
    ENDED = "ended"
    """The conversation ended and there is nothing to ask (no call log, no keys)."""
    REQUEUED = "requeued"
    GIVEN_UP = "given_up"
    GONE = "gone"


END_STEPS = frozenset({Step.TRIAGE, Step.ENDED, Step.REQUEUED, Step.GIVEN_UP, Step.GONE})


class Input(StrEnum):
    ACCEPT = "accept"
    """The staff member pressed 1."""
    OTHER_KEY = "other_key"
    SILENCE = "silence"
    STALE = "stale"
    """The request is not (or no longer) in this attempt of being called."""
    TALKED = "talked"
    """The caller answered and the conversation ended; the outcome can be asked."""
    TALKED_NO_TRIAGE = "talked_no_triage"
    MISSED = "missed"
    """The caller did not answer (busy, no answer); attempts remain."""
    MISSED_LAST = "missed_last"


TABLE: Mapping[tuple[Step, Input], Step] = {
    **{(Step.WHISPER, i): Step.REQUEUED for i in Input},
    (Step.WHISPER, Input.ACCEPT): Step.CONNECT,
    (Step.WHISPER, Input.STALE): Step.GONE,
    **{(Step.CONNECT, i): Step.CONNECT for i in Input},
    (Step.CONNECT, Input.STALE): Step.GONE,
    (Step.CONNECT, Input.TALKED): Step.TRIAGE,
    (Step.CONNECT, Input.TALKED_NO_TRIAGE): Step.ENDED,
    (Step.CONNECT, Input.MISSED): Step.REQUEUED,
    (Step.CONNECT, Input.MISSED_LAST): Step.GIVEN_UP,
    **{(step, i): step for step in END_STEPS for i in Input},
}
"""At the whisper anything but 1 (another key, silence, a dial result that cannot
come) hands the request back to the queue; while connecting only a dial result
moves on: keys pressed during the ringing change nothing."""


def advance(step: Step, event: Input) -> Step:
    return TABLE[step, event]
