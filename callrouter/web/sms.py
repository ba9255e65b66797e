"""Inbound SMS (the crisis number's "A message comes in" webhook): staff claim callbacks.

Only a staff member's own mobile (``teams.*.members.*.mobile``) may claim;
any other sender gets a neutral answer that says nothing about any caller.
"1" (or "OK") claims the last request offered to that staff member, "OK 123"
the request with claim code 123. Of concurrent claims exactly one wins
(one atomic transition in Redis); the others are told who took it. The
answer is TwiML ``<Message>``; the winner is then called for the bridge.

Other features that take staff SMS (triage outcomes, issue 5) plug in as
``handlers`` passed to `init_app`: each sees (member, body, moment) first
and returns a reply, or None to leave the message to the claim logic.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

import redis
from flask import Blueprint, Flask, Response, current_app, request
from flask.typing import ResponseReturnValue
from twilio.twiml.messaging_response import MessagingResponse

from callrouter import clock
from callrouter.callbacks import lifecycle as cb
from callrouter.callbacks import service as queueing
from callrouter.callbacks import web as callbacks_web
from callrouter.privacy import mask_number
from callrouter.routing import numbers
from callrouter.routing.model import Member
from callrouter.web.twilio_auth import twilio_signed

logger = logging.getLogger(__name__)

bp = Blueprint("sms", __name__, url_prefix="/sms")

HANDLERS = "callrouter.sms.handlers"
SmsHandler = Callable[[Member, str, dt.datetime], "str | None"]

OUTAGE_SMS = (
    "Claimen lukt nu niet door een storing. "
    "Probeer het over een minuut opnieuw, of bel de crisislijn."
)


def init_app(app: Flask, handlers: Sequence[SmsHandler] = ()) -> None:
    """Register the blueprint; needs `callrouter.callbacks.web.init_app` too."""
    app.extensions[HANDLERS] = tuple(handlers)
    app.register_blueprint(bp)


def _reply(text: str) -> Response:
    response = MessagingResponse()
    response.message(text)
    return Response(str(response), mimetype="text/xml")


@bp.post("/incoming")
@twilio_signed
def incoming() -> ResponseReturnValue:
    web = current_app.extensions[callbacks_web.EXTENSION]
    loaded = web.live.current()
    now: dt.datetime = current_app.config.get("CLOCK", clock.now)()
    raw_from = request.values.get("From", "")
    body = request.values.get("Body", "")
    try:
        sender = numbers.normalise(raw_from)
    except numbers.NumberError:
        sender = ""
    member = cb.member_by_number(loaded.config, sender) if sender else None
    if member is None:
        logger.warning("SMS from unknown number %s ignored", mask_number(raw_from))
        return _reply(cb.UNKNOWN_SENDER_SMS)
    for handler in current_app.extensions.get(HANDLERS, ()):
        answer = handler(member, body, now)
        if answer is not None:
            return _reply(answer)
    reply = cb.parse_reply(body)
    if reply.kind is cb.ReplyKind.UNKNOWN:
        return _reply(cb.HELP_SMS)
    try:
        ctx = web.context(loaded)
        if reply.kind is cb.ReplyKind.CLAIM_LAST:
            request_id = ctx.store.last_offer(member.id)
        else:
            request_id = ctx.store.by_code(reply.code or "")
        if request_id is None:
            text = (
                cb.NOTHING_TO_CLAIM_SMS
                if reply.kind is cb.ReplyKind.CLAIM_LAST
                else (f"Code {reply.code} hoort niet bij een open terugbelverzoek.")
            )
            return _reply(text)
        result = queueing.claim(ctx, request_id, member.id, now, via="sms")
    except redis.RedisError:
        logger.exception("claim by SMS from %s failed: Redis unreachable", member.id)
        return _reply(OUTAGE_SMS)
    if result.request is None:
        return _reply(cb.NOTHING_TO_CLAIM_SMS)
    holder = cb.member_by_id(loaded.config, result.holder or "") if result.holder else None
    return _reply(
        cb.claim_reply(
            result.request,
            result.won,
            holder.name if holder else "een collega",
            result.request.state,
        )
    )
