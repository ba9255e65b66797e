"""Writing the call log: per-call working state, then one append-only record.

Whichever web or worker process sees an event of a call writes it to the
call's working hash (``callrouter:calls:live:<CallSid>``, one field per
event); when the call ends its events are folded into one record and
appended to the stream, exactly once (seal, fold, commit: `finish`).
Events that arrive later become linked stream entries. Keys and reading:
`callrouter.calls.reader`; the scripts: `callrouter.calls.scripts`.

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
import re
import secrets
import threading
from collections.abc import Iterator, Mapping

import redis

from callrouter.calls import refs, scripts
from callrouter.calls.codec import (
    event_from_json,
    event_to_json,
    field_of,
    link_fields,
    to_fields,
)
from callrouter.calls.reader import LINK_WINDOW, PREFIX, CallReader, ms_of, text
from callrouter.calls.record import (
    Answered,
    CallbackChanged,
    CallEvent,
    Ended,
    LegAttempt,
    LegTried,
    Outcome,
    OutcomeReported,
    Routed,
    Started,
    fold,
    leg_result,
)
from callrouter.calls.rows import encode_row, row_of
from callrouter.calls.triage import OutcomeCode, TriageCodes, from_digits
from callrouter.errors import CallrouterError
from callrouter.privacy import mask_number, mask_numbers_in, pseudonymise
from callrouter.routing import numbers
from callrouter.routing.plan import RoutePlan

logger = logging.getLogger(__name__)

PSEUDONYM_KEY_ENV = "CALLROUTER_PSEUDONYM_KEY"
_MIN_KEY_CHARS = 16

STALE_AFTER = dt.timedelta(hours=6)
"""A call with no end event after this long is recorded as it stands (reason 'stale')."""

_E164 = re.compile(r"\+[1-9]\d{6,14}")
REF_BLOCK = 20
"""Call refs are taken from the shared sequence this many at a time per
process, so a new call costs the incoming webhook one round trip to Redis
(the ref key and the first event in one script call), not three."""


class PseudonymKeyError(CallrouterError):
    """The pseudonymisation key is missing or too short."""


def pseudonym_key(environ: Mapping[str, str]) -> bytes:
    """The secret for `pseudonymise`, from ``CALLROUTER_PSEUDONYM_KEY``.

    Without it records could only hold raw numbers or unkeyed (reversible)
    hashes, so there is no default: refuse to start instead. Changing the key
    makes old and new pseudonyms of one caller differ (that is the point of
    rotating it).
    """
    value = environ.get(PSEUDONYM_KEY_ENV, "")
    if len(value) < _MIN_KEY_CHARS:
        raise PseudonymKeyError(
            f"{PSEUDONYM_KEY_ENV} must be set to a secret of at least {_MIN_KEY_CHARS} "
            "characters (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    return value.encode("utf-8")


def _flat(fields: Mapping[str, str]) -> list[str]:
    return [x for kv in fields.items() for x in kv]


class CallStore(CallReader):
    """Call events, records and triage outcomes of the crisis line in Redis.

    `pseudonym_key` is needed only to record new calls (`started`); readers
    such as `callrouter report` use `CallReader` and never hold the secret.
    """

    def __init__(
        self,
        conn: redis.Redis,
        pseudonym_key: bytes | None,
        *,
        store_masked: bool = True,
        live_ttl: dt.timedelta = dt.timedelta(days=3),
        sealed_ttl: dt.timedelta = LINK_WINDOW,
        ref_ttl: dt.timedelta = dt.timedelta(days=730),
        prefix: str = PREFIX,
    ) -> None:
        super().__init__(conn, prefix=prefix)
        self._key = pseudonym_key
        self.store_masked = store_masked
        self.live_ttl = live_ttl
        self.sealed_ttl = sealed_ttl
        """How long a finished call's events stay together, so a late callback step
        or triage outcome folds into its report row (as long as reports read links)."""
        self.ref_ttl = ref_ttl
        self._event = conn.register_script(scripts.EVENT)
        self._start = conn.register_script(scripts.START)
        self._seal = conn.register_script(scripts.SEAL)
        self._commit = conn.register_script(scripts.COMMIT)
        self._row = conn.register_script(scripts.ROW)
        self._outcome = conn.register_script(scripts.OUTCOME)
        self._refs: Iterator[str] = iter(())
        self._refs_lock = threading.Lock()

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
            ref = self._next_ref()
            started = Started(at, ref, caller_ref, masked)
            keys, args = self._event_call(call_sid, started, start=True)
            ttl = int(self.ref_ttl.total_seconds())
            self._written(call_sid, self._start([*keys, f"{self.prefix}:ref:{ref}"], [ttl, *args]))
            if plan is not None:
                self._write(call_sid, Routed.from_plan(plan, at))
            return ref
        except Exception as exc:  # noqa: BLE001 -- never into a live call
            self.log_failure("started", call_sid, exc)
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
        talk_seconds: float = 0.0,
    ) -> None:
        """Leg `index` (1-based) ended: `member` is who rang (member id(s) or
        'line:<id>', see `record.who_of`), `result` a DialCallStatus,
        `talk_seconds` Twilio's DialCallDuration when it was answered."""
        attempt = LegAttempt(
            index, member, leg_result(result), float(ring_seconds), at, kind, float(talk_seconds)
        )
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
            self.log_failure("callback", call_sid, exc)

    def ended(
        self, call_sid: str, duration: float | None, at: dt.datetime, reason: str = "completed"
    ) -> None:
        """The call is over: write its one record."""
        try:
            self._write(call_sid, Ended(at, duration, reason))
            self.finish(call_sid, at)
        except Exception as exc:  # noqa: BLE001
            self.log_failure("ended", call_sid, exc)

    # ------------------------------------------------------------------ writing (raises)

    def caller_identity(self, caller_number: str | None) -> tuple[str, str]:
        """(pseudonym, masked) of a caller's number; ('', '') when withheld."""
        if not caller_number or not caller_number.strip():
            return "", ""
        if not self._key:
            # Readers (reports, CLI) need no key; only the live call path does.
            raise PseudonymKeyError("this CallStore has no pseudonymisation key")
        try:
            # The voice webhook passes the number it already parsed (E.164): parse once.
            e164 = (
                caller_number
                if _E164.fullmatch(caller_number)
                else numbers.normalise(caller_number)
            )
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
            if text(sealed) == "gone":
                self.conn.zrem(self.open_set, call_sid)
            return None
        fields = dict(zip(map(text, sealed[::2]), map(text, sealed[1::2]), strict=True))
        events = [event_from_json(v) for k, v in fields.items() if not k.startswith("_")]
        if reason:
            events.append(Ended(at, None, reason))
        record = fold(call_sid, events)
        row = row_of(record)
        start_ms = row.start_ms if row is not None else ms_of(at)
        result = text(
            self._commit(
                keys=[key, self.stream, self.open_set, self.rows_key(start_ms)],
                args=[
                    ms_of(at),
                    call_sid,
                    int(self.sealed_ttl.total_seconds()),
                    encode_row(row, len(events)) if row is not None else "",
                    *_flat(to_fields(record)),
                ],
            )
        )
        return None if result == "done" else result

    def refresh_row(self, call_sid: str) -> None:
        """Fold a finished call's events again (a late event arrived) into its report row."""
        raw = self.conn.hgetall(self.live_key(call_sid))
        events = [event_from_json(text(v)) for k, v in raw.items() if not text(k).startswith("_")]
        row = row_of(fold(call_sid, events)) if events else None
        if row is not None:
            self._row(
                keys=[self.rows_key(row.start_ms)], args=[call_sid, encode_row(row, len(events))]
            )

    def rebuild_rows(self, start: dt.datetime, end: dt.datetime) -> int:
        """Recompute the report rows of calls that started in [start, end) from the
        stream (the record of truth): for records written before rows were kept,
        or imported. Returns how many rows were written."""
        pipe = self.conn.pipeline(transaction=False)
        written = 0
        for record in self.records(start, end):
            row = row_of(record)
            if row is not None:
                pipe.hset(self.rows_key(row.start_ms), record.call_id, encode_row(row, 0))
                written += 1
        pipe.execute()
        return written

    def finish_stale(self, now: dt.datetime, older_than: dt.timedelta = STALE_AFTER) -> int:
        """Record calls that started long ago but never reported their end
        (a lost status callback, a crashed process): every call leaves a record."""
        cutoff = ms_of(now - older_than)
        done = 0
        for sid in self.conn.zrangebyscore(self.open_set, "-inf", cutoff):
            if self.finish(text(sid), now, reason="stale"):
                done += 1
        return done

    def report_outcome(
        self, call_sid: str, code: str, at: dt.datetime, *, by: str = "", via: str = ""
    ) -> str:
        """Append a triage outcome (its own stream entry, linked by call id)."""
        event = OutcomeReported(Outcome(code, at, by, via))
        ms = ms_of(at)
        entry, sealed = self._outcome(
            keys=[self.live_key(call_sid), self.stream],
            args=[
                field_of(event, ms),
                event_to_json(event),
                ms,
                *_flat(link_fields(call_sid, event)),
            ],
        )
        if sealed:
            self.refresh_row(call_sid)
        return text(entry)

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

    def _next_ref(self) -> str:
        """The next number of this process's block of the shared sequence, through
        `refs.ref_of` under the key kept next to the sequence (made by the first
        process to need it): refs every process permutes alike, never repeated."""
        with self._refs_lock:
            ref = next(self._refs, None)
            if ref is None:
                pipe = self.conn.pipeline(transaction=False)
                pipe.set(f"{self.prefix}:ref-key", secrets.token_hex(refs.KEY_BYTES), nx=True)
                pipe.get(f"{self.prefix}:ref-key")
                pipe.incrby(f"{self.prefix}:seq", REF_BLOCK)
                _, raw_key, last = pipe.execute()
                key = text(raw_key).encode()
                block = range(int(last) - REF_BLOCK, int(last))
                self._refs = (refs.ref_of(n, key) for n in block)
                ref = next(self._refs)
        return ref

    def _event_call(
        self, call_sid: str, event: CallEvent, *, start: bool = False
    ) -> tuple[list[str], list[object]]:
        """KEYS and ARGV of `scripts.EVENT` for `event`."""
        ms = ms_of(event.at)
        keys = [self.live_key(call_sid), self.stream, self.open_set]
        args: list[object] = [
            field_of(event, ms),
            event_to_json(event),
            int(self.live_ttl.total_seconds()),
            ms,
            call_sid,
            "start" if start else "",
            *_flat(link_fields(call_sid, event)),
        ]
        return keys, args

    def _write(self, call_sid: str, event: CallEvent, *, start: bool = False) -> str:
        keys, args = self._event_call(call_sid, event, start=start)
        return self._written(call_sid, self._event(keys=keys, args=args))

    def _written(self, call_sid: str, reply: object) -> str:
        """`scripts.EVENT`'s reply as the entry id ('live' for the hash); a sealed
        call's report row is folded again with the event it just took."""
        if not isinstance(reply, list):
            return text(reply)
        entry, sealed = reply
        if sealed:
            self.refresh_row(call_sid)
        return text(entry)

    def _safely(self, what: str, call_sid: str, event: CallEvent) -> None:
        try:
            self._write(call_sid, event)
        except Exception as exc:  # noqa: BLE001
            self.log_failure(what, call_sid, exc)

    @staticmethod
    def log_failure(what: str, call_sid: str, exc: Exception) -> None:
        logger.error(
            "call log: could not record %s of call %s (%s: %s); the call goes on",
            what,
            call_sid,
            type(exc).__name__,
            mask_numbers_in(str(exc))[:200],
        )
