"""The RQ job functions, called directly, against the fake Twilio API and a real Redis.

Each job runs twice where a retry could run it twice: nothing may double.
(The same jobs under a real `rq worker` are in test_callbacks_worker.py.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from callrouter import clock
from callrouter.callbacks import jobs
from callrouter.callbacks import service as cb_service
from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.requests import Request
from callrouter.callbacks.service import CallbackContext
from callrouter.config.generation import judge
from callrouter.errors import ProviderError
from callrouter.routing.plan import CallerFacts
from callrouter.services import Services
from tests.callbacks_kit import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER,
    CALLER_DIGITS,
    CIT_TEAM,
    CRISIS,
    GGZ_ONCALL,
    ILSE,
    LARS,
    YOUTH,
    job_services,
    make_config_dir,
    wait_until,
)
from tests.fakes.twilio_api import FakeTwilioApi


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi(credentials=(ACCOUNT_SID, AUTH_TOKEN)) as api:
        yield api


@pytest.fixture
def svc(tmp_path: Path, redis_conn: redis.Redis, fake: FakeTwilioApi) -> Services:
    """What the worker hands each job, wired from the worker's environment."""
    return job_services(make_config_dir(tmp_path, stable_rotas=True), redis_conn, fake.base_url)


@pytest.fixture
def ctx(svc: Services) -> CallbackContext:
    return svc.callback_context()


def submit(ctx: CallbackContext) -> Request:
    rid = cb_service.submit(
        ctx, number=CALLER, facts=CallerFacts(*YOUTH), moment=clock.now()
    ).request_id
    request = ctx.store.get(rid)
    assert request is not None
    return request


def sent_to(fake: FakeTwilioApi) -> list[str]:
    return [m.field("To") for m in fake.messages()]


def test_the_first_sms_goes_to_the_oncall_once_even_when_the_job_runs_twice(
    ctx: CallbackContext, svc: Services, fake: FakeTwilioApi
) -> None:
    request = submit(ctx)
    assert jobs.notify(svc, request.id, 1, 0) == "notified"
    assert jobs.notify(svc, request.id, 1, 0) == "notified"
    [sms] = fake.messages()
    assert (sms.field("To"), sms.field("From")) == (ILSE, CRISIS)
    body = sms.field("Body")
    assert body.startswith(
        f"Terugbelverzoek {request.code}: Inwoner (voor uzelf), regio onbekend, Jonger dan 18"
    )
    assert "+31 ***** 45 67" in body and CALLER_DIGITS not in body
    found = ctx.store.get(request.id)
    assert found is not None and (found.state, found.step) == (State.NOTIFIED, 0)
    assert ctx.store.last_offer("ilse") == request.id


def test_the_ladder_adds_backup_then_the_team_then_the_fallback_team(
    ctx: CallbackContext, svc: Services, fake: FakeTwilioApi
) -> None:
    request = submit(ctx)
    for step in range(4):
        jobs.notify(svc, request.id, 1, step)
    team = [n for m, n in CIT_TEAM.items() if m not in ("ilse", "lars")]
    assert sent_to(fake) == [ILSE, LARS, *team, *GGZ_ONCALL.values()]
    bodies = [m.field("Body") for m in fake.messages()]
    assert bodies[1].startswith("ESCALATIE 1:") and bodies[-1].startswith("ESCALATIE 3:")
    assert ctx.store.get(request.id).step == 3  # type: ignore[union-attr]


def test_a_stale_escalation_after_the_claim_does_nothing(
    ctx: CallbackContext, svc: Services, fake: FakeTwilioApi
) -> None:
    request = submit(ctx)
    jobs.notify(svc, request.id, 1, 0)
    cb_service.claim(ctx, request.id, "ilse", clock.now(), via="cli")
    assert jobs.notify(svc, request.id, 1, 1) == "stale"
    cb_service.release(ctx, request.id, clock.now(), by="ilse")
    assert jobs.notify(svc, request.id, 1, 2) == "stale"  # a timer of the first round
    assert sent_to(fake) == [ILSE]


def test_twilio_5xx_is_retried_and_only_the_missing_sms_is_resent(
    ctx: CallbackContext, svc: Services, fake: FakeTwilioApi
) -> None:
    request = submit(ctx)
    jobs.notify(svc, request.id, 1, 0)
    fake.fail_next(1, status=503)  # the first of the team's SMS
    with pytest.raises(ProviderError) as info:
        jobs.notify(svc, request.id, 1, 2)
    assert info.value.retryable
    before = len(fake.messages())
    jobs.notify(svc, request.id, 1, 2)  # what RQ's Retry does, after the backoff
    assert len(fake.messages()) == before + 1
    assert sorted(sent_to(fake)) == sorted(CIT_TEAM.values())  # each member once; ilse had step 0


def test_a_twilio_timeout_is_retryable_and_frees_the_send(
    ctx: CallbackContext, svc: Services, fake: FakeTwilioApi
) -> None:
    request = submit(ctx)
    fake.delay_next(1, 1.3)
    fake.fail_next(1, status=500)  # Twilio never accepted the stalled request
    with pytest.raises(ProviderError) as info:
        jobs.notify(svc, request.id, 1, 0)
    assert info.value.retryable and "Timeout" in str(info.value)
    assert ctx.store.get(request.id).state is State.REQUESTED  # type: ignore[union-attr]
    wait_until(lambda: fake.requests(), what="the stalled request to end at the fake")
    jobs.notify(svc, request.id, 1, 0)
    assert sent_to(fake) == [ILSE]


def test_a_number_twilio_refuses_moves_the_ladder_on_at_once(
    ctx: CallbackContext, svc: Services, fake: FakeTwilioApi
) -> None:
    request = submit(ctx)
    fake.fail_next(1, status=400, code=21211)
    assert jobs.notify(svc, request.id, 1, 0) == "notified"
    assert sent_to(fake) == [LARS]
    assert "sms_failed" in [e.event for e in ctx.store.audit(request.id)]


def test_the_bridge_calls_the_claimer_once_per_attempt(
    ctx: CallbackContext, svc: Services, fake: FakeTwilioApi
) -> None:
    request = submit(ctx)
    cb_service.claim(ctx, request.id, "ilse", clock.now(), via="cli")
    assert jobs.place_bridge(svc, request.id, 1) == "placed"
    assert jobs.place_bridge(svc, request.id, 1) == "placed"
    [call] = fake.calls()
    base = f"https://crisis.example.nl/voice/callback/bridge/{request.id}"
    assert (
        call.field("To"),
        call.field("From"),
        call.field("Url"),
        call.field("StatusCallback"),
        call.field("Timeout"),
    ) == (ILSE, CRISIS, f"{base}/staff?attempt=1", f"{base}/status?attempt=1", "5")
    found = ctx.store.get(request.id)
    assert found is not None and (found.state, found.attempts) == (State.CALLING, 1)


def test_a_bridge_hit_by_a_5xx_is_retried_then_placed(
    ctx: CallbackContext, svc: Services, fake: FakeTwilioApi
) -> None:
    request = submit(ctx)
    cb_service.claim(ctx, request.id, "ilse", clock.now(), via="cli")
    fake.fail_next(1, status=503)
    with pytest.raises(ProviderError):
        jobs.place_bridge(svc, request.id, 1)
    assert jobs.place_bridge(svc, request.id, 1) == "placed"
    assert len(fake.calls()) == 1


def test_a_bridge_twilio_refuses_is_a_failed_attempt(
    ctx: CallbackContext, svc: Services, fake: FakeTwilioApi
) -> None:
    request = submit(ctx)
    cb_service.claim(ctx, request.id, "ilse", clock.now(), via="cli")
    fake.fail_next(1, status=400, code=21215)
    assert jobs.place_bridge(svc, request.id, 1) == "failed"
    found = ctx.store.get(request.id)
    assert found is not None and (found.state, found.epoch, found.outcome) == (
        State.REQUESTED,
        2,
        "twilio-refused",
    )


def test_everyone_else_offered_is_told_who_took_it(
    ctx: CallbackContext, svc: Services, fake: FakeTwilioApi
) -> None:
    request = submit(ctx)
    jobs.notify(svc, request.id, 1, 0)
    jobs.notify(svc, request.id, 1, 1)
    cb_service.claim(ctx, request.id, "lars", clock.now(), via="cli")
    jobs.tell_claimed(svc, request.id, 1)
    jobs.tell_claimed(svc, request.id, 1)
    last = fake.messages()[-1]
    assert len(fake.messages()) == 3
    assert (last.field("To"), last.field("Body")) == (
        ILSE,
        f"Terugbelverzoek {request.code} is geclaimd door "
        "Lars Claassen (kinder- en jeugdpsychiater). "
        "U hoeft niets te doen.",
    )


def test_the_watchdog_fails_an_attempt_nobody_reported_on(
    ctx: CallbackContext, svc: Services
) -> None:
    request = submit(ctx)
    cb_service.claim(ctx, request.id, "ilse", clock.now(), via="cli")
    cb_service.dial(ctx, request.id, 1, clock.now())
    assert jobs.watch_bridge(svc, request.id, 1) == "failed"
    assert jobs.watch_bridge(svc, request.id, 1) == "resolved"
    assert ctx.store.get(request.id).outcome == "no-result"  # type: ignore[union-attr]


def test_expiry_closes_only_the_round_it_was_set_for(ctx: CallbackContext, svc: Services) -> None:
    request = submit(ctx)
    cb_service.claim(ctx, request.id, "ilse", clock.now(), via="cli")
    cb_service.release(ctx, request.id, clock.now(), by="ilse")
    assert jobs.expire(svc, request.id, 1) == "stale"
    assert jobs.expire(svc, request.id, 2) == "expired"


def test_jobs_log_no_raw_numbers(
    ctx: CallbackContext,
    svc: Services,
    fake: FakeTwilioApi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    request = submit(ctx)
    jobs.notify(svc, request.id, 1, 0)
    fake.fail_next(1, status=503)
    with pytest.raises(ProviderError):
        jobs.notify(svc, request.id, 1, 1)
    cb_service.claim(ctx, request.id, "ilse", clock.now(), via="cli")
    jobs.place_bridge(svc, request.id, 1)
    assert caplog.records
    assert CALLER_DIGITS not in caplog.text
    assert "10000021" not in caplog.text  # nor a staff mobile


def test_a_flood_is_told_to_the_coordinators_not_the_fallback_team(
    svc: Services, fake: FakeTwilioApi
) -> None:
    """Issue 9: the flood alert went to the fallback team; the console's coordinators
    (teams.yaml `console: coordinator`, in the sample only anna) are who must hear it."""
    assert jobs.flood_alert(svc, 7) == "alerted"
    assert jobs.flood_alert(svc, 7) == "alerted"  # a retry of the same period sends nothing new
    [sms] = fake.messages()
    assert sms.field("To") == "+31610000001"
    assert "ongewoon veel terugbelverzoeken" in sms.field("Body")


def test_without_a_coordinator_the_fallback_team_hears_of_a_flood_and_check_warns(
    tmp_path: Path, redis_conn: redis.Redis, fake: FakeTwilioApi
) -> None:
    config_dir = make_config_dir(tmp_path, stable_rotas=True)
    teams = config_dir / "teams.yaml"
    teams.write_text(teams.read_text().replace(", console: coordinator}", "}"), encoding="utf-8")
    svc = job_services(config_dir, redis_conn, fake.base_url)

    assert jobs.flood_alert(svc, 7) == "alerted"
    assert sorted(sent_to(fake)) == sorted(GGZ_ONCALL.values())
    warnings = [str(w) for w in judge(config_dir, today=None).warnings]
    assert any("callbacks.yaml" in w and "nobody has `console: coordinator`" in w for w in warnings)
