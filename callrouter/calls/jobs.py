"""RQ jobs of the call log: `purge_expired` (retention, every hour) and
`ask_triage` (the SMS asking staff for a call's triage outcome).

Kept apart from the callback jobs (`callrouter/jobs.py`) because they own a
different noun (the call log); all are plain importable functions that RQ
workers run, on the callback queue, enqueued by `callrouter.callbacks.service`.

Each run: records calls whose end was never reported (`finish_stale`, so
every call is accounted for), deletes call-log entries past
`records.retention_days`, and asks the callback store to forget raw
callback numbers past their retention. `ensure_purge` keeps the next run
scheduled with an id per hour, so scheduling it twice is harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass

import redis
from rq import get_current_job

from callrouter import clock
from callrouter.callbacks import lifecycle as callbacks
from callrouter.callbacks import service as queueing
from callrouter.calls.record import policy_from
from callrouter.calls.store import CallStore, PurgeResult
from callrouter.calls.triage import ask_sms, codes_from
from callrouter.config.files import load
from callrouter.errors import ProviderError
from callrouter.routing.model import Config

logger = logging.getLogger(__name__)

PURGE_EVERY = dt.timedelta(hours=1)


@dataclass(frozen=True)
class PurgeSummary:
    records: PurgeResult
    stale: int
    callback_numbers: int
    """Raw callback numbers forgotten by the sweep."""


def purge_expired_now(
    conn: redis.Redis, config: Config, now: dt.datetime, *, dry_run: bool = False
) -> PurgeSummary:
    """Apply the retention periods at `now` (shared by the job and `callrouter purge`)."""
    policy = policy_from(config.extra.get("records"))
    store = CallStore(conn, None, ref_ttl=dt.timedelta(days=policy.retention_days))
    stale = 0 if dry_run else store.finish_stale(now)
    result = store.purge(now, dt.timedelta(days=policy.retention_days), dry_run=dry_run)
    return PurgeSummary(result, stale, purge_callback_numbers(conn, config, now, dry_run=dry_run))


def purge_callback_numbers(
    conn: redis.Redis, config: Config, now: dt.datetime, *, dry_run: bool = False
) -> int:
    """Forget raw numbers of finished callback requests past `callbacks.keep_raw_numbers`.

    The callback owner's `queueing.purge_numbers` does the work (its sweep
    runs it every minute too); calling it here makes `callrouter purge` and
    this job cover every kind of call data in one run.
    """
    keep = dt.timedelta(seconds=callbacks.policy_of(config).keep_raw_numbers_seconds)
    return queueing.purge_numbers(conn, now - keep, now, dry_run=dry_run)


def purge_expired() -> dict[str, object]:
    """The RQ job: purge now, then make sure the next run is scheduled."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("purge_expired runs as an RQ job; use `callrouter purge` by hand")
    conn = job.connection
    config = load(os.environ.get("CALLROUTER_CONFIG_DIR", "config"))
    now = clock.now()
    summary = purge_expired_now(conn, config, now)
    ensure_purge(conn, now)
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
    """Keep the next purge scheduled, at the start of the next hour.

    Idempotent (the job id names the hour), so the callback sweep can call it
    every minute: a lost job or a worker that was down only delays a purge
    until the next sweep, never stops them.
    """
    at = (now + PURGE_EVERY).replace(minute=0, second=0, microsecond=0)
    job_id = f"purge-expired-{at.astimezone(dt.UTC):%Y%m%d%H}"
    queueing.enqueue_once(
        queueing.rq_queue(conn), "callrouter.calls.jobs.purge_expired", (), job_id, at=at
    )
    return job_id


def ask_triage(call_sid: str, ref: str) -> str:
    """After an answered call: one SMS to the member who took it, asking for the
    outcome ('Gesprek 1042 afgerond. Uitkomst? Antwoord T 1042 <code>: 1 advies, ...').

    Twilio ends the staff leg when the caller hangs up, so keypad entry after
    an inbound call is impossible; this SMS is its stand-in. Nothing is sent
    when no member took the call (a line, or nobody) or the member has
    ``sms: false``. The SMS names no caller and no number. Enqueued once per
    call (`queueing.ask_triage`); a Twilio failure that may pass is raised so
    RQ retries it.
    """
    from callrouter.callbacks.jobs import services

    s = services()
    record = CallStore(s.ctx.conn, None).snapshot(call_sid)
    member = callbacks.member_by_id(s.ctx.config, record.answered_by or "") if record else None
    if member is None:
        logger.info("call %s: no member took it; no triage SMS", ref)
        return "nobody"
    if not member.sms:
        logger.info("call %s: %s gets no SMS (sms: false); no triage SMS", ref, member.id)
        return "no-sms"
    text = ask_sms(ref, codes_from(s.ctx.config.extra.get("triage")))
    try:
        s.provider.send_sms(member.mobile, text)
    except ProviderError as exc:
        if exc.retryable:
            raise
        logger.error("call %s: triage SMS to %s refused (%s)", ref, member.id, exc)
        return "failed"
    logger.info("call %s: triage SMS sent to %s", ref, member.id)
    return "sent"
