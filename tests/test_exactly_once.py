"""Exactly once to the people who matter (issue 10 item 5).

A bridge attempt places one call to the staff member, never two: not after a
Twilio timeout (Twilio may have placed it) and not when a worker died
mid-request (its retry finds the attempt's marker). The watch job then
decides the attempt, and the next attempt is a new call. Staff SMS are
at-least-once: a kill mid-send can repeat one SMS, at most once per
recipient and step (the send marker's lease; see callbacks/jobs.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from callrouter import clock
from callrouter.callbacks import jobs
from callrouter.callbacks import service as cb_service
from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.requests import Request
from callrouter.routing.plan import CallerFacts
from callrouter.services import Services
from tests.callbacks_kit import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER,
    ILSE,
    YOUTH,
    job_services,
    make_config_dir,
)
from tests.fakes.twilio_api import FakeTwilioApi


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi(credentials=(ACCOUNT_SID, AUTH_TOKEN)) as api:
        yield api


@pytest.fixture
def svc(tmp_path: Path, redis_conn: redis.Redis, fake: FakeTwilioApi) -> Services:
    return job_services(make_config_dir(tmp_path, stable_rotas=True), redis_conn, fake.base_url)


def claimed(svc: Services) -> Request:
    ctx = svc.callback_context()
    rid = cb_service.submit(
        ctx, number=CALLER, facts=CallerFacts(*YOUTH), moment=clock.now()
    ).request_id
    cb_service.claim(ctx, rid, "ilse", clock.now(), via="cli")
    request = ctx.store.get(rid)
    assert request is not None
    return request


def test_a_bridge_call_that_timed_out_is_never_placed_again(
    svc: Services, fake: FakeTwilioApi
) -> None:
    request = claimed(svc)
    fake.delay_next(1, 1.5)  # longer than the worker's Twilio timeout: Twilio placed it anyway
    assert jobs.place_bridge(svc, request.id, 1) == "in-doubt"
    assert jobs.place_bridge(svc, request.id, 1) == "in-doubt", "an RQ retry or the sweeper"
    fake.wait_for("calls", 1)
    assert [c.field("To") for c in fake.calls()] == [ILSE], "one call to staff"
    assert jobs.watch_bridge(svc, request.id, 1) == "failed"  # nobody reported: next attempt
    ctx = svc.callback_context()
    cb_service.claim(ctx, request.id, "ilse", clock.now(), via="cli")
    assert jobs.place_bridge(svc, request.id, 2) == "placed"
    assert len(fake.calls()) == 2, "attempt 2 is a new call"


def test_a_worker_killed_mid_bridge_leaves_the_attempt_to_the_watch(
    svc: Services, fake: FakeTwilioApi
) -> None:
    request = claimed(svc)
    ctx = svc.callback_context()
    cb_service.dial(ctx, request.id, 1, clock.now())
    marker = ctx.store.sms_key(request.id, 1, "bridge", "ilse")
    # What a worker killed between taking the marker and hearing Twilio leaves behind:
    ctx.store.begin_send(marker, clock.now(), ctx.policy.bridge_watch_seconds)
    assert jobs.place_bridge(svc, request.id, 1) == "in-doubt"
    assert fake.calls() == []
    found = ctx.store.get(request.id)
    assert found is not None and found.state is State.CALLING


def test_a_bridge_refused_with_a_5xx_is_retried_because_twilio_placed_nothing(
    svc: Services, fake: FakeTwilioApi
) -> None:
    request = claimed(svc)
    fake.fail_next(1, status=503)
    with pytest.raises(Exception, match="HTTP 503"):
        jobs.place_bridge(svc, request.id, 1)
    assert jobs.place_bridge(svc, request.id, 1) == "placed"
    assert len(fake.calls()) == 1
