"""The voice webhooks: Twilio posts here, we answer with TwiML.

The blueprint is the imperative shell around the pure conversation
(`ivr.flow`): it reads Twilio's parameters into an event, lets the flow
decide the next step, renders it (`ivr.twiml`), and carries the call state
to the next webhook in the signed action URLs (`ivr.state`). Nothing about
a call is kept in this process.

Endpoints (all POST, all signed by Twilio, see `callrouter.web.twilio_auth`):

- ``/voice/incoming``: the number's "A call comes in" webhook;
- ``/voice/step``: a menu answer (`<Gather>` action, and the `<Redirect>` on silence);
- ``/voice/dial``: a leg's result (`<Dial>` action); when a conversation with a
  staff member ended, the SMS asking them for the triage outcome is queued;
- ``/voice/whisper`` and ``/voice/whisper/accept``: what staff hear (who is
  calling, "druk 1", and the call's short ref for the triage report), and their key;
- ``/voice/leg-status``: a staff leg ended (`<Number>` status callback);
- ``/voice/status``: the caller's call ended (the number's status callback);
- ``/voice/fallback``: the number's Fallback URL, and the last resort of every
  failure here: straight to the 24/7 fallback line.

Degrade, don't drop: any exception while answering the caller, an unreadable
state, or a failing Redis ends in a `<Dial>` of the fallback line, never in
an error Twilio would read out as "an application error has occurred".
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ParamSpec, Protocol, TypeVar

from flask import Blueprint, Response, current_app, request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from callrouter.calls.events import CallEvents
from callrouter.calls.record import who_of
from callrouter.config.live import LiveConfig, Loaded
from callrouter.privacy import mask_number
from callrouter.routing.callers import recognise
from callrouter.routing.plan import Leg, RoutePlan
from callrouter.web.presence import Presence
from callrouter.web.twilio_auth import twilio_signed
from callrouter.web.webhook_io import param, public_url, xml
from ivr import twiml
from ivr.flow import DIALLING_STEPS, Call, Event, Input, Step, advance, begin
from ivr.inputs import interpret
from ivr.menus import ACCEPT_DIGIT, BlockedAction, Prompt, whisper_text
from ivr.route_context import RouteContext
from ivr.state import CallStates, StateError

logger = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/voice")

EXTENSION = "callrouter.voice"
_CALLER_GONE = frozenset({"completed", "canceled", "busy", "failed", "no-answer"})
"""`CallStatus` of the caller's own call once it is over."""
_BRIDGED = frozenset({"completed", "answered"})
P = ParamSpec("P")
T = TypeVar("T")


class CallbackOffer(Protocol):
    """Where the callback offer (issue 4) plugs in; see `final_step`."""

    def offer(self, call: FinalCall) -> VoiceResponse | None:
        """TwiML that offers the caller a callback and confirms their number,
        or None to dial the plan's final line instead (e.g. Redis is down,
        or the caller's number is withheld). A caller who declines must be
        sent to `call.decline_url`, which dials the final line."""
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


def services() -> VoiceServices:
    found: VoiceServices = current_app.extensions[EXTENSION]
    return found


def now() -> dt.datetime:
    """The one moment source of the webhooks (`app.config["CLOCK"]`, normally
    `callrouter.clock.now`; tests pass their own)."""
    moment: dt.datetime = current_app.config["CLOCK"]()
    return moment


# -------------------- degrading


def _ring_fallback(response: VoiceResponse) -> VoiceResponse:
    """Ring the 24/7 fallback line; needs only the last good config's two numbers."""
    loaded = services().live.current()
    return twiml.dial_line(
        response, loaded.fallback_number, loaded.config.crisis_number, _link("voice.fallback")
    )


def _announced(first: bool = False) -> VoiceResponse:
    """'We are connecting you', in the default language (the state may be lost)."""
    menus = services().live.current().menus
    return twiml.announce(menus, menus.default_language, Prompt.CONNECTING, first)


def _guarded(
    view: Callable[P, Response], instead: Callable[[], Response], consequence: str
) -> Callable[P, Response]:
    """`view`, answering `instead()` when it fails (HTTP errors such as the
    signature check's 403 pass through: those are not ours to soften)."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return view(*args, **kwargs)
        except HTTPException:
            raise
        except StateError as exc:
            logger.warning("%s: %s; %s", request.path, exc, consequence)
        except Exception:
            logger.exception("%s failed; %s", request.path, consequence)
        return instead()

    return guarded


def _fallback_after_failure() -> Response:
    try:
        return xml(_ring_fallback(_announced()))
    except Exception:
        logger.exception("%s: the spoken fallback failed too; dialling it bare", request.path)
        return xml(_ring_fallback(VoiceResponse()))


def caller_side(view: Callable[P, Response]) -> Callable[P, Response]:
    """A caller's webhook: whatever fails, the caller is put through to the fallback line."""
    return _guarded(view, _fallback_after_failure, "sending the caller to the fallback line")


def staff_side(view: Callable[P, Response]) -> Callable[P, Response]:
    """A staff leg's webhook: on failure the leg is not connected (hang up, so
    the caller's plan moves on) rather than connecting an unconfirmed phone."""
    return _guarded(view, lambda: xml(twiml.hang_up()), "this staff leg is not connected")


def _record(what: str, emit: Callable[[], T]) -> T | None:
    """Call records must never break a call: `emit()`'s result, or None when it failed."""
    try:
        return emit()
    except Exception:
        logger.exception("call event %r was not recorded; the call goes on", what)
        return None


# -------------------- helpers


def _token(call: Call) -> str:
    return services().states.dumps(call)


def _link(endpoint: str, token: str | None = None) -> str:
    """The absolute URL Twilio should call, with the signed call state `token`."""
    return public_url(endpoint, s=token) if token is not None else public_url(endpoint)


def _context(loaded: Loaded) -> RouteContext:
    return RouteContext(
        loaded.config, loaded.menus.questions, services().presence.busy, loaded.questions_memo
    )


def _dial_event() -> Event:
    """A `<Dial>` action's parameters as a flow event.

    A leg counts as answered only when Twilio bridged it (`DialBridged`):
    a staff phone that picked up but did not press 1 in the whisper (or a
    voicemail) reports `completed` too, and must not end the caller's call.
    """
    if param("CallStatus") in _CALLER_GONE:
        return Event(Input.HUNG_UP)
    bridged = param("DialBridged").lower() == "true"
    if param("DialCallStatus") in _BRIDGED and bridged:
        return Event(Input.ANSWERED)
    return Event(Input.UNANSWERED)


def _leg_of(call: Call, plan: RoutePlan) -> Leg | None:
    """The plan leg a DIAL state rings (None at the final step, or when a config
    reload shortened the plan since)."""
    if call.step is Step.DIAL and 0 <= call.leg < len(plan.legs):
        return plan.legs[call.leg]
    return None


def _bridged() -> bool:
    """The `<Dial>` that just ended had connected someone (who hung up first does not matter)."""
    return param("DialBridged").lower() == "true" and param("DialCallStatus") in _BRIDGED


def _leg_result(event: Event) -> str:
    if event.input is Input.ANSWERED or _bridged():
        return "answered"
    status = param("DialCallStatus") or "failed"
    return "declined" if status in _BRIDGED else status


# -------------------- rendering


def _render(before: Call | None, call: Call, ctx: RouteContext, loaded: Loaded) -> Response:
    """The TwiML for `call`'s step; `before` is the step it came from (None: a new call)."""
    menus, config = loaded.menus, loaded.config
    first = before is None or before.lang != call.lang
    question = call.step.question
    if question is not None:
        menu = menus.menu(question)
        if menu is not None:
            action = _link("voice.step", _token(call))
            return xml(twiml.question(menus, menu, call.lang, call.attempt > 0, action, first))
        # The menu was removed by a config reload during this call: ask no more.
        call = advance(call, Event(Input.UNANSWERED), ctx)
    if call.step is Step.DONE:
        return xml(twiml.hang_up())
    at = now()
    call = replace(call, since=int(at.timestamp()))
    prompt = (
        Prompt.STILL_CONNECTING
        if before is not None and before.step in DIALLING_STEPS
        else Prompt.CONNECTING
    )
    response = twiml.announce(menus, call.lang, prompt, first=before is None)
    if call.step is Step.FALLBACK:
        return xml(_ring_fallback(response))
    plan = ctx.plan(call)
    if before is None or before.step not in DIALLING_STEPS:
        _record("routed", lambda: services().events.routed(param("CallSid"), plan, at))
    if call.step is Step.FINAL:
        return xml(final_step(call, plan, loaded, response))
    leg = plan.legs[call.leg]
    numbers = [t.number for t in ctx.free(leg)]
    if not numbers:  # a replayed step, and everyone on this leg took a call since
        return _render(before, advance(call, Event(Input.UNANSWERED), ctx), ctx, loaded)
    token = _token(call)
    urls = twiml.DialUrls(
        action=_link("voice.dial_result", token),
        whisper=_link("voice.whisper", token),
        leg_status=_link("voice.leg_status", token),
    )
    return xml(twiml.dial(response, numbers, leg.timeout, config.crisis_number, urls))


def final_step(
    call: Call, plan: RoutePlan, loaded: Loaded, response: VoiceResponse
) -> VoiceResponse:
    """Every leg failed: the plan's final step.

    THE SEAM FOR CALLBACKS (issue 4): when the plan offers a callback and a
    `CallbackOffer` is wired into `VoiceServices.callback_offer`, its TwiML
    is used (once per call); until then, and whenever it declines, the
    caller is put through to the plan's final line (or the fallback line).
    """
    offer = services().callback_offer
    if offer is not None and plan.final.callback and call.attempt == 0:
        caller = param("From") or None
        redial = _link("voice.dial_result", _token(replace(call, attempt=1)))
        offered = offer.offer(FinalCall(param("CallSid"), caller, call, plan, loaded, redial))
        if offered is not None:
            return offered
    number = plan.final.number or loaded.fallback_number
    return twiml.dial_line(
        response, number, loaded.config.crisis_number, _link("voice.dial_result", _token(call))
    )


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
    ref = _record("started", lambda: svc.events.started(call_sid, caller.number, at))
    ctx = _context(loaded)
    call = begin(
        loaded.menus.default_language,
        int(at.timestamp()),
        caller.facts,
        ctx,
        straight_to_fallback=caller.blocked and loaded.menus.blocked is BlockedAction.FALLBACK,
        ref=ref or "",
    )
    return _render(None, call, ctx, loaded)


@bp.post("/step")
@twilio_signed
@caller_side
def step() -> Response:
    loaded = services().live.current()
    call = services().states.loads(request.args.get("s"))
    ctx = _context(loaded)
    question = call.step.question
    menu = loaded.menus.menu(question) if question is not None else None
    event = (
        interpret(
            menu, call.lang, param("Digits"), param("SpeechResult"), loaded.menus.language_choice
        )
        if menu is not None
        else Event(Input.SILENCE)
    )
    return _render(call, advance(call, event, ctx), ctx, loaded)


@bp.post("/dial")
@twilio_signed
@caller_side
def dial_result() -> Response:
    svc = services()
    loaded = svc.live.current()
    call = svc.states.loads(request.args.get("s"))
    ctx = _context(loaded)
    event = _dial_event()
    if call.step in (Step.DIAL, Step.FINAL) and param("DialCallStatus"):
        _leg_ended(call, ctx, event)
    if call.step is Step.DIAL and _bridged() and call.ref and svc.ask_triage is not None:
        ask = svc.ask_triage
        _record("triage ask", lambda: ask(param("CallSid"), call.ref))
    return _render(call, advance(call, event, ctx), ctx, loaded)


def _leg_ended(call: Call, ctx: RouteContext, event: Event) -> None:
    """Bookkeeping of the leg that just ended: busy marks and the call record."""
    svc = services()
    call_sid = param("CallSid")
    plan = ctx.plan(call)
    at = now()
    talk = param("DialCallDuration")
    talk_seconds = float(talk) if talk.isdigit() else 0.0
    ring = max(0, int(at.timestamp()) - call.since - int(talk_seconds))
    leg = _leg_of(call, plan)
    if leg is not None:
        for target in leg.targets:
            if target.member is not None:
                svc.presence.clear(target.number, call_sid)
        index, member, kind = call.leg + 1, who_of(leg), leg.kind.value
    else:
        index, member, kind = (
            len(plan.legs) + 1 + call.attempt,
            f"line:{plan.final.line or 'fallback'}",
            "final",
        )
    result = _leg_result(event)
    _record(
        "leg",
        lambda: svc.events.leg(call_sid, index, member, result, ring, at, kind, talk_seconds),
    )


@bp.post("/fallback")
@twilio_signed
@caller_side
def fallback() -> Response:
    """Twilio's Fallback URL, and the action of every fallback-line `<Dial>`.

    Stateless: the first request (no `DialCallStatus`) rings the line; a
    result that is not a conversation rings it again.
    """
    if not param("DialCallStatus") and param("CallStatus") not in _CALLER_GONE:
        return xml(_ring_fallback(_announced(first=True)))
    loaded = services().live.current()
    call = Call(step=Step.FALLBACK, lang=loaded.menus.default_language, at=int(now().timestamp()))
    ctx = _context(loaded)
    return _render(call, advance(call, _dial_event(), ctx), ctx, loaded)


@bp.post("/status")
@twilio_signed
def call_status() -> Response:
    """The caller's call ended (the number's "Call status changes" callback)."""
    duration = param("CallDuration")
    _record(
        "ended",
        lambda: services().events.ended(
            param("CallSid"),
            float(duration) if duration.isdigit() else None,
            now(),
            param("CallStatus") or "completed",
        ),
    )
    return Response(status=204)


# -------------------- the staff leg's webhooks


@bp.post("/whisper")
@twilio_signed
@staff_side
def whisper() -> Response:
    """The staff member answered: say who is calling; only the accept key connects.
    Then the call's short ref ("Gespreksnummer 1 0 4 2."), for the triage report."""
    loaded = services().live.current()
    call = services().states.loads(request.args.get("s"))
    text = whisper_text(loaded.menus, loaded.config, call.facts, call.lang)
    text = " ".join(filter(None, (text, loaded.menus.call_ref(call.ref))))
    accept = _link("voice.whisper_accept", request.args.get("s"))
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
    caller_sid, staff_number = param("ParentCallSid"), param("To")
    leg = _leg_of(call, _context(loaded).plan(call))
    target = next((t for t in leg.targets if t.number == staff_number), None) if leg else None
    if target is not None and target.member is not None:
        svc.presence.mark_busy(staff_number, caller_sid)
    who = (target.member or target.name) if target is not None else "unknown"
    at = now()
    _record(
        "answered", lambda: svc.events.answered(caller_sid, who, at, call.leg + 1 if leg else None)
    )
    logger.info("call %s accepted by %s", caller_sid, who)
    return xml(twiml.connect())


@bp.post("/leg-status")
@twilio_signed
def leg_status() -> Response:
    """A staff leg ended: they are free for the next crisis call."""
    services().presence.clear(param("To"), param("ParentCallSid"))
    return Response(status=204)
