"""Registering the callback webhooks: the offer, the bridge and the admin API.

`init_app` is called by the composition root with a wired `CallbackWeb`;
`VoiceOffer(web)` is what the voice flow's final step offers a callback with.
"""

from __future__ import annotations

from flask import Flask

from callrouter.callbacks import api, bridge_web, offer_web
from callrouter.callbacks.offer_web import VoiceOffer
from callrouter.callbacks.webhooks import EXTENSION, CallbackWeb

__all__ = ["CallbackWeb", "VoiceOffer", "init_app"]


def init_app(app: Flask, web: CallbackWeb) -> None:
    app.extensions[EXTENSION] = web
    app.register_blueprint(offer_web.bp)
    app.register_blueprint(bridge_web.bp)
    app.register_blueprint(api.bp)
