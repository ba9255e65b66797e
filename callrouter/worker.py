"""The RQ worker of the call router: ``rq worker -w callrouter.worker.Worker callbacks``.

`Worker` builds the `Services` once, before forking work horses (which
inherit them), from the same settings as the web, and refuses to start with
one line naming each missing setting: a worker without its Twilio
credentials or public URL would fail every job while callers wait. Jobs are
plain functions whose first argument is those `Services` (`ServicesJob`
passes them), so a job has no module-level cache or service locator and
takes time from the injected clock: a test runs the same jobs in-process
with `SimpleWorker` and a clock it moves on (`run_due`), instead of sleeping.

RQ's own worker registration is the heartbeat `/health` reports (the
worker refreshes ``last_heartbeat`` while idle and during jobs).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any

import rq
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from callrouter import logs
from callrouter.callbacks import queue as callback_queue
from callrouter.callbacks.jobs import JOBS
from callrouter.redis_conn import Purpose
from callrouter.services import Services, build
from callrouter.settings import Process, Settings, SettingsError

logger = logging.getLogger(__name__)

QUEUES = (callback_queue.QUEUE_NAME,)
"""The queues the worker serves (the Procfile's and `callrouter serve`'s)."""
HEARTBEAT_TTL = 35
"""RQ's ``worker_ttl``: an idle worker beats every ttl - 15 s, so `/health`
sees a fresh heartbeat within ~20 s (RQ's default beats every ~7 minutes)."""


class ServicesJob(Job):
    """An RQ job whose function gets the worker's `Services` as first argument."""

    services: Services | None = None

    def _execute(self) -> Any:
        if self.services is None:
            raise RuntimeError(f"job {self.id}: run by callrouter.worker.Worker, which wires it")
        return self.func(self.services, *self.args, **self.kwargs)


class _Wiring:
    """What both worker kinds share: Services built once, handed to each job."""

    services: Services
    job_class: type[Job]
    connection: Any

    def _wire(self, services: Services | None) -> None:
        if services is None:
            self.connection.set_retry(patience())
            services = _from_environment(self.connection)
        self.services = services
        callback_queue.ensure_sweep(services.conn, JOBS, services.now())  # the safety net, at once

    def perform_job(self, job: Job, queue: rq.Queue, execution: Any) -> bool:
        if isinstance(job, ServicesJob):
            job.services = self.services
        return super().perform_job(job, queue, execution)  # type: ignore[misc, no-any-return]


class Worker(_Wiring, rq.Worker):
    """`rq.Worker` (forking) for production; `services` given by tests, else built
    from the environment."""

    def __init__(self, *args: Any, services: Services | None = None, **kwargs: Any) -> None:
        if services is None:  # a real process: dry-run SMS and job logs reach stderr, masked
            logs.configure()
        wiring = {"job_class": ServicesJob, "worker_ttl": HEARTBEAT_TTL}
        super().__init__(*args, **(kwargs | wiring))
        self._wire(services)


class SimpleWorker(_Wiring, rq.SimpleWorker):
    """`rq.SimpleWorker` (no fork): jobs run in the test's process, on its clock."""

    def __init__(self, *args: Any, services: Services | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **(kwargs | {"job_class": ServicesJob}))
        self._wire(services)


def patience() -> Retry:
    """About eight seconds of reconnecting on the connection RQ's CLI made: a Redis
    restart or failover must not kill the worker (RQ quits on a connection error
    outside its dequeue loop)."""
    return Retry(ExponentialBackoff(cap=1.0, base=0.05), 12)


def _from_environment(conn: Any) -> Services:
    """The production wiring; a missing secret stops the worker with one line."""
    try:
        settings = Settings.from_env(process=Process.WORKER)
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"callrouter worker refuses to start: {problem}", file=sys.stderr)
        raise SystemExit(2) from None
    return build(settings, jobs=JOBS, purpose=Purpose.WORKER, conn=conn)


def run_due(services: Services, until: dt.datetime | None = None) -> int:
    """Run, in this process, every job queued or scheduled up to `until` (default:
    `services.now()`), including the jobs they schedule that are due by then.

    The test's fast-forward: move the clock on, call this, look at what
    happened. Returns the number of jobs run.
    """
    queue = services.queue()
    registry = ScheduledJobRegistry(queue=queue)
    ran = 0
    while True:
        moment = until or services.now()
        for job_id in registry.get_jobs_to_schedule(int(moment.timestamp())):
            registry.remove(job_id)
            queue.enqueue_job(ServicesJob.fetch(job_id, connection=services.conn))
        waiting = queue.count
        if not waiting:
            return ran
        worker = SimpleWorker([queue], connection=services.conn, services=services)
        worker.work(burst=True, with_scheduler=False)
        ran += waiting
