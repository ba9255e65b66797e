"""`POST /api/calls/<ref>/triage`: the admin API's way to report a call's outcome,
behind the same bearer token as `/api/callbacks`."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flask import Flask
from werkzeug.test import TestResponse

from callrouter.calls.store import CallStore
from tests.helpers import ams
from tests.phone import Phone, make_app

ADMIN = "admin-token-calls-api"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
RESIDENT = "+31612345678"
EVA = "+31610000005"
TUESDAY_10 = ams(2026, 4, 28, 10, 0)


@pytest.fixture
def app(redis_conn: redis.Redis, redis_url: str) -> Flask:
    return make_app(redis_url=redis_url, ADMIN_TOKEN=ADMIN)


@pytest.fixture
def ref(app: Flask, redis_conn: redis.Redis) -> str:
    """A relative reached Eva (the backup); the call is over and recorded."""
    call = Phone(app).dial(from_=RESIDENT, at=TUESDAY_10).press("2").press("2")
    call.expect_dial("+31610000001").leg_result("no-answer")
    call.expect_dial(EVA).whisper_press("1").end_conversation()
    call.sim.report_end("completed", 300)
    [record] = CallStore(redis_conn, None).records(ams(2026, 4, 28), ams(2026, 4, 29))
    return record.ref


def post(app: Flask, path: str, body: Any, headers: dict[str, str] | None = None) -> TestResponse:
    return app.test_client().post(path, json=body, headers=AUTH if headers is None else headers)


def test_an_outcome_reported_by_api_is_stored_and_returned(
    app: Flask, ref: str, redis_conn: redis.Redis
) -> None:
    app.config["CLOCK"].moment = ams(2026, 4, 28, 10, 30)
    reply = post(app, f"/api/calls/{ref}/triage",
                 {"code": "advies", "by": "eva", "note": "rustig gesprek"})  # fmt: skip

    assert reply.status_code == 201
    body = reply.get_json()
    assert body["ref"] == ref and body["call_sid"].startswith("CA")
    assert {k: body[k] for k in ("code", "label", "by", "via", "at")} == {
        "code": "advies", "label": "Advies (telefonisch afgehandeld)", "by": "eva",
        "via": "api", "at": "2026-04-28T10:30:00+02:00",
    }  # fmt: skip
    [record] = CallStore(redis_conn, None).records(ams(2026, 4, 28), ams(2026, 4, 29))
    assert record.outcome is not None
    assert (record.outcome.code, record.outcome.by, record.outcome.via) == ("advies", "eva", "api")
    assert "rustig" not in str(redis_conn.xrange("callrouter:calls:log"))  # no free text kept


def test_aliases_and_keypad_digits_work_like_in_an_sms(app: Flask, ref: str) -> None:
    assert post(app, f"/api/calls/{ref}/triage", {"code": "iht"}).get_json()["code"] == "ambulant"
    reply = post(app, f"/api/calls/{ref}/triage", {"code": "7"})
    assert (reply.get_json()["code"], reply.get_json()["by"]) == ("veilig_thuis", "admin")


def test_an_unknown_code_is_refused_with_the_valid_codes(app: Flask, ref: str) -> None:
    reply = post(app, f"/api/calls/{ref}/triage", {"code": "opnamee"})

    assert reply.status_code == 400
    body = reply.get_json()
    assert body["error"] == "unknown triage code 'opnamee'" and body["did_you_mean"] == "opname"
    assert body["valid_codes"] == [
        "advies", "actieve_inschatting", "ambulant", "crisisopvang", "opname",
        "doorverwijzing", "veilig_thuis", "geen_actie",
    ]  # fmt: skip
    assert post(app, f"/api/calls/{ref}/triage", {}).status_code == 400
    assert post(app, f"/api/calls/{ref}/triage", "advies").status_code == 400


def test_an_unknown_member_is_refused(app: Flask, ref: str) -> None:
    reply = post(app, f"/api/calls/{ref}/triage", {"code": "advies", "by": "evaa"})

    assert (reply.status_code, reply.get_json()["error"]) == (400, "unknown member 'evaa'")


def test_an_unknown_call_is_404(app: Flask, redis_conn: redis.Redis) -> None:
    reply = post(app, "/api/calls/99999/triage", {"code": "advies"})

    assert reply.status_code == 404
    assert reply.get_json()["error"] == "no call '99999' in the call log"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN}, {"Authorization": "Bearer "}],
    ids=["missing", "wrong", "not-bearer", "empty"],
)
def test_the_api_needs_the_admin_token(
    app: Flask, ref: str, headers: dict[str, str], redis_conn: redis.Redis
) -> None:
    client = app.test_client()
    triage = client.post(f"/api/calls/{ref}/triage", json={"code": "advies"}, headers=headers)
    callbacks = client.get("/api/callbacks", headers=headers)  # the same token guards both

    for reply in (triage, callbacks):
        assert reply.status_code == 401
        assert reply.headers["WWW-Authenticate"] == "Bearer"
    [record] = CallStore(redis_conn, None).records(ams(2026, 4, 28), ams(2026, 4, 29))
    assert record.outcome is None


def test_without_a_configured_token_the_api_refuses_everything(redis_url: str) -> None:
    app = make_app(redis_url=redis_url)

    reply = app.test_client().post(
        "/api/calls/1000/triage", json={"code": "advies"}, headers={"Authorization": "Bearer "}
    )

    assert reply.status_code == 401


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("[" * 5000 + "]" * 5000, "larger than"),  # issue 9: was a 500
        ("[" * 2000 + "]" * 2000, "not JSON"),  # deep enough for a RecursionError
        ('["AD"]', "must be a JSON object"),
        ('{"code": {"nested": 1}}', "plain values"),
        ("{not json", "not JSON"),
        ('{"code": "' + "x" * 5000 + '"}', "larger than"),
    ],
    ids=["5000-deep", "2000-deep", "a-list", "nested-field", "not-json", "too-large"],
)
def test_a_hostile_body_is_a_400_naming_what_is_wrong(
    app: Flask, ref: str, body: str, error: str
) -> None:
    reply = app.test_client().post(
        f"/api/calls/{ref}/triage", data=body, content_type="application/json", headers=AUTH
    )

    assert reply.status_code == 400
    assert error in reply.get_json()["error"]
