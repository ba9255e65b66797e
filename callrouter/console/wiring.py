"""`init_app(app, deps)`: the console's one entry point for the composition root.

Imports the modules that add routes to the console blueprint (pages) and the
calendar feed, then registers both; kept apart from `console.web` so the
blueprint module does not import the pages that build on it. `deps_from`
takes the console's dependencies from the composition root.
"""

from __future__ import annotations

from flask import Flask

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

    def status() -> dict[str, str]:
        now = services.live.shared_status()
        return {
            "generation": now.generation,
            "loaded_at": now.loaded_at.isoformat(timespec="seconds"),
            "problems": "; ".join(now.refused),
        }

    return ConsoleDeps(
        generation=services.current,
        conn=services.redis,
        provider=lambda: services.provider,
        secret=services.settings.secret,
        clock=services.clock,
        callback_context=services.callback_context,
        config_status=status,
        config_dir=services.settings.config_dir,
    )
