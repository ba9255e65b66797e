"""The call record: one per call, folded from the events the call produced.

Several processes see parts of one call (the web process that answered the
webhook, the one that got the Dial action, the worker that ran the callback),
so a call is recorded as small events and folded into one `CallRecord` when
it ends. Events that arrive after that (the callback being claimed and
completed hours later, a triage outcome) are kept as linked events and
folded in when records are read, so the log stays append-only.

Privacy by construction: there is no field for a phone number. The caller is
`caller_ref` (a keyed hash, see `callrouter.privacy.pseudonymise`) and, optionally,
`caller_masked` ('+31 ***** 45 67') for on-call staff reading `callrouter
calls`. Legs name staff by member id and lines by line id, never by number.

Pure: times are passed in; how records are stored lives in
`callrouter.calls.codec`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from callrouter.routing.plan import Leg, RoutePlan


class LegResult(StrEnum):
    """How one leg ended; Twilio's DialCallStatus plus 'declined' (the whisper was not accepted)."""

    ANSWERED = "answered"
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELED = "canceled"
    DECLINED = "declined"


def leg_result(raw: str) -> str:
    """Normalise a DialCallStatus: Twilio says 'completed' for a bridged leg."""
    value = raw.strip().lower().replace("_", "-")
    if value in {"completed", "answered", "in-progress"}:
        return LegResult.ANSWERED.value
    if value == "noanswer":
        return LegResult.NO_ANSWER.value
    return value or LegResult.FAILED.value


class Reach(StrEnum):
    """How a call ended for the caller: the outcome categories a manager acts on.

    Each points at a different lever: staff on the first leg (the rota works),
    a later leg (the first person did not answer), a 24/7 line (a line leg
    of the plan, or the final line after the staff legs), overflow (the
    neighbouring region's line, routing.yaml `overflow:`), a callback, a
    caller who hung up in the menu (the menu is too long) or while it rang
    (the wait is too long), and nobody at all.
    """

    FIRST_LEG = "first_leg"
    LATER_LEG = "later_leg"
    LINE = "line"
    OVERFLOW = "overflow"
    CALLBACK = "callback"
    HUNG_UP_MENU = "hung_up_menu"
    HUNG_UP_RINGING = "hung_up_ringing"
    NOBODY = "nobody"


LIVE_REACH = frozenset({Reach.FIRST_LEG, Reach.LATER_LEG, Reach.LINE, Reach.OVERFLOW})
"""A person took the call while the caller was on the line."""
FINAL_LEG_KIND = "final"
"""`LegAttempt.kind` of the final 24/7 line (the plan's legs carry `LegKind` values)."""
OVERFLOW_LEG_KIND = "overflow"
"""`LegAttempt.kind` of the overflow line (routing.yaml `overflow:`, a neighbouring region)."""
LINE_PREFIX = "line:"


CALLBACK_REACHED_STATES = frozenset({"completed"})
"""Callback states (`callbacks.lifecycle.State`) meaning a person spoke with the caller."""
CALLBACK_CLAIMED_STATES = frozenset({"claimed", "calling", "completed"})
"""Callback states meaning a staff member took the request: what its SLA measures."""


@dataclass(frozen=True)
class LegAttempt:
    """One leg tried: who rang (member ids or line id, never numbers), result, ring time."""

    index: int
    """1-based position of the leg in the route plan."""
    who: str
    result: str
    ring_seconds: float
    at: dt.datetime
    """When the leg's result was known (for an answered leg: when the conversation ended)."""
    kind: str = ""
    talk_seconds: float = 0.0
    """Twilio's DialCallDuration of an answered leg: how long the conversation lasted."""

    @property
    def is_line(self) -> bool:
        return self.who.startswith(LINE_PREFIX)


@dataclass(frozen=True)
class CallbackStep:
    state: str
    at: dt.datetime


@dataclass(frozen=True)
class Outcome:
    """A triage outcome reported by staff; `via` is sms, keypad, cli or api."""

    code: str
    at: dt.datetime
    by: str = ""
    via: str = ""


@dataclass(frozen=True)
class CallRecord:
    call_id: str
    started_at: dt.datetime | None = None
    ref: str = ""
    """Short number staff can type in a triage SMS ('T 123 advies')."""
    caller_ref: str = ""
    """Keyed hash of the caller's E.164 number; empty when the number was withheld."""
    caller_masked: str = ""
    window: str | None = None
    holiday: str | None = None
    closure: str | None = None
    caller_type: str | None = None
    age_group: str | None = None
    region: str | None = None
    rule: str | None = None
    legs: tuple[LegAttempt, ...] = ()
    answered_by: str | None = None
    answered_leg: int | None = None
    answered_at: dt.datetime | None = None
    callback_id: str | None = None
    callback_steps: tuple[CallbackStep, ...] = ()
    ended_at: dt.datetime | None = None
    duration: float | None = None
    end_reason: str = ""
    outcomes: tuple[Outcome, ...] = field(default=())

    # -- derived facts used by reports and `callrouter calls` ----------------------------

    @property
    def answered_leg_attempt(self) -> LegAttempt | None:
        """The leg on which a person took the call (staff who pressed 1, or a line)."""
        if self.answered_leg is not None:
            chosen = next((a for a in self.legs if a.index == self.answered_leg), None)
            if chosen is not None:
                return chosen
        return next((a for a in self.legs if a.result == LegResult.ANSWERED), None)

    @property
    def reach(self) -> Reach:
        """The outcome category of the call (see `Reach`)."""
        leg = self.answered_leg_attempt
        if self.answered_at is not None or self.answered_by is not None or leg is not None:
            if leg is not None and leg.is_line:
                return Reach.OVERFLOW if leg.kind == OVERFLOW_LEG_KIND else Reach.LINE
            index = self.answered_leg or (leg.index if leg is not None else None)
            return Reach.FIRST_LEG if index == 1 else Reach.LATER_LEG
        if self.callback_reached_at is not None:
            return Reach.CALLBACK
        if not self.legs:
            return Reach.HUNG_UP_MENU if self.callback_requested_at is None else Reach.NOBODY
        if self.legs[-1].result == LegResult.CANCELED and self.callback_requested_at is None:
            return Reach.HUNG_UP_RINGING
        return Reach.NOBODY

    @property
    def person_at(self) -> dt.datetime | None:
        """When a person first spoke with the caller: the answer on a leg (for a
        line: its end minus the conversation), else the callback reaching them."""
        if self.answered_at is not None:
            return self.answered_at
        leg = self.answered_leg_attempt
        if leg is not None:
            return leg.at - dt.timedelta(seconds=leg.talk_seconds)
        return self.callback_reached_at

    @property
    def talk_seconds(self) -> float | None:
        """How long the caller talked with a person on a leg; None when nobody took
        the call live or the length is unknown."""
        leg = self.answered_leg_attempt
        if leg is not None and leg.talk_seconds > 0:
            return leg.talk_seconds
        if self.answered_at is not None and self.ended_at is not None:
            end = leg.at if leg is not None else self.ended_at
            return max(0.0, (end - self.answered_at).total_seconds()) or None
        return None

    @property
    def callback_requested_at(self) -> dt.datetime | None:
        return min((s.at for s in self.callback_steps), default=None)

    @property
    def callback_reached_at(self) -> dt.datetime | None:
        return min(
            (s.at for s in self.callback_steps if s.state in CALLBACK_REACHED_STATES), default=None
        )

    @property
    def callback_claimed_at(self) -> dt.datetime | None:
        return min(
            (s.at for s in self.callback_steps if s.state in CALLBACK_CLAIMED_STATES), default=None
        )

    @property
    def time_to_person(self) -> float | None:
        """Seconds from the start of the call until a person spoke with the caller
        (a leg answered, or the callback reached them); None when nobody did."""
        reached = self.person_at
        if self.started_at is None or reached is None:
            return None
        return max(0.0, (reached - self.started_at).total_seconds())

    @property
    def outcome(self) -> Outcome | None:
        """The latest reported triage outcome (a correction overrides the first report)."""
        return max(self.outcomes, key=lambda o: o.at, default=None)


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Started:
    at: dt.datetime
    ref: str = ""
    caller_ref: str = ""
    caller_masked: str = ""


@dataclass(frozen=True)
class Routed:
    at: dt.datetime
    window: str | None = None
    holiday: str | None = None
    closure: str | None = None
    caller_type: str | None = None
    age_group: str | None = None
    region: str | None = None
    rule: str | None = None

    @classmethod
    def from_plan(cls, plan: RoutePlan, at: dt.datetime) -> Routed:
        facts = plan.facts
        return cls(
            at,
            plan.window,
            plan.holiday,
            plan.closure,
            facts.caller_type,
            facts.age_group,
            facts.region,
            plan.rule,
        )


@dataclass(frozen=True)
class LegTried:
    attempt: LegAttempt

    @property
    def at(self) -> dt.datetime:
        return self.attempt.at


@dataclass(frozen=True)
class Answered:
    at: dt.datetime
    by: str
    leg: int | None = None


@dataclass(frozen=True)
class CallbackChanged:
    at: dt.datetime
    callback_id: str
    state: str


@dataclass(frozen=True)
class Ended:
    at: dt.datetime
    duration: float | None = None
    reason: str = "completed"


@dataclass(frozen=True)
class OutcomeReported:
    outcome: Outcome

    @property
    def at(self) -> dt.datetime:
        return self.outcome.at


CallEvent = Started | Routed | LegTried | Answered | CallbackChanged | Ended | OutcomeReported

_ORDER = {
    Started: 0,
    Routed: 1,
    LegTried: 2,
    Answered: 3,
    CallbackChanged: 4,
    Ended: 5,
    OutcomeReported: 6,
}


def who_of(leg: Leg) -> str:
    """How a plan leg is named in a record: member ids, or the line id; never a number."""
    if leg.line:
        return f"line:{leg.line}"
    members = [t.member or t.name for t in leg.targets]
    return ",".join(members) if members else f"{leg.team or ''}/{leg.role or ''}"


def apply(record: CallRecord, event: CallEvent) -> CallRecord:
    """The record after one more event. Idempotent per event, so a repeated
    webhook (Twilio retries) does not count a leg twice."""
    match event:
        case Started():
            return replace(
                record,
                started_at=event.at,
                ref=event.ref or record.ref,
                caller_ref=event.caller_ref,
                caller_masked=event.caller_masked,
            )
        case Routed():
            return replace(
                record,
                window=event.window,
                holiday=event.holiday,
                closure=event.closure,
                caller_type=event.caller_type,
                age_group=event.age_group,
                region=event.region,
                rule=event.rule,
            )
        case LegTried():
            legs = {a.index: a for a in record.legs}
            legs[event.attempt.index] = replace(
                event.attempt, result=leg_result(event.attempt.result)
            )
            return replace(record, legs=tuple(legs[i] for i in sorted(legs)))
        case Answered():
            if record.answered_at is not None and record.answered_at <= event.at:
                return record
            return replace(
                record, answered_by=event.by, answered_leg=event.leg, answered_at=event.at
            )
        case CallbackChanged():
            step = CallbackStep(event.state, event.at)
            if step in record.callback_steps:
                return record
            steps = tuple(sorted((*record.callback_steps, step), key=lambda s: s.at))
            return replace(record, callback_id=event.callback_id, callback_steps=steps)
        case Ended():
            if record.ended_at is not None and record.end_reason != "stale":
                return record
            return replace(
                record, ended_at=event.at, duration=event.duration, end_reason=event.reason
            )
        case OutcomeReported():
            if event.outcome in record.outcomes:
                return record
            return replace(record, outcomes=(*record.outcomes, event.outcome))
    raise TypeError(f"not a call event: {event!r}")


def fold(call_id: str, events: Iterable[CallEvent], base: CallRecord | None = None) -> CallRecord:
    """Fold events (in any order) into `base` or an empty record for `call_id`."""
    ordered = sorted(events, key=lambda e: (e.at, _ORDER[type(e)]))
    record = base if base is not None else CallRecord(call_id)
    for event in ordered:
        record = apply(record, event)
    if record.started_at is None and ordered:
        # Only later events survived (the start was never written, e.g. Redis
        # was down at that moment): account for the call anyway, from its
        # earliest known moment.
        record = replace(
            record, started_at=ordered[0].at, end_reason=record.end_reason or "incomplete"
        )
    return record
