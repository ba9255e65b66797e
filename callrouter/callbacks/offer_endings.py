"""How a callback offer ends for the caller: queued, spooled, or put through.

`submit` queues the request and tells the caller when to expect the call;
when Redis does not answer, or no replica holds the request yet, it keeps
the request in this host's spool and says so (the caller may still be put
through). `put_through` rings a person now, `goodbye` closes a confirmed
request with the safety line. The webhooks in `offer_web` render the offer
table's other steps and end in one of these.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import redis
from twilio.twiml.voice_response import VoiceResponse

from callrouter.callbacks import recovery, service
from callrouter.callbacks.offer_state import OfferState, link
from callrouter.callbacks.requests import new_request_id
from callrouter.callbacks.texts import Say
from callrouter.callbacks.webhooks import gather, now, ring_fallback, say, web
from callrouter.redis_conn import durable_write
from ivr.callback_offer import Offer, Step
from ivr.menus import Prompt

if TYPE_CHECKING:
    from callrouter.config.live import Loaded

logger = logging.getLogger(__name__)


def put_through(loaded: Loaded, state: OfferState | None, key: Say | None) -> VoiceResponse:
    """Ring a person now: the voice flow's final line when we came from it,
    else the fallback line."""
    if state is not None and state.decline:
        response = VoiceResponse()
        texts = loaded.callbacks.texts
        if key is not None and texts:
            say(response, loaded, state.lang, texts.say(key, state.lang))
        response.redirect(state.decline, method="POST")
        return response
    return ring_fallback(loaded, state.lang if state else None, key)


def goodbye(response: VoiceResponse, loaded: Loaded, lang: str) -> VoiceResponse:
    """End of a confirmed request: the safety line once more, then hang up."""
    say(response, loaded, lang, loaded.menus.say(Prompt.SAFETY, lang))
    say(response, loaded, lang, loaded.callbacks.texts.say(Say.GOODBYE, lang))
    response.hangup()
    return response


def submit(
    loaded: Loaded, state: OfferState, number: str, caller: str | None, call_sid: str | None
) -> VoiceResponse:
    """Queue the request (or spool it) and tell the caller what happens next."""
    moment = now()
    lang = state.lang
    texts = loaded.callbacks.texts
    try:
        ctx = web().context(loaded)
        result = service.submit(
            ctx,
            number=number,
            facts=state.facts,
            moment=moment,
            call_sid=call_sid,
            caller=caller,
            lang=lang,
        )
        durable = not result.request_id or durable_write(ctx.conn)
    except redis.RedisError:
        return _spool(loaded, state, number, moment, call_sid)
    if not durable:  # no replica has it yet: a failover now would lose it (issue 10)
        return _spool(loaded, state, number, moment, call_sid, request_id=result.request_id)
    if result.outcome is service.Outcome.OVER_LIMIT:
        return put_through(loaded, state, Say.OVER_LIMIT)  # the call's own 24/7 line, bounded
    response = VoiceResponse()
    minutes = texts.minutes(lang, math.ceil(result.sla_seconds / 60))
    say(response, loaded, lang, texts.say(Say.CREATED, lang, minutes=minutes))
    return goodbye(response, loaded, lang)


def _spool(
    loaded: Loaded,
    state: OfferState,
    number: str,
    moment: Any,
    call_sid: str | None,
    request_id: str | None = None,
) -> VoiceResponse:
    """Keep the request on disk (same id when Redis has it but no replica does yet)."""
    record = recovery.spool_record(
        request_id=request_id or new_request_id(),
        number=number,
        facts=state.facts,
        moment=moment,
        call_sid=call_sid,
        lang=state.lang,
    )
    try:
        web().spool(loaded).append(record)
    except OSError:
        logger.exception(
            "call %s: Redis unreachable AND the spool failed; putting through", call_sid
        )
        return put_through(loaded, state, Say.BROKEN)
    logger.warning(
        "call %s: Redis unreachable; callback %s spooled to disk", call_sid, record["id"]
    )
    spooled_state = replace(state, offer=Offer(Step.SPOOLED))
    response = VoiceResponse()
    texts = loaded.callbacks.texts
    menu = gather(
        response,
        loaded,
        state.lang,
        link("callbacks.spooled", spooled_state),
        num_digits=1,
        timeout=6,
    )
    say(menu, loaded, state.lang, texts.say(Say.SPOOLED, state.lang))
    return goodbye(response, loaded, state.lang)
