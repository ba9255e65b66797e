"""End to end: a call nobody answers becomes a callback that staff claim by SMS and
the service bridges, with every part real except the phone network.

gunicorn serves the app over HTTP; a real `rq worker --with-scheduler` runs the
jobs; Redis is real; Twilio's REST API is the fake (through the real twilio
Client), and Twilio's webhooks are played by the simulator (signed with
RequestValidator, following the TwiML verb by verb), first for the caller's
call, then for the outbound call to the staff member that the worker placed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.store import CallbackStore
from callrouter.devtools.twilio_sim import CallState, HttpTransport, SimCall, Twilio
from tests.callbacks_kit import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    ILSE,
    SECRET,
    RqWorker,
    make_config_dir,
    path_of,
    wait_until,
    worker_env,
)
from tests.e2e.gunicorn import start_app, stop_app
from tests.fakes.twilio_api import FakeTwilioApi
from tests.phone import CRISIS_NUMBER, PSEUDONYM_KEY

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CALLER = "+31612340077"
CALLER_DIGITS = "612340077"
SAMPLE_CALLBACKS = (
    (ROOT / "config" / "callbacks.yaml").read_text().replace("var/spool/callbacks", "{spool}")
)


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi(credentials=(ACCOUNT_SID, AUTH_TOKEN)) as api:
        yield api


def test_call_nobody_answers_callback_confirmed_sms_sent_reply_claims_bridged_call_placed(
    tmp_path: Path, redis_url: str, redis_conn: redis.Redis, fake: FakeTwilioApi
) -> None:
    config_dir = make_config_dir(tmp_path, SAMPLE_CALLBACKS, stable_rotas=True)
    port_env = worker_env(redis_url, config_dir, fake.base_url)
    web_log, worker_log = tmp_path / "gunicorn.log", tmp_path / "worker.log"
    web_env = {
        k: v
        for k, v in port_env.items()
        if k not in ("TWILIO_ACCOUNT_SID", "TWILIO_API_BASE_URL", "CALLROUTER_PUBLIC_BASE_URL")
    }
    web_env.update(
        {
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "CALLROUTER_PSEUDONYM_KEY": PSEUDONYM_KEY,
            "CALLROUTER_DRY_RUN": "1",
            "CALLROUTER_SECRET": SECRET,
        }
    )
    web, url = start_app(web_env, web_log)
    worker = RqWorker(
        redis_url,
        port_env | {"CALLROUTER_PUBLIC_BASE_URL": url, "CALLROUTER_PSEUDONYM_KEY": PSEUDONYM_KEY},
        worker_log,
    ).start()
    transport = HttpTransport()
    twilio = Twilio(transport, AUTH_TOKEN, url)
    try:
        # 1. A resident calls about someone under 18 (the CIT, at any hour); nobody answers.
        call = SimCall(twilio, CALLER, CRISIS_NUMBER).start()
        call.press("1").press("1")
        while call.state is CallState.RINGING:
            call.ring_out("no-answer")
        heard = " ".join(call.heard())
        assert "eindigt op 0 0 7 7" in heard, heard

        # 2. The caller confirms their own number and hears when to expect the call.
        call.press("1")
        assert "binnen 20 minuten" in " ".join(call.heard()) and call.state is CallState.ENDED
        store = CallbackStore(redis_conn)
        [request] = store.active()
        assert (request.number, request.call_sid) == (CALLER, call.call_sid)

        # 3. The worker texts the on-call CIT worker, with a masked number and a claim code.
        [sms] = fake.wait_for("messages", 1, timeout=15)
        assert sms.field("To") == ILSE and sms.field("From") == CRISIS_NUMBER
        assert f"OK {request.code}" in sms.field("Body") and "+31 ***** 00 77" in sms.field("Body")

        # 4. She replies "1" from her own mobile (the worker has recorded what it sent
        #    by then: a person cannot answer an SMS within the milliseconds that takes).
        wait_until(lambda: store.get(request.id).state is State.NOTIFIED, what="notified")  # type: ignore[union-attr]
        reply = twilio.post(
            "/sms/incoming",
            {"From": ILSE, "To": CRISIS_NUMBER, "Body": "1", "MessageSid": "SM" + "1" * 32},
        )
        assert reply is not None and "is van u" in "".join(
            m.text or "" for m in reply.iter("Message")
        )

        # 5. The worker calls her from the crisis number ...
        [bridge] = fake.wait_for("calls", 1, timeout=15)
        assert (bridge.field("To"), bridge.field("From")) == (ILSE, CRISIS_NUMBER)
        assert bridge.field("Url").startswith(f"{url}/voice/callback/bridge/{request.id}/staff")

        # 6. ... she answers, hears who is waiting, presses 1; the caller's phone rings,
        #    showing the crisis number; the caller picks up and is connected.
        staff = SimCall(twilio, CRISIS_NUMBER, ILSE).start(path_of(bridge.field("Url")))
        assert "Druk 1" in " ".join(staff.heard())
        staff.press("1")
        assert staff.dialling is not None and staff.dialling.caller_id == CRISIS_NUMBER
        assert [r.number for r in staff.dialling.numbers] == [CALLER]
        staff.pick_up(0)
        assert staff.state is CallState.CONNECTED
        done = store.get(request.id)
        assert done is not None and (done.state, done.claimed_by, done.outcome) == (
            State.COMPLETED,
            "ilse",
            "reached",
        )
        events = [e.event for e in store.audit(request.id)]
        for event in ("created", "sms_sent", "notify", "claim", "dial", "bridge_placed", "reached"):
            assert event in events, events
        wait_until(
            lambda: len(fake.messages()) == 1, what="no further SMS"
        )  # nobody else was offered it
    finally:
        transport.close()
        worker.stop()
        stop_app(web)
    logs = web_log.read_text(errors="replace") + worker_log.read_text(errors="replace")
    assert CALLER_DIGITS not in logs, "a raw caller number reached a log"
    assert "Traceback" not in web_log.read_text(errors="replace")
