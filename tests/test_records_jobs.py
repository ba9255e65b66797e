"""The scheduled retention job, run by a real RQ worker (in-process, burst)."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from callrouter import clock
from callrouter.callbacks import queue as cb_queue
from callrouter.callbacks.jobs import JOBS, sweep
from callrouter.calls.purge import ensure_purge, purge_expired, purge_expired_now
from callrouter.calls.store import CallStore
from callrouter.routing.plan import CallerFacts
from callrouter.services import build
from callrouter.settings import Process, Settings
from callrouter.worker import SimpleWorker
from tests.helpers import CONFIG_DIR, sample_generation
from tests.test_reporting import KEY, write_call

WORKER_ENV = {
    "CALLROUTER_CONFIG_DIR": str(CONFIG_DIR),
    "TWILIO_AUTH_TOKEN": "test-token",
    "CALLROUTER_SECRET": "s" * 40,
    "CALLROUTER_DRY_RUN": "1",
}


def worker(conn: redis.Redis) -> SimpleWorker:
    """A real RQ worker in this process, wired from the worker environment the test set."""
    services = build(Settings.from_env(process=Process.WORKER), jobs=JOBS, conn=conn)
    return SimpleWorker([cb_queue.rq_queue(conn)], connection=conn, services=services)


def test_the_job_purges_old_calls_records_stale_ones_and_schedules_the_next_run(
    redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in WORKER_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REDIS_URL", "redis://unused")  # the test's connection is passed in
    now = clock.now()  # the job reads the real clock; moments here are relative to it
    store = CallStore(redis_conn, KEY)
    adult = CallerFacts("resident", "18+")
    write_call(store, "CA-old", now - dt.timedelta(days=800), adult, answer_leg=1)
    write_call(store, "CA-recent", now - dt.timedelta(days=10), adult, answer_leg=1)
    store.started("CA-lost", "+31612344567", now - dt.timedelta(hours=8))  # no end ever came
    queue = Queue(cb_queue.QUEUE_NAME, connection=redis_conn)

    job = queue.enqueue(purge_expired)
    worker(redis_conn).work(burst=True)

    job = Job.fetch(job.id, connection=redis_conn)
    assert job.get_status() == "finished", job.latest_result()
    assert job.return_value() == {"deleted": 1, "stale": 1, "callback_numbers": 0}
    kept = store.records(now - dt.timedelta(days=900), now)
    assert sorted((r.call_id, r.end_reason) for r in kept) == [
        ("CA-lost", "stale"),
        ("CA-recent", "completed"),
    ]
    scheduled = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert [j for j in scheduled if j.startswith("purge-expired-")] == [
        f"purge-expired-{(now + dt.timedelta(hours=1)).astimezone(dt.UTC):%Y%m%d%H}"
    ]


def test_ensure_purge_is_idempotent_per_hour(redis_conn: redis.Redis) -> None:
    now = dt.datetime(2026, 10, 6, 12, 30, tzinfo=dt.UTC)

    first = ensure_purge(redis_conn, now)
    again = ensure_purge(redis_conn, now + dt.timedelta(minutes=20))

    assert first == again == "purge-expired-2026100613"
    registry = ScheduledJobRegistry(queue=Queue(cb_queue.QUEUE_NAME, connection=redis_conn))
    assert registry.get_job_ids() == [first]


def test_a_dry_run_changes_nothing(redis_conn: redis.Redis) -> None:
    now = dt.datetime(2026, 10, 6, 12, 0, tzinfo=dt.UTC)
    store = CallStore(redis_conn, KEY)
    write_call(
        store, "CA-old", now - dt.timedelta(days=800), CallerFacts("resident", "18+"), answer_leg=1
    )
    store.started("CA-lost", "+31612344567", now - dt.timedelta(hours=8))
    before = {k: redis_conn.type(k) for k in redis_conn.scan_iter()}
    length = redis_conn.xlen(store.stream)

    summary = purge_expired_now(redis_conn, sample_generation(), now, dry_run=True)

    assert (summary.records.entries, summary.stale) == (1, 0)
    assert {k: redis_conn.type(k) for k in redis_conn.scan_iter()} == before
    assert redis_conn.xlen(store.stream) == length


def test_the_callback_sweep_keeps_the_purge_scheduled(
    redis_conn: redis.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in WORKER_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REDIS_URL", redis_url)
    queue = Queue(cb_queue.QUEUE_NAME, connection=redis_conn)

    job = queue.enqueue(sweep)
    worker(redis_conn).work(burst=True)

    assert Job.fetch(job.id, connection=redis_conn).get_status() == "finished"
    scheduled = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert any(j.startswith("purge-expired-") for j in scheduled)
