"""`create_app()`: the web app, wired from the composition root.

`callrouter.services.build` makes the parts (settings, live config, clock,
Redis, Twilio, public URLs, stores, queue), exactly as the worker and the
CLI get them; this module only hands them to the blueprints. Nothing is
created at import time, and importing the routing core never imports Flask.
Gunicorn runs ``callrouter.web.app:production_app()`` (the Procfile), which
refuses to start with one line per missing setting instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from callrouter import clock, logs, spool_replay
from callrouter.callbacks import web as callbacks
from callrouter.callbacks.call_log import CallLogBridge
from callrouter.callbacks.jobs import JOBS
from callrouter.calls import api as calls_api
from callrouter.calls.events import CallEvents, NoCallEvents
from callrouter.calls.jobs import enqueue_ask_triage
from callrouter.calls.outcomes import TriageDesk, triage_sms_handler
from callrouter.console import wiring as console
from callrouter.errors import ConfigError
from callrouter.services import Services, build
from callrouter.settings import Settings, SettingsError
from callrouter.web import admin_auth, health, metrics, sms, voice
from callrouter.web.presence import Presence
from ivr.state import CallStates

SERVICES = "callrouter.services"
"""`app.extensions[SERVICES]`: the process's `Services` (read by `/health`)."""
WORKER_BOOT_ERROR = 3
"""Gunicorn's exit status for a worker that cannot boot: the arbiter stops
instead of respawning it in a loop."""


def production_app() -> Flask:
    """Gunicorn's entry point: settings from the environment, and a refusal to
    start that names every missing or malformed setting, one line each."""
    try:
        app = create_app()
    except (SettingsError, ConfigError) as exc:
        for problem in exc.problems:
            print(f"callrouter web refuses to start: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(WORKER_BOOT_ERROR) from None
    spool_replay.start(app.extensions[SERVICES])  # this host's spool, without new traffic
    return app


def create_app(
    test_config: Mapping[str, Any] | None = None, services: Services | None = None
) -> Flask:
    """The Flask app; from `services`, or built from the environment, or from
    `test_config` (Flask keys, see `callrouter.settings.ENV_NAMES`).

    Raises `SettingsError` (missing secrets) or `ConfigError` (no valid
    configuration) instead of starting a service that cannot route.
    """
    if services is None:
        if test_config is None:  # a real process (gunicorn): its logs go to stderr, masked
            logs.configure()
        settings = Settings.from_env() if test_config is None else Settings.from_config(test_config)
        services = build(settings, jobs=JOBS, clock=(test_config or {}).get("CLOCK", clock.now))
    settings = services.settings
    app = Flask(__name__)
    app.config.update(settings.flask_config(), CLOCK=services.clock)
    app.config.update(test_config or {})
    app.extensions[SERVICES] = services
    hops = settings.proxy_hops
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    conn = services.redis
    admin_auth.init_app(app, settings.admin_token)
    callback_web = callbacks.CallbackWeb(
        live=services.live,
        conn=conn,
        secret=settings.secret,
        spool_dir=str(settings.spool_dir) if settings.spool_dir else None,
        call_log=services.call_store() if conn is not None else None,
    )
    if conn is not None:
        callback_web.bridge_log = CallLogBridge(services.call_store())
    events: CallEvents = services.call_store(keyed=True) if conn is not None else NoCallEvents()
    app.extensions[voice.EXTENSION] = voice.VoiceServices(
        live=services.live,
        presence=Presence(conn, services.derived_key("presence")),
        states=CallStates(services.derived_key("ivr-state")),
        events=events,
        callback_offer=callbacks.VoiceOffer(callback_web),
        ask_triage=triage_asker(services) if conn is not None else None,
    )
    app.register_blueprint(voice.bp)
    app.register_blueprint(health.bp)
    metrics.init_app(app, conn, services.live, services.clock)
    callbacks.init_app(app, callback_web)
    desk = TriageDesk(services.call_store(), services.callback_store()) if conn else None
    sms.init_app(
        app,
        handlers=[triage_sms_handler(desk, lambda: services.current().triage)]
        if desk is not None
        else [],
    )
    calls_api.init_app(app, desk, services.current)
    console.init_app(app, console.deps_from(services))
    return app


def triage_asker(services: Services) -> Callable[[str, str], bool]:
    """After a conversation with staff: queue the SMS asking them for the outcome."""

    def ask(call_sid: str, ref: str) -> bool:
        return enqueue_ask_triage(services.conn, call_sid, ref, services.current().callbacks)

    return ask
