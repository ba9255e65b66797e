"""Degrade, don't drop: what the voice webhooks answer when something fails.

Any exception while answering the caller, an unreadable state, or a failing
Redis ends in a `<Dial>` of the 24/7 fallback line, never in an error Twilio
would read out as "an application error has occurred". That chain is
bounded too: its dial action counts the attempts (`n`), and after the
configured number the caller hears the spoken referral (113, 112).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Response, request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from callrouter.web.voice_services import link, services
from callrouter.web.webhook_io import xml
from ivr import twiml
from ivr.menus import Prompt
from ivr.state import StateError

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def failed_attempts() -> int:
    """How often the fallback line has been rung for this call: the failure
    chain's `n`, or the attempts in the signed state of a call already on the
    fallback path (its links carry the state, not `n`), so a failure on that
    path continues the count instead of starting it again."""
    raw = request.args.get("n", "")
    counted = min(int(raw), 99) if raw.isdigit() and len(raw) < 6 else 0
    token = request.args.get("s")
    if token:
        try:
            call = services().states.loads(token)
        except Exception:  # noqa: BLE001 -- an unreadable state counts nothing
            return counted
        if call.fallback:
            counted = max(counted, call.attempt + 1)
    return counted


def ring_fallback(response: VoiceResponse, attempt: int) -> VoiceResponse:
    """Ring the 24/7 fallback line; needs only the last good config's numbers."""
    loaded = services().live.current()
    return twiml.dial_line(
        response,
        loaded.fallback_number,
        loaded.config.crisis_number,
        link("voice.fallback", n=str(attempt + 1)),
        loaded.config.final_line.timeout,
    )


def _fallback_after_failure() -> Response:
    attempt = failed_attempts()
    try:
        loaded = services().live.current()
        menus = loaded.menus
        lang = menus.default_language
        if attempt >= loaded.config.final_line.attempts:
            response = twiml.announce(menus, lang, Prompt.REFERRAL, first=False)
            response.hangup()
            return xml(response)
        prompt = Prompt.LINE_RETRY if attempt else Prompt.FINAL_LINE
        return xml(ring_fallback(twiml.announce(menus, lang, prompt, attempt == 0), attempt))
    except Exception:
        logger.exception("%s: the spoken fallback failed too; dialling it bare", request.path)
        return xml(ring_fallback(VoiceResponse(), attempt))


def guarded(view: Callable[P, R], instead: Callable[[], R], consequence: str) -> Callable[P, R]:
    """`view`, answering `instead()` when it fails (HTTP errors such as the
    signature check's 403 pass through: those are not ours to soften). Every
    webhook a person is on is wrapped in one of these (here and in `callbacks`)."""

    @functools.wraps(view)
    def guarded_view(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return view(*args, **kwargs)
        except HTTPException:
            raise
        except StateError as exc:
            logger.warning("%s: %s; %s", request.path, exc, consequence)
        except Exception:
            logger.exception("%s failed; %s", request.path, consequence)
        return instead()

    return guarded_view


def caller_side(view: Callable[P, Response]) -> Callable[P, Response]:
    """A caller's webhook: whatever fails, the caller is put through to the fallback line."""
    return guarded(view, _fallback_after_failure, "sending the caller to the fallback line")


def staff_side(view: Callable[P, Response]) -> Callable[P, Response]:
    """A staff leg's webhook: on failure the leg is not connected (hang up, so
    the caller's plan moves on) rather than connecting an unconfirmed phone."""
    return guarded(view, lambda: xml(twiml.hang_up()), "this staff leg is not connected")
