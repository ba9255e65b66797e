"""Inbound SMS (the crisis number's "A message comes in" webhook).

A thin adapter: who sent it and what it says go to `callbacks.sms.answer`,
which decides the reply (a claim, a neutral answer, or nothing at all);
the answer is TwiML ``<Message>``, or an empty ``<Response/>`` when the
number keeps quiet. Other features that take staff SMS (triage outcomes)
plug in as ``handlers`` passed to `init_app`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis
from flask import Blueprint, Flask, Response, current_app, request
from flask.typing import ResponseReturnValue
from twilio.twiml.messaging_response import MessagingResponse

from callrouter.callbacks import sms
from callrouter.callbacks.staff import member_by_number
from callrouter.callbacks.texts import Staff
from callrouter.callbacks.webhooks import now, web
from callrouter.routing import numbers
from callrouter.web.twilio_auth import twilio_signed

logger = logging.getLogger(__name__)

bp = Blueprint("sms", __name__, url_prefix="/sms")

HANDLERS = "callrouter.sms.handlers"
SmsHandler = sms.SmsHandler


def init_app(app: Flask, handlers: Sequence[SmsHandler] = ()) -> None:
    """Register the blueprint; needs `callrouter.callbacks.web.init_app` too."""
    app.extensions[HANDLERS] = tuple(handlers)
    app.register_blueprint(bp)


def _reply(text: str | None) -> Response:
    response = MessagingResponse()
    if text:
        response.message(text)
    return Response(str(response), mimetype="text/xml")


@bp.post("/incoming")
@twilio_signed
def incoming() -> ResponseReturnValue:
    loaded = web().live.current()
    try:
        sender = numbers.normalise(request.values.get("From", "")[:32])
    except numbers.NumberError:
        sender = ""
    body = request.values.get("Body", "")[:1600]
    handlers = current_app.extensions.get(HANDLERS, ())
    try:
        return _reply(sms.answer(web().context(loaded), sender, body, now(), handlers))
    except redis.RedisError:
        logger.exception("SMS not handled: Redis unreachable")
        texts = loaded.callbacks.texts
        staff = member_by_number(loaded.config, sender) if sender else None
        return _reply(texts.staff(Staff.OUTAGE) if staff is not None and texts else None)
