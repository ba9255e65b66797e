"""`callrouter.timers`: due jobs reach their queue once, from whichever worker lives."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
import redis
from rq import Queue
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler

from callrouter import redis_conn
from callrouter.devtools.redis_server import EmbeddedRedis
from callrouter.timers import Ticker, TimerPump

QUEUE = "timers-test"


def noop() -> None:
    """The job the tests schedule; never run (the tests look at the queue)."""


def _due(conn: redis.Redis, count: int) -> Queue:
    queue = Queue(QUEUE, connection=conn)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    for n in range(count):
        queue.enqueue_at(past, noop, job_id=f"escalate-{n}")
    assert ScheduledJobRegistry(queue=queue).count == count
    return queue


def test_of_many_pumps_one_moves_each_due_job_once(redis_conn: redis.Redis) -> None:
    queue = _due(redis_conn, 5)
    pumps = [TimerPump(redis_conn, [QUEUE], name=f"pump-{n}") for n in range(4)]
    for _ in range(3):
        for pump in pumps:
            pump.tick()
    assert [p.held for p in pumps] == [(QUEUE,), (), (), ()]
    assert sorted(queue.job_ids) == [f"escalate-{n}" for n in range(5)]
    assert ScheduledJobRegistry(queue=queue).count == 0


def test_a_dead_pumps_lease_passes_to_another_within_the_lease(redis_conn: redis.Redis) -> None:
    first = TimerPump(redis_conn, [QUEUE], lease_seconds=1, name="first")
    second = TimerPump(redis_conn, [QUEUE], lease_seconds=1, name="second")
    first.tick()  # ... and then its worker is killed: no more ticks
    second.tick()
    assert second.held == ()
    deadline = time.monotonic() + 2.5
    while not second.held and time.monotonic() < deadline:
        time.sleep(0.1)
        second.tick()
    assert second.held == (QUEUE,)
    queue = _due(redis_conn, 1)
    second.tick()
    assert queue.job_ids == ["escalate-0"]


def test_the_pump_uses_rqs_own_scheduler_lock(redis_conn: redis.Redis) -> None:
    """So an RQ scheduler someone started anyway never schedules alongside it."""
    pump = TimerPump(redis_conn, [QUEUE], name="pump")
    pump.tick()
    assert redis_conn.get(RQScheduler.get_locking_key(QUEUE)) == b"pump"
    pump.release()
    assert redis_conn.get(RQScheduler.get_locking_key(QUEUE)) is None


def test_a_ticker_outlives_redis_and_resumes_when_it_returns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with EmbeddedRedis() as server:
        conn = redis_conn.connect(server.url, "cli", retry=None)
        pump = TimerPump(conn, [QUEUE], name="pump")
        ticker = Ticker([pump.tick])
        server.stop()
        with caplog.at_level(logging.WARNING):
            ticker.run_once()
        assert "Redis unavailable" in caplog.text
        server.start()
        queue = _due(conn, 2)
        ticker.run_once()
        assert sorted(queue.job_ids) == ["escalate-0", "escalate-1"]


def test_a_ticker_thread_runs_its_tasks_until_stopped() -> None:
    seen: list[int] = []

    def boom() -> None:
        raise RuntimeError("a broken task never stops the others")

    ticker = Ticker([boom, lambda: seen.append(1)], every=0.01).start()
    deadline = time.monotonic() + 2
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    ticker.stop()
    assert len(seen) >= 3
