"""How a callback request is written to and read from its Redis hash.

Redis returns bytes and stores strings; these functions are the one place
that converts, so the store reads as what it does.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.requests import Request, Route


@dataclass(frozen=True)
class AuditEntry:
    at: str
    event: str
    by: str
    note: str
    before: str | None
    after: str | None


def entry(moment: dt.datetime, event: str, by: str, note: str) -> dict[str, Any]:
    return {"at": moment.isoformat(), "event": event, "by": by, "note": note}


def value(raw: object) -> str:
    """A field value as Redis stores it ('' for None, ISO 8601 for moments)."""
    if raw is None:
        return ""
    if isinstance(raw, dt.datetime):
        return raw.isoformat()
    return str(raw)


def text(raw: object) -> str:
    """A Redis reply as text (the client returns bytes; scripts may return numbers)."""
    if isinstance(raw, bytes):
        return raw.decode()
    return str(raw)


def fields(request: Request, moment: dt.datetime, pseudonym: str) -> dict[str, str]:
    return {
        "id": request.id,
        "state": request.state.value,
        "priority": str(request.priority),
        "created_at": request.created_at.isoformat(),
        "deadline": request.deadline.isoformat(),
        "deadline_ts": str(int(request.deadline.timestamp())),
        "caller_type": request.caller_type,
        "caller_kind": request.caller_kind,
        "age_group": request.age_group,
        "region": request.region or "",
        "number": request.number,
        "number_masked": request.number_masked,
        "number_pn": pseudonym,
        "routes": json.dumps([r.encode() for r in request.routes]),
        "epoch": str(request.epoch),
        "step": str(request.step),
        "attempts": str(request.attempts),
        "call_sid": request.call_sid or "",
        "lang": request.lang,
        "updated_at": moment.isoformat(),
    }


def request_of(raw: Mapping[Any, Any]) -> Request:
    f = {text(k): text(v) for k, v in raw.items()}
    return Request(
        id=f["id"],
        state=State(f["state"]),
        code=f.get("code", ""),
        priority=int(f["priority"]),
        created_at=dt.datetime.fromisoformat(f["created_at"]),
        deadline=dt.datetime.fromisoformat(f["deadline"]),
        caller_type=f["caller_type"],
        caller_kind=f["caller_kind"],
        age_group=f["age_group"],
        region=f.get("region") or None,
        number=f.get("number", ""),
        number_masked=f["number_masked"],
        routes=tuple(Route.decode(r) for r in json.loads(f.get("routes", "[]"))),
        epoch=int(f.get("epoch", "1")),
        step=int(f.get("step", "-1")),
        attempts=int(f.get("attempts", "0")),
        claimed_by=f.get("claimed_by") or None,
        call_sid=f.get("call_sid") or None,
        lang=f.get("lang", "nl"),
        outcome=f.get("outcome") or None,
    )
