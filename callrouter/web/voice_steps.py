"""The TwiML for the step a call has reached (`ivr.flow`), and what it needs.

The voice webhooks read an event, let the flow decide the next step, and
hand both steps to `render`: a question, a staff leg (with whisper), the
callback offer, a 24/7 line (the final line, the overflow line, the
fallback line), each with a ring timeout, or the spoken referral that ends
the call. What the caller is told on the way is `ivr.flow.announcement`,
so they hear "another crisis worker" only when one is rung.
"""

from __future__ import annotations

from dataclasses import replace

from flask import Response
from twilio.twiml.voice_response import VoiceResponse

from callrouter.config.live import Loaded
from callrouter.routing.plan import RoutePlan
from callrouter.web.voice_services import FinalCall, link, now, record, services, token
from callrouter.web.webhook_io import param, xml
from ivr import twiml
from ivr.flow import FINISHING_STEPS, Call, Event, Input, Step, advance, announcement
from ivr.route_context import RouteContext


def context(loaded: Loaded) -> RouteContext:
    """The routing as this webhook sees it: who is busy, and what time it is now."""
    return RouteContext(
        loaded.config,
        loaded.menus.questions,
        services().presence.busy,
        loaded.questions_memo,
        now=int(now().timestamp()),
    )


def render(before: Call | None, call: Call, ctx: RouteContext, loaded: Loaded) -> Response:
    """The TwiML for `call`'s step; `before` is the step it came from (None: a new call)."""
    menus = loaded.menus
    first = before is None or before.lang != call.lang
    question = call.step.question
    if question is not None:
        menu = menus.menu(question)
        if menu is not None:
            document = services().questions.question(
                menus, menu, call.lang, call.attempt > 0, first
            )
            return xml(document.fill(link("voice.step", call)))
        # The menu was removed by a config reload during this call: ask no more.
        call = advance(call, Event(Input.UNANSWERED), ctx)
    if call.step is Step.DONE:
        return xml(twiml.hang_up())
    at = now()
    call = replace(call, since=int(at.timestamp()))
    if call.step is Step.OFFER:
        offered = _offer(call, ctx.plan(call), loaded)
        if offered is not None:
            return xml(offered)
        return render(before, advance(call, Event(Input.UNANSWERED), ctx), ctx, loaded)
    response = twiml.announce(menus, call.lang, announcement(before, call), first=before is None)
    if call.step is Step.REFERRAL:
        response.hangup()
        return xml(response)
    if call.step is Step.FALLBACK:
        return xml(_ring_line(response, loaded.fallback_number, call, ctx, loaded))
    if call.step is Step.OVERFLOW:  # a configured line: no routing needed (it may be what failed)
        return xml(_ring_line(response, _line_number(call, None, loaded), call, ctx, loaded))
    plan = ctx.plan(call)
    if before is None or (before.step is not Step.DIAL and before.step not in FINISHING_STEPS):
        record("routed", lambda: services().events.routed(param("CallSid"), plan, at))
    if call.step is Step.FINAL:
        return xml(_ring_line(response, _line_number(call, plan, loaded), call, ctx, loaded))
    leg = plan.legs[call.leg]
    numbers = [t.number for t in ctx.free(leg)]
    if not numbers:  # a replayed step, and everyone on this leg took a call since
        return render(before, advance(call, Event(Input.UNANSWERED), ctx), ctx, loaded)
    state = token(call)  # signed once for both links that need it
    urls = twiml.DialUrls(
        action=link("voice.dial_result", s=state),
        whisper=link("voice.whisper", c=param("CallSid"), s=state),
        leg_status=link("voice.leg_status", c=param("CallSid")),  # no state: it reads none
    )
    timeout = ctx.ring_timeout(call, leg.timeout)
    return xml(twiml.dial(response, numbers, timeout, loaded.config.crisis_number, urls))


def _line_number(call: Call, plan: RoutePlan | None, loaded: Loaded) -> str:
    overflow = loaded.config.overflow
    line = loaded.config.line(overflow.line) if overflow is not None else None
    if call.step is Step.OVERFLOW and line is not None:
        return line.number
    return (plan.final.number if plan is not None else "") or loaded.fallback_number


def _ring_line(
    response: VoiceResponse, number: str, call: Call, ctx: RouteContext, loaded: Loaded
) -> VoiceResponse:
    """Ring a 24/7 line once, for its configured time (cut short by the time bound)."""
    config = loaded.config
    ring = (
        config.overflow.ring
        if call.step is Step.OVERFLOW and config.overflow is not None
        else config.final_line
    )
    action = link("voice.fallback" if call.fallback else "voice.dial_result", call)
    timeout = ctx.ring_timeout(call, ring.timeout)
    return twiml.dial_line(response, number, config.crisis_number, action, timeout)


def _offer(call: Call, plan: RoutePlan, loaded: Loaded) -> VoiceResponse | None:
    """The callback offer's TwiML, or None when none is wired or possible now."""
    offer = services().callback_offer
    if offer is None:
        return None
    decline = link("voice.dial_result", call)
    caller = param("From") or None
    return offer.offer(FinalCall(param("CallSid"), caller, call, plan, loaded, decline))
