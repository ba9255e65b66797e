"""Staff report a call's triage outcome by voice: the whisper tells them the call's
ref, a bridged callback ends in a keypad menu, and an inbound call they took ends
in an SMS asking for the outcome.

Calls go through the real app with `tests.phone` (signed like Twilio, TwiML parsed
as XML and checked against Twilio's schema); Redis is real; the SMS job runs under
a real RQ worker (in-process, burst) against the fake Twilio REST API.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from rq.job import Job

from callrouter.callbacks import queue as cb_queue
from callrouter.callbacks import service as cb_service
from callrouter.callbacks.jobs import JOBS
from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.requests import pseudonym_key
from callrouter.callbacks.store import CallbackStore
from callrouter.calls.jobs import ask_triage
from callrouter.calls.record import CallRecord, Outcome
from callrouter.calls.store import CallStore
from callrouter.config.generation import load as load_generation
from callrouter.services import build
from callrouter.settings import Process, Settings
from callrouter.worker import SimpleWorker
from tests.callbacks_kit import ACCOUNT_SID, AUTH_TOKEN, callback_context, use_env, worker_env
from tests.fakes.twilio_api import FakeTwilioApi
from tests.helpers import ams, copy_config
from tests.phone import BASE_URL, CONFIG_DIR, CRISIS_NUMBER, SECRET, Phone, PhoneCall, make_app

RESIDENT = "+31612345678"
ANNA, EVA = "+31610000001", "+31610000005"
TUESDAY_10 = ams(2026, 4, 28, 10, 0)


def record_of(redis_conn: redis.Redis, call: PhoneCall) -> CallRecord:
    found = CallStore(redis_conn, None).snapshot(call.sim.call_sid)
    assert found is not None and found.ref
    return found


def outcomes(redis_conn: redis.Redis, call_sid: str) -> list[Outcome]:
    records = CallStore(redis_conn, None).records(ams(2026, 4, 28), ams(2026, 4, 29))
    return [o for r in records if r.call_id == call_sid for o in r.outcomes]


# --------------------------------------------------------------------------- the whisper


def test_the_whisper_tells_staff_the_calls_ref_after_the_accept_key(
    phone: Phone, redis_conn: redis.Redis
) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")
    call.expect_dial(ANNA).whisper_press("1")

    ref = record_of(redis_conn, call).ref
    call.expect_whisper(f"Druk 1 om aan te nemen. Gespreksnummer {ref}.")
    assert f"Gespreksnummer {' '.join(ref)}." in " ".join(call.sim.heard("staff"))  # digit by digit


def test_without_a_call_log_the_whisper_has_no_ref() -> None:
    call = Phone(make_app()).dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")

    call.expect_dial(ANNA).whisper_press("1").expect_whisper("Druk 1 om aan te nemen.")
    assert "Gespreksnummer" not in " ".join(call.sim.heard("staff"))


# --------------------------------------------------------------------------- bridged callback


def callback_claimed_by_anna(phone: Phone, redis_conn: redis.Redis) -> tuple[str, PhoneCall]:
    """A resident nobody could take asks for a callback; Anna claims it and the
    worker starts bridge attempt 1. (request id, the resident's original call)"""
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")
    call.expect_dial(ANNA).leg_result("no-answer")
    call.expect_dial(EVA).leg_result("no-answer")
    call.expect_say("Wilt u teruggebeld worden").press("1").expect_say("genoteerd")
    call.sim.report_end("completed", 90)
    [request] = CallbackStore(redis_conn).active()
    generation = load_generation(CONFIG_DIR)
    config = generation.config
    ctx = callback_context(redis_conn, config, generation.callbacks, pseudonym_key(SECRET))
    assert cb_service.claim(ctx, request.id, "anna", TUESDAY_10, via="cli").won
    assert cb_service.dial(ctx, request.id, 1, TUESDAY_10).ok
    return request.id, call


def talk_and_caller_hangs_up(phone: Phone, request_id: str, ref: str) -> PhoneCall:
    staff = phone.answer_bridge(request_id, ANNA)
    staff.expect_say("terugbelverzoek").expect_say(f"Gespreksnummer {ref}").press("1")
    staff.expect_dial(RESIDENT).answer().expect_connected(RESIDENT)
    return staff.end_conversation()


def test_after_a_bridged_callback_staff_press_2_and_the_outcome_is_stored(
    phone: Phone, redis_conn: redis.Redis
) -> None:
    request_id, call = callback_claimed_by_anna(phone, redis_conn)
    ref = record_of(redis_conn, call).ref

    staff = talk_and_caller_hangs_up(phone, request_id, ref)
    staff.expect_say("Het gesprek is beëindigd").expect_say("Toets de uitkomst van de triage")
    staff.expect_say("2 voor Actieve inschatting").expect_menu()
    gather = phone.documents[-1][1].find("Gather")
    assert gather is not None
    assert (gather.get("input"), gather.get("numDigits")) == ("dtmf", "1")
    assert (gather.get("action") or "").startswith(
        f"{BASE_URL}/voice/callback/bridge/{request_id}/triage?s="
    )
    staff.press("2")

    staff.expect_say("Vastgelegd: Actieve inschatting (ter plaatse). Dank u.").expect_ended()
    [outcome] = outcomes(redis_conn, call.sim.call_sid)
    assert (outcome.code, outcome.by, outcome.via) == ("actieve_inschatting", "anna", "keypad")


def test_an_invalid_key_gets_the_menu_once_more(phone: Phone, redis_conn: redis.Redis) -> None:
    request_id, call = callback_claimed_by_anna(phone, redis_conn)
    staff = talk_and_caller_hangs_up(phone, request_id, record_of(redis_conn, call).ref)

    staff.press("8").expect_say("Dat is geen geldige keuze").expect_say("1 voor Advies")
    staff.press("9").expect_say("Vastgelegd: Geen actie nodig").expect_ended()

    assert [o.code for o in outcomes(redis_conn, call.sim.call_sid)] == ["geen_actie"]


def test_two_invalid_keys_end_politely_pointing_at_sms(
    phone: Phone, redis_conn: redis.Redis
) -> None:
    request_id, call = callback_claimed_by_anna(phone, redis_conn)
    ref = record_of(redis_conn, call).ref
    staff = talk_and_caller_hangs_up(phone, request_id, ref)

    staff.press("8").expect_say("geen geldige keuze").silence()

    staff.expect_say(f"Stuur T {ref} en de code per sms, bijvoorbeeld T {ref} advies")
    staff.expect_ended()
    assert outcomes(redis_conn, call.sim.call_sid) == []


def test_a_caller_not_reached_gets_no_triage_menu_and_goes_back_in_the_queue(
    phone: Phone, redis_conn: redis.Redis
) -> None:
    request_id, call = callback_claimed_by_anna(phone, redis_conn)
    staff = phone.answer_bridge(request_id, ANNA).press("1")

    staff.expect_dial(RESIDENT).leg_result("no-answer")

    staff.expect_say("terug in de wachtrij").expect_ended()
    assert "Toets de uitkomst" not in " ".join(staff.sim.heard())
    request = CallbackStore(redis_conn).get(request_id)
    assert request is not None and request.state is State.REQUESTED


def test_the_triage_step_refuses_forged_webhooks_and_made_up_state(
    app: Flask, phone: Phone, redis_conn: redis.Redis
) -> None:
    request_id, call = callback_claimed_by_anna(phone, redis_conn)
    staff = talk_and_caller_hangs_up(phone, request_id, record_of(redis_conn, call).ref)
    gather = phone.documents[-1][1].find("Gather")
    action = gather.get("action", "") if gather is not None else ""
    params = {"CallSid": "CA9", "From": CRISIS_NUMBER, "To": ANNA, "Digits": "1"}
    client = app.test_client()

    assert client.post(action, data=params).status_code == 403  # no signature
    forged = {"X-Twilio-Signature": "bm90LWEtc2lnbmF0dXJl"}
    assert client.post(action, data=params, headers=forged).status_code == 403
    made_up = phone.post(f"/voice/callback/bridge/{request_id}/triage?s=made-up", params)

    assert made_up is not None and "geen uitkomst vastgelegd" in ET.tostring(made_up).decode()
    assert outcomes(redis_conn, call.sim.call_sid) == []
    staff.press("1").expect_say("Vastgelegd: Advies")  # the real menu still works


# --------------------------------------------------------------------------- SMS after a call


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi(credentials=(ACCOUNT_SID, AUTH_TOKEN)) as api:
        yield api


def run_jobs(redis_conn: redis.Redis) -> None:
    """A real RQ worker, in this process, wired from the (test's) worker environment,
    until the queue is empty."""
    services = build(Settings.from_env(process=Process.WORKER), jobs=JOBS, conn=redis_conn)
    worker = SimpleWorker([cb_queue.rq_queue(redis_conn)], connection=redis_conn, services=services)
    worker.work(burst=True)


def staff_accepts_talks_and_the_caller_hangs_up(phone: Phone, staff: str) -> PhoneCall:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("2").press("2")
    if staff == EVA:
        call.expect_dial(ANNA).leg_result("busy")
    call.expect_dial(staff).whisper_press("1").expect_connected(staff)
    phone.clock.advance(240)
    return call.hang_up()


def test_staff_who_took_a_call_get_one_sms_asking_for_the_outcome(
    phone: Phone,
    redis_conn: redis.Redis,
    redis_url: str,
    fake: FakeTwilioApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_env(monkeypatch, worker_env(redis_url, CONFIG_DIR, fake.base_url))
    call = staff_accepts_talks_and_the_caller_hangs_up(phone, ANNA)
    ref = record_of(redis_conn, call).ref

    job = Job.fetch(f"triage-ask-{ref}", connection=redis_conn)
    assert job.func_name == f"{ask_triage.__module__}.{ask_triage.__name__}"
    run_jobs(redis_conn)

    [sms] = fake.messages()
    assert (sms.field("To"), sms.field("From")) == (ANNA, CRISIS_NUMBER)
    assert sms.field("Body") == (
        f"Gesprek {ref} afgerond. Uitkomst? Antwoord T {ref} <code>: 1 advies, "
        "2 actieve_inschatting, 3 ambulant, 4 crisisopvang, 5 opname, 6 doorverwijzing, "
        "7 veilig_thuis, 9 geen_actie"
    )
    assert "5678" not in sms.field("Body")
    # The answered leg counts as answered, though the caller hung up first.
    assert [leg.result for leg in record_of(redis_conn, call).legs] == ["answered"]


def test_a_repeated_dial_action_asks_once(
    phone: Phone, redis_conn: redis.Redis, redis_url: str, fake: FakeTwilioApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    use_env(monkeypatch, worker_env(redis_url, CONFIG_DIR, fake.base_url))
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")
    action = call.expect_dial(ANNA).dial_element.get("action") or ""
    call.whisper_press("1").end_conversation()  # staff hang up first this time
    ended = {"CallSid": call.sim.call_sid, "CallStatus": "completed",
             "DialCallStatus": "completed", "DialBridged": "true"}  # fmt: skip

    phone.post(action, ended)  # Twilio retries the Dial action
    run_jobs(redis_conn)
    phone.post(action, ended)
    run_jobs(redis_conn)

    assert [m.field("To") for m in fake.messages()] == [ANNA]


def test_no_sms_to_staff_with_sms_off_or_when_nobody_took_the_call(
    tmp_path: Path,
    redis_conn: redis.Redis,
    redis_url: str,
    fake: FakeTwilioApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = copy_config(tmp_path / "config", {"teams.yaml": [
        ('mobile: "+31 6 1000 0005",', 'mobile: "+31 6 1000 0005", sms: false,')]})  # fmt: skip
    use_env(monkeypatch, worker_env(redis_url, config, fake.base_url))
    phone = Phone(make_app(config_dir=config, redis_url=redis_url))

    staff_accepts_talks_and_the_caller_hangs_up(phone, EVA)  # Eva has sms: false
    declined = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")
    declined.expect_dial(ANNA).whisper_press("5")  # picked up, did not accept
    declined.expect_dial(EVA).hang_up()
    run_jobs(redis_conn)

    assert fake.messages() == []
    assert len(cb_queue.rq_queue(redis_conn).finished_job_registry) == 1  # Eva's, sent nothing
