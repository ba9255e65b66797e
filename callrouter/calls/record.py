"""The call record: one per call, folded from the events the call produced.

Several processes see parts of one call (the web process that answered the
webhook, the one that got the Dial action, the worker that ran the callback),
so a call is recorded as small events and folded into one `CallRecord` when
it ends. Events that arrive after that (the callback being claimed and
completed hours later, a triage outcome) are kept as linked events and
folded in when records are read, so the log stays append-only.

Privacy by construction: there is no field for a phone number. The caller is
`caller_ref` (a keyed hash, see `core.privacy.pseudonymise`) and, optionally,
`caller_masked` ('+31 ***** 45 67') for on-call staff reading `callrouter
calls`. Legs name staff by member id and lines by line id, never by number.

Pure: times are passed in; serialisation is to flat str fields for a Redis
stream entry (`to_fields` / `entry_from_fields`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from callrouter.routing.model import Source
from callrouter.routing.plan import Leg, RoutePlan

SCHEMA_VERSION = "1"


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


class ReachedBy(StrEnum):
    """How (whether) the caller reached a person: the 'answered by' buckets of a report."""

    FIRST_LEG = "first_leg"
    LATER_LEG = "later_leg"
    CALLBACK = "callback"
    NOT_REACHED = "not_reached"


CALLBACK_REACHED_STATES = frozenset({"completed"})
"""Callback states (`core.callbacks.State`) meaning a person spoke with the caller."""
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
    """When the leg's result was known."""
    kind: str = ""


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

    @classmethod
    def from_plan(
        cls,
        call_id: str,
        plan: RoutePlan,
        *,
        at: dt.datetime,
        caller_ref: str = "",
        caller_masked: str = "",
        ref: str = "",
    ) -> CallRecord:
        """A record for a call that started at `at` and was routed by `plan`."""
        started = Started(at, ref, caller_ref, caller_masked)
        return apply(apply(cls(call_id), started), Routed.from_plan(plan, at))

    # -- derived facts used by reports and `callrouter calls` ----------------------------

    @property
    def reached_by(self) -> ReachedBy:
        if self.answered_at is not None or self.answered_by is not None:
            leg = self.answered_leg
            if leg is None:
                leg = next((a.index for a in self.legs if a.result == LegResult.ANSWERED), None)
            return ReachedBy.FIRST_LEG if leg == 1 else ReachedBy.LATER_LEG
        if self.callback_reached_at is not None:
            return ReachedBy.CALLBACK
        return ReachedBy.NOT_REACHED

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
    def callback_state(self) -> str | None:
        return self.callback_steps[-1].state if self.callback_steps else None

    @property
    def time_to_person(self) -> float | None:
        """Seconds from the start of the call until a person spoke with the caller
        (a leg answered, or the callback reached them); None when nobody did."""
        if self.started_at is None:
            return None
        reached = self.answered_at if self.answered_at is not None else self.callback_reached_at
        if reached is None:
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


# --------------------------------------------------------------------------- serialisation


def _iso(moment: dt.datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


def _moment(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def event_to_json(event: CallEvent) -> str:
    """Compact JSON for the per-call working hash and for linked stream entries."""
    data: dict[str, Any]
    match event:
        case Started():
            data = {
                "e": "started",
                "at": _iso(event.at),
                "ref": event.ref,
                "caller": event.caller_ref,
                "masked": event.caller_masked,
            }
        case Routed():
            data = {
                "e": "routed",
                "at": _iso(event.at),
                "window": event.window,
                "holiday": event.holiday,
                "closure": event.closure,
                "caller_type": event.caller_type,
                "age": event.age_group,
                "region": event.region,
                "rule": event.rule,
            }
        case LegTried():
            a = event.attempt
            data = {
                "e": "leg",
                "at": _iso(a.at),
                "i": a.index,
                "who": a.who,
                "result": a.result,
                "ring": a.ring_seconds,
                "kind": a.kind,
            }
        case Answered():
            data = {"e": "answered", "at": _iso(event.at), "by": event.by, "leg": event.leg}
        case CallbackChanged():
            data = {
                "e": "callback",
                "at": _iso(event.at),
                "id": event.callback_id,
                "state": event.state,
            }
        case Ended():
            data = {
                "e": "ended",
                "at": _iso(event.at),
                "duration": event.duration,
                "reason": event.reason,
            }
        case OutcomeReported():
            o = event.outcome
            data = {"e": "outcome", "at": _iso(o.at), "code": o.code, "by": o.by, "via": o.via}
        case _:
            raise TypeError(f"not a call event: {event!r}")
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def event_from_json(text: str | bytes) -> CallEvent:
    data = json.loads(text)
    at = _moment(data["at"])
    assert at is not None
    kind = data["e"]
    if kind == "started":
        return Started(at, data.get("ref", ""), data.get("caller", ""), data.get("masked", ""))
    if kind == "routed":
        return Routed(
            at,
            data.get("window"),
            data.get("holiday"),
            data.get("closure"),
            data.get("caller_type"),
            data.get("age"),
            data.get("region"),
            data.get("rule"),
        )
    if kind == "leg":
        return LegTried(
            LegAttempt(
                int(data["i"]),
                data.get("who", ""),
                data.get("result", ""),
                float(data.get("ring") or 0),
                at,
                data.get("kind", ""),
            )
        )
    if kind == "answered":
        leg = data.get("leg")
        return Answered(at, data.get("by", ""), int(leg) if leg is not None else None)
    if kind == "callback":
        return CallbackChanged(at, data.get("id", ""), data.get("state", ""))
    if kind == "ended":
        duration = data.get("duration")
        return Ended(
            at, float(duration) if duration is not None else None, data.get("reason", "completed")
        )
    if kind == "outcome":
        return OutcomeReported(Outcome(data["code"], at, data.get("by", ""), data.get("via", "")))
    raise ValueError(f"unknown call event {kind!r}")


def to_fields(record: CallRecord) -> dict[str, str]:
    """The record as flat str fields of one stream entry (kind=call).

    Legs and callback steps are compact JSON arrays in one field each, so an
    entry stays one XADD and one read. Empty values are left out.
    """
    fields = {
        "kind": "call",
        "v": SCHEMA_VERSION,
        "call": record.call_id,
        "ref": record.ref,
        "caller": record.caller_ref,
        "masked": record.caller_masked,
        "started": _iso(record.started_at),
        "window": record.window or "",
        "holiday": record.holiday or "",
        "closure": record.closure or "",
        "caller_type": record.caller_type or "",
        "age": record.age_group or "",
        "region": record.region or "",
        "rule": record.rule or "",
        "legs": json.dumps(
            [[a.index, a.who, a.result, a.ring_seconds, _iso(a.at), a.kind] for a in record.legs],
            separators=(",", ":"),
        )
        if record.legs
        else "",
        "answered_by": record.answered_by or "",
        "answered_leg": "" if record.answered_leg is None else str(record.answered_leg),
        "answered": _iso(record.answered_at),
        "callback": record.callback_id or "",
        "cb_steps": json.dumps(
            [[s.state, _iso(s.at)] for s in record.callback_steps], separators=(",", ":")
        )
        if record.callback_steps
        else "",
        "ended": _iso(record.ended_at),
        "duration": _num(record.duration),
        "end": record.end_reason,
    }
    return {k: v for k, v in fields.items() if v != ""}


def from_fields(fields: Mapping[str, str]) -> CallRecord:
    """Inverse of `to_fields`."""
    get = fields.get
    legs = tuple(
        LegAttempt(int(i), who, result, float(ring), dt.datetime.fromisoformat(at), kind)
        for i, who, result, ring, at, kind in json.loads(get("legs") or "[]")
    )
    steps = tuple(
        CallbackStep(state, dt.datetime.fromisoformat(at))
        for state, at in json.loads(get("cb_steps") or "[]")
    )
    leg = get("answered_leg")
    duration = get("duration")
    return CallRecord(
        call_id=get("call", ""),
        started_at=_moment(get("started")),
        ref=get("ref", ""),
        caller_ref=get("caller", ""),
        caller_masked=get("masked", ""),
        window=get("window") or None,
        holiday=get("holiday") or None,
        closure=get("closure") or None,
        caller_type=get("caller_type") or None,
        age_group=get("age") or None,
        region=get("region") or None,
        rule=get("rule") or None,
        legs=legs,
        answered_by=get("answered_by") or None,
        answered_leg=int(leg) if leg else None,
        answered_at=_moment(get("answered")),
        callback_id=get("callback") or None,
        callback_steps=steps,
        ended_at=_moment(get("ended")),
        duration=float(duration) if duration else None,
        end_reason=get("end", ""),
    )


def link_fields(call_id: str, event: CallEvent) -> dict[str, str]:
    """A linked stream entry for an event that arrived after the record was written.

    Triage outcomes get readable fields of their own (kind=triage), since
    they are the entries an auditor looks for; other events carry their JSON.
    """
    if isinstance(event, OutcomeReported):
        o = event.outcome
        return {
            "kind": "triage",
            "call": call_id,
            "code": o.code,
            "at": _iso(o.at),
            "by": o.by,
            "via": o.via,
        }
    return {"kind": "event", "call": call_id, "event": event_to_json(event)}


def entry_from_fields(fields: Mapping[str, str]) -> tuple[str, CallRecord | CallEvent]:
    """(call id, record or linked event) of one stream entry."""
    kind = fields.get("kind")
    call_id = fields.get("call", "")
    if kind == "call":
        return call_id, from_fields(fields)
    if kind == "triage":
        at = _moment(fields.get("at"))
        assert at is not None
        return call_id, OutcomeReported(
            Outcome(fields.get("code", ""), at, fields.get("by", ""), fields.get("via", ""))
        )
    if kind == "event":
        return call_id, event_from_json(fields["event"])
    raise ValueError(f"unknown call-log entry kind {kind!r}")


def assemble(entries: Iterable[tuple[str, CallRecord | CallEvent]]) -> list[CallRecord]:
    """Join records with their linked events (read in any order) into whole records."""
    bases: dict[str, CallRecord] = {}
    linked: dict[str, list[CallEvent]] = {}
    for call_id, item in entries:
        if isinstance(item, CallRecord):
            bases[call_id] = item
        else:
            linked.setdefault(call_id, []).append(item)
    out = [
        fold(cid, linked.pop(cid, []), base) if cid in linked else base
        for cid, base in bases.items()
    ]
    out += [fold(cid, events) for cid, events in linked.items() if cid]
    return out


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class RecordsPolicy:
    """How long the call log is kept and what it shows (`records:` section).

    Callback settings live in `callbacks:` (the callback owner's section): the
    SLA reports measure against is `callbacks.sla`, and raw callback numbers
    are kept for `callbacks.keep_raw_numbers`. One setting, one place.
    """

    retention_days: int = 730
    """Call records, triage outcomes and linked events; then deleted by the purge job."""
    store_masked: bool = True
    """Keep '+31 ***** 45 67' in records so on-call staff can tell calls apart."""


_POLICY_KEYS = {"retention_days": (1, 3660)}


def policy_from(raw: Any) -> RecordsPolicy:
    """Policy from an already validated `records:` section (None: the defaults)."""
    policy, problems = parse_policy(raw, lambda _path: Source("<records>", 0))
    if problems:
        raise ValueError("invalid records config: " + "; ".join(p[1] for p in problems))
    return policy


def check_config(data: Mapping[str, Any], where: Any) -> list[tuple[Source, str, str]]:
    """Loader hook: problems in the `records:` section, each with file:line."""
    if "records" not in data:
        return []
    return parse_policy(data["records"], where)[1]


def parse_policy(raw: Any, where: Any) -> tuple[RecordsPolicy, list[tuple[Source, str, str]]]:
    problems: list[tuple[Source, str, str]] = []
    if raw is None:
        return RecordsPolicy(), problems
    if not isinstance(raw, dict):
        problems.append(
            (
                where(("records",)),
                "records must be a mapping",
                "indent retention_days: etc. under 'records:'",
            )
        )
        return RecordsPolicy(), problems
    values: dict[str, Any] = {}
    allowed = set(_POLICY_KEYS) | {"store_masked"}
    for key, value in raw.items():
        path = ("records", key)
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            problems.append(
                (
                    where(path),
                    f"unknown key {key!r} in records",
                    f"did you mean {close[0]!r}?"
                    if close
                    else f"allowed keys: {', '.join(sorted(allowed))}",
                )
            )
        elif key == "store_masked":
            if not isinstance(value, bool):
                problems.append(
                    (
                        where(path),
                        f"records.store_masked must be true or false, not {value!r}",
                        "write true or false",
                    )
                )
            else:
                values[key] = value
        else:
            low, high = _POLICY_KEYS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                problems.append(
                    (
                        where(path),
                        f"records.{key} must be a whole number from {low} to {high}, not {value!r}",
                        f"use a number between {low} and {high}",
                    )
                )
            else:
                values[key] = value
    return RecordsPolicy(**values), problems
