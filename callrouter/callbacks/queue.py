"""The one place that puts callback jobs on the RQ queue.

Job ids are deterministic (``notify-<id>-<epoch>``,
``escalate-<id>-<epoch>-<step>``, ``bridge-<id>-<attempt>``, ...), and a job
that is already queued, scheduled, running or done is not enqueued again, so
enqueueing twice (a retried webhook, the sweeper) runs the work once. Every
job also re-checks the request's state and token when it runs, so a timer
that outlived its purpose (an escalation after the claim) does nothing.

Jobs are passed as functions (a `JobTable` from `callbacks.jobs`), never as
dotted strings, so a rename breaks at import, not at run time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job as RqJob
from rq.job import JobStatus
from rq.registry import StartedJobRegistry

from callrouter.callbacks.policy import CallbackPolicy
from callrouter.callbacks.requests import FollowUp, Job

QUEUE_NAME = "callbacks"
JOB_TIMEOUT = 120
"""Seconds a job may run: a few SMS or one call request, each bounded by the HTTP timeout."""
RESULT_TTL = 3600
FAILURE_TTL = 14 * 86400
SWEEP_EVERY = dt.timedelta(minutes=1)

_LIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}

JobTable = Mapping[Job, Callable[..., Any]]
"""The function RQ runs for each kind of callback job."""

_RETRIED = {Job.NOTIFY, Job.BRIDGE, Job.TELL_CLAIMED, Job.FLOOD_ALERT}
"""Jobs that talk to Twilio and so are retried with backoff."""


def rq_queue(conn: redis.Redis) -> Queue:
    return Queue(QUEUE_NAME, connection=conn)


def job_id(up: FollowUp, request_id: str) -> str:
    if up.job is Job.NOTIFY:
        if up.step == 0:
            return f"notify-{request_id}-{up.token}"
        return f"escalate-{request_id}-{up.token}-{up.step}"
    if up.job is Job.PURGE:
        return f"purge-{request_id}"
    name = {
        Job.EXPIRE: "expire",
        Job.BRIDGE: "bridge",
        Job.WATCH: "watch",
        Job.TELL_CLAIMED: "claimed",
    }[up.job]
    return f"{name}-{request_id}-{up.token}"


def _args(up: FollowUp, request_id: str) -> tuple[Any, ...]:
    if up.job is Job.NOTIFY:
        return (request_id, up.token, up.step)
    if up.job is Job.PURGE:
        return (request_id,)
    return (request_id, up.token)


def retry_of(policy: CallbackPolicy) -> Retry:
    return Retry(max=len(policy.retry_backoff), interval=list(policy.retry_backoff))


def schedule(
    conn: redis.Redis,
    jobs: JobTable,
    request_id: str,
    ups: Iterable[FollowUp],
    policy: CallbackPolicy,
    now: dt.datetime,
) -> list[str]:
    """Enqueue (or schedule) the follow-up jobs; returns the ids newly enqueued."""
    queue = rq_queue(conn)
    retry = retry_of(policy)
    done = []
    for up in ups:
        jid = job_id(up, request_id)
        if enqueue_once(
            queue,
            jobs[up.job],
            _args(up, request_id),
            jid,
            at=up.at if up.at > now else None,
            retry=retry if up.job in _RETRIED else None,
        ):
            done.append(jid)
    return done


def ensure_hourly(conn: redis.Redis, func: Callable[..., Any], name: str, now: dt.datetime) -> str:
    """Keep `func`'s next run scheduled at the start of the next hour.

    Idempotent (the job id names the hour), so the callback sweep calls it
    every minute: a lost job or a worker that was down only delays a run
    until the next sweep, never stops them. Returns the job id.
    """
    at = (now + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    job_id = f"{name}-{at.astimezone(dt.UTC):%Y%m%d%H}"
    enqueue_once(rq_queue(conn), func, (), job_id, at=at)
    return job_id


def enqueue_once(
    queue: Queue,
    func: Callable[..., Any],
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


def ensure_sweep(conn: redis.Redis, jobs: JobTable, now: dt.datetime) -> None:
    """Keep exactly one sweep scheduled per minute (ids carry the minute)."""
    at = (now + SWEEP_EVERY).replace(second=0, microsecond=0)
    enqueue_once(rq_queue(conn), jobs[Job.SWEEP], (), f"sweep-{at:%Y%m%d%H%M}", at=at)


def alert_flood(
    conn: redis.Redis, jobs: JobTable, policy: CallbackPolicy, now: dt.datetime
) -> bool:
    """Callers are being turned away by a limit: one alert job per alert period."""
    period = int(now.timestamp()) // policy.limits.flood_alert_seconds
    return enqueue_once(
        rq_queue(conn),
        jobs[Job.FLOOD_ALERT],
        (period,),
        f"flood-alert-{period}",
        retry=retry_of(policy),
    )


def recover_abandoned(conn: redis.Redis, now: dt.datetime) -> None:
    """Retry jobs whose worker died mid-job (RQ's own started-job cleanup at `now`).

    RQ considers a job abandoned once its execution heartbeat lapsed (about
    a minute and a half after the worker died); the job is then retried if
    it has retries left, else moved to the failed registry.
    """
    StartedJobRegistry(queue=rq_queue(conn)).cleanup(timestamp=now.timestamp())
