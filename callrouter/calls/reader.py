"""Reading the call log: a period's records, the latest calls, calls in progress.

Readers (`callrouter report`, `calls`, the triage API) never hold the
pseudonymisation key, so reading lives apart from writing
(`callrouter.calls.store.CallStore` adds the event sink on top).

Keys (prefix ``callrouter:calls``): ``live:<CallSid>`` (a call's working
hash), ``open`` (calls in progress, scored by start ms) and ``log`` (the
stream: one ``kind=call`` entry per call plus linked ``triage``/``event``
entries, ids = the moment in ms, so a period is one XRANGE and retention
one ``XTRIM MINID``) and ``rows:<YYYY-MM-DD>`` (report rows by call id, per
UTC day of the call's start, see `callrouter.calls.rows`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from callrouter.calls.codec import assemble, entry_from_fields, event_from_json
from callrouter.calls.record import CallEvent, CallRecord, fold
from callrouter.calls.rows import ReportRow, decode_row, decode_rows

logger = logging.getLogger(__name__)

PREFIX = "callrouter:calls"
FINISHED = "_finished"
"""Field of a sealed call's working hash: its record is (being) written."""

READ_MARGIN = dt.timedelta(days=1)
"""A record's entry id is its end moment; read this much before a period for clock skew."""
LINK_WINDOW = dt.timedelta(days=31)
"""Linked events (callback done, triage) of a call are read up to this long after the period."""
BATCH = 5000


def ms_of(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("call log moments must be timezone-aware")
    return int(moment.timestamp() * 1000)


def text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def decoded(raw: Mapping[Any, Any]) -> dict[str, str]:
    """Stream entry fields as str (a connection may or may not decode responses)."""
    return {text(k): text(v) for k, v in raw.items()}


def _decoded_rows(values: list[bytes]) -> list[ReportRow]:
    """All rows in one parse; row by row, skipping unreadable ones, only when that fails."""
    try:
        return decode_rows(values)
    except (ValueError, TypeError):
        pass
    rows = []
    for raw in values:
        try:
            rows.append(decode_row(raw))
        except (ValueError, TypeError) as exc:
            logger.warning("call log: skipping unreadable report row (%s)", type(exc).__name__)
    return rows


@dataclass(frozen=True)
class PurgeResult:
    cutoff: dt.datetime
    entries: int
    dry_run: bool


class CallReader:
    """The call log as readers see it; needs no secret."""

    def __init__(self, conn: redis.Redis, *, prefix: str = PREFIX) -> None:
        self.conn = conn
        self.prefix = prefix
        self.stream = f"{prefix}:log"
        self.open_set = f"{prefix}:open"

    def live_key(self, call_sid: str) -> str:
        return f"{self.prefix}:live:{call_sid}"

    def rows_key(self, start_ms: int) -> str:
        """Rows are kept per UTC day: a period of local days then reads its own
        days plus at most a day's part on either side. (Per UTC month, an October
        report read all of September too: Amsterdam's 1 October starts on
        30 September in UTC.)"""
        return self._day_key(dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC).date())

    def _day_key(self, day: dt.date) -> str:
        return f"{self.prefix}:rows:{day:%Y-%m-%d}"

    def _row_keys(self, start: dt.datetime, end: dt.datetime) -> list[str]:
        """The day keys that may hold a call that started in [start, end)."""
        day = start.astimezone(dt.UTC).date()
        last = (end - dt.timedelta(milliseconds=1)).astimezone(dt.UTC).date()
        keys = []
        while day <= last:
            keys.append(self._day_key(day))
            day += dt.timedelta(days=1)
        return keys

    def report_rows(self, start: dt.datetime, end: dt.datetime) -> list[ReportRow]:
        """Report rows of the calls that started in [start, end): one HVALS per
        UTC day, pipelined, no folding (see `callrouter.calls.rows`)."""
        low, high = ms_of(start), ms_of(end)
        pipe = self.conn.pipeline(transaction=False)
        for key in self._row_keys(start, end):
            pipe.hvals(key)
        rows = []
        for values in pipe.execute():
            rows += [row for row in _decoded_rows(values) if low <= row.start_ms < high]
        return rows

    def _entries(
        self, low: str, high: str, *, reverse: bool = False
    ) -> Iterator[tuple[str, CallRecord | CallEvent]]:
        """Parsed entries between two stream ids, in batches."""
        while True:
            if reverse:
                batch = self.conn.xrevrange(self.stream, high, low, count=BATCH)
            else:
                batch = self.conn.xrange(self.stream, low, high, count=BATCH)
            for entry_id, raw in batch:
                try:
                    yield entry_from_fields(decoded(raw))
                except (ValueError, KeyError, TypeError) as exc:
                    logger.warning(
                        "call log: skipping unreadable entry %s (%s)",
                        text(entry_id),
                        type(exc).__name__,
                    )
            if len(batch) < BATCH:
                return
            last = text(batch[-1][0])
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

    def has_record(self, call_sid: str) -> bool:
        """Whether the stream holds anything of this call (its working state may have expired)."""
        return any(call_id == call_sid for call_id, _ in self._entries("-", "+", reverse=True))

    def snapshot(self, call_sid: str) -> CallRecord | None:
        """A call as its working state tells it (ref, who answered, ...), during the
        call and for a few days after its record was written; None when unknown."""
        raw = self.conn.hgetall(self.live_key(call_sid))
        events = [event_from_json(text(v)) for k, v in raw.items() if not text(k).startswith("_")]
        return fold(call_sid, events) if events else None

    def open_calls(self) -> list[CallRecord]:
        """Calls in progress, folded from their working state."""
        out = []
        for sid in self.conn.zrange(self.open_set, 0, -1):
            call_sid = text(sid)
            fields = decoded(self.conn.hgetall(self.live_key(call_sid)))
            if not fields or FINISHED in fields:
                continue
            out.append(
                fold(
                    call_sid,
                    [event_from_json(v) for k, v in fields.items() if not k.startswith("_")],
                )
            )
        return out

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
                batch = self.conn.xrange(self.stream, low, str(cutoff_ms - 1), count=BATCH)
                count += len(batch)
                if len(batch) < BATCH:
                    break
                low = "(" + text(batch[-1][0])
            return PurgeResult(cutoff, count, True)
        self._purge_rows(cutoff_ms)
        if not self.conn.exists(self.stream):
            return PurgeResult(cutoff, 0, False)
        removed = self.conn.xtrim(self.stream, minid=str(cutoff_ms), approximate=False)
        return PurgeResult(cutoff, int(removed), False)

    def _purge_rows(self, cutoff_ms: int) -> None:
        """Report rows of calls that started before the cutoff: whole days, then
        the rows of the cutoff's day one by one."""
        boundary = self.rows_key(cutoff_ms)
        for raw_key in self.conn.scan_iter(match=f"{self.prefix}:rows:*", count=1000):
            key = text(raw_key)
            if key < boundary:
                self.conn.delete(key)
            elif key == boundary:
                old = [
                    call_id
                    for call_id, raw in self.conn.hgetall(key).items()
                    if decode_row(raw).start_ms < cutoff_ms
                ]
                if old:
                    self.conn.hdel(key, *old)
