"""Callback requests in Redis: one hash per request, a priority queue, an audit trail.

Keys (this class owns the ``cb:`` prefix):

- ``cb:req:<id>``       hash: the request's fields (raw number only here, purged later)
- ``cb:queue``          sorted set of *open* requests, score = priority, then deadline
- ``cb:active``         set of requests not yet in a terminal state (for the sweeper)
- ``cb:all``            sorted set of every request by creation time (listing, purge)
- ``cb:audit:<id>``     list of JSON entries: every transition and notable event
- ``cb:code:<code>``    the request a claim code (random digits) belongs to while it is live
- ``cb:offer:<member>`` the last request offered to a staff member (for the reply "1")
- ``cb:offered:<id>``   set of staff members asked by SMS to claim it
- ``cb:sms:<...>``      per-recipient send markers that make notify jobs idempotent
- ``cb:typed:<CallSid>`` a number a caller typed, until they confirm or cancel (short TTL)
- ``cb:refused:<period>`` callers turned away by a limit in one flood-alert period

Every state change is one Lua script that checks the state against the transition
table (``lifecycle.sources``) and any token (epoch, attempt) before writing: two
claims at once get one winner, and a stale timer changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum

import redis

from callrouter.callbacks import store_scripts as scripts
from callrouter.callbacks.lifecycle import OPEN, TERMINAL, Event, State, sources
from callrouter.callbacks.requests import Request
from callrouter.callbacks.store_codec import AuditEntry
from callrouter.callbacks.store_codec import entry as _entry
from callrouter.callbacks.store_codec import fields as _fields
from callrouter.callbacks.store_codec import request_of as _request
from callrouter.callbacks.store_codec import text as _s
from callrouter.callbacks.store_codec import value as _text

_P = "cb:"
QUEUE_KEY = f"{_P}queue"
ACTIVE_KEY = f"{_P}active"
ALL_KEY = f"{_P}all"
_MARKER_TTL = 30 * 86400
RECENT_FOR_CODES = 500
"""How many recent requests `call_sid_of` searches for a released claim code."""

_OPEN_JSON = json.dumps({s.value: True for s in OPEN})
_TERMINAL_JSON = json.dumps({s.value: True for s in TERMINAL})


class Created(IntEnum):
    """What `CallbackStore.create` did (the create script's answer)."""

    EXISTS = 0
    CREATED = 1
    FULL = 2


_NO_CODE = 3


@dataclass(frozen=True)
class Transition:
    """What a transition attempt did; on failure, `before` is the state found."""

    ok: bool
    before: State | None
    after: State | None
    claimed_by: str | None = None


class CallbackStore:
    """Callback requests in Redis; the connection is passed in."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn
        self._create = conn.register_script(scripts.CREATE)
        self._transition = conn.register_script(scripts.TRANSITION)
        self._begin_send = conn.register_script(scripts.BEGIN_SEND)

    @staticmethod
    def key_for(request_id: str) -> str:
        return f"{_P}req:{request_id}"

    @staticmethod
    def audit_key(request_id: str) -> str:
        return f"{_P}audit:{request_id}"

    @staticmethod
    def code_key(code: str) -> str:
        return f"{_P}code:{code}"

    @staticmethod
    def offer_key(member_id: str) -> str:
        return f"{_P}offer:{member_id}"

    @staticmethod
    def offered_key(request_id: str) -> str:
        return f"{_P}offered:{request_id}"

    @staticmethod
    def sms_key(request_id: str, epoch: int, step: int | str, member_id: str) -> str:
        return f"{_P}sms:{request_id}:{epoch}:{step}:{member_id}"

    # -- create and read ------------------------------------------------------

    def create(
        self,
        request: Request,
        moment: dt.datetime,
        pseudonym: str = "",
        *,
        code_digits: int = 6,
        max_open: int = 1_000_000,
    ) -> tuple[Created, str]:
        """Store a new request with a random claim code unique among live requests.

        Returns what happened and the claim code: `Created.EXISTS` (a replay:
        the stored code) or `Created.FULL` (the queue holds `max_open` open
        requests) create nothing. Codes come from a space at least ten times
        the open cap, so a round of random candidates practically never all
        collide; if they do, another round is drawn.
        """
        low = 10 ** (code_digits - 1)
        entry = _entry(moment, "created", "caller", f"priority {request.priority}")
        for _ in range(4):
            candidates = [self.code_key(str(low + secrets.randbelow(9 * low))) for _ in range(16)]
            outcome, code = self._create(
                keys=[
                    self.key_for(request.id),
                    QUEUE_KEY,
                    ACTIVE_KEY,
                    ALL_KEY,
                    self.audit_key(request.id),
                    *candidates,
                ],
                args=[
                    request.id,
                    json.dumps(_fields(request, moment, pseudonym)),
                    json.dumps(entry),
                    int(request.created_at.timestamp()),
                    len(self.code_key("")),
                    max_open,
                ],
            )
            if int(outcome) != _NO_CODE:
                return Created(int(outcome)), _s(code)
        raise RuntimeError("no free claim code in four rounds: limits.code_digits is too small")

    def get(self, request_id: str) -> Request | None:
        raw = self.conn.hgetall(self.key_for(request_id))
        return _request(raw) if raw else None

    def get_many(self, ids: Iterable[str]) -> list[Request]:
        pipe = self.conn.pipeline(transaction=False)
        ids = list(ids)
        for rid in ids:
            pipe.hgetall(self.key_for(rid))
        return [_request(raw) for raw in pipe.execute() if raw]

    def pseudonym(self, request_id: str) -> str:
        value = self.conn.hget(self.key_for(request_id), "number_pn")
        return _s(value) if value else ""

    def resolve(self, ref: str) -> str | None:
        """A request id from an id, a claim code or a unique id prefix (for the CLI)."""
        ref = ref.strip()
        if self.conn.exists(self.key_for(ref)):
            return ref
        if ref.isdigit():
            rid = self.conn.get(self.code_key(ref))
            if rid:
                return _s(rid)
        if len(ref) >= 4:
            matches = [_s(m) for m in self.conn.zrange(ALL_KEY, 0, -1) if _s(m).startswith(ref)]
            if len(matches) == 1:
                return matches[0]
        return None

    def by_code(self, code: str) -> str | None:
        rid = self.conn.get(self.code_key(code))
        return _s(rid) if rid else None

    def queue(self) -> list[Request]:
        """Open requests, most urgent first."""
        return self.get_many(_s(m) for m in self.conn.zrange(QUEUE_KEY, 0, -1))

    def active(self) -> list[Request]:
        """Every request not in a terminal state, oldest first."""
        ids = {_s(m) for m in self.conn.smembers(ACTIVE_KEY)}
        return sorted(self.get_many(ids), key=lambda r: r.created_at)

    def recent(self, limit: int = 50) -> list[Request]:
        """The latest requests in any state, newest first."""
        return self.get_many(_s(m) for m in self.conn.zrevrange(ALL_KEY, 0, limit - 1))

    def call_sid_of(self, reference: str) -> str | None:
        """The CallSid of the call behind a request id or claim code (the call
        log's `CallbackLookup`). A claim code is released when the callback is
        done, which is exactly when staff report the outcome: the latest
        request that had the code is the one they mean."""
        ref = reference.strip()
        request_id = self.resolve(ref)
        request = self.get(request_id) if request_id else None
        if request is None and ref.isdigit():
            request = next((r for r in self.recent(RECENT_FOR_CODES) if r.code == ref), None)
        return request.call_sid if request is not None and request.call_sid else None

    def claimers_of(self, call_sid: str) -> frozenset[str]:
        """Members who hold or held a recent request of this call (the call log's
        `CallbackLookup`: who may report its triage outcome)."""
        return frozenset(
            r.claimed_by
            for r in self.recent(RECENT_FOR_CODES)
            if r.call_sid == call_sid and r.claimed_by
        )

    def older_than(self, moment: dt.datetime) -> list[str]:
        return [_s(m) for m in self.conn.zrangebyscore(ALL_KEY, "-inf", moment.timestamp())]

    # -- change -------------------------------------------------------------

    def transition(
        self,
        request_id: str,
        event: Event,
        moment: dt.datetime,
        *,
        by: str,
        note: str = "",
        expect: Mapping[str, object] | None = None,
        set_fields: Mapping[str, object] | None = None,
        incr: Mapping[str, int] | None = None,
        at_least: Mapping[str, int] | None = None,
    ) -> Transition:
        """Apply `event` if the table allows it from the current state and every
        `expect`ed field has the given value; all or nothing."""
        mapping = {s.value: t.value for s, t in sources(event).items()}
        fields = {k: _text(v) for k, v in (set_fields or {}).items()}
        fields["updated_at"] = moment.isoformat()
        result = self._transition(
            keys=[self.key_for(request_id), QUEUE_KEY, ACTIVE_KEY, self.audit_key(request_id)],
            args=[
                request_id,
                json.dumps(mapping),
                json.dumps({k: _text(v) for k, v in (expect or {}).items()}),
                json.dumps(fields),
                json.dumps(dict(incr or {})),
                json.dumps(dict(at_least or {})),
                json.dumps(_entry(moment, event.value, by, note)),
                _OPEN_JSON,
                _TERMINAL_JSON,
                f"{_P}code:",
            ],
        )
        ok, before, after = (_s(x) for x in result)
        if ok == "1":
            return Transition(True, State(before), State(after))
        return Transition(False, State(before) if before else None, None, after or None)

    def note(
        self, request_id: str, moment: dt.datetime, event: str, by: str, note: str = ""
    ) -> None:
        """Add an audit entry that is not a state change (an SMS sent, a lost claim)."""
        self.conn.rpush(self.audit_key(request_id), json.dumps(_entry(moment, event, by, note)))

    def set_fields(self, request_id: str, **fields: object) -> None:
        self.conn.hset(self.key_for(request_id), mapping={k: _text(v) for k, v in fields.items()})

    def audit(self, request_id: str) -> list[AuditEntry]:
        out = []
        for raw in self.conn.lrange(self.audit_key(request_id), 0, -1):
            e = json.loads(raw)
            out.append(
                AuditEntry(
                    e["at"],
                    e["event"],
                    e.get("by", ""),
                    e.get("note", ""),
                    e.get("from"),
                    e.get("to"),
                )
            )
        return out

    # -- staff offers and SMS markers ------------------------------------------

    def last_offer(self, member_id: str) -> str | None:
        rid = self.conn.get(self.offer_key(member_id))
        return _s(rid) if rid else None

    def begin_send(self, marker: str, moment: dt.datetime, lease_seconds: float) -> str:
        """'go' (send now), 'sent' (already done) or 'busy' (another attempt in flight).

        The lease covers one HTTP request to Twilio; a worker that dies while
        sending leaves a marker that expires, after which a retry resends (at
        least once: the dead worker's SMS may have gone out).
        """
        verdict = self._begin_send(
            keys=[marker], args=[int(lease_seconds * 1000), int(moment.timestamp() * 1000)]
        )
        return _s(verdict)

    def finish_send(self, marker: str, sid: str, offered: tuple[str, str] | None = None) -> None:
        """Mark a send done; `offered` (request id, member id) records who was asked to claim."""
        pipe = self.conn.pipeline()
        pipe.set(marker, f"sent:{sid}", ex=_MARKER_TTL)
        if offered is not None:
            pipe.sadd(self.offered_key(offered[0]), offered[1])
            pipe.expire(self.offered_key(offered[0]), _MARKER_TTL)
            pipe.set(self.offer_key(offered[1]), offered[0], ex=_MARKER_TTL)
        pipe.execute()

    def abort_send(self, marker: str) -> None:
        self.conn.delete(marker)

    def offered_to(self, request_id: str) -> set[str]:
        """Member ids that were asked by SMS to claim this request."""
        return {_s(m) for m in self.conn.smembers(self.offered_key(request_id))}

    def forget(self, request_id: str) -> bool:
        """Delete a finished request entirely (retention); open ones are never deleted."""
        key = self.key_for(request_id)
        state = self.conn.hget(key, "state")
        if state is not None and State(_s(state)) not in TERMINAL:
            return False
        pipe = self.conn.pipeline()
        pipe.delete(key, self.audit_key(request_id), self.offered_key(request_id))
        pipe.zrem(ALL_KEY, request_id)
        pipe.zrem(QUEUE_KEY, request_id)
        pipe.srem(ACTIVE_KEY, request_id)
        pipe.execute()
        return state is not None

    # -- floods ----------------------------------------------------------------

    @staticmethod
    def refused_key(period: int) -> str:
        return f"{_P}refused:{period}"

    def count_refused(self, moment: dt.datetime, period_seconds: int) -> None:
        """One caller turned away by a limit in the alert period of `moment`."""
        key = self.refused_key(int(moment.timestamp()) // period_seconds)
        pipe = self.conn.pipeline()
        pipe.incr(key)
        pipe.expire(key, 2 * period_seconds)
        pipe.execute()

    def refused(self, period: int) -> int:
        value = self.conn.get(self.refused_key(period))
        return int(value) if value else 0

    def open_count(self) -> int:
        return int(self.conn.zcard(QUEUE_KEY))

    # -- a number typed by a caller, until they confirm it -------------------

    @staticmethod
    def typed_key(call_sid: str) -> str:
        return f"{_P}typed:{call_sid}"

    def remember_typed(self, call_sid: str, number: str, ttl_seconds: int) -> None:
        self.conn.set(self.typed_key(call_sid), number, ex=ttl_seconds)

    def typed(self, call_sid: str) -> str | None:
        value = self.conn.get(self.typed_key(call_sid))
        return _s(value) if value else None

    def forget_typed(self, call_sid: str) -> None:
        """The caller confirmed, cancelled or hung up: the typed number goes now."""
        self.conn.delete(self.typed_key(call_sid))

    # -- privacy --------------------------------------------------------------

    def purge_number(self, request_id: str, moment: dt.datetime) -> bool:
        """Delete the raw number of a finished request; the masked form and pseudonym stay."""
        key = self.key_for(request_id)
        state = self.conn.hget(key, "state")
        if state is None or State(_s(state)) not in TERMINAL:
            return False
        if not self.conn.hdel(key, "number"):
            return False
        self.note(request_id, moment, "purged", "retention", "raw number deleted")
        return True
