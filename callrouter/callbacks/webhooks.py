"""What the callback webhooks share: their wiring (`CallbackWeb`) and TwiML helpers.

The blueprints are `offer_web` (the caller's side), `bridge_web` (the bridged
call, staff side) and `api` (the admin API); `init_app` registers all three.
Every word they say comes from ``callbacks.texts`` (`CallbackPolicy.texts`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import redis
from flask import current_app
from itsdangerous import URLSafeSerializer
from twilio.twiml.voice_response import VoiceResponse

from callrouter import clock
from callrouter.callbacks.jobs import JOBS
from callrouter.callbacks.policy import CallbackPolicy
from callrouter.callbacks.requests import pseudonym_key
from callrouter.callbacks.seams import BridgeLog, NoBridgeLog
from callrouter.callbacks.service import CallbackContext
from callrouter.callbacks.spool import Spool
from callrouter.callbacks.texts import Say
from callrouter.calls.events import CallbackLog
from callrouter.privacy import derive_key
from callrouter.web import voice_guard
from ivr import twiml

if TYPE_CHECKING:
    from callrouter.config.live import Loaded

EXTENSION = "callrouter.callbacks"


class LiveSource(Protocol):
    def current(self) -> Loaded: ...


@dataclass
class CallbackWeb:
    """What the callback webhooks need; wired by the composition root.

    Also the voice flow's `CallbackOffer` (`offer_web.offer_twiml` does the work).
    """

    live: LiveSource
    conn: redis.Redis | None
    secret: str
    """``CALLROUTER_SECRET``: signs the offer and triage state and keys the number
    pseudonyms (one derived key for each)."""
    spool_dir: str | None = None
    """Overrides the config's ``callbacks.spool_dir`` (tests, containers)."""
    call_log: CallbackLog | None = None
    """Told each lifecycle step of a request (the call log's `CallStore`)."""
    bridge_log: BridgeLog = field(default_factory=NoBridgeLog)
    """The call's ref for the whisper and the triage keypad's outcome."""

    def context(self, loaded: Loaded) -> CallbackContext:
        if self.conn is None:
            raise redis.ConnectionError("no Redis configured")
        return CallbackContext(
            self.conn,
            loaded.config,
            loaded.callbacks,
            pseudonym_key(self.secret),
            JOBS,
            self.call_log,
        )

    def spool(self, loaded: Loaded) -> Spool:
        return Spool(self.spool_dir or loaded.callbacks.spool_dir)

    def signer(self, purpose: str) -> URLSafeSerializer:
        """Signs state carried in action URLs, one derived key per purpose."""
        key = derive_key(self.secret, purpose)
        return URLSafeSerializer(
            key, salt=f"{purpose}-v1", signer_kwargs={"digest_method": hashlib.sha256}
        )


def web() -> CallbackWeb:
    found: CallbackWeb = current_app.extensions[EXTENSION]
    return found


def now() -> dt.datetime:
    moment: dt.datetime = current_app.config.get("CLOCK", clock.now)()
    return moment


def say(verb: Any, loaded: Loaded, lang: str, text: str) -> None:
    twiml.say(verb, text, loaded.menus.voice(lang))


def gather(response: VoiceResponse, loaded: Loaded, lang: str, action: str, **kw: Any) -> Any:
    return response.gather(
        input="dtmf", action=action, method="POST", language=loaded.menus.voice(lang).language, **kw
    )


def ring_fallback(
    loaded: Loaded, lang: str | None = None, key: Say | None = Say.PUT_THROUGH
) -> VoiceResponse:
    """Say `key` (when there are texts) and ring the 24/7 fallback line: a person."""
    response = VoiceResponse()
    policy = loaded.callbacks
    lang = lang or loaded.menus.default_language
    if key is not None and policy.texts:
        say(response, loaded, lang, policy.texts.say(key, lang))
    return voice_guard.ring_fallback(response, attempt=0)  # rung as the voice flow rings it


def staff_say(loaded: Loaded, policy: CallbackPolicy, text: str) -> VoiceResponse:
    """Say `text` to the staff member (the default language) and hang up."""
    response = VoiceResponse()
    say(response, loaded, policy.texts.staff_language, text)
    response.hangup()
    return response
