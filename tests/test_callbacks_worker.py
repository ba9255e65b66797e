"""Callback jobs under a real `rq worker --with-scheduler`, with faults.

Twilio is the fake REST API (through the real twilio Client); Redis is real.
Escalation delays are a second or so (config), never slept through in the
test itself: the test waits for what the worker does, with a deadline.
Faults, as the issue lists them: Twilio 5xx and timeouts, the worker killed
mid-job, Redis restarted mid-queue. Nothing may be lost or doubled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq.job import Job

from callrouter import clock
from callrouter.callbacks import queue as cb_queue
from callrouter.callbacks import service as cb_service
from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.requests import Request, pseudonym_key
from callrouter.config.generation import load as load_generation
from callrouter.devtools.redis_server import EmbeddedRedis
from callrouter.routing.plan import CallerFacts
from tests.callbacks_kit import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER_DIGITS,
    FAST_CALLBACKS,
    ILSE,
    LARS,
    SECRET,
    YOUTH,
    RqWorker,
    callback_context,
    make_config_dir,
    wait_until,
    worker_env,
)
from tests.fakes.twilio_api import FakeTwilioApi

pytestmark = pytest.mark.slow

SLOW_LADDER = FAST_CALLBACKS.replace(
    "sla: {referrer: 2s, relative: 2s, resident: 2s}",
    "sla: {referrer: 1h, relative: 1h, resident: 1h}",
).replace("expire_after: 1h", "expire_after: 4h")
"""Only the first SMS within the test: escalation steps are an hour away."""

SPACED_LADDER = FAST_CALLBACKS.replace(
    """    - {notify: oncall, after: 0s}
    - {notify: backup, after: 50%}
    - {notify: team, after: 100%}
    - {notify: fallback, after: 150%}""",
    """    - {notify: oncall, after: 0s}
    - {notify: backup, after: 1s}
    - {notify: team, after: 4s}
    - {notify: fallback, after: 5s}""",
)


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi(credentials=(ACCOUNT_SID, AUTH_TOKEN)) as api:
        yield api


class World:
    """Config, Redis, fake Twilio and a worker: the callback back end, for real."""

    def __init__(self, tmp: Path, redis_url: str, fake: FakeTwilioApi, callbacks_yaml: str) -> None:
        self.config_dir = make_config_dir(tmp, callbacks_yaml, stable_rotas=True)
        self.redis_url = redis_url
        self.fake = fake
        self.env = worker_env(redis_url, self.config_dir, fake.base_url)
        self.conn = redis.Redis.from_url(redis_url)
        generation = load_generation(self.config_dir)
        config = generation.config
        self.ctx = callback_context(self.conn, config, generation.callbacks, pseudonym_key(SECRET))
        self.logs = tmp / "worker.log"
        self.workers: list[RqWorker] = []

    def worker(self) -> RqWorker:
        worker = RqWorker(self.redis_url, self.env, self.logs).start()
        self.workers.append(worker)
        return worker

    def submit(self, number: str = "+31612344567") -> Request:
        rid = cb_service.submit(
            self.ctx, number=number, facts=CallerFacts(*YOUTH), moment=clock.now()
        ).request_id
        request = self.ctx.store.get(rid)
        assert request is not None
        return request

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        log = self.logs.read_text(errors="replace") if self.logs.exists() else ""
        self.conn.close()
        assert CALLER_DIGITS not in log, "a raw caller number reached the worker log"


@pytest.fixture
def world(
    tmp_path: Path,
    redis_url: str,
    redis_conn: redis.Redis,
    fake: FakeTwilioApi,
    request: pytest.FixtureRequest,
) -> Iterator[World]:
    marker = request.node.get_closest_marker("callbacks_yaml")
    w = World(tmp_path, redis_url, fake, marker.args[0] if marker else SLOW_LADDER)
    yield w
    w.close()


def test_worker_sends_the_first_sms_then_escalates_and_a_claim_stops_the_ladder(
    tmp_path: Path, redis_url: str, redis_conn: redis.Redis, fake: FakeTwilioApi
) -> None:
    world = World(tmp_path, redis_url, fake, SPACED_LADDER)
    try:
        request = world.submit()
        world.worker()
        first, second = fake.wait_for("messages", 2, timeout=10)
        assert (first.field("To"), second.field("To")) == (
            ILSE,
            LARS,
        )  # oncall at once, backup after 1 s
        assert second.field("Body").startswith("ESCALATIE 1")

        assert cb_service.claim(world.ctx, request.id, "lars", clock.now(), via="cli").won
        [call] = fake.wait_for("calls", 1, timeout=10)
        assert call.field("To") == LARS
        told = fake.wait_for("messages", 3, timeout=10)[2]
        assert (told.field("To"), "geclaimd door Lars" in told.field("Body")) == (ILSE, True)

        # the team and fallback steps were already scheduled; when they fire they find a claim
        for step in (2, 3):
            job_id = f"escalate-{request.id}-1-{step}"
            wait_until(
                lambda jid=job_id: (
                    Job.fetch(jid, connection=redis_conn).get_status().value == "finished"
                ),
                timeout=10,
                what=job_id,
            )
            assert Job.fetch(job_id, connection=redis_conn).return_value() == "stale"
        assert len(fake.messages()) == 3
        found = world.ctx.store.get(request.id)
        assert found is not None and (found.state, found.claimed_by) == (State.CALLING, "lars")
    finally:
        world.close()


def test_twilio_5xx_is_retried_with_backoff_and_sent_once(
    world: World, fake: FakeTwilioApi
) -> None:
    fake.fail_next(2, status=503)
    request = world.submit()
    world.worker()
    [sms] = fake.wait_for("messages", 1, timeout=15)
    assert sms.field("To") == ILSE
    assert [r.status for r in fake.requests()] == [503, 503, 201]
    wait_until(
        lambda: world.ctx.store.get(request.id).state is State.NOTIFIED,  # type: ignore[union-attr]
        what="notified",
    )


def test_a_twilio_timeout_is_retried(world: World, fake: FakeTwilioApi) -> None:
    fake.delay_next(1, 1.5)
    fake.fail_next(1, status=500)  # the stalled request is not accepted either
    world.submit()
    world.worker()
    [sms] = fake.wait_for("messages", 1, timeout=15)
    assert sms.field("To") == ILSE
    assert len(fake.requests()) == 2


def test_a_worker_killed_mid_job_loses_nothing_and_doubles_nothing(
    world: World, fake: FakeTwilioApi, redis_conn: redis.Redis
) -> None:
    fake.delay_next(1, 1.5)
    fake.fail_next(1, status=500)  # Twilio never accepted what the dead worker sent
    request = world.submit()
    worker = world.worker()
    wait_until(lambda: fake.arrived(), what="the SMS to be in flight")
    worker.kill()  # worker, work horse and scheduler: SIGKILL, mid-HTTP-request
    wait_until(lambda: fake.requests(), what="Twilio to refuse the dead worker's request")
    # (Had Twilio accepted it, the retry below would send it again: at least once,
    # as twilio_rest documents. The request, its claim and its call stay single.)

    # Time passes, as it would in production: the dead worker's scheduler lock
    # lapses (61 s) and its job's heartbeat with it (~90 s); RQ then retries it.
    redis_conn.delete("rq:scheduler-lock:callbacks")
    cb_queue.recover_abandoned(redis_conn, clock.now() + dt.timedelta(seconds=200))
    world.worker()

    [sms] = fake.wait_for("messages", 1, timeout=15)
    assert sms.field("To") == ILSE
    wait_until(
        lambda: world.ctx.store.get(request.id).state is State.NOTIFIED,  # type: ignore[union-attr]
        what="notified",
    )
    assert [e.event for e in world.ctx.store.audit(request.id)].count("notify") == 1
    assert len(fake.messages()) == 1


def test_redis_restarted_mid_queue_loses_nothing_and_doubles_nothing(
    tmp_path: Path, fake: FakeTwilioApi
) -> None:
    with EmbeddedRedis(appendonly=True) as server:
        world = World(tmp_path, server.url, fake, SLOW_LADDER)
        try:
            fake.delay_next(8, 0.25)  # the queue drains slowly: the restart lands mid-queue
            numbers = [f"+3161234{i:04d}" for i in range(8)]
            requests = [world.submit(n) for n in numbers]
            world.worker()
            fake.wait_for("messages", 2, timeout=10)
            server.restart()  # SIGTERM: Redis fsyncs its append-only file, then starts again
            fake.wait_for("messages", 8, timeout=20)
            conn = redis.Redis.from_url(server.url)
            store = callback_context(conn, world.ctx.config, world.ctx.policy, b"k").store
            wait_until(
                lambda: all(store.get(r.id).state is State.NOTIFIED for r in requests),  # type: ignore[union-attr]
                timeout=10,
                what="every request notified",
            )
            codes = sorted(m.field("Body").split(":")[0].split()[-1] for m in fake.messages())
            assert codes == sorted(r.code for r in requests)  # each request's SMS exactly once
            assert len(fake.messages()) == 8
            conn.close()
        finally:
            world.close()
