"""Hostile input to every callback and SMS webhook, signed: never a 500.

Issue 9 found 500s on malformed but correctly signed input. Hypothesis draws
every parameter (and the query string the action URLs carry) as arbitrary
text, with Redis up and with Redis down; a caller-side webhook must answer
TwiML (which the guard makes reach a person), a staff-side or SMS webhook a
4xx or TwiML, never a server error.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.callbacks_kit import make_config_dir, signed_post
from tests.phone import TOKEN, make_app

CALLER_SIDE = (
    "/voice/callback/choice",
    "/voice/callback/number/check",
    "/voice/callback/number/confirm",
    "/voice/callback/spooled",
    "/voice/callback/bridge/{rid}/caller",
)
STAFF_SIDE = (
    "/voice/callback/bridge/{rid}/staff",
    "/voice/callback/bridge/{rid}/accept",
    "/voice/callback/bridge/{rid}/dialed",
    "/voice/callback/bridge/{rid}/status",
    "/voice/callback/bridge/{rid}/triage",
    "/sms/incoming",
)
PARAMS = ("From", "To", "CallSid", "Digits", "Body", "CallStatus", "DialCallStatus")

text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
params = st.dictionaries(st.sampled_from(PARAMS), text, max_size=len(PARAMS))
digits = st.one_of(text, st.from_regex(r"\A[0-9#*]{0,20}\Z"))
query = st.fixed_dictionaries({}, optional={"s": text, "attempt": text})


def app_for(tmp_path: Path, redis_url: str) -> Flask:
    return make_app(make_config_dir(tmp_path), redis_url=redis_url)


@pytest.fixture(params=["up", "down"])
def app(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Flask:
    if request.param == "up":
        redis.Redis.from_url(redis_url).flushdb()
        return app_for(tmp_path, redis_url)
    return app_for(tmp_path, "redis://127.0.0.1:9/0")


def _post(app: Flask, path: str, form: dict[str, str], args: dict[str, str]) -> int:
    if args:
        path += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in args.items())
    reply = signed_post(app.test_client(), path, form, token=TOKEN)
    return reply.status_code


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(CALLER_SIDE),
    form=params,
    keys=digits,
    args=query,
    rid=st.sampled_from(["0123456789ab", "x" * 12, "%2e%2e"]),
)
def test_a_caller_side_webhook_always_answers_twiml(
    app: Flask, path: str, form: dict[str, str], keys: str, args: dict[str, str], rid: str
) -> None:
    form = {**form, "Digits": keys}
    assert _post(app, path.format(rid=rid), form, args) == 200


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(STAFF_SIDE),
    form=params,
    args=query,
    rid=st.sampled_from(["0123456789ab", "x" * 12]),
)
def test_a_staff_side_or_sms_webhook_never_answers_a_server_error(
    app: Flask, path: str, form: dict[str, str], args: dict[str, str], rid: str
) -> None:
    assert _post(app, path.format(rid=rid), form, args) < 500
