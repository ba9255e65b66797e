"""`GET /health`: up while it can route; says when it runs degraded."""

from __future__ import annotations

from flask import Flask

from tests.phone import make_app


def test_healthy_with_redis_and_the_config_on_disk(app: Flask) -> None:
    response = app.test_client().get("/health")

    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "redis": "ok",
        "config": {"in_use": "as on disk", "refused_problems": 0},
    }


def test_without_redis_configured_the_service_still_answers_calls() -> None:
    response = make_app(redis_url=None).test_client().get("/health")

    assert response.status_code == 200
    assert response.json is not None and response.json["redis"] == "not configured"


def test_health_needs_no_twilio_signature(app: Flask) -> None:
    assert app.test_client().get("/health").status_code == 200
