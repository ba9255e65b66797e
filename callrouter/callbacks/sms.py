"""What the crisis number answers to an SMS: claims by staff, and very little else.

Only a staff member's own mobile may claim, and only a request offered to
them (or to a team it escalated to), while not absent in the rota: "1" (or
"OK") claims the last request offered to them, "OK 123456" the request with
that code. A code that is unknown, not theirs or closed gets one neutral
answer, and wrong codes are limited per sender, so guessing gets nowhere.
Of concurrent claims exactly one wins; the others are told who took it.

Everything else is kept quiet (`sms_guard.SmsGuard`): replies that ask for
nothing stop after a few, and anyone not on staff (a resident who texts the
crisis number) gets one short text a day on how to reach help, with no hint
that the number is staff-operated. `None` means: answer nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from callrouter.callbacks import service
from callrouter.callbacks.messages import claim_reply
from callrouter.callbacks.replies import ReplyKind, parse_reply
from callrouter.callbacks.sms_guard import SmsGuard
from callrouter.callbacks.staff import member_by_id, member_by_number
from callrouter.callbacks.texts import Say, Staff
from callrouter.routing.model import Member

logger = logging.getLogger(__name__)

SmsHandler = Callable[[Member, str, dt.datetime], "str | None"]
"""Another feature's staff SMS (triage outcomes): a reply, or None to leave it to claims."""


def answer(
    ctx: service.CallbackContext,
    sender: str,
    body: str,
    moment: dt.datetime,
    handlers: Sequence[SmsHandler] = (),
) -> str | None:
    """The reply to an SMS from `sender` (E.164, '' when unreadable), or None."""
    texts = ctx.policy.texts
    guard = SmsGuard(ctx.conn, ctx.pseudonym, ctx.policy.limits)
    member = member_by_number(ctx.config, sender) if sender else None
    if member is None:
        if sender and texts and guard.resident_reply_due(sender, moment):
            return texts.say(Say.RESIDENT_SMS, texts.staff_language)
        return None
    for handler in handlers:
        reply = handler(member, body, moment)
        if reply is not None:
            return reply
    if not texts:
        return None
    reply = parse_reply(body)
    if reply.kind is ReplyKind.UNKNOWN:
        return _idle(guard, member, texts.staff(Staff.HELP))
    nothing = texts.staff(Staff.NOTHING_TO_CLAIM)
    if reply.kind is ReplyKind.CLAIM_LAST:
        request_id = ctx.store.last_offer(member.id)
    elif guard.codes_blocked(member.id, moment):
        logger.warning("claim by %s refused: too many wrong codes", member.id)
        return _idle(guard, member, nothing)
    else:
        request_id = ctx.store.by_code(reply.code or "")
    result = service.claim(ctx, request_id, member.id, moment, via="sms") if request_id else None
    if result is None or result.request is None:
        if reply.kind is ReplyKind.CLAIM_CODE:
            guard.wrong_code(member.id, moment)
        return _idle(guard, member, nothing)
    guard.spoke(member.mobile)
    holder = member_by_id(ctx.config, result.holder or "") if result.holder else None
    return claim_reply(
        result.request, result.won, holder.name if holder else texts.staff(Staff.COLLEAGUE), texts
    )


def _idle(guard: SmsGuard, member: Member, text: str) -> str | None:
    """A reply that asks for nothing: sent only while the sender has not had enough."""
    return text if guard.may_answer(member.mobile) else None
