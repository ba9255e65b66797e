"""Retention of the call log: the hourly `purge_expired` job and `callrouter purge`.

Each run records calls whose end was never reported (`finish_stale`, so
every call is accounted for), deletes call-log entries past
`records.retention_days`, and has the callbacks forget raw callback numbers
past `callbacks.keep_raw_numbers`, so one run covers every kind of call data.

`purge_expired` is a plain function RQ runs; `ensure_purge` keeps its next
run scheduled with an id per hour (the callback sweep calls it every minute),
so scheduling it twice is harmless and a lost job only delays one purge.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis

from callrouter.callbacks import queue as callback_queue
from callrouter.callbacks import recovery as callback_recovery
from callrouter.calls.reader import PurgeResult
from callrouter.calls.store import CallStore
from callrouter.config.generation import Generation

if TYPE_CHECKING:  # the composition root imports the jobs it wires, not the other way
    from callrouter.services import Services

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeSummary:
    records: PurgeResult
    stale: int
    callback_numbers: int
    """Raw callback numbers forgotten."""


def purge_expired_now(
    conn: redis.Redis,
    generation: Generation,
    now: dt.datetime,
    *,
    dry_run: bool = False,
) -> PurgeSummary:
    """Apply the retention periods at `now` (shared by the job and `callrouter purge`),
    raw callback numbers too: past `callbacks.keep_raw_numbers` (their sweep runs
    that every minute as well; here it is counted for the purge's summary)."""
    retention = dt.timedelta(days=generation.records.retention_days)
    store = CallStore(conn, None, ref_ttl=retention)
    stale = 0 if dry_run else store.finish_stale(now)
    result = store.purge(now, retention, dry_run=dry_run)
    keep = dt.timedelta(seconds=generation.callbacks.keep_raw_numbers_seconds)
    numbers = callback_recovery.purge_numbers(conn, now - keep, now, dry_run=dry_run)
    return PurgeSummary(result, stale, numbers)


def purge_expired(s: Services) -> dict[str, object]:
    """The RQ job (the worker's `Services` first): make sure the next run is
    scheduled, then purge now."""
    conn = s.conn
    now = s.now()
    ensure_purge(conn, now)
    summary = purge_expired_now(conn, s.current(), now)
    logger.info(
        "purge: %d call-log entries deleted, %d stale calls recorded, "
        "%d raw callback numbers forgotten",
        summary.records.entries,
        summary.stale,
        summary.callback_numbers,
    )
    return {
        "deleted": summary.records.entries,
        "stale": summary.stale,
        "callback_numbers": summary.callback_numbers,
    }


def ensure_purge(conn: redis.Redis, now: dt.datetime) -> str:
    """Keep the next purge scheduled, at the start of the next hour."""
    return callback_queue.ensure_hourly(conn, purge_expired, "purge-expired", now)
