"""`GET /metrics`: webhook timings, the callback queue, workers, calls, config, failures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from rq import Worker

from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.requests import Request
from callrouter.callbacks.store import CallbackStore
from callrouter.devtools.redis_server import free_port
from callrouter.errors import ProviderError
from callrouter.metrics import registry
from callrouter.twilio_rest import TwilioProvider
from tests.fakes.twilio_api import FakeTwilioApi
from tests.helpers import ams, copy_config
from tests.phone import Phone, make_app

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
RESIDENT = "+31612345678"


def scrape(app: Flask) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = app.test_client().get("/metrics")
    assert reply.status_code == 200
    assert reply.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(reply.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def waiting_request(request_id: str, state: State, created: dt.datetime) -> Request:
    return Request(
        id=request_id,
        state=state,
        code="",
        priority=1,
        created_at=created,
        deadline=created + dt.timedelta(minutes=20),
        caller_type="bewoner",
        caller_kind="resident",
        age_group="18+",
        region=None,
        number=RESIDENT,
        number_masked="+31 ***** 56 78",
        routes=(),
    )


def test_a_call_is_timed_per_webhook_and_counted_by_reach_and_window(
    app: Flask, phone: Phone
) -> None:
    incoming = ("callrouter_webhook_seconds_count", (("endpoint", "voice.incoming"),))
    before = scrape(app).get(incoming, 0.0)

    phone.dial(from_=RESIDENT, at=ams(2026, 4, 27, 10, 0)).hang_up().sim.report_end()
    phone.clock.advance(60)
    after = scrape(app)

    assert after[incoming] == before + 1
    assert ("callrouter_webhook_seconds_count", (("endpoint", "metrics.metrics"),)) not in after
    calls = {
        dict(k[1])["window"]: v for k, v in after.items() if k[0] == "callrouter_calls_last_24h"
    }
    assert calls == {"none": 1.0}  # hung up in the menu: never routed, so in no window
    assert after[("callrouter_redis_up", ())] == 1.0
    assert after[("callrouter_config_refused_problems", ())] == 0.0


def test_the_callback_queue_by_state_and_its_oldest_unnotified_request(
    app: Flask, redis_conn: redis.Redis
) -> None:
    now = app.config["CLOCK"]()
    store = CallbackStore(redis_conn)
    store.create(waiting_request("old", State.REQUESTED, now - dt.timedelta(seconds=90)), now)
    store.create(waiting_request("new", State.REQUESTED, now - dt.timedelta(seconds=10)), now)

    samples = scrape(app)

    assert samples[("callrouter_callbacks", (("state", "requested"),))] == 2
    assert samples[("callrouter_callbacks", (("state", "claimed"),))] == 0
    assert samples[("callrouter_callback_oldest_unnotified_age_seconds", ())] == 90
    assert samples[("callrouter_callback_oldest_unclaimed_age_seconds", ())] == 90


def test_worker_count_and_heartbeat_age(app: Flask, redis_conn: redis.Redis) -> None:
    assert scrape(app)[("callrouter_workers", ())] == 0

    worker = Worker(["callbacks"], connection=redis_conn)
    worker.register_birth()
    worker.heartbeat()
    samples = scrape(app)

    assert samples[("callrouter_workers", ())] == 1
    age = samples[("callrouter_worker_heartbeat_age_seconds", ())]
    assert age == age  # not NaN: a worker beat
    worker.register_death()


def test_without_redis_metrics_still_answer_and_say_redis_is_down() -> None:
    app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")

    samples = scrape(app)

    assert samples[("callrouter_redis_up", ())] == 0
    assert ("callrouter_workers", ()) not in samples


def test_a_refused_config_reload_is_visible(tmp_path: Path, redis_conn: redis.Redis) -> None:
    directory = copy_config(tmp_path / "config")
    app = make_app(config_dir=directory, CONFIG_CHECK_SECONDS=0.0)
    live = app.extensions["callrouter.services"].live
    before = scrape(app)
    (directory / "teams.yaml").write_text("teams: [", encoding="utf-8")
    live.refresh()  # what the watcher does every second
    after = scrape(app)

    generation = {k[1]: v for k, v in after.items() if k[0] == "callrouter_config_generation"}
    assert generation == {(("generation", live.status().generation), ("source", "files")): 1}
    assert before[("callrouter_config_refused_problems", ())] == 0
    assert after[("callrouter_config_refused_problems", ())] >= 1  # and the last good stays
    loaded = after[("callrouter_config_loaded_timestamp_seconds", ())]
    assert loaded == before[("callrouter_config_loaded_timestamp_seconds", ())] > 0


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi(credentials=(ACCOUNT_SID, "token")) as api:
        yield api


def test_twilio_failures_are_counted_by_error_code(fake: FakeTwilioApi) -> None:
    provider = TwilioProvider(ACCOUNT_SID, "token", "+31850001234", api_base_url=fake.base_url)
    key = ("callrouter_provider_failures_total", (("code", "21610"), ("kind", "sms")))

    def count() -> float:
        text = generate_latest(registry(environ={})).decode()
        found = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }
        return found.get(key, 0.0)

    before = count()
    fake.fail_next(1, status=400, code=21610, message="unsubscribed")
    with pytest.raises(ProviderError):
        provider.send_sms("+31612345678", "test")
    provider.close()

    assert count() == before + 1
