"""The callback webhooks through the real app, driven like Twilio drives them.

The caller's side starts where every leg failed (the voice flow's final step)
and is checked as the caller hears it; the bridged call is played as Twilio
plays an outbound call to the staff member. Every document is checked against
Twilio's TwiML schema (tests/phone.py).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import redis
from flask import Flask
from twilio.request_validator import RequestValidator

from callrouter import spool_replay
from callrouter.callbacks import service as cb_service
from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.queue import rq_queue
from callrouter.callbacks.requests import Route, pseudonym_key
from callrouter.callbacks.store import CallbackStore
from callrouter.config.generation import load as load_generation
from callrouter.devtools.redis_server import EmbeddedRedis
from callrouter.devtools.twilio_sim import SimCall
from callrouter.routing.plan import CallerFacts
from callrouter.web.app import SERVICES
from tests.callbacks_kit import (
    CONFIG_DIR,
    callback_context,
    make_config_dir,
    signed_post,
    wait_until,
)
from tests.helpers import ams
from tests.phone import CRISIS_NUMBER, FALLBACK_LINE, SECRET, TOKEN, Phone, PhoneCall, make_app

RESIDENT = "+31612345678"
RESIDENT_DIGITS = "612345678"
ANNA, EVA = "+31610000001", "+31610000005"
TUESDAY_10 = ams(2026, 4, 28, 10, 0)
ADMIN = "admin-secret-token"
SAMPLE_CALLBACKS = (
    (CONFIG_DIR / "callbacks.yaml").read_text().replace("var/spool/callbacks", "{spool}")
)


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def app(tmp_path: Path, redis_conn: redis.Redis, redis_url: str) -> Flask:
    return make_app(
        make_config_dir(tmp_path, SAMPLE_CALLBACKS), redis_url=redis_url, ADMIN_TOKEN=ADMIN
    )


@pytest.fixture
def phone(app: Flask) -> Phone:
    return Phone(app)


def nobody_answers(phone: Phone, from_: str = RESIDENT) -> PhoneCall:
    """A resident calls on Tuesday 10:00; the on-call SPV and the psychiatrist don't answer."""
    call = phone.dial(from_=from_, at=TUESDAY_10).press("1").press("2")
    call.expect_dial(ANNA).leg_result("no-answer")
    call.expect_dial(EVA).leg_result("no-answer")
    return call


def store(redis_conn: redis.Redis) -> CallbackStore:
    return CallbackStore(redis_conn)


# --------------------------------------------------------------------------- the caller's side


def test_nobody_answers_the_caller_confirms_their_number_and_hears_when_to_expect_the_call(
    phone: Phone, redis_conn: redis.Redis
) -> None:
    call = nobody_answers(phone)
    call.expect_say("niemand beschikbaar").expect_say("nummer dat eindigt op 5678").expect_say(
        "Druk 1"
    )
    call.press("1")
    call.expect_say("binnen 20 minuten terug").expect_say("nummer van de crisislijn").expect_say(
        "112"
    )
    call.expect_ended()

    [request] = store(redis_conn).active()
    assert (request.number, request.caller_type, request.age_group, request.call_sid) == (
        RESIDENT,
        "resident",
        "18+",
        call.sim.call_sid,
    )
    assert request.routes[0] == Route("iht", "eerste_lijn", True)


def test_another_number_is_checked_read_back_and_confirmed(
    phone: Phone, redis_conn: redis.Redis
) -> None:
    call = nobody_answers(phone).press("2")
    call.expect_say("Toets het telefoonnummer in")
    call.press("0900123456").expect_say("servicenummers").expect_say("Toets het telefoonnummer in")
    call.press("0031499123456").expect_say("U toetste 0499123456").press("1")
    call.expect_say("genoteerd").expect_ended()
    [request] = store(redis_conn).active()
    assert request.number == "+31499123456"


@pytest.mark.parametrize(
    ("typed", "explanation"),
    [
        ("112", "korte nummers en servicenummers"),
        ("06123", "geen volledig telefoonnummer"),
        ("+32470123456", "alleen naar Nederlandse nummers"),
        ("0032470123456", "alleen naar Nederlandse nummers"),
    ],
)
def test_unusable_numbers_are_refused_with_a_spoken_reason(
    phone: Phone, typed: str, explanation: str
) -> None:
    nobody_answers(phone).press("2").press(typed).expect_say(explanation)


def test_three_wrong_numbers_and_the_caller_is_put_through_to_a_person(phone: Phone) -> None:
    call = nobody_answers(phone).press("2").press("112").press("113")
    call.expect_say("verbinden u door").expect_dial(FALLBACK_LINE)


def test_silence_at_the_offer_puts_the_caller_through_never_a_loop(phone: Phone) -> None:
    call = nobody_answers(phone)
    call.silence().expect_say("Wilt u teruggebeld worden").silence()
    call.expect_say("verbinden u door").expect_dial(FALLBACK_LINE)


def test_pressing_3_puts_the_caller_through_now(phone: Phone) -> None:
    nobody_answers(phone).press("3").expect_dial(FALLBACK_LINE)


def test_a_withheld_number_is_asked_for(phone: Phone, redis_conn: redis.Redis) -> None:
    call = phone.dial(from_="anonymous", at=TUESDAY_10).press("1").press("2")
    call.expect_dial(ANNA).leg_result("busy")
    call.expect_dial(EVA).leg_result("no-answer")
    call.expect_say("Wilt u een nummer invoeren").press("2").press("0612344567").press("1")
    call.expect_say("genoteerd")
    assert [r.number for r in store(redis_conn).active()] == ["+31612344567"]


def test_the_same_caller_asking_again_hears_the_same_and_makes_no_second_request(
    phone: Phone, redis_conn: redis.Redis
) -> None:
    nobody_answers(phone).press("1").expect_say("genoteerd")
    nobody_answers(phone).press("1").expect_say("genoteerd")
    [request] = store(redis_conn).active()
    assert [e.event for e in store(redis_conn).audit(request.id)] == ["created"]


def test_a_stranger_learns_nothing_about_another_numbers_request(
    phone: Phone, redis_conn: redis.Redis
) -> None:
    """Issue 9: typing someone else's number told whether it had an open request
    ("U had al een terugbelverzoek") and bumped its count."""
    nobody_answers(phone).press("1").expect_say("genoteerd")
    fresh = nobody_answers(phone, from_="+31687654321").press("2").press("0499123456").press("1")
    stranger = nobody_answers(phone, from_="+31687654322").press("2").press("0612345678")
    stranger.press("1")
    assert stranger.sim.heard()[-3:] == fresh.sim.heard()[-3:]  # word for word as a new request
    mine = [r for r in store(redis_conn).active() if r.number == RESIDENT]
    assert len(mine) == 1
    assert [e.event for e in store(redis_conn).audit(mine[0].id)] == ["created"]


def test_a_caller_over_the_rate_limit_is_put_through_to_a_person(
    phone: Phone, app: Flask, redis_conn: redis.Redis
) -> None:
    for _ in range(3):
        nobody_answers(phone).press("1").expect_say("genoteerd")
        for request in store(redis_conn).active():
            redis_conn.hset(CallbackStore.key_for(request.id), "state", "cancelled")
            redis_conn.srem("cb:active", request.id)
    call = nobody_answers(phone).press("1")
    call.expect_say("Wij verbinden u nu door").expect_dial(FALLBACK_LINE)


def test_one_caller_typing_many_numbers_is_put_through_after_the_limit(
    phone: Phone, redis_conn: redis.Redis
) -> None:
    """Issue 9: one caller typing 50 different numbers created 50 requests."""
    for n in range(3):
        nobody_answers(phone).press("2").press(f"049912345{n}").press("1").expect_say("genoteerd")
    call = nobody_answers(phone).press("2").press("0499123459").press("1")
    call.expect_say("Wij verbinden u nu door").expect_dial(FALLBACK_LINE)
    assert len(store(redis_conn).active()) == 3


def test_a_full_queue_puts_callers_through_and_alerts_the_coordinator_once(
    tmp_path: Path, redis_conn: redis.Redis, redis_url: str
) -> None:
    """Issue 9: 900 callers ran the claim codes out; the service then took it for a
    Redis outage, spooled genuine callers and told no one."""
    app = make_app(
        make_config_dir(tmp_path, SAMPLE_CALLBACKS.replace("open: 100", "open: 2")),
        redis_url=redis_url,
    )
    phone = Phone(app)
    for n in range(2):
        nobody_answers(phone, from_=f"+3168765432{n}").press("1").expect_say("genoteerd")
    for n in range(2, 5):
        call = nobody_answers(phone, from_=f"+3168765432{n}").press("1")
        call.expect_say("Wij verbinden u nu door").expect_dial(FALLBACK_LINE)
    assert len(store(redis_conn).active()) == 2
    assert not list((tmp_path / "spool").glob("*.jsonl"))  # never taken for an outage
    alerts = [j for j in rq_queue(redis_conn).job_ids if j.startswith("flood-alert-")]
    assert len(alerts) == 1


def test_with_redis_gone_after_the_offer_the_request_is_spooled_and_replayed_later(
    tmp_path: Path, spool_dir: Path
) -> None:
    with EmbeddedRedis(appendonly=True) as server:
        app = make_app(make_config_dir(tmp_path, SAMPLE_CALLBACKS), redis_url=server.url)
        phone = Phone(app)
        call = nobody_answers(phone)
        server.stop()
        call.press("1")
        call.expect_say("opgeslagen").expect_say("storing").expect_say("Druk 1")
        assert (spool_dir / "spool.jsonl").exists()
        call.press("1").expect_dial(FALLBACK_LINE)  # the caller chose not to wait

        server.start()
        conn = redis.Redis.from_url(server.url)
        nobody_answers(phone, from_="+31687654321").press("1").expect_say("genoteerd")
        ticker = spool_replay.start(app.extensions[SERVICES], every=0.1)  # as production_app
        try:  # the web process's replay, not the caller's webhook, feeds the spool in
            wait_until(lambda: not list(spool_dir.glob("*.jsonl")), what="the spool replayed")
        finally:
            ticker.stop()
        numbers = sorted(r.number for r in CallbackStore(conn).active())
        assert numbers == ["+31612345678", "+31687654321"]
        assert not list(spool_dir.glob("*.jsonl"))
        conn.close()


def test_forged_webhooks_are_refused(app: Flask) -> None:
    client = app.test_client()
    params = {"CallSid": "CA1", "From": RESIDENT, "Digits": "1"}
    forged = RequestValidator("not-the-token").compute_signature(
        "http://localhost/voice/callback/choice", params
    )
    assert (
        client.post(
            "/voice/callback/choice", data=params, headers={"X-Twilio-Signature": forged}
        ).status_code
        == 403
    )
    assert client.post("/voice/callback/number/check", data=params).status_code == 403
    assert client.post("/voice/callback/bridge/abc/staff?attempt=1", data=params).status_code == 403


def test_no_raw_caller_number_in_the_logs(phone: Phone, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    nobody_answers(phone).press("1").expect_say("genoteerd")
    nobody_answers(phone).press("2").press("0900123456").press("0612344567").press("1")
    assert caplog.records
    assert RESIDENT_DIGITS not in caplog.text and "612344567" not in caplog.text


# --------------------------------------------------------------------------- the bridged call


def claimed_request(app: Flask, redis_conn: redis.Redis, member: str = "anna") -> str:
    """A request for RESIDENT, claimed by `member`, attempt 1 dialling (what place_bridge did)."""
    generation = load_generation(app.config["CONFIG_DIR"])
    config = generation.config
    ctx = callback_context(redis_conn, config, generation.callbacks, pseudonym_key(SECRET))
    rid = cb_service.submit(
        ctx, number=RESIDENT, facts=CallerFacts("huisarts", "18+", "nijmegen"), moment=TUESDAY_10
    ).request_id
    assert cb_service.claim(ctx, rid, member, TUESDAY_10, via="cli").won
    assert cb_service.dial(ctx, rid, 1, TUESDAY_10).ok
    return rid


def staff_answers(phone: Phone, rid: str, attempt: int = 1) -> SimCall:
    """Twilio's outbound call to the staff member is answered: it fetches our staff TwiML."""
    sim = SimCall(phone.twilio, CRISIS_NUMBER, ANNA)
    return sim.start(f"/voice/callback/bridge/{rid}/staff?attempt={attempt}")


def test_bridge_staff_hears_who_waits_presses_1_and_the_caller_sees_the_crisis_number(
    app: Flask, phone: Phone, redis_conn: redis.Redis
) -> None:
    rid = claimed_request(app, redis_conn)
    code = store(redis_conn).get(rid).code  # type: ignore[union-attr]
    sim = staff_answers(phone, rid)
    heard = " ".join(sim.heard())
    assert f"terugbelverzoek {' '.join(code)}" in heard or f"terugbelverzoek {code}" in heard
    assert "Huisarts of huisartsenpost" in heard and "Druk 1" in heard
    assert RESIDENT_DIGITS not in heard.replace(" ", "")

    sim.press("1")
    assert sim.dialling is not None
    assert [r.number for r in sim.dialling.numbers] == [RESIDENT]
    assert sim.dialling.caller_id == CRISIS_NUMBER  # never a private mobile

    sim.pick_up(0)  # the caller answers and hears who is calling
    assert sim.state.value == "connected"
    assert "teruggebeld door de crisislijn" in " ".join(sim.heard("staff"))
    request = store(redis_conn).get(rid)
    assert request is not None and (request.state, request.outcome) == (State.COMPLETED, "reached")


def test_caller_not_answering_puts_the_request_back_in_the_queue(
    app: Flask, phone: Phone, redis_conn: redis.Redis
) -> None:
    rid = claimed_request(app, redis_conn)
    sim = staff_answers(phone, rid).press("1")
    sim.ring_out("no-answer")
    assert "terug in de wachtrij" in " ".join(sim.heard())
    request = store(redis_conn).get(rid)
    assert request is not None
    assert (request.state, request.epoch, request.outcome, request.claimed_by) == (
        State.REQUESTED,
        2,
        "caller-no-answer",
        None,
    )


def test_staff_voicemail_never_connects_the_caller(
    app: Flask, phone: Phone, redis_conn: redis.Redis
) -> None:
    rid = claimed_request(app, redis_conn)
    sim = staff_answers(phone, rid).silence()  # a voicemail greeting, no key
    assert sim.state.value == "ended"
    request = store(redis_conn).get(rid)
    assert request is not None and (request.state, request.outcome) == (
        State.REQUESTED,
        "staff-no-input",
    )


def test_staff_not_answering_is_reported_by_the_status_callback(
    app: Flask, phone: Phone, redis_conn: redis.Redis
) -> None:
    rid = claimed_request(app, redis_conn)
    phone.post(
        f"/voice/callback/bridge/{rid}/status?attempt=1",
        {"CallSid": "CA2", "CallStatus": "no-answer"},
    )
    request = store(redis_conn).get(rid)
    assert request is not None and (request.state, request.outcome) == (
        State.REQUESTED,
        "staff-no-answer",
    )
    # the same report again, or one about an older attempt, changes nothing
    phone.post(
        f"/voice/callback/bridge/{rid}/status?attempt=1",
        {"CallSid": "CA2", "CallStatus": "no-answer"},
    )
    assert store(redis_conn).get(rid).epoch == 2  # type: ignore[union-attr]


def test_a_stale_bridge_attempt_is_told_it_is_over(
    app: Flask, phone: Phone, redis_conn: redis.Redis
) -> None:
    rid = claimed_request(app, redis_conn)
    sim = staff_answers(phone, rid, attempt=7)
    assert "niet meer actief" in " ".join(sim.heard()) and sim.state.value == "ended"


# --------------------------------------------------------------------------- admin API


def test_admin_api_needs_the_token(app: Flask, redis_conn: redis.Redis) -> None:
    client = app.test_client()
    assert client.get("/api/callbacks").status_code == 401
    assert (
        client.get("/api/callbacks", headers={"Authorization": "Bearer wrong"}).status_code == 401
    )
    assert (
        client.get("/api/callbacks", headers={"Authorization": f"Bearer {ADMIN}"}).status_code
        == 200
    )


def test_admin_api_without_a_configured_token_refuses_everything(
    tmp_path: Path, redis_url: str
) -> None:
    app = make_app(make_config_dir(tmp_path, SAMPLE_CALLBACKS), redis_url=redis_url)
    assert (
        app.test_client().get("/api/callbacks", headers={"Authorization": "Bearer "}).status_code
        == 401
    )


def test_admin_api_lists_claims_releases_and_cancels(
    app: Flask, phone: Phone, redis_conn: redis.Redis
) -> None:
    nobody_answers(phone).press("1")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {ADMIN}"}
    [item] = client.get("/api/callbacks", headers=auth).json["callbacks"]  # type: ignore[index]
    assert item["number"] == "+31 ***** 56 78" and item["state"] == "requested"
    assert RESIDENT_DIGITS not in json.dumps(item)

    won = client.post(f"/api/callbacks/{item['code']}/claim", json={"member": "bram"}, headers=auth)
    assert (won.status_code, won.json) == (200, {"won": True, "holder": "bram"})
    lost = client.post(f"/api/callbacks/{item['id']}/claim", json={"member": "anna"}, headers=auth)
    assert (lost.status_code, lost.json) == (409, {"won": False, "holder": "bram"})
    assert (
        client.post(f"/api/callbacks/{item['id']}/release", headers=auth).json["state"]
        == "requested"
    )
    assert client.post(
        f"/api/callbacks/{item['id']}/cancel", json={"reason": "duplicate"}, headers=auth
    ).json == {"ok": True, "state": "cancelled"}
    assert [e.note for e in store(redis_conn).audit(item["id"]) if e.event == "cancel"] == [
        "cancelled: duplicate"
    ]
    assert client.post("/api/callbacks/nope/cancel", headers=auth).status_code == 404


def test_the_app_factory_wires_the_callback_offer(app: Flask) -> None:
    from callrouter.web import voice

    offer = app.extensions[voice.EXTENSION].callback_offer
    assert offer.web is app.extensions["callrouter.callbacks"]
    assert TOKEN == app.config["TWILIO_AUTH_TOKEN"]


@pytest.mark.parametrize(
    "body",
    [
        "[1, 2]",
        '"claim"',
        "42",
        "null",
        "{not json",
        "[" * 5000 + "]" * 5000,
        '{"member": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"member": {"id": "bram"}}',
        '{"reason": "Jan belde zelf terug op 0612345678"}',
    ],
)
@pytest.mark.parametrize("action", ["claim", "release", "cancel"])
def test_admin_api_answers_a_body_that_is_not_a_plain_object_with_400(
    app: Flask, phone: Phone, redis_conn: redis.Redis, body: str, action: str
) -> None:
    """Issue 9: a JSON body that was not an object, or nested 5,000 deep, was a 500."""
    nobody_answers(phone).press("1")
    [request] = store(redis_conn).active()
    reply = app.test_client().post(
        f"/api/callbacks/{request.id}/{action}",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    if action == "release" and body.startswith('{"reason"'):
        assert reply.status_code == 409  # a plain object: the release itself is refused
    else:
        assert reply.status_code == 400, reply.get_data(as_text=True)
    assert store(redis_conn).get(request.id).state is State.REQUESTED  # type: ignore[union-attr]


def test_a_bridge_status_with_a_garbled_attempt_is_a_400_not_a_500(
    app: Flask, phone: Phone, redis_conn: redis.Redis
) -> None:
    rid = claimed_request(app, redis_conn)
    for attempt in ("x", "1.5", "-1", "", "9" * 30):
        reply = signed_post(
            app.test_client(),
            f"/voice/callback/bridge/{rid}/status?attempt={attempt}",
            {"CallSid": "CA2", "CallStatus": "no-answer"},
            token=TOKEN,
        )
        assert reply.status_code == 400
    assert store(redis_conn).get(rid).state is State.CALLING  # type: ignore[union-attr]


def test_the_caller_side_of_a_bridge_with_redis_down_still_connects(tmp_path: Path) -> None:
    """Issue 9: the caller's side of a bridged call with Redis down was a 500 (100 of 100)."""
    app = make_app(make_config_dir(tmp_path, SAMPLE_CALLBACKS), redis_url="redis://127.0.0.1:9/0")
    reply = signed_post(
        app.test_client(),
        "/voice/callback/bridge/0123456789ab/caller?attempt=1",
        {"CallSid": "CA3", "From": CRISIS_NUMBER, "To": RESIDENT},
        token=TOKEN,
    )
    assert reply.status_code == 200
    assert "teruggebeld door de crisislijn" in reply.get_data(as_text=True)


def test_the_caller_side_of_a_bridge_connects_whatever_fails(
    app: Flask, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any failure on the called-back caller's leg (not only Redis) still connects them."""
    rid = claimed_request(app, redis_conn)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cb_service, "reached", broken)
    reply = signed_post(
        app.test_client(),
        f"/voice/callback/bridge/{rid}/caller?attempt=1",
        {"CallSid": "CA3", "From": CRISIS_NUMBER, "To": RESIDENT},
        token=TOKEN,
    )
    assert reply.status_code == 200
    assert "<Hangup" not in reply.get_data(as_text=True)  # nothing ends the call: it connects


def test_a_typed_number_is_forgotten_once_confirmed(phone: Phone, redis_conn: redis.Redis) -> None:
    """Issue 9: the typed number stayed in Redis 15 minutes after the caller confirmed."""
    nobody_answers(phone).press("2").press("0499123456").press("1").expect_say("genoteerd")
    assert redis_conn.keys("cb:typed:*") == []


def test_a_typed_number_is_forgotten_when_the_caller_hangs_up(
    phone: Phone, redis_conn: redis.Redis
) -> None:
    """Issue 9: a caller who hung up before confirming left the typed number for its TTL."""
    call = nobody_answers(phone).press("2").press("0499123456").expect_say("U toetste")
    [key] = redis_conn.keys("cb:typed:*")
    call.hang_up().sim.report_end("completed", 40)  # the number's "call status changes" URL
    assert not redis_conn.exists(key)


def test_a_hang_up_with_redis_down_is_answered_and_the_typed_number_still_expires(
    tmp_path: Path,
) -> None:
    with EmbeddedRedis(appendonly=True) as server:
        app = make_app(make_config_dir(tmp_path, SAMPLE_CALLBACKS), redis_url=server.url)
        call = nobody_answers(Phone(app)).press("2").press("0499123456").expect_say("U toetste")
        server.stop()
        ended = {"CallSid": call.sim.call_sid, "CallStatus": "completed", "CallDuration": "40"}
        reply = signed_post(app.test_client(), "/voice/status", ended, token=TOKEN)
        assert reply.status_code == 204
        server.start()
        with redis.Redis.from_url(server.url) as conn:
            [key] = conn.keys("cb:typed:*")
            assert 0 < conn.ttl(key) <= 120  # the fallback: gone within two minutes
