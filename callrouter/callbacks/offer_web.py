"""The callback offer, caller side: webhooks that carry out `ivr/callback_offer.py`.

Under ``/voice/callback``, signed by Twilio, reached from the voice flow's
`CallbackOffer` seam (`VoiceOffer`). Each webhook turns what the caller
pressed into an input of the offer table and renders the step it lands on;
the table guarantees every path ends queued, put through, or hung up. State
travels signed in the URL (`offer_state`), never a number; a typed number
waits in Redis only until the caller confirms, cancels or hangs up (the
number's status callback, `VoiceOffer.call_ended`), two minutes at most. Over
a limit the caller is put through; with Redis down the request is spooled
(the endings, queued, spooled or put through, are `offer_endings`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import redis
from flask import Blueprint
from flask.typing import ResponseReturnValue
from twilio.twiml.voice_response import VoiceResponse

from callrouter.callbacks.callback_number import Refusal, check_callback_number
from callrouter.callbacks.messages import spoken_digits, spoken_national
from callrouter.callbacks.offer_endings import goodbye, put_through, submit
from callrouter.callbacks.offer_state import OfferState, link, load_state
from callrouter.callbacks.store import CallbackStore
from callrouter.callbacks.texts import Say
from callrouter.callbacks.webhooks import CallbackWeb, gather, say, web
from callrouter.web.twilio_auth import twilio_signed
from callrouter.web.voice_guard import caller_side
from callrouter.web.webhook_io import param, xml
from ivr.callback_offer import Input, Offer, Step, advance, confirm_input, offer_input

if TYPE_CHECKING:
    from callrouter.config.live import Loaded
    from callrouter.web.voice import FinalCall

logger = logging.getLogger(__name__)

bp = Blueprint("callbacks", __name__, url_prefix="/voice/callback")

TYPED_NUMBER_SECONDS = 120
"""A typed number is needed only until the caller confirms it (seconds later);
it is deleted then, or when they cancel or hang up, and expires after this at
the latest (the one bound left when Redis or the status callback fails)."""


def offer_twiml(call: FinalCall) -> VoiceResponse:
    """The first offer, from the voice flow's final step."""
    facts = call.call.facts
    state = OfferState(
        call.call.lang,
        facts.caller_type,
        facts.age_group,
        facts.region,
        Offer(Step.OFFER),
        call.decline_url,
    )
    return _render(call.loaded, state, call.caller_number, call.call_sid or None)


def _own_number(loaded: Loaded, caller: str | None) -> str | None:
    return _check_own(loaded, caller)[0]


def _check_own(loaded: Loaded, caller: str | None) -> tuple[str | None, Refusal | None]:
    """The caller's own number when we may call it back, else why not (None: withheld)."""
    if not caller:
        return None, None
    return check_callback_number(caller, loaded.callbacks, loaded.config)


def _render(
    loaded: Loaded,
    state: OfferState,
    caller: str | None,
    call_sid: str | None,
    refusal: Refusal | None = None,
    typed: str | None = None,
) -> VoiceResponse:
    """The TwiML of the step the offer is at."""
    texts = loaded.callbacks.texts
    lang = state.lang
    step = state.offer.step
    if step is Step.PUT_THROUGH:
        return put_through(loaded, state, Say.PUT_THROUGH)
    if step is Step.DONE:
        return goodbye(VoiceResponse(), loaded, lang)
    if step is Step.SUBMIT:
        number = typed or _own_number(loaded, caller)
        if number is None:
            return put_through(loaded, state, Say.PUT_THROUGH)
        return submit(loaded, state, number, caller, call_sid)
    response = VoiceResponse()
    if step is Step.OFFER:
        own, refusal = _check_own(loaded, caller)
        visible = refusal is not None and refusal is not Refusal.INVALID  # not "anonymous"
        menu = gather(
            response, loaded, lang, link("callbacks.choice", state), num_digits=1, timeout=6
        )
        if state.offer.tries == 0:
            say(menu, loaded, lang, texts.say(Say.OFFER, lang))
        if visible and refusal is not None:  # a number we see but may not call back: say why
            say(menu, loaded, lang, texts.say(Say(refusal.value), lang))
        if own:
            text = texts.say(Say.OFFER_OWN, lang, last=spoken_digits(own))
        else:
            text = texts.say(Say.OFFER_TYPED if visible else Say.OFFER_OTHER, lang)
        say(menu, loaded, lang, text)
        response.redirect(link("callbacks.choice", state), method="POST")
    elif step is Step.ENTER:
        if refusal is not None:
            say(response, loaded, lang, texts.say(Say(refusal.value), lang))
        menu = gather(
            response,
            loaded,
            lang,
            link("callbacks.number_check", state),
            finish_on_key="#",
            timeout=10,
            num_digits=16,
        )
        say(menu, loaded, lang, texts.say(Say.ENTER, lang))
        response.redirect(link("callbacks.number_check", state), method="POST")
    elif step is Step.CONFIRM:
        action = link("callbacks.number_confirm", state)
        menu = gather(response, loaded, lang, action, num_digits=1, timeout=6)
        say(menu, loaded, lang, texts.say(Say.CONFIRM, lang, digits=spoken_national(typed or "")))
        response.redirect(action, method="POST")
    else:  # a step this renderer has no page for: never silence, a person
        return put_through(loaded, state, Say.PUT_THROUGH)
    return response


def _typed_store() -> CallbackStore | None:
    conn = web().conn
    return CallbackStore(conn) if conn is not None else None


def _forget_typed(conn: redis.Redis | None, call_sid: str) -> None:
    """The caller confirmed, cancelled, is being put through or hung up: the typed
    number goes. Never raises for Redis: the number's TTL is the fallback."""
    if conn is None or not call_sid:
        return
    try:
        CallbackStore(conn).forget_typed(call_sid)
    except redis.RedisError:
        logger.warning("call %s: typed number not deleted now (Redis); it expires", call_sid)


def _step(loaded: Loaded, state: OfferState, event: Input, **kw: Any) -> ResponseReturnValue:
    """Advance the offer table by `event` and render where it lands."""
    nxt = replace(state, offer=advance(state.offer, event))
    if nxt.offer.step in (Step.PUT_THROUGH, Step.DONE):
        _forget_typed(web().conn, param("CallSid"))
    return xml(_render(loaded, nxt, param("From") or None, param("CallSid") or None, **kw))


@bp.post("/choice")
@twilio_signed
@caller_side
def choice() -> ResponseReturnValue:
    loaded = web().live.current()
    state = load_state(loaded, Step.OFFER)
    own = _own_number(loaded, param("From") or None) is not None
    return _step(loaded, state, offer_input(param("Digits"), own))


@bp.post("/number/check")
@twilio_signed
@caller_side
def number_check() -> ResponseReturnValue:
    loaded = web().live.current()
    state = load_state(loaded, Step.ENTER)
    digits = param("Digits")
    if not digits:
        return _step(loaded, state, Input.SILENCE)
    typed, refusal = check_callback_number(digits, loaded.callbacks, loaded.config)
    if typed is None:
        logger.info("call %s: typed callback number refused (%s)", param("CallSid"), refusal)
        return _step(loaded, state, Input.NUMBER_REFUSED, refusal=refusal or Refusal.INVALID)
    store = _typed_store()
    try:
        if store is None:
            raise redis.ConnectionError("no Redis configured")
        store.remember_typed(param("CallSid"), typed, TYPED_NUMBER_SECONDS)
    except redis.RedisError:
        logger.warning("call %s: Redis unreachable while a number was typed", param("CallSid"))
        return xml(put_through(loaded, state, Say.BROKEN))
    return _step(loaded, state, Input.NUMBER_OK, typed=typed)


@bp.post("/number/confirm")
@twilio_signed
@caller_side
def number_confirm() -> ResponseReturnValue:
    loaded = web().live.current()
    state = load_state(loaded, Step.CONFIRM)
    event = confirm_input(param("Digits"))
    if event is not Input.YES:
        _forget_typed(web().conn, param("CallSid"))
        return _step(loaded, state, event)
    store = _typed_store()
    try:
        typed = store.typed(param("CallSid")) if store is not None else None
    except redis.RedisError:
        return xml(put_through(loaded, state, Say.BROKEN))
    if typed is None:
        return _step(loaded, state, Input.NO)
    _forget_typed(web().conn, param("CallSid"))
    return _step(loaded, state, event, typed=typed)


@bp.post("/spooled")
@twilio_signed
@caller_side
def spooled() -> ResponseReturnValue:
    """After "your request is saved, but it may take longer": 1 puts the caller through."""
    loaded = web().live.current()
    state = load_state(loaded, Step.SPOOLED)
    return _step(loaded, state, Input.YES if param("Digits") == "1" else Input.NO)


@dataclass(frozen=True)
class VoiceOffer:
    """The voice flow's `CallbackOffer` seam: TwiML offering a callback, or None
    to dial the final line.

    Declines when Redis is already unreachable: the whole callback chain
    (queue, SMS, escalation) is down then, and a person on the final line
    now beats a callback that would certainly be late. Redis failing *after*
    the offer is what the spool is for. Declines too when the config has no
    callback texts (no callbacks section).
    """

    web: CallbackWeb

    def offer(self, call: FinalCall) -> VoiceResponse | None:
        conn = self.web.conn
        if conn is None or not call.loaded.callbacks.texts:
            return None
        try:
            conn.ping()
        except redis.RedisError:
            logger.warning(
                "call %s: Redis unreachable; no callback offer, dialling the final line",
                call.call_sid,
            )
            return None
        return offer_twiml(call)

    def call_ended(self, call_sid: str) -> None:
        """The caller hung up (Twilio's status callback for their call): a number they
        typed and did not confirm goes now. Twilio asks no action URL when a caller
        hangs up in a `<Gather>`, so this is the only word we get of it."""
        _forget_typed(self.web.conn, call_sid)
