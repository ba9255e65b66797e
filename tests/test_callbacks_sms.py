"""Claiming by SMS reply, through the real app with signed webhooks."""

from __future__ import annotations

import logging
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import redis
from flask import Flask
from twilio.request_validator import RequestValidator

from callrouter.callbacks import queue as cb_queue
from callrouter.callbacks import service as cb_service
from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.requests import Request, pseudonym_key
from callrouter.callbacks.service import CallbackContext
from callrouter.callbacks.sms_guard import SmsGuard
from callrouter.callbacks.texts import Say, Staff, Texts
from callrouter.config.generation import load as load_generation
from callrouter.routing.plan import CallerFacts
from tests.callbacks_kit import callback_context, make_config_dir, signed_post
from tests.helpers import ams
from tests.phone import SECRET, TOKEN, TestClock, make_app

ANNA, BRAM, CARLA = "+31610000001", "+31610000002", "+31610000003"
CALLER = "+31612344567"
RESIDENT = "+31687654321"
T0 = ams(2026, 4, 28, 10, 0)


@pytest.fixture
def app(tmp_path: Path, redis_conn: redis.Redis, redis_url: str) -> Flask:
    return make_app(make_config_dir(tmp_path), redis_url=redis_url)


@pytest.fixture
def ctx(app: Flask, redis_conn: redis.Redis) -> CallbackContext:
    generation = load_generation(app.config["CONFIG_DIR"])
    config = generation.config
    return callback_context(redis_conn, config, generation.callbacks, pseudonym_key(SECRET))


def offered(ctx: CallbackContext, *members: str) -> Request:
    """A request whose SMS went to `members` (what the notify job records)."""
    rid = cb_service.submit(
        ctx, number=CALLER, facts=CallerFacts("resident", "18+", None), moment=T0
    ).request_id
    for member in members:
        ctx.store.finish_send(
            ctx.store.sms_key(rid, 1, "offer", member), f"SM{member}", offered=(rid, member)
        )
    request = ctx.store.get(rid)
    assert request is not None
    return request


def sms(app: Flask, from_: str, body: str) -> str:
    reply = signed_post(
        app.test_client(),
        "/sms/incoming",
        {"From": from_, "Body": body, "MessageSid": "SM1"},
        token=TOKEN,
    )
    assert reply.status_code == 200 and reply.mimetype == "text/xml"
    root = ET.fromstring(reply.get_data(as_text=True))
    assert root.tag == "Response"
    return "".join(m.text or "" for m in root.iter("Message"))


def test_reply_1_claims_the_last_request_offered_to_that_staff_member(
    app: Flask, ctx: CallbackContext
) -> None:
    request = offered(ctx, "anna", "bram")
    text = sms(app, ANNA, "1")
    assert text.startswith(f"Terugbelverzoek {request.code} is van u")
    found = ctx.store.get(request.id)
    assert found is not None and (found.state, found.claimed_by) == (State.CLAIMED, "anna")
    assert [e.note for e in ctx.store.audit(request.id) if e.event == "claim"] == ["via sms"]


def test_ok_with_the_code_claims_and_the_next_one_is_told_who_took_it(
    app: Flask, ctx: CallbackContext
) -> None:
    request = offered(ctx, "anna", "bram")
    assert "is van u" in sms(app, BRAM, f"OK {request.code}")
    assert sms(app, ANNA, f"ok {request.code}") == (
        f"Terugbelverzoek {request.code} is al geclaimd door Bram Jansen (SPV)."
    )


def test_two_claims_at_the_same_moment_have_exactly_one_winner(
    app: Flask, ctx: CallbackContext
) -> None:
    request = offered(ctx, "anna", "bram", "carla")
    replies: dict[str, str] = {}
    start = threading.Barrier(3)

    def claim(number: str) -> None:
        start.wait()
        replies[number] = sms(app, number, f"OK {request.code}")

    threads = [threading.Thread(target=claim, args=(n,)) for n in (ANNA, BRAM, CARLA)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [n for n, text in replies.items() if "is van u" in text]
    assert len(winners) == 1
    found = ctx.store.get(request.id)
    assert found is not None and found.state is State.CLAIMED
    winner_name = {
        ANNA: "Anna de Vries (SPV)",
        BRAM: "Bram Jansen (SPV)",
        CARLA: "Carla Bakker (VS)",
    }[winners[0]]
    for number, text in replies.items():
        if number not in winners:
            assert text == f"Terugbelverzoek {request.code} is al geclaimd door {winner_name}."
    bridges = [
        j for j in cb_queue.rq_queue(ctx.conn).job_ids if j.startswith(f"bridge-{request.id}")
    ]
    assert bridges == [f"bridge-{request.id}-1"]  # one bridged call, not three


def texts(ctx: CallbackContext) -> Texts:
    return ctx.policy.texts


def test_a_resident_who_texts_gets_one_reply_a_day_on_how_to_reach_help(
    app: Flask, ctx: CallbackContext
) -> None:
    """Issue 9: every SMS from anyone got an answer saying the number takes claims."""
    request = offered(ctx, "anna")
    first = sms(app, RESIDENT, f"OK {request.code}")
    assert first == texts(ctx).say(Say.RESIDENT_SMS, "nl")
    assert "112" in first and "113" in first and "terugbel" not in first.lower()
    assert sms(app, RESIDENT, "hallo?") == ""
    assert sms(app, RESIDENT, "1") == ""
    assert ctx.store.get(request.id).state is State.REQUESTED  # type: ignore[union-attr]
    app.config["CLOCK"].advance(86400)
    assert sms(app, RESIDENT, "hallo?") == first


def test_an_unclear_reply_gets_the_instructions(app: Flask, ctx: CallbackContext) -> None:
    offered(ctx, "anna")
    assert sms(app, ANNA, "bel ik zo") == texts(ctx).staff(Staff.HELP)


def test_the_sms_number_stops_answering_after_five_replies_that_ask_for_nothing(
    app: Flask, ctx: CallbackContext
) -> None:
    """Issue 9: 600 of 600 messages got a reply. Five, then quiet until a real message."""
    answers = [sms(app, ANNA, f"wat is dit {n}") for n in range(8)]
    assert answers[:5] == [texts(ctx).staff(Staff.HELP)] * 5
    assert answers[5:] == ["", "", ""]
    SmsGuard(ctx.conn, ctx.pseudonym, ctx.policy.limits).spoke(ANNA)  # an offer went out
    assert sms(app, ANNA, "en nu?") == texts(ctx).staff(Staff.HELP)


def test_a_wrong_code_or_nothing_offered_gets_one_neutral_answer(
    app: Flask, ctx: CallbackContext
) -> None:
    neutral = texts(ctx).staff(Staff.NOTHING_TO_CLAIM)
    assert sms(app, ANNA, "1") == neutral
    assert sms(app, ANNA, "OK 999999") == neutral


def test_a_member_never_offered_the_request_cannot_claim_it_and_learns_nothing(
    app: Flask, ctx: CallbackContext
) -> None:
    """Issue 9: a member of another team guessed codes and claimed an adult request."""
    request = offered(ctx, "anna")
    gijs = "+31610000011"  # IHT Cuijk: never offered this request
    assert sms(app, gijs, f"OK {request.code}") == texts(ctx).staff(Staff.NOTHING_TO_CLAIM)
    assert ctx.store.get(request.id).state is State.REQUESTED  # type: ignore[union-attr]


def test_walking_the_code_space_is_stopped_after_a_few_wrong_codes(
    app: Flask, ctx: CallbackContext
) -> None:
    request = offered(ctx, "anna")
    wrong = [c for c in (f"{n:06d}" for n in range(100000, 100010)) if c != request.code]
    for code in wrong[: ctx.policy.limits.wrong_codes]:
        sms(app, ANNA, f"OK {code}")
    blocked = sms(app, ANNA, f"OK {request.code}")  # the right code, but too late
    assert blocked in ("", texts(ctx).staff(Staff.NOTHING_TO_CLAIM))  # quiet by now, or neutral
    assert ctx.store.get(request.id).state is State.REQUESTED  # type: ignore[union-attr]
    app.config["CLOCK"].advance(ctx.policy.limits.wrong_codes_seconds + 1)
    assert "is van u" in sms(app, ANNA, f"OK {request.code}")


def test_a_member_absent_in_the_rota_cannot_claim(
    tmp_path: Path, redis_conn: redis.Redis, redis_url: str
) -> None:
    """Bram is on sick leave from 30 November to 5 December in the sample rota."""
    app = make_app(
        make_config_dir(tmp_path),
        redis_url=redis_url,
        CLOCK=TestClock(ams(2026, 12, 1, 10, 0)),
    )
    generation = load_generation(app.config["CONFIG_DIR"])
    config = generation.config
    ctx = callback_context(redis_conn, config, generation.callbacks, pseudonym_key(SECRET))
    request = offered(ctx, "anna", "bram")
    assert sms(app, BRAM, f"OK {request.code}") == texts(ctx).staff(Staff.NOTHING_TO_CLAIM)
    assert "is van u" in sms(app, ANNA, f"OK {request.code}")


def test_a_finished_request_cannot_be_claimed(app: Flask, ctx: CallbackContext) -> None:
    request = offered(ctx, "anna")
    cb_service.cancel(ctx, request.id, T0, by="admin")
    assert "niet meer open" in sms(app, ANNA, "1")


def test_redis_down_the_staff_member_is_told_to_try_again(tmp_path: Path) -> None:
    app = make_app(make_config_dir(tmp_path), redis_url="redis://127.0.0.1:9/0")
    assert "storing" in sms(app, ANNA, "1")
    assert sms(app, "+31699999999", "1") == ""  # a stranger learns nothing, even then


def test_forged_sms_webhook_is_refused(app: Flask) -> None:
    params = {"From": ANNA, "Body": "1"}
    forged = RequestValidator("nope").compute_signature("http://localhost/sms/incoming", params)
    assert (
        app.test_client()
        .post("/sms/incoming", data=params, headers={"X-Twilio-Signature": forged})
        .status_code
        == 403
    )


def test_no_raw_numbers_in_the_logs(
    app: Flask, ctx: CallbackContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    request = offered(ctx, "anna")
    sms(app, "+31699999999", "1")
    sms(app, ANNA, f"OK {request.code}")
    assert caplog.records
    assert "699999999" not in caplog.text and "612344567" not in caplog.text
