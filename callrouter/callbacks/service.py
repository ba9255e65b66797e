"""The one place that enqueues jobs (callbacks, and the call log's triage SMS),
and the operations that need them.

Web handlers, the CLI and the jobs change a callback request only through the
functions here (`submit`, `claim`, `release`, `cancel`, `attempt_failed`,
`reached`, `expire`), each of which applies one transition in the store and
then enqueues the jobs the core says must follow (`core.callbacks.follow_ups`).

Job ids are deterministic (``notify-<id>-<epoch>``,
``escalate-<id>-<epoch>-<step>``, ``bridge-<id>-<attempt>``, ...), and a job
that is already queued, scheduled or running is not enqueued again, so
enqueueing twice (a retried webhook, the sweeper) runs the work once. Every
job also re-checks the request's state and token when it runs, so a timer
that outlived its purpose (an escalation after the claim) does nothing.

Twilio failures are retried by RQ (`Retry` with the configured backoff); a
worker that died mid-job is recovered by RQ's started-job cleanup, which the
sweeper runs every minute, and the sweeper also re-creates the next job of
any request that lost it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job as RqJob
from rq.job import JobStatus
from rq.registry import StartedJobRegistry

from callrouter.callbacks import lifecycle as cb
from callrouter.callbacks.ratelimit import DedupeWindow, RateLimiter
from callrouter.callbacks.spool import ReplayResult, Spool
from callrouter.callbacks.store import CallbackStore, Transition
from callrouter.privacy import pseudonymise
from callrouter.redis_conn import durable_write
from callrouter.routing.model import Config
from callrouter.routing.plan import CallerFacts, route

logger = logging.getLogger(__name__)

QUEUE_NAME = "callbacks"
JOB_TIMEOUT = 120
"""Seconds a job may run: a few SMS or one call request, each bounded by the HTTP timeout."""
RESULT_TTL = 3600
FAILURE_TTL = 14 * 86400
SWEEP_EVERY = dt.timedelta(minutes=1)

_LIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}

_FUNCS: dict[cb.Job, str] = {
    cb.Job.NOTIFY: "callrouter.callbacks.jobs.notify",
    cb.Job.EXPIRE: "callrouter.callbacks.jobs.expire",
    cb.Job.BRIDGE: "callrouter.callbacks.jobs.place_bridge",
    cb.Job.WATCH: "callrouter.callbacks.jobs.watch_bridge",
    cb.Job.TELL_CLAIMED: "callrouter.callbacks.jobs.tell_claimed",
    cb.Job.PURGE: "callrouter.callbacks.jobs.purge_number",
}
_RETRIED = {cb.Job.NOTIFY, cb.Job.BRIDGE, cb.Job.TELL_CLAIMED}
"""Jobs that talk to Twilio and so are retried with backoff."""


def pseudonym_key(secret: str | bytes) -> bytes:
    """The key for callers' number pseudonyms (rate limits, dedupe), derived from
    ``CALLROUTER_SECRET`` for this one purpose; web, worker and CLI derive the same."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(raw, b"callback-numbers", hashlib.sha256).digest()


def rq_queue(conn: redis.Redis) -> Queue:
    return Queue(QUEUE_NAME, connection=conn)


def new_request_id() -> str:
    """12 hex characters: job-id safe, unguessable, short enough to type."""
    return secrets.token_hex(6)


# --------------------------------------------------------------------------- enqueueing


def job_id(up: cb.FollowUp, request_id: str) -> str:
    if up.job is cb.Job.NOTIFY:
        if up.step == 0:
            return f"notify-{request_id}-{up.token}"
        return f"escalate-{request_id}-{up.token}-{up.step}"
    if up.job is cb.Job.PURGE:
        return f"purge-{request_id}"
    name = {
        cb.Job.EXPIRE: "expire",
        cb.Job.BRIDGE: "bridge",
        cb.Job.WATCH: "watch",
        cb.Job.TELL_CLAIMED: "claimed",
    }[up.job]
    return f"{name}-{request_id}-{up.token}"


def _args(up: cb.FollowUp, request_id: str) -> tuple[Any, ...]:
    if up.job is cb.Job.NOTIFY:
        return (request_id, up.token, up.step)
    if up.job is cb.Job.PURGE:
        return (request_id,)
    return (request_id, up.token)


def schedule(
    conn: redis.Redis,
    request_id: str,
    ups: Iterable[cb.FollowUp],
    policy: cb.CallbackPolicy,
    now: dt.datetime,
) -> list[str]:
    """Enqueue (or schedule) the follow-up jobs; returns the ids newly enqueued."""
    queue = rq_queue(conn)
    retry = Retry(max=len(policy.retry_backoff), interval=list(policy.retry_backoff))
    done = []
    for up in ups:
        jid = job_id(up, request_id)
        if enqueue_once(
            queue,
            _FUNCS[up.job],
            _args(up, request_id),
            jid,
            at=up.at if up.at > now else None,
            retry=retry if up.job in _RETRIED else None,
        ):
            done.append(jid)
    return done


def enqueue_once(
    queue: Queue,
    func: str | Callable[..., Any],
    args: tuple[Any, ...],
    jid: str,
    *,
    at: dt.datetime | None = None,
    retry: Retry | None = None,
) -> bool:
    """Enqueue unless a job with this id is queued, scheduled, running or done."""
    try:
        existing = RqJob.fetch(jid, connection=queue.connection)
    except NoSuchJobError:
        existing = None
    if existing is not None:
        status = existing.get_status(refresh=False)
        if status in _LIVE or status == JobStatus.FINISHED:
            return False
    options: dict[str, Any] = {
        "job_id": jid,
        "retry": retry,
        "job_timeout": JOB_TIMEOUT,
        "result_ttl": RESULT_TTL,
        "failure_ttl": FAILURE_TTL,
        "description": jid,
    }
    if at is not None:
        queue.enqueue_at(at, func, *args, **options)
    else:
        queue.enqueue(func, *args, **options)
    return True


# --------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class CallbackContext:
    """What every callback operation needs; built by a composition root."""

    conn: redis.Redis
    config: Config
    policy: cb.CallbackPolicy
    pseudonym_key: bytes

    @property
    def store(self) -> CallbackStore:
        return CallbackStore(self.conn)

    def pseudonym(self, number: str) -> str:
        return pseudonymise(number, self.pseudonym_key)


class Outcome(StrEnum):
    CREATED = "created"
    MERGED = "merged"
    """The same number asked within the dedupe window: folded into that request."""
    EXISTS = "exists"
    """A replay of a request that is already in Redis."""
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True)
class Submitted:
    outcome: Outcome
    request_id: str
    code: str
    sla_seconds: int


def submit(
    ctx: CallbackContext,
    *,
    number: str,
    facts: CallerFacts,
    moment: dt.datetime,
    now: dt.datetime | None = None,
    call_sid: str | None = None,
    lang: str = "nl",
    request_id: str | None = None,
    replay: bool = False,
) -> Submitted:
    """Put a caller's confirmed callback request on the queue.

    `number` is E.164 and already checked (``core.callbacks.check_callback_number``).
    `moment` is when the caller asked; `now` (default: the same) when this
    runs, which differs for a spool replay. A replay keeps its request id
    (idempotent) and skips the rate limit: the caller was already told yes.
    Raises redis errors when Redis is unreachable; the caller-facing code
    spools the request then.
    """
    now = now or moment
    store = ctx.store
    rid = request_id or new_request_id()
    plan = route(moment, facts, ctx.config)
    request = cb.new_request(
        request_id=rid,
        number=number,
        plan=plan,
        config=ctx.config,
        policy=ctx.policy,
        moment=moment,
        call_sid=call_sid,
        lang=lang,
    )
    sla = cb.sla_seconds(request, ctx.policy)
    if replay:
        existing = store.get(rid)
        if existing is not None:
            return Submitted(Outcome.EXISTS, rid, existing.code, sla)
    pn = ctx.pseudonym(number)
    dedupe = DedupeWindow(ctx.conn, "callback", ctx.policy.dedupe_seconds)
    holder = dedupe.hold(pn, rid, moment)
    if holder != rid:
        earlier = store.get(holder)
        if earlier is not None and earlier.state not in cb.TERMINAL:
            store.merge_duplicate(holder, moment, call_sid)
            logger.info("callback %s: the same caller asked again; merged", holder)
            return Submitted(Outcome.MERGED, holder, earlier.code, sla)
        dedupe.swap(pn, holder, rid, moment)
    if not replay:
        limiter = RateLimiter(
            ctx.conn, "callback", ctx.policy.rate_limit_requests, ctx.policy.rate_limit_seconds
        )
        if not limiter.hit(pn, moment, rid):
            dedupe.swap(pn, rid, None, moment)
            logger.warning("callback refused: rate limit for caller %s", pn)
            return Submitted(Outcome.RATE_LIMITED, "", "", sla)
    created, code = store.create(request, now, pn)
    if not created:
        return Submitted(Outcome.EXISTS, rid, code, sla)
    logger.info(
        "callback %s requested (code %s, priority %d, number %s)",
        rid,
        code,
        request.priority,
        request.number_masked,
    )
    _record(ctx, request, cb.State.REQUESTED, now)
    schedule(ctx.conn, rid, cb.follow_ups(request, ctx.policy, now), ctx.policy, now)
    ensure_sweep(ctx.conn, now)
    return Submitted(Outcome.CREATED, rid, code, sla)


@dataclass(frozen=True)
class ClaimResult:
    won: bool
    request: cb.Request | None
    """The request after the attempt (None: no such request)."""
    holder: str | None
    """Who has it when the claim was lost (member id)."""


def claim(
    ctx: CallbackContext, request_id: str, member_id: str, now: dt.datetime, via: str
) -> ClaimResult:
    """Exactly one of any number of concurrent claims wins; the rest learn who did."""
    store = ctx.store
    t = store.transition(
        request_id,
        cb.Event.CLAIM,
        now,
        by=member_id,
        note=f"via {via}",
        set_fields={"claimed_by": member_id, "claimed_at": now},
    )
    request = store.get(request_id)
    if not t.ok:
        if request is not None:
            store.note(
                request_id,
                now,
                "claim_lost",
                member_id,
                f"via {via}; request was {t.before.value if t.before else 'gone'}"
                + (f", held by {t.claimed_by}" if t.claimed_by else ""),
            )
        return ClaimResult(False, request, t.claimed_by)
    assert request is not None
    logger.info("callback %s claimed by %s via %s", request_id, member_id, via)
    _after(ctx, request, now)
    return ClaimResult(True, request, member_id)


def release(ctx: CallbackContext, request_id: str, now: dt.datetime, by: str) -> Transition:
    """Hand a claimed request back to the queue: staff are notified afresh."""
    return _requeue(ctx, request_id, cb.Event.RELEASE, now, by=by, note="released", expect={})


def cancel(
    ctx: CallbackContext, request_id: str, now: dt.datetime, by: str, note: str = ""
) -> Transition:
    t = ctx.store.transition(request_id, cb.Event.CANCEL, now, by=by, note=note or "cancelled")
    if t.ok:
        _after_id(ctx, request_id, now)
    return t


def expire(ctx: CallbackContext, request_id: str, epoch: int, now: dt.datetime) -> Transition:
    t = ctx.store.transition(
        request_id,
        cb.Event.EXPIRE,
        now,
        by="timer",
        note="nobody claimed it",
        expect={"epoch": epoch},
    )
    if t.ok:
        request = ctx.store.get(request_id)
        logger.error(
            "callback %s EXPIRED unclaimed (number %s)",
            request_id,
            request.number_masked if request else "?",
        )
        _after_id(ctx, request_id, now)
    return t


def dial(ctx: CallbackContext, request_id: str, attempt: int, now: dt.datetime) -> Transition:
    """Start bridge attempt `attempt` (claimed -> calling), at most once per attempt."""
    t = ctx.store.transition(
        request_id,
        cb.Event.DIAL,
        now,
        by="worker",
        note=f"attempt {attempt}",
        expect={"attempts": attempt - 1},
        incr={"attempts": 1},
        set_fields={"bridge_sid": ""},
    )
    if t.ok:
        _after_id(ctx, request_id, now)
    return t


def reached(ctx: CallbackContext, request_id: str, attempt: int, now: dt.datetime) -> Transition:
    """The caller picked up on bridge attempt `attempt`: done."""
    t = ctx.store.transition(
        request_id,
        cb.Event.REACHED,
        now,
        by="twilio",
        note=f"attempt {attempt}: caller reached",
        expect={"attempts": attempt},
        set_fields={"outcome": "reached"},
    )
    if t.ok:
        _after_id(ctx, request_id, now)
    return t


def attempt_failed(
    ctx: CallbackContext, request_id: str, attempt: int, outcome: str, now: dt.datetime
) -> Transition:
    """Bridge attempt `attempt` failed (`outcome`: staff-no-answer, caller-busy, ...).

    Back to the queue while attempts remain, else closed as failed. A report
    about an older attempt, or one that already ended, changes nothing.
    """
    request = ctx.store.get(request_id)
    if (
        request is None
        or request.attempts != attempt
        or request.state not in (cb.State.CLAIMED, cb.State.CALLING)
    ):
        return Transition(False, request.state if request else None, None)
    event = cb.after_failed_attempt(request.attempts, ctx.policy.max_attempts)
    note = f"attempt {attempt}: {outcome}"
    if event is cb.Event.GIVE_UP:
        t = ctx.store.transition(
            request_id,
            event,
            now,
            by="twilio",
            note=note,
            expect={"attempts": attempt},
            set_fields={"outcome": outcome},
        )
        if t.ok:
            logger.error("callback %s FAILED after %d attempts (%s)", request_id, attempt, outcome)
            _after_id(ctx, request_id, now)
        return t
    return _requeue(
        ctx,
        request_id,
        event,
        now,
        by="twilio",
        note=note,
        expect={"attempts": attempt},
        outcome=outcome,
    )


def _requeue(
    ctx: CallbackContext,
    request_id: str,
    event: cb.Event,
    now: dt.datetime,
    *,
    by: str,
    note: str,
    expect: dict[str, object],
    outcome: str | None = None,
) -> Transition:
    fields: dict[str, object] = {"claimed_by": "", "claimed_at": "", "step": -1}
    if outcome:
        fields["outcome"] = outcome
    t = ctx.store.transition(
        request_id,
        event,
        now,
        by=by,
        note=note,
        expect=expect,
        set_fields=fields,
        incr={"epoch": 1},
    )
    if t.ok:
        _after_id(ctx, request_id, now)
    return t


def _after_id(ctx: CallbackContext, request_id: str, now: dt.datetime) -> None:
    request = ctx.store.get(request_id)
    if request is not None:
        _after(ctx, request, now)


def _after(ctx: CallbackContext, request: cb.Request, now: dt.datetime) -> None:
    _record(ctx, request, request.state, now)
    schedule(ctx.conn, request.id, cb.follow_ups(request, ctx.policy, now), ctx.policy, now)


def _record(ctx: CallbackContext, request: cb.Request, state: cb.State, now: dt.datetime) -> None:
    """Tell the call log (issue #5) about the lifecycle: requested, claimed, calling,
    completed, ... joined to the call by its CallSid. Paperwork never stops a callback."""
    if not request.call_sid:
        return
    try:
        from callrouter.calls.store import CallStore

        CallStore(ctx.conn, None).callback(request.call_sid, request.id, state.value, now)
    except Exception:  # noqa: BLE001
        logger.exception("callback %s: could not tell the call log (%s)", request.id, state.value)


# --------------------------------------------------------------------------- recovery


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


def recover_abandoned(conn: redis.Redis, now: dt.datetime) -> None:
    """Retry jobs whose worker died mid-job (RQ's own started-job cleanup at `now`).

    RQ considers a job abandoned once its execution heartbeat lapsed (about
    a minute and a half after the worker died); the job is then retried if
    it has retries left, else moved to the failed registry.
    """
    StartedJobRegistry(queue=rq_queue(conn)).cleanup(timestamp=now.timestamp())


def ensure_sweep(conn: redis.Redis, now: dt.datetime) -> None:
    """Keep exactly one sweep scheduled per minute (ids carry the minute)."""
    at = (now + SWEEP_EVERY).replace(second=0, microsecond=0)
    enqueue_once(
        rq_queue(conn), "callrouter.callbacks.jobs.sweep", (), f"sweep-{at:%Y%m%d%H%M}", at=at
    )


def sweep(ctx: CallbackContext, now: dt.datetime) -> dict[str, int]:
    """The safety net, every minute: no request may wait without a job that moves it on."""
    recover_abandoned(ctx.conn, now)
    store = ctx.store
    revived = 0
    for request in store.active():
        ups: list[cb.FollowUp] = []
        if request.state in cb.OPEN:
            if request.step < 0:
                ups.append(cb.FollowUp(cb.Job.NOTIFY, now, request.epoch, 0))
            ups.append(
                cb.FollowUp(
                    cb.Job.EXPIRE,
                    request.created_at + dt.timedelta(seconds=ctx.policy.expire_seconds),
                    request.epoch,
                )
            )
        elif request.state is cb.State.CLAIMED:
            ups.append(cb.FollowUp(cb.Job.BRIDGE, now, request.attempts + 1))
        elif request.state is cb.State.CALLING:
            ups.append(
                cb.FollowUp(
                    cb.Job.WATCH,
                    now + dt.timedelta(seconds=ctx.policy.bridge_watch_seconds),
                    request.attempts,
                )
            )
        revived += len(schedule(ctx.conn, request.id, ups, ctx.policy, now))
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
        if request is not None and request.state not in cb.TERMINAL:
            continue
        if dry_run or store.forget(rid) or request is None:
            count += 1
    return count


def purge_numbers(
    conn: redis.Redis, before: dt.datetime, now: dt.datetime, *, dry_run: bool = False
) -> int:
    """Delete raw numbers of finished requests created before `before`.

    The seam for the records retention job (``jobs_records.purge_callback_numbers``).
    """
    store = CallbackStore(conn)
    count = 0
    for rid in store.older_than(before):
        request = store.get(rid)
        if request is None or request.state not in cb.TERMINAL or not request.number:
            continue
        if dry_run or store.purge_number(rid, now):
            count += 1
    return count
