"""What the voice webhooks share: their services, the clock, signed links, safe records.

Kept apart from the blueprint (`callrouter.web.voice`) so the step renderer
(`callrouter.web.voice_steps`) and the degrading guards
(`callrouter.web.voice_guard`) use the same wiring without importing the
endpoints.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from flask import current_app
from twilio.twiml.voice_response import VoiceResponse

from callrouter.calls.events import CallEvents
from callrouter.config.live import LiveConfig, Loaded
from callrouter.routing.plan import RoutePlan
from callrouter.web.presence import Presence
from callrouter.web.webhook_io import public_url
from ivr.flow import Call
from ivr.state import CallStates
from ivr.twiml import QuestionDocuments

logger = logging.getLogger(__name__)

EXTENSION = "callrouter.voice"
T = TypeVar("T")


class CallbackOffer(Protocol):
    """Where the callback offer plugs in (the flow's `Step.OFFER`)."""

    def offer(self, call: FinalCall) -> VoiceResponse | None:
        """TwiML that offers the caller a callback and confirms their number,
        or None when no offer is possible now (e.g. Redis is down): the call
        then goes on to its next last step. A caller who declines ("put me
        through") must be sent to `call.decline_url`, which rings the final line."""
        ...

    def call_ended(self, call_sid: str) -> None:
        """The caller's call is over: forget now what was kept only for it (a typed
        number). Must not raise for a Redis outage; anything kept has a TTL."""
        ...


@dataclass(frozen=True)
class FinalCall:
    """What the callback offer gets to work with."""

    call_sid: str
    caller_number: str | None
    """Raw E.164 from Twilio's `From`, or None when withheld: never log it."""
    call: Call
    plan: RoutePlan
    loaded: Loaded
    decline_url: str


@dataclass
class VoiceServices:
    """Everything the webhooks need, wired once in `callrouter.web.app.create_app`."""

    live: LiveConfig
    presence: Presence
    states: CallStates
    events: CallEvents
    callback_offer: CallbackOffer | None = None
    ask_triage: Callable[[str, str], object] | None = None
    """Called with (CallSid, ref) when a conversation with a staff member ended:
    queue the SMS that asks them for the outcome (`queueing.ask_triage`)."""
    questions: QuestionDocuments = field(default_factory=QuestionDocuments)
    """This process's menu documents of the config generation in use."""


def services() -> VoiceServices:
    found: VoiceServices = current_app.extensions[EXTENSION]
    return found


def now() -> dt.datetime:
    """The one moment source of the webhooks (`app.config["CLOCK"]`, normally
    `callrouter.clock.now`; tests pass their own)."""
    moment: dt.datetime = current_app.config["CLOCK"]()
    return moment


def token(call: Call) -> str:
    return services().states.dumps(call)


def link(endpoint: str, call: Call | None = None, **values: str) -> str:
    """The absolute URL Twilio should call, with the signed state of `call`."""
    if call is not None:
        values["s"] = token(call)
    return public_url(endpoint, **values)


def record(what: str, emit: Callable[[], T]) -> T | None:
    """Call records must never break a call: `emit()`'s result, or None when it failed."""
    try:
        return emit()
    except Exception:
        logger.exception("call event %r was not recorded; the call goes on", what)
        return None
