"""The voice webhooks: Twilio posts here, we answer with TwiML.

The blueprint is the imperative shell around the pure conversation
(`ivr.flow`): it reads Twilio's parameters into an event, lets the flow
decide the next step, renders it (`callrouter.web.voice_steps`), and
carries the call state to the next webhook in the signed action URLs
(`ivr.state`). Nothing about a call is kept in this process.

Endpoints (all POST, all signed by Twilio, see `callrouter.web.twilio_auth`):

- ``/voice/incoming``: the number's "A call comes in" webhook;
- ``/voice/step``: a menu answer (`<Gather>` action, and the `<Redirect>` on silence);
- ``/voice/dial``: a leg's or line's result (`<Dial>` action), and where a
  declined callback offer comes back; when a conversation with a staff member
  ended, the SMS asking them for the triage outcome is queued;
- ``/voice/whisper`` and ``/voice/whisper/accept``: what staff hear (who is
  calling, "druk 1", and the call's short ref for the triage report), and their key;
- ``/voice/leg-status``: a staff leg ended (`<Number>` status callback);
- ``/voice/status``: the caller's call ended (the number's status callback);
- ``/voice/fallback``: the number's Fallback URL, and the action of every
  fallback-line `<Dial>`: the fallback path, bounded like every other.

What Twilio may omit: `DialBridged` (then the accept the whisper recorded
is the evidence of a conversation, or failing Redis a `DialCallDuration`
longer than any whisper) and `ParentCallSid` (the staff URLs carry the
caller's CallSid as `c`). Busy marks are keyed by the staff leg's own
CallSid, which every leg webhook carries, and cleared when that leg ends.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from callrouter.calls.record import FINAL_LEG_KIND, OVERFLOW_LEG_KIND, who_of
from callrouter.config.live import Loaded
from callrouter.privacy import mask_number
from callrouter.routing.callers import recognise
from callrouter.routing.model import Overflow
from callrouter.routing.plan import Leg, RoutePlan
from callrouter.web.twilio_auth import twilio_signed
from callrouter.web.voice_guard import caller_side, failed_attempts, staff_side
from callrouter.web.voice_services import (
    EXTENSION,
    CallbackOffer,
    FinalCall,
    VoiceServices,
    link,
    now,
    record,
    services,
)
from callrouter.web.voice_steps import context, render
from callrouter.web.webhook_io import param, xml
from ivr import estimate, twiml
from ivr.flow import Call, Event, Input, Step, advance, begin
from ivr.inputs import interpret
from ivr.menus import ACCEPT_DIGIT, BlockedAction, whisper_text
from ivr.route_context import RouteContext

__all__ = ["EXTENSION", "CallbackOffer", "FinalCall", "VoiceServices", "bp", "services"]

logger = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/voice")

_CALLER_GONE = frozenset({"completed", "canceled", "busy", "failed", "no-answer"})
"""`CallStatus` of the caller's own call once it is over."""
_ANSWERED = frozenset({"completed", "answered"})
WHISPER_SLACK_SECONDS = 20.0
"""Beyond this call's whisper (its speech as the estimator times it, and
its key timeout): room for a slow pick-up and a slow voice. A staff leg up
longer than that without an accept on record was a conversation."""


def _caller_sid() -> str:
    """On a staff leg's webhook: the caller's CallSid (`ParentCallSid`, else
    the `c` our own URL carries; Twilio does not always send the former)."""
    return param("ParentCallSid") or request.args.get("c", "")


def _bridged(call_sid: str, whispered: Call | None) -> bool:
    """Whether the `<Dial>` that just ended connected someone (who hung up first
    does not matter). A staff phone that picked up but did not press 1 in the
    whisper (or a voicemail) reports `completed` too, and is not a conversation;
    a 24/7 line has no whisper (`whispered` None), so its `completed` is one.
    Without `DialBridged` or Redis, the leg's duration against the longest its
    whisper can keep it up decides (`_whisper_bound`)."""
    if param("DialCallStatus") not in _ANSWERED:
        return False
    reported = param("DialBridged").lower()
    if reported:
        return reported == "true"
    if not whispered:
        return True
    accepted = services().presence.accepted(call_sid)
    if accepted is not None:
        return accepted
    duration = param("DialCallDuration")
    return duration.isdigit() and int(duration) > _whisper_bound(whispered)


def _whisper_words(loaded: Loaded, call: Call) -> str:
    """What the whisper says to staff: who is calling, then the call's ref."""
    text = whisper_text(loaded.menus, loaded.config, call.facts, call.lang)
    return " ".join(filter(None, (text, loaded.menus.call_ref(call.ref))))


def _whisper_bound(call: Call | None) -> float:
    """The longest this call's whisper keeps a staff leg up without an accept."""
    if call is None:
        return 0.0
    loaded = services().live.current()
    menus = loaded.menus
    spoken = estimate.seconds(_whisper_words(loaded, call), menus.default_language)
    return spoken + menus.whisper.timeout + WHISPER_SLACK_SECONDS


def _dial_event(bridged: bool) -> Event:
    """A `<Dial>` action's parameters as a flow event."""
    if param("CallStatus") in _CALLER_GONE:
        return Event(Input.HUNG_UP)
    return Event(Input.ANSWERED if bridged else Input.UNANSWERED)


def _leg_of(call: Call, plan: RoutePlan) -> Leg | None:
    """The plan leg a DIAL state rings (None at the last steps, or when a config
    reload shortened the plan since)."""
    if call.step is Step.DIAL and 0 <= call.leg < len(plan.legs):
        return plan.legs[call.leg]
    return None


# -------------------- the caller's webhooks


@bp.post("/incoming")
@twilio_signed
@caller_side
def incoming() -> Response:
    svc = services()
    loaded = svc.live.current()
    at = now()
    caller = recognise(param("From") or None, loaded.config)
    call_sid = param("CallSid")
    logger.info(
        "call %s from %s%s%s",
        call_sid,
        mask_number(caller.number or ""),
        " (directory)" if caller.known else "",
        " (blocked)" if caller.blocked else "",
    )
    ref = record("started", lambda: svc.events.started(call_sid, caller.number, at))
    ctx = context(loaded)
    call = begin(
        loaded.menus.default_language,
        int(at.timestamp()),
        caller.facts,
        ctx,
        straight_to_fallback=caller.blocked and loaded.menus.blocked is BlockedAction.FALLBACK,
        ref=ref or "",
    )
    return render(None, call, ctx, loaded)


@bp.post("/step")
@twilio_signed
@caller_side
def step() -> Response:
    loaded = services().live.current()
    call = services().states.loads(request.args.get("s"))
    ctx = context(loaded)
    question = call.step.question
    menu = loaded.menus.menu(question) if question is not None else None
    event = (
        interpret(
            menu, call.lang, param("Digits"), param("SpeechResult"), loaded.menus.language_choice
        )
        if menu is not None
        else Event(Input.SILENCE)
    )
    return render(call, advance(call, event, ctx), ctx, loaded)


@bp.post("/dial")
@twilio_signed
@caller_side
def dial_result() -> Response:
    svc = services()
    loaded = svc.live.current()
    call = svc.states.loads(request.args.get("s"))
    ctx = context(loaded)
    call_sid = param("CallSid")
    bridged = _bridged(call_sid, whispered=call if call.step is Step.DIAL else None)
    if call.step is not Step.OFFER and param("DialCallStatus"):
        _leg_ended(call, ctx, bridged)
    if call.step is Step.DIAL and bridged and call.ref and svc.ask_triage:
        ask = svc.ask_triage
        record("triage ask", lambda: ask(call_sid, call.ref))
    return render(call, advance(call, _dial_event(bridged), ctx), ctx, loaded)


def _leg_ended(call: Call, ctx: RouteContext, bridged: bool) -> None:
    """Bookkeeping of the leg that just ended: busy marks and the call record."""
    svc = services()
    plan = ctx.plan(call)
    leg = _leg_of(call, plan)
    if leg is not None:
        for target in leg.targets:
            if target.member is not None and param("DialCallSid"):
                svc.presence.clear(target.number, param("DialCallSid"))
        _record_leg(call, call.leg + 1, who_of(leg), leg.kind.value, bridged)
        return
    line = plan.final.line or "fallback"
    _record_line(call, len(plan.legs), line, ctx.config.overflow, bridged)


def _record_line(
    call: Call, legs: int, line: str, overflow: Overflow | None, bridged: bool
) -> None:
    """A 24/7 line's ring ended: the final line (or the fallback line on the
    fallback path, which has no plan), or the overflow line; after `legs` staff legs."""
    kind = FINAL_LEG_KIND
    if call.step is Step.OVERFLOW and overflow is not None:
        line, kind = overflow.line, OVERFLOW_LEG_KIND
    index = legs + 1 + 2 * max(call.stage, 0) + call.attempt  # attempts: 1-2
    _record_leg(call, index, f"line:{line}", kind, bridged)


def _record_leg(call: Call, index: int, member: str, kind: str, bridged: bool) -> None:
    """The call record's entry for a ring that ended: who, how it ended, how long."""
    svc = services()
    call_sid = param("CallSid")
    at = now()
    talk = param("DialCallDuration")
    talk_seconds = float(talk) if talk.isdigit() else 0.0
    ring = max(0, int(at.timestamp()) - call.since - int(talk_seconds))
    if bridged:
        result = "answered"
    else:
        status = param("DialCallStatus") or "failed"
        result = "declined" if status in _ANSWERED else status
    record(
        "leg",
        lambda: svc.events.leg(call_sid, index, member, result, ring, at, kind, talk_seconds),
    )


@bp.post("/fallback")
@twilio_signed
@caller_side
def fallback() -> Response:
    """Twilio's Fallback URL, and the action of every fallback-line `<Dial>`.

    Without a state (Twilio's Fallback URL, or the failure chain of
    `voice_guard`, which counts its attempts in `n`) the call starts on the
    fallback path; from then on it is bounded like every other call.
    """
    loaded = services().live.current()
    ctx = context(loaded)
    token = request.args.get("s")
    if token:
        call = services().states.loads(token)
    else:
        call = Call(
            Step.FALLBACK,
            loaded.menus.default_language,
            int(now().timestamp()),
            attempt=max(0, failed_attempts() - 1),
            stage=0,
            fallback=True,
        )
        if not param("DialCallStatus") and param("CallStatus") not in _CALLER_GONE:
            return render(None, call, ctx, loaded)
    bridged = _bridged(param("CallSid"), whispered=None)
    if param("DialCallStatus"):  # the fallback or overflow line's ring ended: on record too
        _record_line(call, 0, "fallback", loaded.config.overflow, bridged)
    return render(call, advance(call, _dial_event(bridged), ctx), ctx, loaded)


@bp.post("/status")
@twilio_signed
def call_status() -> Response:
    """The caller's call ended (the number's "Call status changes" callback)."""
    duration = param("CallDuration")
    record(
        "ended",
        lambda: services().events.ended(
            param("CallSid"),
            float(duration) if duration.isdigit() else None,
            now(),
            param("CallStatus") or "completed",
        ),
    )
    offer = services().callback_offer
    if offer is not None:
        record("typed number forgotten", lambda: offer.call_ended(param("CallSid")))
    return Response(status=204)


# -------------------- the staff leg's webhooks


@bp.post("/whisper")
@twilio_signed
@staff_side
def whisper() -> Response:
    """The staff member answered: say who is calling; only the accept key connects.
    Then the call's short ref ("Gespreksnummer 4 8 2 1 3 0 9 7."), for the triage report."""
    loaded = services().live.current()
    call = services().states.loads(request.args.get("s"))
    text = _whisper_words(loaded, call)
    accept = link("voice.whisper_accept", s=request.args.get("s", ""), c=_caller_sid())
    return xml(twiml.whisper(loaded.menus, text, accept))


@bp.post("/whisper/accept")
@twilio_signed
@staff_side
def whisper_accept() -> Response:
    if param("Digits") != ACCEPT_DIGIT:
        return xml(twiml.hang_up())
    svc = services()
    loaded = svc.live.current()
    call = svc.states.loads(request.args.get("s"))
    caller_sid, leg_sid, staff_number = _caller_sid(), param("CallSid"), param("To")
    leg = _leg_of(call, context(loaded).plan(call))
    target = next((t for t in leg.targets if t.number == staff_number), None) if leg else None
    if target is not None and target.member is not None and leg_sid:
        svc.presence.mark_busy(staff_number, leg_sid)
    if caller_sid:
        svc.presence.accept(caller_sid)
    who = (target.member or target.name) if target is not None else "unknown"
    at = now()
    if caller_sid:
        index = call.leg + 1 if leg else None
        record("answered", lambda: svc.events.answered(caller_sid, who, at, index))
    logger.info("call %s accepted by %s", caller_sid or "(unknown)", who)
    return xml(twiml.connect())


@bp.post("/leg-status")
@twilio_signed
def leg_status() -> Response:
    """A staff leg ended: they are free for the next crisis call (the mark
    their accept set carries this leg's own CallSid)."""
    if param("CallSid") and param("To"):
        services().presence.clear(param("To"), param("CallSid"))
    return Response(status=204)
