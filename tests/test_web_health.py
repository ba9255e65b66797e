"""`GET /health`: 200 while calls route, with the truth about the back end."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import redis
from flask import Flask
from rq import Queue

from callrouter import clock as wall_clock
from callrouter.callbacks import queue as cb_queue
from callrouter.callbacks import service as cb_service
from callrouter.routing.plan import CallerFacts
from callrouter.services import Services
from callrouter.worker import SimpleWorker
from tests.callbacks_kit import YOUTH, job_services, make_config_dir
from tests.phone import TestClock, make_app

MONDAY = dt.datetime(2026, 4, 27, 8, 0, tzinfo=dt.UTC)


def services_of(app: Flask) -> Services:
    found: Services = app.extensions["callrouter.services"]
    return found


def test_without_a_worker_calls_still_route_but_health_says_degraded(app: Flask) -> None:
    response = app.test_client().get("/health")

    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert body["status"] == "degraded" and body["routes_calls"] is True
    assert body["redis"] == "ok"
    config = body["config"]
    assert (config["in_use"], config["source"], config["refused"]) == ("as on disk", "files", [])
    assert config["generation"] == services_of(app).live.status().generation
    assert body["worker"] == {"count": 0, "heartbeat_age_seconds": None, "alive": False}
    assert body["callbacks"] == {
        "queue_depth": 0,
        "not_yet_told": 0,
        "oldest_not_told_seconds": None,
    }


def test_a_request_nobody_was_told_about_shows_its_age_and_the_queue_depth(
    app: Flask, redis_conn: redis.Redis
) -> None:
    services = services_of(app)
    clock: TestClock = app.config["CLOCK"]
    cb_service.submit(
        services.callback_context(),
        number="+31612344567",
        facts=CallerFacts(*YOUTH),
        moment=clock.moment,
    )
    clock.advance(90)

    body = app.test_client().get("/health").json

    assert body is not None
    assert body["callbacks"] == {
        "queue_depth": 1,  # the first SMS, waiting for a worker
        "not_yet_told": 1,
        "oldest_not_told_seconds": 90.0,
    }


def test_a_worker_heartbeat_makes_it_ok(
    tmp_path: Path, app: Flask, redis_conn: redis.Redis
) -> None:
    worker_services = job_services(
        make_config_dir(tmp_path), redis_conn, "http://127.0.0.1:9", CALLROUTER_DRY_RUN="1"
    )
    worker = SimpleWorker(
        [Queue(cb_queue.QUEUE_NAME, connection=redis_conn)],
        connection=redis_conn,
        services=worker_services,
    )
    worker.register_birth()
    worker.heartbeat()
    app.config["CLOCK"].moment = wall_clock.now()  # RQ stamps heartbeats with the real time
    try:
        body = app.test_client().get("/health").json
    finally:
        worker.register_death()

    assert body is not None
    assert body["worker"]["count"] == 1 and body["worker"]["alive"] is True
    assert body["status"] == "ok"


def test_redis_unreachable_is_degraded_not_down() -> None:
    app = make_app(redis_url="redis://127.0.0.1:1/0")

    response = app.test_client().get("/health")

    assert response.status_code == 200
    assert response.json is not None
    assert (response.json["status"], response.json["redis"]) == ("degraded", "unreachable")


def test_without_redis_configured_the_service_still_answers_calls() -> None:
    response = make_app(redis_url=None).test_client().get("/health")

    assert response.status_code == 200
    assert response.json is not None and response.json["redis"] == "not configured"


def test_a_refused_config_is_reported_with_its_problems(tmp_path: Path, redis_url: str) -> None:
    config_dir = make_config_dir(tmp_path)
    app = make_app(config_dir=config_dir, redis_url=redis_url, CONFIG_CHECK_SECONDS=0)
    (config_dir / "teams.yaml").write_text("teams: [\n", encoding="utf-8")
    app.extensions["callrouter.services"].live.refresh()  # what the watcher does every second

    response = app.test_client().get("/health")

    assert response.status_code == 200  # the last good generation still routes
    body = response.json
    assert body is not None and body["config"]["in_use"] == "last good"
    assert body["config"]["refused"] and "teams.yaml" in " ".join(body["config"]["refused"])


def test_health_needs_no_twilio_signature(app: Flask) -> None:
    assert app.test_client().get("/health").status_code == 200
