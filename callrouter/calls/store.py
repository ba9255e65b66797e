"""The call log in Redis: per-call working state, then one append-only record.

Keys (all owned by `CallStore`, prefix ``callrouter:calls``):

- ``callrouter:calls:live:<CallSid>``: hash of the events of a call in
  progress, one field per event, written by whichever web or worker process
  saw the event; expires ``live_ttl`` after the last write.
- ``callrouter:calls:open``: sorted set of calls in progress (score: start,
  ms), so calls whose end was never reported are still recorded (`finish_stale`).
- ``callrouter:calls:log``: the stream. One ``kind=call`` entry per call,
  written when the call ends; ``kind=triage`` entries for outcomes;
  ``kind=event`` entries for events that arrive after the record was written
  (callback claimed and completed, a late Dial action). Readers join them by
  call id. Entry ids are the event's moment in ms (kept increasing), so
  reading a period is an XRANGE and retention is one ``XTRIM MINID``.
- ``callrouter:calls:ref:<n>`` and ``callrouter:calls:by-callback:<id>``:
  short reference / callback id -> CallSid, for triage reports by SMS.

No raw phone number is ever written by this module: `started` pseudonymises
the caller's number before anything reaches Redis or a log line.

The event methods (`started`, `routed`, `leg`, `answered`, `callback`,
`ended`) are called from live calls and NEVER raise: a Redis failure is
logged (without numbers) and swallowed, because a crisis call must not fail
for the sake of its paperwork.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from callrouter.callbacks.store import CallbackStore
from callrouter.calls.record import (
    Answered,
    CallbackChanged,
    CallEvent,
    CallRecord,
    Ended,
    LegAttempt,
    LegTried,
    Outcome,
    OutcomeReported,
    Routed,
    Started,
    assemble,
    entry_from_fields,
    event_from_json,
    event_to_json,
    fold,
    leg_result,
    link_fields,
    to_fields,
)
from callrouter.calls.triage import (
    OutcomeCode,
    TriageCodes,
    TriageRejected,
    codes_from,
    from_digits,
    is_triage_message,
    parse_reply,
)
from callrouter.errors import CallrouterError
from callrouter.privacy import mask_number, mask_numbers_in, pseudonymise
from callrouter.routing import numbers
from callrouter.routing.model import Config, Member
from callrouter.routing.plan import RoutePlan

logger = logging.getLogger(__name__)

PREFIX = "callrouter:calls"
PSEUDONYM_KEY_ENV = "CALLROUTER_PSEUDONYM_KEY"
_MIN_KEY_CHARS = 16

READ_MARGIN = dt.timedelta(days=1)
"""A record's entry id is its end moment; read this much before a period for clock skew."""
LINK_WINDOW = dt.timedelta(days=31)
"""Linked events (callback done, triage) of a call are read up to this long after the period."""
STALE_AFTER = dt.timedelta(hours=6)
"""A call with no end event after this long is recorded as it stands (reason 'stale')."""

_RECENT_CALLBACKS = 500
_FIRST_REF = 1000
"""Short refs have 4+ digits, so 'T 123 ...' is always a callback's claim code."""
_FINISHED = "_finished"
_BATCH = 5000

# Next stream id at or after ARGV ms, strictly above the stream's last id, so
# ids follow the events' own moments (tests pass them in) and stay valid.
_NEXT_ID = """
local function next_id(stream, at_ms)
  local ms = tonumber(at_ms)
  local seq = 0
  if redis.call('EXISTS', stream) == 1 then
    local info = redis.call('XINFO', 'STREAM', stream)
    local last
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then last = info[i + 1] end
    end
    local dash = string.find(last, '-')
    local lms = tonumber(string.sub(last, 1, dash - 1))
    local lseq = tonumber(string.sub(last, dash + 1))
    if ms <= lms then
      ms = lms
      seq = lseq + 1
    end
  end
  return string.format('%.0f-%.0f', ms, seq)
end
"""

# KEYS: live hash, stream, open set. ARGV: field, event json, ttl s, at ms,
# call id, 'start' or '', then the link entry's field/value pairs.
# An open call's event goes into its hash; once the call is sealed (or gone)
# it becomes a linked stream entry, so no event is ever dropped.
_EVENT = (
    _NEXT_ID
    + """
local sealed = redis.call('HEXISTS', KEYS[1], '_finished') == 1
local open = redis.call('EXISTS', KEYS[1]) == 1 and not sealed
if not sealed and (open or ARGV[6] == 'start') then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  if ARGV[6] == 'start' then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5]) end
  return 'live'
end
local id = next_id(KEYS[2], ARGV[4])
redis.call('XADD', KEYS[2], id, unpack(ARGV, 7))
return id
"""
)

# Seal a call: from now on its events are linked entries, so the hash is a
# fixed snapshot to fold. KEYS: live hash. Returns the hash, or 'gone'/'done'.
_SEAL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
local state = redis.call('HGET', KEYS[1], '_finished')
if state and state ~= 'pending' then return 'done' end
redis.call('HSET', KEYS[1], '_finished', 'pending')
return redis.call('HGETALL', KEYS[1])
"""

# Append the folded record of a sealed call, once. KEYS: live hash, stream,
# open set. ARGV: at ms, call id, ttl s, then the record's field/value pairs.
_COMMIT = (
    _NEXT_ID
    + """
if redis.call('HGET', KEYS[1], '_finished') ~= 'pending' then return 'done' end
local id = next_id(KEYS[2], ARGV[1])
redis.call('XADD', KEYS[2], id, unpack(ARGV, 4))
redis.call('HSET', KEYS[1], '_finished', id)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[2])
return id
"""
)

# KEYS: stream. ARGV: at ms, then field/value pairs.
_APPEND = (
    _NEXT_ID
    + """
local id = next_id(KEYS[1], ARGV[1])
redis.call('XADD', KEYS[1], id, unpack(ARGV, 2))
return id
"""
)


class PseudonymKeyError(CallrouterError):
    """The pseudonymisation key is missing or too short."""


def pseudonym_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The secret for `pseudonymise`, from ``CALLROUTER_PSEUDONYM_KEY``.

    Without it records could only hold raw numbers or unkeyed (reversible)
    hashes, so there is no default: refuse to start instead. Changing the key
    makes old and new pseudonyms of one caller differ (that is the point of
    rotating it).
    """
    value = (environ if environ is not None else os.environ).get(PSEUDONYM_KEY_ENV, "")
    if len(value) < _MIN_KEY_CHARS:
        raise PseudonymKeyError(
            f"{PSEUDONYM_KEY_ENV} must be set to a secret of at least {_MIN_KEY_CHARS} "
            "characters (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    return value.encode("utf-8")


def ms_of(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("call log moments must be timezone-aware")
    return int(moment.timestamp() * 1000)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _decoded(raw: Mapping[Any, Any]) -> dict[str, str]:
    """Stream entry fields as str (a connection may or may not decode responses)."""
    try:
        return {k.decode(): v.decode() for k, v in raw.items()}
    except AttributeError:
        return {str(k): str(v) for k, v in raw.items()}


def _flat(fields: Mapping[str, str]) -> list[str]:
    return [x for kv in fields.items() for x in kv]


@dataclass(frozen=True)
class PurgeResult:
    cutoff: dt.datetime
    entries: int
    dry_run: bool


class CallStore:
    """Call events, records and triage outcomes of the crisis line in Redis.

    `pseudonym_key` is needed only to record new calls (`started`); readers
    such as `callrouter report` pass None and never hold the secret.
    """

    def __init__(
        self,
        conn: redis.Redis,
        pseudonym_key: bytes | None,
        *,
        store_masked: bool = True,
        live_ttl: dt.timedelta = dt.timedelta(days=3),
        ref_ttl: dt.timedelta = dt.timedelta(days=730),
        prefix: str = PREFIX,
    ) -> None:
        self.conn = conn
        self._key = pseudonym_key
        self.store_masked = store_masked
        self.live_ttl = live_ttl
        self.ref_ttl = ref_ttl
        self.prefix = prefix
        self.stream = f"{prefix}:log"
        self.open_set = f"{prefix}:open"
        self._event = conn.register_script(_EVENT)
        self._seal = conn.register_script(_SEAL)
        self._commit = conn.register_script(_COMMIT)
        self._append = conn.register_script(_APPEND)

    def live_key(self, call_sid: str) -> str:
        return f"{self.prefix}:live:{call_sid}"

    # ------------------------------------------------------------------ the event sink

    def started(
        self,
        call_sid: str,
        caller_number: str | None,
        at: dt.datetime,
        plan: RoutePlan | None = None,
    ) -> str:
        """A call came in. Returns the short reference staff use for triage
        ('' when Redis failed). `caller_number` is pseudonymised here and
        never stored; `plan` may follow later via `routed` (after the IVR)."""
        try:
            caller_ref, masked = self.caller_identity(caller_number)
            ref = str(int(self.conn.incr(f"{self.prefix}:seq")) + _FIRST_REF - 1)
            self.conn.set(
                f"{self.prefix}:ref:{ref}", call_sid, ex=int(self.ref_ttl.total_seconds())
            )
            self._write(call_sid, Started(at, ref, caller_ref, masked), start=True)
            if plan is not None:
                self._write(call_sid, Routed.from_plan(plan, at))
            return ref
        except Exception as exc:  # noqa: BLE001 -- never into a live call
            self._swallow("started", call_sid, exc)
            return ""

    def routed(self, call_sid: str, plan: RoutePlan, at: dt.datetime) -> None:
        """The IVR is done and the route plan is known (window, facts, rule)."""
        self._safely("routed", call_sid, Routed.from_plan(plan, at))

    def leg(
        self,
        call_sid: str,
        index: int,
        member: str,
        result: str,
        ring_seconds: float,
        at: dt.datetime,
        kind: str = "",
    ) -> None:
        """Leg `index` (1-based) ended: `member` is who rang (member id(s) or
        'line:<id>', see `core.records.who_of`), `result` a DialCallStatus."""
        attempt = LegAttempt(index, member, leg_result(result), float(ring_seconds), at, kind)
        self._safely("leg", call_sid, LegTried(attempt))

    def answered(self, call_sid: str, member: str, at: dt.datetime, leg: int | None = None) -> None:
        """A person took the call (pressed 1 in the whisper): who, on which leg."""
        self._safely("answered", call_sid, Answered(at, member, leg))

    def callback(self, call_sid: str, callback_id: str, state: str, at: dt.datetime) -> None:
        """A callback of this call changed state (requested, claimed, completed, ...)."""
        try:
            self.conn.set(
                f"{self.prefix}:by-callback:{callback_id}",
                call_sid,
                ex=int(self.ref_ttl.total_seconds()),
            )
            self._write(call_sid, CallbackChanged(at, callback_id, state))
        except Exception as exc:  # noqa: BLE001
            self._swallow("callback", call_sid, exc)

    def ended(
        self, call_sid: str, duration: float | None, at: dt.datetime, reason: str = "completed"
    ) -> None:
        """The call is over: write its one record."""
        try:
            self._write(call_sid, Ended(at, duration, reason))
            self.finish(call_sid, at)
        except Exception as exc:  # noqa: BLE001
            self._swallow("ended", call_sid, exc)

    # ------------------------------------------------------------------ writing (raises)

    def caller_identity(self, caller_number: str | None) -> tuple[str, str]:
        """(pseudonym, masked) of a caller's number; ('', '') when withheld."""
        if not caller_number or not caller_number.strip():
            return "", ""
        if not self._key:
            # Readers (reports, CLI) need no key; only the live call path does.
            raise PseudonymKeyError("this CallStore has no pseudonymisation key")
        try:
            e164 = numbers.normalise(caller_number)
        except numbers.NumberError:
            # 'anonymous', 'client:...', garbage: no pseudonym (it would join
            # every withheld caller into one), only the masked form.
            return "", mask_number(caller_number) if self.store_masked else ""
        return pseudonymise(e164, self._key), mask_number(e164) if self.store_masked else ""

    def finish(self, call_sid: str, at: dt.datetime, reason: str = "") -> str | None:
        """Fold the call's events into its record and append it, exactly once.

        Returns the stream id, or None when the record was already written (a
        repeated status callback) or nothing is known about the call. First
        the call is sealed (atomically: later events become linked entries,
        none is lost), then its snapshot is folded and appended; two processes
        finishing at once fold the same snapshot and only one append wins. A
        process dying in between leaves the call sealed and in the open set,
        so `finish_stale` writes its record later.
        """
        key = self.live_key(call_sid)
        sealed = self._seal(keys=[key])
        if not isinstance(sealed, list):
            if _text(sealed) == "gone":
                self.conn.zrem(self.open_set, call_sid)
            return None
        fields = dict(zip(map(_text, sealed[::2]), map(_text, sealed[1::2]), strict=True))
        events = [event_from_json(v) for k, v in fields.items() if not k.startswith("_")]
        if reason:
            events.append(Ended(at, None, reason))
        record = fold(call_sid, events)
        result = _text(
            self._commit(
                keys=[key, self.stream, self.open_set],
                args=[
                    ms_of(at),
                    call_sid,
                    int(self.live_ttl.total_seconds()),
                    *_flat(to_fields(record)),
                ],
            )
        )
        return None if result == "done" else result

    def finish_stale(self, now: dt.datetime, older_than: dt.timedelta = STALE_AFTER) -> int:
        """Record calls that started long ago but never reported their end
        (a lost status callback, a crashed process): every call leaves a record."""
        cutoff = ms_of(now - older_than)
        done = 0
        for sid in self.conn.zrangebyscore(self.open_set, "-inf", cutoff):
            if self.finish(_text(sid), now, reason="stale"):
                done += 1
        return done

    def append_record(self, record: CallRecord) -> str:
        """Append a whole record directly (imports from another system, benchmarks);
        live calls go through the event methods instead."""
        at = record.ended_at or record.started_at
        if at is None:
            raise ValueError("a record needs a start or end moment")
        return _text(self._append(keys=[self.stream], args=[ms_of(at), *_flat(to_fields(record))]))

    def report_outcome(
        self, call_sid: str, code: str, at: dt.datetime, *, by: str = "", via: str = ""
    ) -> str:
        """Append a triage outcome (its own stream entry, linked by call id)."""
        fields = link_fields(call_sid, OutcomeReported(Outcome(code, at, by, via)))
        return _text(self._append(keys=[self.stream], args=[ms_of(at), *_flat(fields)]))

    def resolve(self, reference: str) -> str | None:
        """The CallSid staff mean by `reference`, or None.

        Accepted: the call's short ref (4+ digits, from `started`), a callback
        request id or its 3-digit claim code (from the callback SMS), or a
        CallSid. Short refs start at 1000 so they never look like a claim code.
        """
        ref = reference.strip()
        if not ref:
            return None
        for key in (f"{self.prefix}:ref:{ref}", f"{self.prefix}:by-callback:{ref}"):
            sid = self.conn.get(key)
            if sid:
                return _text(sid)
        if self.conn.exists(self.live_key(ref)):
            return ref
        callbacks = CallbackStore(self.conn)
        request_id = callbacks.resolve(ref)
        request = callbacks.get(request_id) if request_id else None
        if request is None and len(ref) == 3 and ref.isdigit():
            # A claim code is released when the callback is done, which is
            # exactly when staff report the outcome: the latest request that
            # had this code is the one they mean.
            request = next((r for r in callbacks.recent(_RECENT_CALLBACKS) if r.code == ref), None)
        if request is not None and request.call_sid:
            return request.call_sid
        if not ref.startswith("CA"):
            return None
        # A CallSid whose working state has expired: look for its record.
        for call_id, _item in self._entries("-", "+", reverse=True):
            if call_id == ref:
                return ref
        return None

    def triage_sms(self, text: str, codes: TriageCodes, *, by: str, at: dt.datetime) -> str:
        """Record a staff SMS such as 'T 1234 advies'; returns the reply to send.

        For the SMS webhook: check `core.triage.is_triage_message` first, then
        call this. Never raises: a storage failure becomes a reply saying so.
        """
        parsed = parse_reply(text, codes)
        if isinstance(parsed, TriageRejected):
            return parsed.reply
        try:
            call_sid = self.resolve(parsed.ref)
            if call_sid is None:
                return (
                    f"Gesprek {parsed.ref} is onbekend. Gebruik het gespreksnummer uit de "
                    "whisper of de code uit de terugbel-sms."
                )
            self.report_outcome(call_sid, parsed.code, at, by=by, via="sms")
        except Exception as exc:  # noqa: BLE001 -- the sender gets an answer either way
            self._swallow("triage", parsed.ref, exc)
            return "De uitkomst is door een storing niet opgeslagen. Probeer het later opnieuw."
        return f"Vastgelegd voor gesprek {parsed.ref}: {codes.label(parsed.code)}."

    def triage_keypad(
        self, call_sid: str, digits: str, codes: TriageCodes, *, by: str, at: dt.datetime
    ) -> OutcomeCode | None:
        """Record an outcome pressed on the keypad (after a bridged callback); None
        when the digits are no outcome (ask again). Raises when it could not be
        stored, so the voice flow never confirms an outcome that was lost."""
        code = from_digits(digits, codes)
        if code is None:
            return None
        self.report_outcome(call_sid, code.code, at, by=by, via="keypad")
        return code

    def _write(self, call_sid: str, event: CallEvent, *, start: bool = False) -> str:
        at = event.at
        field = _field_of(event)
        return _text(
            self._event(
                keys=[self.live_key(call_sid), self.stream, self.open_set],
                args=[
                    field,
                    event_to_json(event),
                    int(self.live_ttl.total_seconds()),
                    ms_of(at),
                    call_sid,
                    "start" if start else "",
                    *_flat(link_fields(call_sid, event)),
                ],
            )
        )

    def _safely(self, what: str, call_sid: str, event: CallEvent) -> None:
        try:
            self._write(call_sid, event)
        except Exception as exc:  # noqa: BLE001
            self._swallow(what, call_sid, exc)

    @staticmethod
    def _swallow(what: str, call_sid: str, exc: Exception) -> None:
        logger.error(
            "call log: could not record %s of call %s (%s: %s); the call goes on",
            what,
            call_sid,
            type(exc).__name__,
            mask_numbers_in(str(exc))[:200],
        )

    # ------------------------------------------------------------------ reading

    def _entries(
        self, low: str, high: str, *, reverse: bool = False
    ) -> Iterator[tuple[str, CallRecord | CallEvent]]:
        """Parsed entries between two stream ids, in batches."""
        while True:
            if reverse:
                batch = self.conn.xrevrange(self.stream, high, low, count=_BATCH)
            else:
                batch = self.conn.xrange(self.stream, low, high, count=_BATCH)
            for _id, raw in batch:
                try:
                    yield entry_from_fields(_decoded(raw))
                except (ValueError, KeyError, TypeError) as exc:
                    logger.warning(
                        "call log: skipping unreadable entry %s (%s)",
                        _text(_id),
                        type(exc).__name__,
                    )
            if len(batch) < _BATCH:
                return
            last = _text(batch[-1][0])
            if reverse:
                high = "(" + last
            else:
                low = "(" + last

    def records(self, start: dt.datetime, end: dt.datetime) -> list[CallRecord]:
        """Records of calls that started in [start, end), with their linked
        callback events and triage outcomes, oldest first."""
        low = str(ms_of(start - READ_MARGIN))
        high = str(ms_of(end + LINK_WINDOW))
        records = assemble(self._entries(low, high))
        chosen = [r for r in records if r.started_at is not None and start <= r.started_at < end]
        return sorted(chosen, key=lambda r: r.started_at or start)

    def recent(self, count: int, *, include_open: bool = True) -> list[CallRecord]:
        """The last `count` calls, newest first; calls in progress included."""
        found: list[tuple[str, CallRecord | CallEvent]] = []
        calls = 0
        for call_id, item in self._entries("-", "+", reverse=True):
            found.append((call_id, item))
            if isinstance(item, CallRecord):
                calls += 1
                if calls >= count:
                    break
        # Linked events whose record lies further back would show as partial calls.
        records = [r for r in assemble(found) if r.end_reason != "incomplete"]
        if include_open:
            records += self.open_calls()
        records.sort(
            key=lambda r: r.started_at or dt.datetime.min.replace(tzinfo=dt.UTC), reverse=True
        )
        return records[:count]

    def snapshot(self, call_sid: str) -> CallRecord | None:
        """A call as its working state tells it (ref, who answered, ...), during the
        call and for `live_ttl` after its record was written; None when unknown."""
        raw = self.conn.hgetall(self.live_key(call_sid))
        events = [event_from_json(_text(v)) for k, v in raw.items() if not _text(k).startswith("_")]
        return fold(call_sid, events) if events else None

    def open_calls(self) -> list[CallRecord]:
        """Calls in progress, folded from their working state."""
        out = []
        for sid in self.conn.zrange(self.open_set, 0, -1):
            call_sid = _text(sid)
            raw = self.conn.hgetall(self.live_key(call_sid))
            fields = {_text(k): _text(v) for k, v in raw.items()}
            if not fields or _FINISHED in fields:
                continue
            out.append(
                fold(
                    call_sid,
                    [event_from_json(v) for k, v in fields.items() if not k.startswith("_")],
                )
            )
        return out

    # ------------------------------------------------------------------ retention

    def purge(
        self, now: dt.datetime, retention: dt.timedelta, *, dry_run: bool = False
    ) -> PurgeResult:
        """Delete every entry (records, outcomes, linked events) written before
        `now - retention`. Exact (not approximate) trimming: the boundary is
        what the README promises."""
        cutoff = now - retention
        cutoff_ms = ms_of(cutoff)
        if dry_run:
            count = 0
            low = "-"
            while True:
                batch = self.conn.xrange(self.stream, low, str(cutoff_ms - 1), count=_BATCH)
                count += len(batch)
                if len(batch) < _BATCH:
                    break
                low = "(" + _text(batch[-1][0])
            return PurgeResult(cutoff, count, True)
        if not self.conn.exists(self.stream):
            return PurgeResult(cutoff, 0, False)
        removed = self.conn.xtrim(self.stream, minid=str(cutoff_ms), approximate=False)
        return PurgeResult(cutoff, int(removed), False)


def triage_sms_handler(
    store: CallStore, config: Callable[[], Config]
) -> Callable[[Member, str, dt.datetime], str | None]:
    """A staff-SMS handler for `callrouter.web.sms.init_app`: takes 'T 1234 advies'
    messages (codes from the live config), leaves every other SMS to the claim logic."""

    def handle(member: Member, body: str, at: dt.datetime) -> str | None:
        codes = codes_from(config().extra.get("triage"))
        if not is_triage_message(body, codes):
            return None
        return store.triage_sms(body, codes, by=member.id, at=at)

    return handle


def _field_of(event: CallEvent) -> str:
    """The working-hash field for an event: a repeated webhook overwrites, a new fact adds."""
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
            return f"callback:{event.callback_id}:{event.state}:{ms_of(event.at)}"
        case Ended():
            return "ended"
        case OutcomeReported():
            return f"outcome:{ms_of(event.at)}"
    raise TypeError(f"not a call event: {event!r}")
