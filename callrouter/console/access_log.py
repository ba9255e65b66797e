"""NEN 7513 access log: who looked at which call data, when, and from where.

Every view or export of call records, callbacks or reports (console, admin
API, CLI) appends one entry to the Redis stream ``callrouter:access:log``.
The log is append-only and hash-chained: each entry carries the previous
entry's hash and its own, an HMAC-SHA256 (keyed from the service secret, so
someone with only Redis access cannot forge a consistent chain) over its
fields and that previous hash. Changing, removing or inserting an entry
breaks the chain from there on, and `verify` says where. Retention trims
from the oldest end and keeps the hash of the last trimmed entry as the
chain's anchor, so a trimmed log still verifies.

Entries name callers by pseudonym only (the keyed hash of the call log),
which is what a patient's "who looked at my data" request searches for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from enum import StrEnum

import redis

from callrouter.privacy import derive_key

STREAM = "callrouter:access:log"
HEAD = "callrouter:access:head"
"""Hash of the newest entry: removing the newest entry shows too."""
ANCHOR = "callrouter:access:anchor"
"""Hash of the last entry retention removed: where the surviving chain starts."""
GENESIS = "0" * 64
PURPOSE = b"access-log"
"""What the chain key is derived for, from the service secret."""
_BATCH = 500


class Via(StrEnum):
    CONSOLE = "console"
    API = "api"
    CLI = "cli"


@dataclass(frozen=True)
class Access:
    """One look at call data. `what` names the data ('calls', 'call', 'callbacks',
    'report', 'report.csv', ...); `subjects` the call or callback ids shown;
    `callers` their pseudonyms; `period` an ISO range for reports and lists."""

    who: str
    via: Via
    action: str
    what: str
    where: str = ""
    subjects: tuple[str, ...] = ()
    callers: tuple[str, ...] = ()
    period: str = ""


@dataclass(frozen=True)
class Entry:
    id: str
    at: dt.datetime
    access: Access
    prev: str
    hash: str


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    problem: str = ""
    """Which entry breaks the chain, and how."""


def _digest(key: bytes, at: str, access: Access, prev: str) -> str:
    body = json.dumps(
        {"at": at, "prev": prev, **asdict(access)}, sort_keys=True, separators=(",", ":")
    )
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


class AccessLog:
    """The stream, its head and anchor; `key` is derived from the service secret."""

    def __init__(self, conn: redis.Redis, key: bytes) -> None:
        if not key:
            raise ValueError("the access log needs a key; an unkeyed chain can be rewritten")
        self.conn = conn
        self.key = key

    @classmethod
    def for_secret(cls, conn: redis.Redis, secret: str) -> AccessLog:
        """The log keyed from the service secret (CALLROUTER_SECRET), as web, worker
        and CLI all derive it."""
        if not secret:
            raise ValueError("the access log is keyed from CALLROUTER_SECRET, which is not set")
        return cls(conn, derive_key(secret, PURPOSE))

    def record(self, access: Access, at: dt.datetime) -> str:
        """Append `access` at `at`; returns the stream id. The id's time is `at`
        (the injected clock, not Redis's), so entries are found by when the look
        happened. Optimistic on the head key: two processes appending at once
        each chain onto the other, never onto the same predecessor."""
        stamp = at.astimezone(dt.UTC).isoformat(timespec="milliseconds")
        with self.conn.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(HEAD)
                    prev = _text(pipe.get(HEAD) or GENESIS)
                    entry_id = _next_id(pipe.xrevrange(STREAM, "+", "-", count=1), _ms(at))
                    digest = _digest(self.key, stamp, access, prev)
                    pipe.multi()
                    pipe.xadd(STREAM, _fields(stamp, access, prev, digest), id=entry_id)  # type: ignore[arg-type]
                    pipe.set(HEAD, digest)
                    pipe.execute()
                    return entry_id
                except redis.WatchError:
                    continue

    def entries(
        self, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> Iterator[Entry]:
        """Entries in [start, end) by time of access, oldest first."""
        low = str(_ms(start)) if start else "-"
        high = str(_ms(end) - 1) if end else "+"
        while True:
            batch = self.conn.xrange(STREAM, low, high, count=_BATCH)
            for raw_id, raw in batch:
                yield _entry(_text(raw_id), {_text(k): _text(v) for k, v in raw.items()})
            if len(batch) < _BATCH:
                return
            low = "(" + _text(batch[-1][0])

    def about_caller(self, pseudonym: str) -> list[Entry]:
        """Every look at one caller's data: the answer to a patient's request."""
        return [e for e in self.entries() if pseudonym in e.access.callers]

    def verify(self) -> Verdict:
        """Walk the chain from the anchor to the head; the first break is reported."""
        prev = _text(self.conn.get(ANCHOR) or GENESIS)
        checked = 0
        for entry in self.entries():
            stamp = entry.at.astimezone(dt.UTC).isoformat(timespec="milliseconds")
            if entry.prev != prev:
                return Verdict(False, checked, f"entry {entry.id}: chain broken before it")
            if not hmac.compare_digest(entry.hash, _digest(self.key, stamp, entry.access, prev)):
                return Verdict(False, checked, f"entry {entry.id}: altered")
            prev = entry.hash
            checked += 1
        head = _text(self.conn.get(HEAD) or GENESIS)
        if checked and head != prev:
            return Verdict(False, checked, "the newest entries were removed")
        if not checked and head not in (prev, GENESIS):
            return Verdict(False, checked, "the log was emptied")
        return Verdict(True, checked)

    def trim(self, now: dt.datetime, retention: dt.timedelta) -> int:
        """Delete entries older than `now - retention`; the last one's hash becomes the anchor."""
        cutoff = _ms(now - retention)
        old = self.conn.xrevrange(STREAM, str(cutoff - 1), "-", count=1)
        if not old:
            return 0
        last_id, last = old[0]
        anchor = _text({_text(k): v for k, v in last.items()}["hash"])
        with self.conn.pipeline() as pipe:
            pipe.multi()
            pipe.set(ANCHOR, anchor)
            ms, seq = _text(last_id).split("-")
            pipe.xtrim(STREAM, minid=f"{ms}-{int(seq) + 1}", approximate=False)
            removed = pipe.execute()[1]
        return int(removed)


def _fields(stamp: str, access: Access, prev: str, digest: str) -> dict[str, str]:
    return {
        "at": stamp,
        "who": access.who,
        "via": access.via.value,
        "action": access.action,
        "what": access.what,
        "where": access.where,
        "subjects": ",".join(access.subjects),
        "callers": ",".join(access.callers),
        "period": access.period,
        "prev": prev,
        "hash": digest,
    }


def _next_id(newest: list[tuple[object, object]], ms: int) -> str:
    """`ms-0`, or one past the newest id when that is at or after `ms` (a clock
    that stepped back still appends; stream ids only grow)."""
    if newest:
        last_ms, last_seq = (int(p) for p in _text(newest[0][0]).split("-"))
        if last_ms >= ms:
            return f"{last_ms}-{last_seq + 1}"
    return f"{max(ms, 0)}-0"


def _split(text: str) -> tuple[str, ...]:
    return tuple(t for t in text.split(",") if t)


def _entry(entry_id: str, f: dict[str, str]) -> Entry:
    access = Access(
        who=f.get("who", ""),
        via=Via(f.get("via", "cli")),
        action=f.get("action", ""),
        what=f.get("what", ""),
        where=f.get("where", ""),
        subjects=_split(f.get("subjects", "")),
        callers=_split(f.get("callers", "")),
        period=f.get("period", ""),
    )
    return Entry(entry_id, dt.datetime.fromisoformat(f["at"]), access, f["prev"], f["hash"])


def unique(values: Iterable[str | None]) -> tuple[str, ...]:
    """Distinct non-empty values in order: the subjects or callers of one look."""
    return tuple(dict.fromkeys(v for v in values if v))


API_WHO = "admin-token"
"""Who looked through the admin API: the bearer token names no person."""


def record_api_view(
    conn: redis.Redis,
    secret: str,
    what: str,
    at: dt.datetime,
    *,
    where: str,
    subjects: Iterable[str] = (),
    callers: Iterable[str | None] = (),
) -> None:
    """One look through the admin API, for the API blueprints to call before answering."""
    AccessLog.for_secret(conn, secret).record(
        Access(API_WHO, Via.API, "view", what, where, unique(subjects), unique(callers)), at
    )
