"""Shared pieces of the console tests: an app on the sample config with a test
clock, a browser-like client over https, sign-in by the code the dry-run
provider "sent", and call data to look at (a call record, a callback request)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from callrouter.callbacks import service as callbacks
from callrouter.callbacks.requests import pseudonym_key
from callrouter.calls.store import CallStore
from callrouter.console.access_log import AccessLog, Entry
from callrouter.console.web import EXTENSION, ConsoleDeps
from callrouter.routing.plan import CallerFacts, route
from callrouter.twilio_rest import DryRunProvider, DrySms
from tests.callbacks_kit import callback_context
from tests.helpers import CONFIG_DIR
from tests.phone import PSEUDONYM_KEY, SECRET, TestClock, make_app

HTTPS = "https://localhost"
CALLER = "+31612344567"


def console_app(redis_url: str, moment: dt.datetime, config_dir: Path = CONFIG_DIR) -> Flask:
    return make_app(config_dir=config_dir, redis_url=redis_url, CLOCK=TestClock(moment))


def deps_of(app: Flask) -> ConsoleDeps:
    found: ConsoleDeps = app.extensions[EXTENSION]
    return found


def clock_of(app: Flask) -> TestClock:
    clock: TestClock = app.config["CLOCK"]
    return clock


def client(app: Flask) -> FlaskClient:
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    return c


def csrf(c: FlaskClient, path: str = "/console/sign-in") -> str:
    page = c.get(path, base_url=HTTPS)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def post(c: FlaskClient, path: str, token: str, **form: str) -> TestResponse:
    return c.post(path, data={"csrf_token": token, **form}, base_url=HTTPS)


def sms_sent(app: Flask) -> list[DrySms]:
    provider = deps_of(app).provider()
    assert isinstance(provider, DryRunProvider)
    return [s for s in provider.sent if isinstance(s, DrySms)]


def last_code(app: Flask) -> str:
    found = re.search(r"(\d{6})", sms_sent(app)[-1].body)
    assert found
    return found.group(1)


def sign_in(app: Flask, c: FlaskClient, member: str) -> str:
    """Sign `member` in; returns a CSRF token for the signed-in session's forms."""
    token = csrf(c)
    asked = post(c, "/console/sign-in", token, member=member)
    assert asked.status_code == 302, asked.text
    done = post(c, "/console/sign-in/code", token, member=member, code=last_code(app))
    assert done.status_code == 302 and done.headers["Location"].endswith("/console/"), done.text
    return csrf(c, "/console/")


def access_entries(app: Flask, conn: redis.Redis) -> list[Entry]:
    return list(AccessLog.for_secret(conn, SECRET).entries())


def seed_call(
    conn: redis.Redis, app: Flask, at: dt.datetime, sid: str = "CA" + "1" * 32, **facts: Any
) -> str:
    """One finished call answered by anna, recorded like the voice webhooks record it."""
    config = deps_of(app).config()
    store = CallStore(conn, PSEUDONYM_KEY.encode())
    plan = route(
        at, CallerFacts(**(facts or {"caller_type": "resident", "age_group": "18+"})), config
    )
    ref = store.started(sid, CALLER, at, plan)
    store.leg(sid, 1, "anna", "answered", 5.0, at + dt.timedelta(seconds=30))
    store.answered(sid, "anna", at + dt.timedelta(seconds=30), leg=1)
    store.ended(sid, 120.0, at + dt.timedelta(minutes=3))
    return ref


def seed_callback(conn: redis.Redis, app: Flask, at: dt.datetime) -> callbacks.Submitted:
    generation = deps_of(app).generation()
    config = generation.config
    ctx = callback_context(conn, config, generation.callbacks, pseudonym_key(SECRET))
    return callbacks.submit(
        ctx, number=CALLER, facts=CallerFacts("resident", "18+", None), moment=at
    )
