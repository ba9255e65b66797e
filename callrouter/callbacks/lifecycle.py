"""The callback lifecycle as one transition table, without I/O.

`TRANSITIONS` holds every allowed (state, event) -> state, so "can a request
get stuck?" is a question a test answers by walking the table; the Redis
store checks each change against it atomically (`sources`).

Pure: no Flask, Redis, RQ, Twilio or clock reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class State(StrEnum):
    REQUESTED = "requested"
    """In the queue; the current escalation step has not been sent yet."""
    NOTIFIED = "notified"
    """In the queue; staff have had an SMS and may claim it."""
    CLAIMED = "claimed"
    """A staff member took it; the bridged call is about to be placed."""
    CALLING = "calling"
    """The service is calling the staff member, then the caller."""
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Event(StrEnum):
    NOTIFY = "notify"
    """An escalation step's SMS went out."""
    CLAIM = "claim"
    RELEASE = "release"
    """The claimer (or an admin) hands it back to the queue."""
    DIAL = "dial"
    """The bridged call is being placed (one attempt)."""
    REACHED = "reached"
    """The caller picked up and was connected to the staff member."""
    RETRY = "retry"
    """An attempt failed (no answer, busy); back to the queue."""
    GIVE_UP = "give_up"
    """An attempt failed and it was the last one allowed."""
    EXPIRE = "expire"
    CANCEL = "cancel"


OPEN = frozenset({State.REQUESTED, State.NOTIFIED})
"""States in which a request is in the queue and can be claimed."""
TERMINAL = frozenset({State.COMPLETED, State.FAILED, State.EXPIRED, State.CANCELLED})

TRANSITIONS: Mapping[tuple[State, Event], State] = {
    (State.REQUESTED, Event.NOTIFY): State.NOTIFIED,
    (State.NOTIFIED, Event.NOTIFY): State.NOTIFIED,
    (State.REQUESTED, Event.CLAIM): State.CLAIMED,
    (State.NOTIFIED, Event.CLAIM): State.CLAIMED,
    (State.CLAIMED, Event.RELEASE): State.REQUESTED,
    (State.CLAIMED, Event.DIAL): State.CALLING,
    (State.CLAIMED, Event.RETRY): State.REQUESTED,
    (State.CLAIMED, Event.GIVE_UP): State.FAILED,
    (State.CALLING, Event.REACHED): State.COMPLETED,
    (State.CALLING, Event.RETRY): State.REQUESTED,
    (State.CALLING, Event.GIVE_UP): State.FAILED,
    (State.REQUESTED, Event.EXPIRE): State.EXPIRED,
    (State.NOTIFIED, Event.EXPIRE): State.EXPIRED,
    (State.REQUESTED, Event.CANCEL): State.CANCELLED,
    (State.NOTIFIED, Event.CANCEL): State.CANCELLED,
    (State.CLAIMED, Event.CANCEL): State.CANCELLED,
}
"""Every allowed transition. A live call (``calling``) cannot be cancelled:
it ends through Twilio's status callbacks or the bridge watchdog."""

TIMED: Mapping[State, Event] = {
    State.REQUESTED: Event.EXPIRE,
    State.NOTIFIED: Event.EXPIRE,
    State.CLAIMED: Event.RETRY,
    State.CALLING: Event.RETRY,
}
"""The event a timer fires in each non-terminal state when nobody acts
(expiry timer, bridge job, bridge watchdog): no request waits forever."""


class InvalidTransition(ValueError):
    """The event is not allowed in the request's current state."""


def advance(state: State, event: Event) -> State:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(
            f"{event.value} is not allowed when a callback is {state.value}"
        ) from None


def sources(event: Event) -> dict[State, State]:
    """From-state -> to-state for `event`: what the store checks atomically."""
    return {s: t for (s, e), t in TRANSITIONS.items() if e is event}


def after_failed_attempt(attempts: int, max_attempts: int) -> Event:
    """Back to the queue, unless that was the last attempt allowed."""
    return Event.RETRY if attempts < max_attempts else Event.GIVE_UP
