"""`create_app()`: the web composition root.

The one place where settings, the configuration, Redis and the blueprints
are wired together; nothing is created at import time, and importing the
routing core never imports Flask (the factory lives here, not in
`callrouter/__init__.py`). Gunicorn runs ``callrouter.web.app:create_app()``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from collections.abc import Callable, Mapping
from typing import Any

import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry
from werkzeug.middleware.proxy_fix import ProxyFix

from callrouter import clock, logs
from callrouter.callbacks import web as callbacks
from callrouter.callbacks.lifecycle import policy_of
from callrouter.callbacks.store import CallbackStore
from callrouter.calls import api as calls_api
from callrouter.calls.events import NoCallEvents
from callrouter.calls.jobs import enqueue_ask_triage
from callrouter.calls.outcomes import TriageDesk, triage_sms_handler
from callrouter.calls.policy import policy_from
from callrouter.calls.store import CallStore, PseudonymKeyError, pseudonym_key
from callrouter.calls.triage import codes_from
from callrouter.config.live import LiveConfig
from callrouter.settings import ENV_NAMES, Settings, SettingsError
from callrouter.web import admin_auth, health, sms, voice
from callrouter.web.presence import Presence
from ivr.state import CallStates

REDIS_TIMEOUT_SECONDS = 0.5
"""A webhook must answer within Twilio's 15 s; a Redis that hangs must cost
the caller half a second at most, once per request, never a retry loop."""


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The Flask app; settings from the environment, or `test_config` (Flask keys).

    Raises `SettingsError` (missing secrets) or `ConfigError` (no valid
    configuration) instead of starting a service that cannot route.
    """
    if test_config is None:  # a real process (gunicorn): its logs go to stderr, masked
        logs.configure()
    settings = (
        Settings.from_env(os.environ) if test_config is None else Settings.from_config(test_config)
    )
    app = Flask(__name__)
    app.config.update(settings.flask_config(), CLOCK=clock.now, CONFIG_CHECK_SECONDS=2.0)
    app.config.update(test_config or {})
    hops = settings.proxy_hops
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    conn = webhook_redis(settings.redis_url) if settings.redis_url else None
    live = LiveConfig(settings.config_dir, check_every=float(app.config["CONFIG_CHECK_SECONDS"]))
    admin_auth.init_app(
        app, str(app.config.get("ADMIN_TOKEN") or os.environ.get("CALLROUTER_ADMIN_TOKEN", ""))
    )
    callback_web = callbacks.CallbackWeb(
        live=live,
        conn=conn,
        secret=settings.secret,
        spool_dir=app.config.get("CALLBACK_SPOOL_DIR")
        or os.environ.get("CALLROUTER_SPOOL_DIR")
        or None,
    )
    app.extensions[voice.EXTENSION] = voice.VoiceServices(
        live=live,
        presence=Presence(conn, _derived_key(settings.secret, "presence")),
        states=CallStates(_derived_key(settings.secret, "ivr-state")),
        events=call_log(conn, settings, live) if conn is not None else NoCallEvents(),
        callback_offer=callback_web,
        ask_triage=triage_asker(conn, live) if conn is not None else None,
    )
    app.register_blueprint(voice.bp)
    app.register_blueprint(health.bp)
    callbacks.init_app(app, callback_web)
    sms.init_app(
        app,
        handlers=[
            triage_sms_handler(
                TriageDesk(CallStore(conn, None), CallbackStore(conn)),
                lambda: codes_from(live.current().config.extra.get("triage")),
            )
        ]
        if conn is not None
        else [],
    )
    calls_api.init_app(
        app,
        TriageDesk(CallStore(conn, None), CallbackStore(conn)) if conn is not None else None,
        lambda: live.current().config,
    )
    return app


def triage_asker(conn: redis.Redis, live: LiveConfig) -> Callable[[str, str], bool]:
    """After a conversation with staff: queue the SMS asking them for the outcome."""

    def ask(call_sid: str, ref: str) -> bool:
        return enqueue_ask_triage(conn, call_sid, ref, policy_of(live.current().config))

    return ask


def call_log(conn: redis.Redis, settings: Settings, live: LiveConfig) -> CallStore:
    """The call records (issue 5): every call leaves one, so no key, no start.
    `records:` (retention, masked numbers) is read at start-up."""
    try:
        key = pseudonym_key({ENV_NAMES["PSEUDONYM_KEY"]: settings.pseudonym_key})
    except PseudonymKeyError as exc:
        raise SettingsError([str(exc)]) from None
    policy = policy_from(live.current().config.extra.get("records"))
    return CallStore(
        conn,
        key,
        store_masked=policy.store_masked,
        ref_ttl=dt.timedelta(days=policy.retention_days),
    )


def webhook_redis(url: str) -> redis.Redis:
    """A Redis client for the webhook path: fails fast, never retries."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


def _derived_key(secret: str, purpose: str) -> bytes:
    """One key per purpose from the one secret, so no two uses share a key."""
    return hmac.new(secret.encode("utf-8"), purpose.encode("utf-8"), hashlib.sha256).digest()
