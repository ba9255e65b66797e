"""Callback requests in Redis: one hash per request, a priority queue, an audit trail.

Keys (this class owns the ``cb:`` prefix):

- ``cb:req:<id>``       hash: the request's fields (raw number only here, purged later)
- ``cb:queue``          sorted set of *open* requests, score = priority, then deadline
- ``cb:active``         set of requests not yet in a terminal state (for the sweeper)
- ``cb:all``            sorted set of every request by creation time (listing, purge)
- ``cb:audit:<id>``     list of JSON entries: every transition and notable event
- ``cb:code:<code>``    the request a 3-digit claim code belongs to while it is live
- ``cb:offer:<member>`` the last request offered to a staff member (for the reply "1")
- ``cb:offered:<id>``   set of staff members asked by SMS to claim it
- ``cb:sms:<...>``      per-recipient send markers that make notify jobs idempotent
- ``cb:typed:<CallSid>`` a number a caller typed, until they confirm it (15 minutes)

Every state change is one Lua script that checks the current state against
the core's transition table (``core.callbacks.sources``) and any token
(epoch, attempt) before writing, so two staff members claiming at once get
exactly one winner and a stale timer changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from callrouter.callbacks.lifecycle import OPEN, TERMINAL, Event, Request, Route, State, sources

_P = "cb:"
QUEUE_KEY = f"{_P}queue"
ACTIVE_KEY = f"{_P}active"
ALL_KEY = f"{_P}all"
_MARKER_TTL = 30 * 86400
RECENT_FOR_CODES = 500
"""How many recent requests `call_sid_of` searches for a released claim code."""

_OPEN_JSON = json.dumps({s.value: True for s in OPEN})
_TERMINAL_JSON = json.dumps({s.value: True for s in TERMINAL})

# KEYS: req, queue, active, all, audit, code candidates...
# ARGV: id, fields (json), audit entry (json), created_ts
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGET', KEYS[1], 'code') or ''}
end
local code = ''
for i = 6, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[1], 'NX') then
    code = string.sub(KEYS[i], string.len(KEYS[i]) - 2)
    break
  end
end
if code == '' then
  return redis.error_reply('no free claim code')
end
local fields = cjson.decode(ARGV[2])
fields['code'] = code
for k, v in pairs(fields) do
  redis.call('HSET', KEYS[1], k, v)
end
local score = tonumber(fields['priority']) * 1e10 + tonumber(fields['deadline_ts'])
redis.call('ZADD', KEYS[2], score, ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], tonumber(ARGV[4]), ARGV[1])
redis.call('RPUSH', KEYS[5], ARGV[3])
return {1, code}
"""

# KEYS: req, queue, active, audit
# ARGV: id, mapping {from: to}, expect {field: value}, set {field: value ('' deletes)},
#       incr {field: n}, max {field: n}, audit entry, open states, terminal states, code prefix
_TRANSITION = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return {0, '', ''}
end
local claimed = redis.call('HGET', KEYS[1], 'claimed_by') or ''
local target = cjson.decode(ARGV[2])[state]
if not target then
  return {0, state, claimed}
end
for k, v in pairs(cjson.decode(ARGV[3])) do
  if (redis.call('HGET', KEYS[1], k) or '') ~= v then
    return {0, state, claimed}
  end
end
for k, n in pairs(cjson.decode(ARGV[5])) do
  redis.call('HINCRBY', KEYS[1], k, n)
end
for k, n in pairs(cjson.decode(ARGV[6])) do
  if tonumber(redis.call('HGET', KEYS[1], k) or '-1') < n then
    redis.call('HSET', KEYS[1], k, n)
  end
end
for k, v in pairs(cjson.decode(ARGV[4])) do
  if v == '' then
    redis.call('HDEL', KEYS[1], k)
  else
    redis.call('HSET', KEYS[1], k, v)
  end
end
redis.call('HSET', KEYS[1], 'state', target)
local id = ARGV[1]
if cjson.decode(ARGV[8])[target] then
  local prio = tonumber(redis.call('HGET', KEYS[1], 'priority'))
  local deadline = tonumber(redis.call('HGET', KEYS[1], 'deadline_ts'))
  redis.call('ZADD', KEYS[2], prio * 1e10 + deadline, id)
else
  redis.call('ZREM', KEYS[2], id)
end
if cjson.decode(ARGV[9])[target] then
  redis.call('SREM', KEYS[3], id)
  local code = redis.call('HGET', KEYS[1], 'code')
  if code then
    local ckey = ARGV[10] .. code
    if redis.call('GET', ckey) == id then
      redis.call('DEL', ckey)
    end
  end
end
local entry = cjson.decode(ARGV[7])
entry['from'] = state
entry['to'] = target
redis.call('RPUSH', KEYS[4], cjson.encode(entry))
return {1, state, target}
"""

# KEYS: marker; ARGV: lease (ms), now (ms)
# 'go' = this caller may send now; 'sent' = done before; 'busy' = another send is in flight
_BEGIN_SEND = """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 5) == 'sent:' then
  return 'sent'
end
if v then
  return 'busy'
end
redis.call('SET', KEYS[1], 'sending:' .. ARGV[2], 'PX', ARGV[1])
return 'go'
"""


@dataclass(frozen=True)
class Transition:
    """What a transition attempt did; on failure, `before` is the state found."""

    ok: bool
    before: State | None
    after: State | None
    claimed_by: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    at: str
    event: str
    by: str
    note: str
    before: str | None
    after: str | None


class CallbackStore:
    """Callback requests in Redis; the connection is passed in."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn
        self._create = conn.register_script(_CREATE)
        self._transition = conn.register_script(_TRANSITION)
        self._begin_send = conn.register_script(_BEGIN_SEND)

    # -- keys ---------------------------------------------------------------

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
        self, request: Request, moment: dt.datetime, pseudonym: str = ""
    ) -> tuple[bool, str]:
        """Store a new request; (False, code) when the id exists already (a replay).

        Returns whether it was created and its claim code (3 digits, unique
        among live requests).
        """
        candidates = [self.code_key(str(100 + secrets.randbelow(900))) for _ in range(24)]
        entry = _entry(moment, "created", "caller", f"priority {request.priority}")
        created, code = self._create(
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
            ],
        )
        return bool(created), code.decode() if isinstance(code, bytes) else str(code)

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
        if ref.isdigit() and len(ref) == 3:
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
        if request is None and len(ref) == 3 and ref.isdigit():
            request = next((r for r in self.recent(RECENT_FOR_CODES) if r.code == ref), None)
        return request.call_sid if request is not None and request.call_sid else None

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

    def merge_duplicate(self, request_id: str, moment: dt.datetime, call_sid: str | None) -> None:
        """The same caller asked again within the dedupe window: one request, counted."""
        pipe = self.conn.pipeline()
        pipe.hincrby(self.key_for(request_id), "asked", 1)
        pipe.rpush(
            self.audit_key(request_id),
            json.dumps(
                _entry(moment, "merged", "caller", f"asked again (call {call_sid or 'unknown'})")
            ),
        )
        pipe.execute()

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

    # -- a number typed by a caller, until they confirm it -------------------

    @staticmethod
    def typed_key(call_sid: str) -> str:
        return f"{_P}typed:{call_sid}"

    def remember_typed(self, call_sid: str, number: str, ttl_seconds: int) -> None:
        self.conn.set(self.typed_key(call_sid), number, ex=ttl_seconds)

    def typed(self, call_sid: str) -> str | None:
        value = self.conn.get(self.typed_key(call_sid))
        return _s(value) if value else None

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


def _entry(moment: dt.datetime, event: str, by: str, note: str) -> dict[str, Any]:
    return {"at": moment.isoformat(), "event": event, "by": by, "note": note}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def _s(value: object) -> str:
    """A Redis reply as text (the client returns bytes; scripts may return numbers)."""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def _fields(request: Request, moment: dt.datetime, pseudonym: str) -> dict[str, str]:
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
        "asked": str(request.asked),
        "updated_at": moment.isoformat(),
    }


def _request(raw: Mapping[Any, Any]) -> Request:
    f = {_s(k): _s(v) for k, v in raw.items()}
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
        asked=int(f.get("asked", "1")),
    )
