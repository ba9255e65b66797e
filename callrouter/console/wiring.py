"""`init_app(app, deps)`: the console's one entry point for the composition root.

Imports the modules that add routes to the console blueprint (pages) and the
calendar feed, then registers both; kept apart from `console.web` so the
blueprint module does not import the pages that build on it. `deps_from`
takes the console's dependencies from the composition root.
"""

from __future__ import annotations

import hashlib

from flask import Flask

from callrouter.callbacks import service as callbacks
from callrouter.config.live import signature
from callrouter.console import calendar_feed, pages, web
from callrouter.console.web import ConsoleDeps
from callrouter.services import Services

__all__ = ["ConsoleDeps", "deps_from", "init_app"]

_ROUTES = (pages.calls_page, calendar_feed.feed)
"""Importing these modules adds their routes; named so the import is visibly used."""


def init_app(app: Flask, deps: ConsoleDeps) -> None:
    web.configure(app, deps)
    app.register_blueprint(web.bp)
    app.register_blueprint(calendar_feed.bp)


def deps_from(services: Services) -> ConsoleDeps:
    """The console's view of the composition root (`callrouter.services`)."""
    live = services.live

    def status() -> dict[str, str]:
        generation = hashlib.sha256(repr(signature(live.directory)).encode()).hexdigest()[:10]
        return {"generation": generation, "problems": "; ".join(live.reload_problems)}

    return ConsoleDeps(
        config=lambda: services.current().config,
        conn=services.redis,
        provider=lambda: services.provider,
        secret=services.settings.secret,
        clock=services.clock,
        callback_key=callbacks.pseudonym_key(services.settings.secret),
        config_status=status,
    )
