"""How call events and records are written to Redis, and read back.

Two shapes: compact JSON per event (a call's working hash in Redis, and
events that arrive after its record was written), and flat str fields for
one stream entry per call (`to_fields` / `from_fields`). Kept apart from the
record's meaning (`callrouter.calls.record`) so a change of storage layout
never touches how a call is folded or counted.

Pure: no Redis here, only the strings Redis stores.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from callrouter.calls.record import (
    Answered,
    CallbackChanged,
    CallbackStep,
    CallEvent,
    CallRecord,
    Ended,
    LegAttempt,
    LegTried,
    Outcome,
    OutcomeReported,
    Routed,
    Started,
    fold,
)

SCHEMA_VERSION = "1"


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
                "talk": a.talk_seconds,
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
                float(data.get("talk") or 0),
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
            [
                [a.index, a.who, a.result, a.ring_seconds, _iso(a.at), a.kind, a.talk_seconds]
                for a in record.legs
            ],
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
        LegAttempt(
            int(i), who, result, float(ring), dt.datetime.fromisoformat(at), kind, float(talk)
        )
        # Records written before talk time was kept have six items per leg.
        for i, who, result, ring, at, kind, talk in (
            (*leg, 0) if len(leg) == 6 else leg for leg in json.loads(get("legs") or "[]")
        )
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


def field_of(event: CallEvent, ms: int) -> str:
    """The working-hash field for an event (`ms`: its moment in ms): a repeated
    webhook overwrites its field, a new fact adds one."""
    match event:
        case Started():
            return "started"
        case Routed():
            return "routed"
        case LegTried():
            return f"leg:{event.attempt.index}"
        case Answered():
            return "answered"
        case CallbackChanged():
            return f"callback:{event.callback_id}:{event.state}:{ms}"
        case Ended():
            return "ended"
        case OutcomeReported():
            return f"outcome:{ms}"
    raise TypeError(f"not a call event: {event!r}")
