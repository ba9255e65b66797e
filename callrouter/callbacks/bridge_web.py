"""The bridged callback, staff side: webhooks that carry out `ivr/bridge.py` and
`ivr/keypad.py` (``/voice/callback/bridge/<id>/...``, all signed by Twilio).

The worker calls the staff member who claimed the request (`jobs.place_bridge`);
when they answer they hear who is waiting and the call's short ref, and press
1; then ``<Dial callerId=crisis number>`` rings the caller, who hears "the
crisis line is calling you back" as they pick up (that is when the callback
counts as reached). Every other end (staff no answer or busy, no key, caller
no answer or busy, silence from Twilio) is one failed attempt: back to the
queue up to ``max_attempts``. After a conversation the staff member is still
on the line, so the Dial action asks the triage outcome by keypad.

The caller's side (`bridge_caller`) answers TwiML whatever happens, so the
caller is always connected to the staff member who is waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ParamSpec

import redis
from flask import Blueprint, Response, abort, request
from flask.typing import ResponseReturnValue
from twilio.twiml.voice_response import VoiceResponse

from callrouter.callbacks import service
from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.messages import whisper
from callrouter.callbacks.requests import Request
from callrouter.callbacks.texts import Say, Staff
from callrouter.callbacks.webhooks import gather, now, say, staff_say, web
from callrouter.calls.triage import keypad_prompt
from callrouter.web.twilio_auth import twilio_signed
from callrouter.web.voice_guard import guarded
from callrouter.web.webhook_io import param, public_url, xml
from ivr import bridge, keypad

if TYPE_CHECKING:
    from callrouter.config.live import Loaded

logger = logging.getLogger(__name__)

bp = Blueprint("callback_bridge", __name__, url_prefix="/voice/callback/bridge")
P = ParamSpec("P")


def _attempt() -> int:
    """The attempt number Twilio echoes from our URL; anything else is a bad request."""
    raw = request.args.get("attempt", "")
    if not raw.isdigit() or len(raw) > 4:
        abort(400)
    return int(raw)


def _current(ctx: service.CallbackContext, request_id: str, attempt: int) -> Request | None:
    """The request when it is being called in this attempt; None otherwise (stale)."""
    found = ctx.store.get(request_id)
    if found is None or found.state is not State.CALLING or found.attempts != attempt:
        return None
    return found


def _end(loaded: Loaded, step: bridge.Step) -> VoiceResponse:
    """What the staff member hears at an end of the bridge table, then hang up."""
    texts = loaded.callbacks.texts
    key = {
        bridge.Step.GONE: Staff.GONE,
        bridge.Step.REQUEUED: Staff.ATTEMPT_REQUEUED,
        bridge.Step.GIVEN_UP: Staff.GIVEN_UP,
        bridge.Step.ENDED: Staff.ENDED,
    }[step]
    return staff_say(loaded, loaded.callbacks, texts.staff(key))


def staff_side(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
    """A staff webhook of the bridge: on failure, end the staff call politely
    (the request is put back by the status callback or the watchdog)."""

    def sorry() -> ResponseReturnValue:
        loaded = web().live.current()
        policy = loaded.callbacks
        return xml(staff_say(loaded, policy, policy.texts.staff(Staff.ERROR)))

    return guarded(view, sorry, "the staff member hears an apology")


def called_back_side(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
    """The called-back caller's leg: whatever fails, an empty answer, which
    connects them to the staff member waiting on the line."""
    return guarded(view, lambda: xml(VoiceResponse()), "connecting the caller anyway")


@bp.post("/<request_id>/staff")
@twilio_signed
@staff_side
def bridge_staff(request_id: str) -> ResponseReturnValue:
    """The staff member answered our call: who is waiting, press 1."""
    attempt = _attempt()
    loaded = web().live.current()
    found = _current(web().context(loaded), request_id, attempt)
    if found is None:
        return xml(_end(loaded, bridge.advance(bridge.Step.WHISPER, bridge.Input.STALE)))
    texts = loaded.callbacks.texts
    action = public_url("callback_bridge.bridge_accept", request_id=request_id, attempt=attempt)
    response = VoiceResponse()
    menu = gather(response, loaded, texts.staff_language, action, num_digits=1, timeout=10)
    intro = whisper(found, loaded.config, texts, now())
    ref = loaded.menus.call_ref(web().bridge_log.ref_of(found.call_sid or ""))
    say(menu, loaded, texts.staff_language, f"{intro} {ref}".strip())
    response.redirect(action, method="POST")
    return xml(response)


@bp.post("/<request_id>/accept")
@twilio_signed
@staff_side
def bridge_accept(request_id: str) -> ResponseReturnValue:
    """Staff pressed 1 (ring the caller, crisis number as caller id), or did not."""
    attempt = _attempt()
    loaded = web().live.current()
    ctx = web().context(loaded)
    found = _current(ctx, request_id, attempt)
    digit = param("Digits")
    event = (
        bridge.Input.STALE
        if found is None
        else bridge.Input.ACCEPT
        if digit == "1" and found.number
        else bridge.Input.SILENCE
        if not digit
        else bridge.Input.OTHER_KEY
    )
    step = bridge.advance(bridge.Step.WHISPER, event)
    if step is not bridge.Step.CONNECT or found is None:
        if step is bridge.Step.REQUEUED:
            service.attempt_failed(ctx, request_id, attempt, "staff-no-input", now())
            return xml(staff_say(loaded, ctx.policy, ctx.policy.texts.staff(Staff.NO_INPUT)))
        return xml(_end(loaded, step))
    response = VoiceResponse()
    say(response, loaded, ctx.policy.texts.staff_language, ctx.policy.texts.staff(Staff.CONNECTING))
    dial = response.dial(
        action=public_url("callback_bridge.bridge_dialed", request_id=request_id, attempt=attempt),
        method="POST",
        timeout=ctx.policy.caller_ring_seconds,
        caller_id=loaded.config.crisis_number,
    )
    dial.number(
        found.number,
        url=public_url("callback_bridge.bridge_caller", request_id=request_id, attempt=attempt),
        method="POST",
    )
    return xml(response)


@bp.post("/<request_id>/caller")
@twilio_signed
@called_back_side
def bridge_caller(request_id: str) -> ResponseReturnValue:
    """The caller picked up: the callback is reached; they hear who is calling and
    are connected. Whatever fails (Redis, a garbled URL), they are still connected."""
    loaded = web().live.current()
    lang = loaded.menus.default_language
    try:
        ctx = web().context(loaded)
        found = _current(ctx, request_id, int(request.args.get("attempt", "-1")))
        if found is not None:
            lang = found.lang
            service.reached(ctx, request_id, found.attempts, now())
    except (redis.RedisError, ValueError):
        logger.exception("callback %s: could not record 'reached'; connecting anyway", request_id)
    response = VoiceResponse()
    texts = loaded.callbacks.texts
    if texts:
        say(response, loaded, lang, texts.say(Say.CALLED_BACK, lang))
    return xml(response)


@bp.post("/<request_id>/dialed")
@twilio_signed
@staff_side
def bridge_dialed(request_id: str) -> ResponseReturnValue:
    """The `<Dial>` to the caller ended: a conversation (ask its triage outcome),
    or one failed attempt."""
    attempt = _attempt()
    loaded = web().live.current()
    ctx = web().context(loaded)
    if param("DialCallStatus") in ("completed", "answered"):
        # They talked. If the caller's leg could not record that (Redis), do it now,
        # or a later staff hang-up would count as a failed attempt: a second callback.
        try:
            service.reached(ctx, request_id, attempt, now())  # a no-op once recorded
        except redis.RedisError:
            logger.warning("callback %s: 'reached' not recorded (Redis)", request_id)
        return xml(_after_conversation(loaded, ctx, request_id))
    status = param("DialCallStatus") or "unknown"
    t = service.attempt_failed(ctx, request_id, attempt, f"caller-{status[:20]}", now())
    gave_up = t.ok and t.after is State.FAILED
    event = bridge.Input.MISSED_LAST if gave_up else bridge.Input.MISSED
    return xml(_end(loaded, bridge.advance(bridge.Step.CONNECT, event)))


@bp.post("/<request_id>/status")
@twilio_signed
def bridge_status(request_id: str) -> ResponseReturnValue:
    """Status callback of our call to the staff member: it ended (not answered, busy, hung up)."""
    attempt = _attempt()
    status = param("CallStatus")
    if status in ("no-answer", "busy", "failed", "canceled", "completed"):
        loaded = web().live.current()
        outcome = "staff-hung-up" if status == "completed" else f"staff-{status}"
        service.attempt_failed(web().context(loaded), request_id, attempt, outcome, now())
    return Response(status=204)


# --------------------------------------------------------------------------- triage keypad


@dataclass(frozen=True)
class TriageState:
    """What the triage step after a bridged callback carries, signed, in its URL."""

    call_sid: str
    """The caller's original call, whose record the outcome joins."""
    by: str
    """The member who claimed (and just had) the callback: the only one who may answer."""
    ref: str
    """What staff type in the SMS instead: the call's ref, else the claim code."""
    pad: keypad.Keypad


def _triage_text(loaded: Loaded, key: Staff, state: TriageState | None) -> VoiceResponse:
    policy = loaded.callbacks
    codes = loaded.triage
    text = policy.texts.staff(
        key, keyword=codes.keyword, ref=state.ref if state else "", example=codes.example
    )
    return staff_say(loaded, policy, text)


def _triage_menu(loaded: Loaded, request_id: str, state: TriageState, lead: str) -> VoiceResponse:
    """'Toets de uitkomst van de triage: 1 voor Advies, ...', one key; silence
    comes back as no key."""
    token = (
        web().signer("bridge-triage").dumps([state.call_sid, state.by, state.ref, state.pad.tries])
    )
    action = public_url("callback_bridge.bridge_triage", request_id=request_id, s=token)
    response = VoiceResponse()
    lang = loaded.callbacks.texts.staff_language
    menu = gather(response, loaded, lang, action, num_digits=1, timeout=10)
    say(menu, loaded, lang, f"{lead} {keypad_prompt(loaded.triage, lang)}")
    response.redirect(action, method="POST")
    return response


def _after_conversation(
    loaded: Loaded, ctx: service.CallbackContext, request_id: str
) -> VoiceResponse:
    """The callback's conversation ended and the staff member is still on the line:
    ask the triage outcome by keypad. Without a call to link it to (or keys to
    press, or Redis), just say goodbye: the conversation happened either way."""
    texts = loaded.callbacks.texts
    try:
        found = ctx.store.get(request_id)
        codes = loaded.triage
        if found is None or not found.call_sid or not any(c.digit for c in codes.codes):
            return _end(loaded, bridge.advance(bridge.Step.CONNECT, bridge.Input.TALKED_NO_TRIAGE))
        ref = web().bridge_log.ref_of(found.call_sid) or found.code
        state = TriageState(
            found.call_sid, found.claimed_by or "", ref, keypad.Keypad(keypad.Step.ASK)
        )
        return _triage_menu(loaded, request_id, state, texts.staff(Staff.ENDED_TRIAGE))
    except Exception:
        logger.exception("callback %s: no triage menu after the conversation", request_id)
        return _end(loaded, bridge.Step.ENDED)


@bp.post("/<request_id>/triage")
@twilio_signed
def bridge_triage(request_id: str) -> ResponseReturnValue:
    """The key the staff member pressed for the triage outcome after the callback.

    A valid key is recorded (``via=keypad``, by the member who had the call)
    and confirmed; anything else gets the menu once more, then a goodbye that
    says how to send it by SMS.
    """
    loaded = web().live.current()
    try:
        call_sid, by, ref, tries = web().signer("bridge-triage").loads(request.args.get("s", ""))
        state = TriageState(
            str(call_sid), str(by), str(ref), keypad.Keypad(keypad.Step.ASK, int(tries))
        )
    except Exception:  # a forged or garbled state: nothing to record against
        logger.warning("%s: unreadable triage state; nothing recorded", request.path)
        return xml(_triage_text(loaded, Staff.TRIAGE_LOST, None))
    try:
        code = web().bridge_log.record_keypad(
            state.call_sid, param("Digits")[:1], loaded.triage, by=state.by, at=now()
        )
        event = keypad.Input.VALID if code is not None else keypad.Input.INVALID
        if not param("Digits"):
            event = keypad.Input.SILENCE
    except Exception:
        logger.exception("callback %s: the triage outcome could not be stored", request_id)
        code, event = None, keypad.Input.STORE_FAILED
    pad = keypad.advance(state.pad, event)
    if pad.step is keypad.Step.RECORDED and code is not None:
        logger.info("callback %s: triage %s by %s (keypad)", request_id, code.code, state.by)
        policy = loaded.callbacks
        return xml(
            staff_say(loaded, policy, policy.texts.staff(Staff.TRIAGE_DONE, label=code.label))
        )
    if pad.step is keypad.Step.FAILED:
        return xml(_triage_text(loaded, Staff.TRIAGE_FAILED, state))
    if pad.step is keypad.Step.BY_SMS:
        return xml(_triage_text(loaded, Staff.TRIAGE_BY_SMS, state))
    lead = loaded.callbacks.texts.staff(Staff.TRIAGE_INVALID)
    return xml(_triage_menu(loaded, request_id, replace(state, pad=pad), lead))
