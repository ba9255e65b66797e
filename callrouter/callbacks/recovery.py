"""The safety net and retention: the spool replay, the minute sweep, purges.

No request may wait without a job that moves it on: the sweep (every minute)
recovers jobs of workers that died, re-creates the next job of any request
that lost it, forgets raw numbers and old requests past their retention, and
the spool replay feeds in requests taken while Redis was down.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import redis

from callrouter.callbacks import queue
from callrouter.callbacks.lifecycle import OPEN, TERMINAL, State
from callrouter.callbacks.requests import FollowUp, Job
from callrouter.callbacks.service import CallbackContext, submit
from callrouter.callbacks.spool import ReplayResult, Spool
from callrouter.callbacks.store import CallbackStore
from callrouter.redis_conn import durable_write
from callrouter.routing.plan import CallerFacts

logger = logging.getLogger(__name__)


def spool_record(
    *,
    request_id: str,
    number: str,
    facts: CallerFacts,
    moment: dt.datetime,
    call_sid: str | None,
    lang: str,
) -> dict[str, Any]:
    """What the spool keeps of a request made while Redis was down."""
    return {
        "id": request_id,
        "number": number,
        "caller_type": facts.caller_type,
        "age_group": facts.age_group,
        "region": facts.region,
        "at": moment.isoformat(),
        "call_sid": call_sid,
        "lang": lang,
    }


def replay_spool(ctx: CallbackContext, spool: Spool, now: dt.datetime) -> ReplayResult:
    """Feed spooled requests into Redis (idempotent by request id)."""

    def apply(record: dict[str, Any]) -> None:
        facts = CallerFacts(
            record.get("caller_type"), record.get("age_group"), record.get("region")
        )
        result = submit(
            ctx,
            number=record["number"],
            facts=facts,
            moment=dt.datetime.fromisoformat(record["at"]),
            now=now,
            call_sid=record.get("call_sid"),
            lang=record.get("lang", "nl"),
            request_id=record["id"],
            replay=True,
        )
        logger.info("spool replay: callback %s %s", result.request_id, result.outcome.value)
        if not durable_write(ctx.conn):  # keep the line until a replica holds the request
            raise redis.ConnectionError(f"callback {result.request_id}: not on a replica yet")

    result = spool.replay(apply)
    if result.applied or result.remaining:
        logger.info("spool replay: %d applied, %d left", result.applied, result.remaining)
    return result


def sweep(ctx: CallbackContext, now: dt.datetime) -> dict[str, int]:
    """The safety net, every minute: no request may wait without a job that moves it on."""
    queue.recover_abandoned(ctx.conn, now)
    revived = 0
    for request in ctx.store.active():
        ups: list[FollowUp] = []
        if request.state in OPEN:
            if request.step < 0:
                ups.append(FollowUp(Job.NOTIFY, now, request.epoch, 0))
            ups.append(
                FollowUp(
                    Job.EXPIRE,
                    request.created_at + dt.timedelta(seconds=ctx.policy.expire_seconds),
                    request.epoch,
                )
            )
        elif request.state is State.CLAIMED:
            ups.append(FollowUp(Job.BRIDGE, now, request.attempts + 1))
        elif request.state is State.CALLING:
            ups.append(
                FollowUp(
                    Job.WATCH,
                    now + dt.timedelta(seconds=ctx.policy.bridge_watch_seconds),
                    request.attempts,
                )
            )
        revived += len(queue.schedule(ctx.conn, ctx.jobs, request.id, ups, ctx.policy, now))
    purged = purge_numbers(
        ctx.conn, now - dt.timedelta(seconds=ctx.policy.keep_raw_numbers_seconds), now
    )
    forgotten = purge_requests(
        ctx.conn, now - dt.timedelta(seconds=ctx.policy.keep_requests_seconds)
    )
    return {"revived": revived, "purged": purged, "forgotten": forgotten}


def purge_requests(conn: redis.Redis, before: dt.datetime, *, dry_run: bool = False) -> int:
    """Delete finished requests created before `before` (``callbacks.keep_requests``)."""
    store = CallbackStore(conn)
    count = 0
    for rid in store.older_than(before):
        request = store.get(rid)
        if request is not None and request.state not in TERMINAL:
            continue
        if dry_run or store.forget(rid) or request is None:
            count += 1
    return count


def purge_numbers(
    conn: redis.Redis, before: dt.datetime, now: dt.datetime, *, dry_run: bool = False
) -> int:
    """Delete raw numbers of finished requests created before `before`.

    The seam for the call log's retention job (``calls.jobs.purge_callback_numbers``).
    """
    store = CallbackStore(conn)
    count = 0
    for rid in store.older_than(before):
        request = store.get(rid)
        if request is None or request.state not in TERMINAL or not request.number:
            continue
        if dry_run or store.purge_number(rid, now):
            count += 1
    return count
