"""End to end: the real app under gunicorn, driven over HTTP like Twilio drives it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from twilio.request_validator import RequestValidator

from callrouter.devtools.twilio_sim import (
    SIGNATURE_HEADER,
    CallState,
    HttpTransport,
    SimCall,
    Twilio,
)
from tests.e2e.gunicorn import start_app, stop_app
from tests.phone import CONFIG_DIR, CRISIS_NUMBER, PSEUDONYM_KEY, SECRET, TOKEN

pytestmark = pytest.mark.e2e


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = os.environ | {
        "TWILIO_AUTH_TOKEN": TOKEN,
        "CALLROUTER_SECRET": SECRET,
        "CALLROUTER_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "CALLROUTER_CONFIG_DIR": str(CONFIG_DIR),
        "CALLROUTER_DRY_RUN": "1",
        "REDIS_URL": redis_url,
    }
    log = tmp_path_factory.mktemp("voice-e2e") / "gunicorn.log"
    process, url = start_app(env, log)
    try:
        yield Server(url, process)
    finally:
        stop_app(process)
    output = log.read_text(errors="replace")
    assert "Traceback" not in output, output


def test_a_whole_call_over_http(server: Server) -> None:
    transport = HttpTransport()
    call = SimCall(Twilio(transport, TOKEN, server.url), "+31612345678", CRISIS_NUMBER)

    call.start()
    assert "1 1 2" in " ".join(call.heard())
    call.press("1").press("1")  # for myself, under 18: the CIT, at any hour
    assert call.state is CallState.RINGING and call.dialling is not None
    assert call.dialling.caller_id == CRISIS_NUMBER and call.dialling.answer_on_bridge
    call.pick_up(0, "1")
    assert call.connected_to == call.dialling.numbers[0].number
    assert "Jonger dan 18" in " ".join(call.heard("staff"))
    call.end_conversation()
    transport.close()

    assert call.ended_how == "the service hung up"


CALL = {"CallSid": "CA1", "From": "+31612345678", "To": CRISIS_NUMBER}


def post_incoming(server: Server, data: dict[str, str], signature: str | None) -> int:
    headers = {SIGNATURE_HEADER: signature} if signature is not None else {}
    return requests.post(
        f"{server.url}/voice/incoming", data=data, headers=headers, timeout=5
    ).status_code


def signature(server: Server, token: str = TOKEN) -> str:
    url = f"{server.url}/voice/incoming"
    return str(RequestValidator(token).compute_signature(url, CALL))


def test_a_signed_request_is_served(server: Server) -> None:
    assert post_incoming(server, CALL, signature(server)) == 200


def test_a_request_without_signature_is_refused(server: Server) -> None:
    assert post_incoming(server, CALL, None) == 403


def test_a_forged_signature_is_refused(server: Server) -> None:
    assert post_incoming(server, CALL, signature(server, token="not-the-token")) == 403


def test_a_tampered_request_is_refused(server: Server) -> None:
    assert post_incoming(server, CALL | {"From": "+31687654321"}, signature(server)) == 403
