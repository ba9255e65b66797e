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

from callrouter.callbacks import lifecycle as cb
from callrouter.callbacks import service as queueing
from callrouter.callbacks.lifecycle import State
from callrouter.config.files import load
from callrouter.routing.plan import CallerFacts
from tests.callbacks_kit import make_config_dir, signed_post
from tests.helpers import ams
from tests.phone import SECRET, TOKEN, make_app

ANNA, BRAM, CARLA = "+31610000001", "+31610000002", "+31610000003"
CALLER = "+31612344567"
T0 = ams(2026, 4, 28, 10, 0)


@pytest.fixture
def app(tmp_path: Path, redis_conn: redis.Redis, redis_url: str) -> Flask:
    return make_app(make_config_dir(tmp_path), redis_url=redis_url)


@pytest.fixture
def ctx(app: Flask, redis_conn: redis.Redis) -> queueing.CallbackContext:
    config = load(app.config["CONFIG_DIR"])
    return queueing.CallbackContext(
        redis_conn, config, cb.policy_of(config), queueing.pseudonym_key(SECRET)
    )


def offered(ctx: queueing.CallbackContext, *members: str) -> cb.Request:
    """A request whose SMS went to `members` (what the notify job records)."""
    rid = queueing.submit(
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
    app: Flask, ctx: queueing.CallbackContext
) -> None:
    request = offered(ctx, "anna", "bram")
    text = sms(app, ANNA, "1")
    assert text.startswith(f"Terugbelverzoek {request.code} is van u")
    found = ctx.store.get(request.id)
    assert found is not None and (found.state, found.claimed_by) == (State.CLAIMED, "anna")
    assert [e.note for e in ctx.store.audit(request.id) if e.event == "claim"] == ["via sms"]


def test_ok_with_the_code_claims_and_the_next_one_is_told_who_took_it(
    app: Flask, ctx: queueing.CallbackContext
) -> None:
    request = offered(ctx, "anna", "bram")
    assert "is van u" in sms(app, BRAM, f"OK {request.code}")
    assert sms(app, ANNA, f"ok {request.code}") == (
        f"Terugbelverzoek {request.code} is al geclaimd door Bram Jansen (SPV)."
    )


def test_two_claims_at_the_same_moment_have_exactly_one_winner(
    app: Flask, ctx: queueing.CallbackContext
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
        j for j in queueing.rq_queue(ctx.conn).job_ids if j.startswith(f"bridge-{request.id}")
    ]
    assert bridges == [f"bridge-{request.id}-1"]  # one bridged call, not three


def test_an_unknown_number_cannot_claim_and_learns_nothing(
    app: Flask, ctx: queueing.CallbackContext
) -> None:
    request = offered(ctx, "anna")
    text = sms(app, "+31699999999", f"OK {request.code}")
    assert text == cb.UNKNOWN_SENDER_SMS
    assert ctx.store.get(request.id).state is State.REQUESTED  # type: ignore[union-attr]


def test_an_unclear_reply_gets_the_instructions(app: Flask, ctx: queueing.CallbackContext) -> None:
    offered(ctx, "anna")
    assert sms(app, ANNA, "bel ik zo") == cb.HELP_SMS


def test_a_wrong_code_or_nothing_offered_is_said_plainly(
    app: Flask, ctx: queueing.CallbackContext
) -> None:
    assert sms(app, ANNA, "1") == cb.NOTHING_TO_CLAIM_SMS
    assert sms(app, ANNA, "OK 999") == "Code 999 hoort niet bij een open terugbelverzoek."


def test_a_finished_request_cannot_be_claimed(app: Flask, ctx: queueing.CallbackContext) -> None:
    request = offered(ctx, "anna")
    queueing.cancel(ctx, request.id, T0, by="admin")
    assert "niet meer open" in sms(app, ANNA, "1")


def test_redis_down_the_staff_member_is_told_to_try_again(tmp_path: Path) -> None:
    app = make_app(make_config_dir(tmp_path), redis_url="redis://127.0.0.1:9/0")
    assert "storing" in sms(app, ANNA, "1")


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
    app: Flask, ctx: queueing.CallbackContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    request = offered(ctx, "anna")
    sms(app, "+31699999999", "1")
    sms(app, ANNA, f"OK {request.code}")
    assert caplog.records
    assert "699999999" not in caplog.text and "612344567" not in caplog.text
