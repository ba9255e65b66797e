"""Callback webhooks: the caller's offer, the bridged call, and a small admin API.

The caller's side (all under ``/voice/callback``, all signed by Twilio):

- ``offer``: "we can call you back on the number ending in 4 5 6 7: press 1;
  another number: press 2; to be put through now: press 3". Reached from the
  voice flow's final step (``CallbackWeb.offer``, the `CallbackOffer` seam
  of ``web/voice.py``), or by a ``<Redirect>`` to ``/voice/callback/offer``.
- ``choice``, ``number``, ``number/check``, ``number/confirm``: the keypad
  steps. A typed number is checked (NL only unless configured; never
  premium-rate or short codes) with a spoken reason, read back, confirmed.
- The request goes on the queue (`queueing.submit`); the caller hears when
  to expect the call, from which number, and the safety line again. When
  Redis is unreachable the request is spooled to disk and the caller is told
  it may take longer, with the option to be put through at once.

The bridged call (``/voice/callback/bridge/<id>/...``): the worker calls the
staff member who claimed the request (``jobs.place_bridge``); when they answer
they hear who is waiting, press 1, and hear the call's short ref; then
``<Dial callerId=crisis number>`` rings the caller, who hears a short "the
crisis line is calling you back" as they pick up (that is when the callback
counts as reached). Every other end (staff no answer or busy, no key, caller
no answer or busy, silence from Twilio) is one failed attempt: back to the
queue up to ``max_attempts``. After a conversation the staff member is still
on the line (theirs is the parent call), so the Dial action reads the triage
outcomes and ``bridge/<id>/triage`` records the key they press.

State between the caller's webhooks travels signed in the URL (answers and
a retry count, never a number); a typed number waits in Redis for the
confirmation step, for 15 minutes at most.

Admin API (``/api/callbacks``, JSON, the admin token of `callrouter.web.admin_auth`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol

import redis
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeSerializer
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from callrouter import clock
from callrouter.callbacks import lifecycle as cb
from callrouter.callbacks import service as queueing
from callrouter.callbacks.spool import Spool
from callrouter.callbacks.store import CallbackStore
from callrouter.calls.store import CallStore
from callrouter.calls.triage import TriageCodes, keypad_prompt
from callrouter.redis_conn import durable_write
from callrouter.routing.callers import recognise
from callrouter.routing.plan import CallerFacts
from callrouter.web.admin_auth import require_admin
from callrouter.web.twilio_auth import twilio_signed
from callrouter.web.webhook_io import param, public_path, public_url, xml
from ivr import twiml
from ivr.menus import Prompt

if TYPE_CHECKING:
    import datetime as dt

    from callrouter.config.live import Loaded
    from callrouter.web.voice import FinalCall

logger = logging.getLogger(__name__)

bp = Blueprint("callbacks", __name__, url_prefix="/voice/callback")
api = require_admin(Blueprint("callbacks_api", __name__, url_prefix="/api/callbacks"))

EXTENSION = "callrouter.callbacks"
FALLBACK_PATH = "/voice/fallback"
"""The voice blueprint's stateless "ring the 24/7 fallback line" webhook."""
TYPED_NUMBER_SECONDS = 15 * 60
MAX_TRIES = 2
"""A menu is asked twice at most; then the caller is put through to a person."""
P = ParamSpec("P")


class LiveSource(Protocol):
    def current(self) -> Loaded: ...


@dataclass
class CallbackWeb:
    """What the callback webhooks need; wired in `callrouter.web.app.create_app`.

    Also the voice flow's `CallbackOffer`: `offer()` is called at the final
    step of a call whose plan offers a callback.
    """

    live: LiveSource
    conn: redis.Redis | None
    secret: str
    """``CALLROUTER_SECRET``: signs the offer and triage state and keys the number
    pseudonyms (one derived key for each)."""
    spool_dir: str | None = None
    """Overrides the config's ``callbacks.spool_dir`` (tests, containers)."""

    def context(self, loaded: Loaded) -> queueing.CallbackContext:
        if self.conn is None:
            raise redis.ConnectionError("no Redis configured")
        return queueing.CallbackContext(
            self.conn,
            loaded.config,
            loaded.callbacks,
            queueing.pseudonym_key(self.secret),
        )

    def spool(self, loaded: Loaded) -> Spool:
        return Spool(self.spool_dir or loaded.callbacks.spool_dir)

    def states(self) -> URLSafeSerializer:
        return URLSafeSerializer(
            _derive(self.secret.encode(), "callback-offer"),
            salt="callback-offer-v1",
            signer_kwargs={"digest_method": hashlib.sha256},
        )

    def triage_states(self) -> URLSafeSerializer:
        """Signs what the triage step after a bridged callback needs (call, member, ref)."""
        return URLSafeSerializer(
            _derive(self.secret.encode(), "bridge-triage"),
            salt="bridge-triage-v1",
            signer_kwargs={"digest_method": hashlib.sha256},
        )

    def offer(self, call: FinalCall) -> VoiceResponse | None:
        """The voice flow's seam: TwiML offering a callback, or None to dial the final line.

        Declines when Redis is already unreachable: the whole callback chain
        (queue, SMS, escalation) is down then, and a person on the final line
        now beats a callback that would certainly be late. Redis failing
        *after* the offer is what the spool is for.
        """
        if self.conn is None:
            return None
        try:
            self.conn.ping()
        except redis.RedisError:
            logger.warning(
                "call %s: Redis unreachable; no callback offer, dialling the final line",
                call.call_sid,
            )
            return None
        facts = call.call.facts
        state = _OfferState(
            call.call.lang, facts.caller_type, facts.age_group, facts.region, 0, call.decline_url
        )
        return _offer_twiml(call.loaded, state, call.caller_number)


def init_app(app: Flask, web: CallbackWeb) -> None:
    app.extensions[EXTENSION] = web
    app.register_blueprint(bp)
    app.register_blueprint(api)


def _web() -> CallbackWeb:
    found: CallbackWeb = current_app.extensions[EXTENSION]
    return found


def _now() -> dt.datetime:
    moment: dt.datetime = current_app.config.get("CLOCK", clock.now)()
    return moment


def _derive(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


# --------------------------------------------------------------------------- prompts

_PROMPTS: dict[str, dict[str, str]] = {
    "nl": {
        "offer": (
            "Er is op dit moment niemand beschikbaar om uw oproep aan te nemen. Wij kunnen u "
            "terugbellen."
        ),
        "offer_own": (
            "Wilt u teruggebeld worden op het nummer dat eindigt op {last}? Druk 1. Wilt u een "
            "ander nummer invoeren? Druk 2. Wilt u liever nu doorverbonden worden met de "
            "crisisdienst? Druk 3."
        ),
        "offer_other": (
            "Wij zien uw nummer niet. Wilt u een nummer invoeren waarop wij u kunnen terugbellen? "
            "Druk 2. Wilt u liever nu doorverbonden worden met de crisisdienst? Druk 3."
        ),
        "offer_typed": (
            "Wilt u een ander nummer invoeren waarop wij u kunnen terugbellen? Druk 2. Wilt u "
            "liever nu doorverbonden worden met de crisisdienst? Druk 3."
        ),
        "enter": (
            "Toets het telefoonnummer in waarop wij u kunnen terugbellen, en sluit af met een "
            "hekje."
        ),
        "invalid": "Dat is geen volledig telefoonnummer.",
        "service": "Naar korte nummers en servicenummers, zoals 0800- en 0900-nummers,"
        " kunnen wij niet terugbellen.",
        "foreign": "Wij kunnen alleen naar Nederlandse nummers terugbellen.",
        "confirm": "U toetste {digits}. Klopt dit? Druk 1. Wilt u het opnieuw invoeren? Druk 2.",
        "created": (
            "Uw terugbelverzoek is genoteerd. Een hulpverlener belt u binnen {minutes} "
            "terug. U ziet dan het nummer van de crisislijn. Houd uw telefoon bij de hand."
        ),
        "merged": (
            "U had al een terugbelverzoek, en dat staat nog steeds. Een hulpverlener belt u zo "
            "snel mogelijk terug, met het nummer van de crisislijn."
        ),
        "rate_limited": (
            "U heeft de afgelopen tijd al vaker om terugbellen gevraagd. Wij verbinden u nu door "
            "met de crisisdienst."
        ),
        "spooled": (
            "Uw terugbelverzoek is opgeslagen, maar door een storing kan het terugbellen langer "
            "duren dan normaal. Wilt u niet wachten? Druk 1, dan verbinden wij u nu door met de "
            "crisisdienst. Anders kunt u ophangen."
        ),
        "broken": (
            "Door een storing kunnen wij nu geen terugbelverzoek aannemen. Wij verbinden u door "
            "met de crisisdienst."
        ),
        "put_through": "Wij verbinden u door met de crisisdienst.",
        "goodbye": "Dank u wel. Tot zo.",
        "called_back": (
            "Goedendag, u wordt teruggebeld door de crisislijn, zoals u had gevraagd. U wordt nu "
            "verbonden met een hulpverlener."
        ),
    },
    "en": {
        "offer": "Nobody is available to take your call right now. We can call you back.",
        "offer_own": (
            "To be called back on the number ending in {last}, press 1. To enter another number, "
            "press 2. To be put through to the crisis service now, press 3."
        ),
        "offer_other": (
            "We cannot see your number. To enter a number we can call you back on, press 2. To be "
            "put through to the crisis service now, press 3."
        ),
        "offer_typed": (
            "To enter another number we can call you back on, press 2. To be put through to the "
            "crisis service now, press 3."
        ),
        "enter": "Please enter the phone number we can call you back on, followed by the hash key.",
        "invalid": "That is not a complete phone number.",
        "service": "We cannot call back short codes or service numbers, such as 0800 or 0900"
        " numbers.",
        "foreign": "We can only call back Dutch numbers.",
        "confirm": "You entered {digits}. If that is right, press 1. To enter it again, press 2.",
        "created": (
            "Your callback request has been noted. A crisis worker will call you back within "
            "{minutes}, from the crisis line's number. Please keep your phone close."
        ),
        "merged": (
            "You already have a callback request, and it still stands. A crisis worker will call "
            "you back as soon as possible, from the crisis line's number."
        ),
        "rate_limited": (
            "You have asked for a callback several times recently. We are putting you through to "
            "the crisis service now."
        ),
        "spooled": (
            "Your callback request has been saved, but because of a technical problem it may take "
            "longer than usual. If you do not want to wait, press 1 and we will put you through to "
            "the crisis service now. Otherwise you can hang up."
        ),
        "broken": (
            "Because of a technical problem we cannot take a callback request now. We are putting "
            "you through to the crisis service."
        ),
        "put_through": "We are putting you through to the crisis service.",
        "goodbye": "Thank you. Speak to you soon.",
        "called_back": (
            "Hello, this is the crisis line calling you back, as you asked. You are now being "
            "connected to a crisis worker."
        ),
    },
}

_STAFF: dict[str, str] = {
    "intro": (
        "Crisislijn, terugbelverzoek {code}: {caller}, {region}, {age}, wacht {minutes} minuten. "
        "Druk 1 om de beller nu te bellen."
    ),
    "gone": "Dit terugbelverzoek is niet meer actief. Dank u wel.",
    "connecting": "U wordt verbonden met de beller. De beller ziet het nummer van de crisislijn.",
    "no_input": "Geen keuze ontvangen. Het terugbelverzoek gaat terug in de wachtrij.",
    "requeued": "De beller is niet bereikt. Het terugbelverzoek gaat terug in de wachtrij.",
    "given_up": "De beller is niet bereikt. Het terugbelverzoek is gesloten als mislukt.",
    "ended": "Het gesprek is beëindigd. Dank u wel.",
    "ended_triage": "Het gesprek is beëindigd.",
    "triage_invalid": "Dat is geen geldige keuze.",
    "triage_done": "Vastgelegd: {label}. Dank u.",
    "triage_by_sms": (
        "Er is geen uitkomst vastgelegd. Stuur {keyword} {ref} en de code per sms, bijvoorbeeld "
        "{keyword} {ref} {example}. Dank u wel."
    ),
    "triage_lost": "Er is geen uitkomst vastgelegd. Stuur de uitkomst per sms. Dank u wel.",
    "triage_failed": (
        "Door een storing is de uitkomst niet vastgelegd. Stuur {keyword} {ref} en de code per "
        "sms. Dank u wel."
    ),
}


def _minutes(lang: str, count: int) -> str:
    if lang == "en":
        return f"{count} minute" if count == 1 else f"{count} minutes"
    return f"{count} minuut" if count == 1 else f"{count} minuten"


def _text(lang: str, key: str, **values: object) -> str:
    table = _PROMPTS.get(lang) or _PROMPTS["nl"]
    return table[key].format(**values)


# --------------------------------------------------------------------------- offer state


@dataclass(frozen=True)
class _OfferState:
    lang: str
    caller_type: str | None
    age_group: str | None
    region: str | None
    tries: int
    decline: str | None
    """Where "put me through" goes: the voice flow's final line, else the fallback line."""

    @property
    def facts(self) -> CallerFacts:
        return CallerFacts(self.caller_type, self.age_group, self.region)

    def again(self) -> _OfferState:
        return _OfferState(
            self.lang, self.caller_type, self.age_group, self.region, self.tries + 1, self.decline
        )

    def fresh(self) -> _OfferState:
        return _OfferState(
            self.lang, self.caller_type, self.age_group, self.region, 0, self.decline
        )


def _dump(state: _OfferState) -> str:
    token: str = (
        _web()
        .states()
        .dumps(
            [
                state.lang,
                state.caller_type,
                state.age_group,
                state.region,
                state.tries,
                state.decline,
            ]
        )
    )
    return token


def _load(loaded: Loaded) -> _OfferState:
    """The offer state of this request; without one (a plain redirect), facts from `From`."""
    token = request.args.get("s")
    if token:
        try:
            lang, ctype, age, region, tries, decline = _web().states().loads(token)
            return _OfferState(str(lang), ctype, age, region, int(tries), decline)
        except (BadSignature, ValueError, TypeError):
            logger.warning("%s: unreadable callback offer state; starting afresh", request.path)
    facts = recognise(param("From") or None, loaded.config).facts
    return _OfferState(
        loaded.menus.default_language, facts.caller_type, facts.age_group, facts.region, 0, None
    )


def _link(endpoint: str, state: _OfferState | None = None, **values: Any) -> str:
    if state is not None:
        values["s"] = _dump(state)
    return public_url(endpoint, **values)


# --------------------------------------------------------------------------- TwiML helpers


def _say(verb: Any, loaded: Loaded, lang: str, text: str) -> None:
    twiml.say(verb, text, loaded.menus.voice(lang))


def _gather(response: VoiceResponse, loaded: Loaded, lang: str, action: str, **kw: Any) -> Any:
    return response.gather(
        input="dtmf", action=action, method="POST", language=loaded.menus.voice(lang).language, **kw
    )


def _put_through(
    loaded: Loaded, state: _OfferState | None, key: str | None = "put_through"
) -> VoiceResponse:
    """Ring a person now: the voice flow's final line when we came from it,
    else the fallback line."""
    response = VoiceResponse()
    lang = state.lang if state else loaded.menus.default_language
    if key:
        _say(response, loaded, lang, _text(lang, key))
    if state is not None and state.decline:
        response.redirect(state.decline, method="POST")
        return response
    return twiml.dial_line(
        response, loaded.fallback_number, loaded.config.crisis_number, public_path(FALLBACK_PATH)
    )


def _goodbye(response: VoiceResponse, loaded: Loaded, lang: str) -> VoiceResponse:
    """End of a confirmed request: the safety line once more, then hang up."""
    _say(response, loaded, lang, loaded.menus.say(Prompt.SAFETY, lang))
    _say(response, loaded, lang, _text(lang, "goodbye"))
    response.hangup()
    return response


def _offer_twiml(loaded: Loaded, state: _OfferState, caller_number: str | None) -> VoiceResponse:
    if state.tries >= MAX_TRIES:
        return _put_through(loaded, state)
    policy = loaded.callbacks
    own, refusal = (
        cb.check_callback_number(caller_number or "", policy) if caller_number else (None, None)
    )
    response = VoiceResponse()
    gather = _gather(
        response, loaded, state.lang, _link("callbacks.choice", state), num_digits=1, timeout=6
    )
    if state.tries == 0:
        _say(gather, loaded, state.lang, _text(state.lang, "offer"))
    visible = refusal is not None and refusal is not cb.Refusal.INVALID  # not "anonymous"
    if visible and refusal is not None:  # a number we see but may not call back: say why
        _say(gather, loaded, state.lang, _text(state.lang, refusal.value))
    key = "offer_own" if own else "offer_typed" if visible else "offer_other"
    _say(gather, loaded, state.lang, _text(state.lang, key, last=cb.spoken_digits(own or "")))
    response.redirect(_link("callbacks.offer", state.again()), method="POST")
    return response


def caller_side(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
    """A caller's webhook: whatever fails, the caller is put through to a person."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        try:
            return view(*args, **kwargs)
        except HTTPException:
            raise
        except Exception:
            logger.exception(
                "%s failed; putting the caller through to the fallback line", request.path
            )
            return xml(_put_through(_web().live.current(), None, None))

    return guarded


# --------------------------------------------------------------------------- the caller's webhooks


@bp.post("/offer")
@twilio_signed
@caller_side
def offer() -> ResponseReturnValue:
    loaded = _web().live.current()
    return xml(_offer_twiml(loaded, _load(loaded), param("From") or None))


@bp.post("/choice")
@twilio_signed
@caller_side
def choice() -> ResponseReturnValue:
    loaded = _web().live.current()
    state = _load(loaded)
    digit = param("Digits")
    if digit == "1":
        number, _ = cb.check_callback_number(param("From"), loaded.callbacks)
        if number is not None:
            return xml(_submit(loaded, state, number))
    if digit == "2":
        return xml(_enter_twiml(loaded, state.fresh()))
    if digit == "3":
        return xml(_put_through(loaded, state))
    return xml(_offer_twiml(loaded, state.again(), param("From") or None))


def _enter_twiml(loaded: Loaded, state: _OfferState, reason: str | None = None) -> VoiceResponse:
    if state.tries >= MAX_TRIES:
        return _put_through(loaded, state)
    response = VoiceResponse()
    if reason:
        _say(response, loaded, state.lang, _text(state.lang, reason))
    gather = _gather(
        response,
        loaded,
        state.lang,
        _link("callbacks.number_check", state),
        finish_on_key="#",
        timeout=10,
        num_digits=16,
    )
    _say(gather, loaded, state.lang, _text(state.lang, "enter"))
    response.redirect(_link("callbacks.number", state.again()), method="POST")
    return response


@bp.post("/number")
@twilio_signed
@caller_side
def number() -> ResponseReturnValue:
    loaded = _web().live.current()
    return xml(_enter_twiml(loaded, _load(loaded)))


@bp.post("/number/check")
@twilio_signed
@caller_side
def number_check() -> ResponseReturnValue:
    loaded = _web().live.current()
    state = _load(loaded)
    digits = param("Digits")
    typed, refusal = cb.check_callback_number(digits, loaded.callbacks)
    if typed is None:
        logger.info(
            "call %s: typed callback number refused (%s)",
            param("CallSid"),
            refusal.value if refusal else "?",
        )
        return xml(_enter_twiml(loaded, state.again(), (refusal or cb.Refusal.INVALID).value))
    try:
        CallbackStore(_web().context(loaded).conn).remember_typed(
            param("CallSid"), typed, TYPED_NUMBER_SECONDS
        )
    except redis.RedisError:
        logger.warning(
            "call %s: Redis unreachable while a number was typed; putting through",
            param("CallSid"),
        )
        return xml(_put_through(loaded, state, "broken"))
    response = VoiceResponse()
    gather = _gather(
        response,
        loaded,
        state.lang,
        _link("callbacks.number_confirm", state),
        num_digits=1,
        timeout=6,
    )
    _say(gather, loaded, state.lang, _text(state.lang, "confirm", digits=cb.spoken_national(typed)))
    response.redirect(_link("callbacks.number_confirm", state), method="POST")
    return xml(response)


@bp.post("/number/confirm")
@twilio_signed
@caller_side
def number_confirm() -> ResponseReturnValue:
    loaded = _web().live.current()
    state = _load(loaded)
    if param("Digits") != "1":
        return xml(_enter_twiml(loaded, state.again()))
    try:
        typed = CallbackStore(_web().context(loaded).conn).typed(param("CallSid"))
    except redis.RedisError:
        return xml(_put_through(loaded, state, "broken"))
    if typed is None:
        return xml(_enter_twiml(loaded, state.again()))
    return xml(_submit(loaded, state, typed))


@bp.post("/spooled")
@twilio_signed
@caller_side
def spooled() -> ResponseReturnValue:
    """After "your request is saved, but it may take longer": 1 puts the caller through."""
    loaded = _web().live.current()
    state = _load(loaded)
    if param("Digits") == "1":
        return xml(_put_through(loaded, state))
    return xml(_goodbye(VoiceResponse(), loaded, state.lang))


def _submit(loaded: Loaded, state: _OfferState, number: str) -> VoiceResponse:
    """Queue the request (or spool it) and tell the caller what happens next."""
    web = _web()
    now = _now()
    call_sid = param("CallSid") or None
    lang = state.lang
    try:
        ctx = web.context(loaded)
        result = queueing.submit(
            ctx, number=number, facts=state.facts, moment=now, call_sid=call_sid, lang=lang
        )
        durable = not result.request_id or durable_write(ctx.conn)
    except redis.RedisError:
        return _spool(loaded, state, number, now, call_sid)
    if not durable:  # no replica has it yet: a failover now would lose it (issue 10)
        return _spool(loaded, state, number, now, call_sid, request_id=result.request_id)
    _replay_if_pending(web, loaded, ctx, now)
    response = VoiceResponse()
    if result.outcome is queueing.Outcome.RATE_LIMITED:
        return _put_through(loaded, state, "rate_limited")
    if result.outcome is queueing.Outcome.MERGED:
        _say(response, loaded, lang, _text(lang, "merged"))
    else:
        _say(
            response,
            loaded,
            lang,
            _text(lang, "created", minutes=_minutes(lang, math.ceil(result.sla_seconds / 60))),
        )
    return _goodbye(response, loaded, lang)


def _spool(
    loaded: Loaded,
    state: _OfferState,
    number: str,
    now: dt.datetime,
    call_sid: str | None,
    request_id: str | None = None,
) -> VoiceResponse:
    web = _web()
    record = queueing.spool_record(
        request_id=request_id or queueing.new_request_id(),
        number=number,
        facts=state.facts,
        moment=now,
        call_sid=call_sid,
        lang=state.lang,
    )
    try:
        web.spool(loaded).append(record)
    except OSError:
        logger.exception(
            "call %s: Redis unreachable AND the spool failed; putting the caller through", call_sid
        )
        return _put_through(loaded, state, "broken")
    logger.warning(
        "call %s: Redis unreachable; callback %s spooled to disk", call_sid, record["id"]
    )
    response = VoiceResponse()
    gather = _gather(
        response, loaded, state.lang, _link("callbacks.spooled", state), num_digits=1, timeout=6
    )
    _say(gather, loaded, state.lang, _text(state.lang, "spooled"))
    return _goodbye(response, loaded, state.lang)


def _replay_if_pending(
    web: CallbackWeb, loaded: Loaded, ctx: queueing.CallbackContext, now: dt.datetime
) -> None:
    """Redis answered: feed in whatever this machine spooled while it did not."""
    spool = web.spool(loaded)
    if not spool.pending():
        return
    try:
        queueing.replay_spool(ctx, spool, now)
    except Exception:  # the caller's answer must not depend on the replay
        logger.exception("spool replay failed; it is retried with the next request")


# --------------------------------------------------------------------------- the bridged call


def _bridge_request(
    loaded: Loaded, request_id: str
) -> tuple[queueing.CallbackContext, cb.Request | None, int]:
    ctx = _web().context(loaded)
    try:
        attempt = int(request.args.get("attempt", ""))
    except ValueError:
        attempt = -1
    found = ctx.store.get(request_id)
    if found is None or found.state is not cb.State.CALLING or found.attempts != attempt:
        return ctx, None, attempt
    return ctx, found, attempt


def _staff_say(text: str) -> VoiceResponse:
    response = VoiceResponse()
    loaded = _web().live.current()
    _say(response, loaded, loaded.menus.default_language, text)
    response.hangup()
    return response


@dataclass(frozen=True)
class _TriageState:
    """What the triage step after a bridged callback carries, signed, in its URL."""

    call_sid: str
    """The caller's original call, whose record the outcome joins."""
    by: str
    """The member who claimed (and just had) the callback."""
    ref: str
    """What staff type in the SMS instead: the call's ref, else the claim code."""
    tries: int

    def again(self) -> _TriageState:
        return _TriageState(self.call_sid, self.by, self.ref, self.tries + 1)


def _codes(loaded: Loaded) -> TriageCodes:
    return loaded.triage


def _call_ref(conn: redis.Redis, found: cb.Request) -> str:
    """The short ref of the call that asked for this callback ('' when the call
    log does not know it); a lookup failure only costs the ref."""
    if not found.call_sid:
        return ""
    try:
        record = CallStore(conn, None).snapshot(found.call_sid)
    except redis.RedisError:
        logger.warning("callback %s: call log unreachable; no call ref", found.id)
        return ""
    return record.ref if record is not None else ""


def _triage_text(key: str, codes: TriageCodes, ref: str) -> str:
    example = codes.codes[0].code if codes.codes else "advies"
    return _STAFF[key].format(keyword=codes.keyword, ref=ref, example=example)


def _triage_menu(
    loaded: Loaded, request_id: str, state: _TriageState, codes: TriageCodes, lead: str
) -> VoiceResponse:
    """'Toets de uitkomst van de triage: 1 voor Advies, ...', one key; silence
    comes back as no key (one retry, then the SMS hint)."""
    token = _web().triage_states().dumps([state.call_sid, state.by, state.ref, state.tries])
    action = _link("callbacks.bridge_triage", request_id=request_id, s=token)
    response = VoiceResponse()
    lang = loaded.menus.default_language
    gather = _gather(response, loaded, lang, action, num_digits=1, timeout=10)
    _say(gather, loaded, lang, f"{lead} {keypad_prompt(codes)}")
    response.redirect(action, method="POST")
    return response


def _after_conversation(loaded: Loaded, request_id: str) -> VoiceResponse:
    """The callback's conversation ended and the staff member is still on the line:
    ask the triage outcome by keypad. Without a call to link it to (or keys to
    press, or Redis), just say goodbye: the conversation happened either way."""
    try:
        ctx = _web().context(loaded)
        found = ctx.store.get(request_id)
        codes = _codes(loaded)
        if found is None or not found.call_sid or not any(c.digit for c in codes.codes):
            return _staff_say(_STAFF["ended"])
        ref = _call_ref(ctx.conn, found) or found.code
        state = _TriageState(found.call_sid, found.claimed_by or "", ref, 0)
        return _triage_menu(loaded, request_id, state, codes, _STAFF["ended_triage"])
    except Exception:
        logger.exception("callback %s: no triage menu after the conversation", request_id)
        return _staff_say(_STAFF["ended"])


def staff_side(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
    """A staff webhook of the bridge: on failure, end the staff call politely
    (the request is put back by the status callback or the watchdog)."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        try:
            return view(*args, **kwargs)
        except HTTPException:
            raise
        except Exception:
            logger.exception("%s failed", request.path)
            response = VoiceResponse()
            response.say(
                "Er ging iets mis. Het terugbelverzoek gaat terug in de wachtrij.", language="nl-NL"
            )
            response.hangup()
            return xml(response)

    return guarded


@bp.post("/bridge/<request_id>/staff")
@twilio_signed
@staff_side
def bridge_staff(request_id: str) -> ResponseReturnValue:
    """The staff member answered our call: who is waiting, press 1."""
    loaded = _web().live.current()
    ctx, found, attempt = _bridge_request(loaded, request_id)
    if found is None:
        return xml(_staff_say(_STAFF["gone"]))
    lang = loaded.menus.default_language
    lab = cb.labels(found, loaded.config)
    response = VoiceResponse()
    gather = _gather(
        response,
        loaded,
        lang,
        _link("callbacks.bridge_accept", request_id=request_id, attempt=attempt),
        num_digits=1,
        timeout=10,
    )
    intro = _STAFF["intro"].format(
        code=found.code,
        caller=lab.caller,
        region=lab.region,
        age=lab.age,
        minutes=found.waited_minutes(_now()),
    )
    ref = loaded.menus.call_ref(_call_ref(ctx.conn, found))
    _say(gather, loaded, lang, f"{intro} {ref}".strip())
    response.redirect(
        _link("callbacks.bridge_accept", request_id=request_id, attempt=attempt), method="POST"
    )
    return xml(response)


@bp.post("/bridge/<request_id>/accept")
@twilio_signed
@staff_side
def bridge_accept(request_id: str) -> ResponseReturnValue:
    """Staff pressed 1: ring the caller with the crisis number as caller id."""
    loaded = _web().live.current()
    ctx, found, attempt = _bridge_request(loaded, request_id)
    if found is None:
        return xml(_staff_say(_STAFF["gone"]))
    if param("Digits") != "1" or not found.number:
        queueing.attempt_failed(ctx, request_id, attempt, "staff-no-input", _now())
        return xml(_staff_say(_STAFF["no_input"]))
    policy = ctx.policy
    response = VoiceResponse()
    _say(response, loaded, loaded.menus.default_language, _STAFF["connecting"])
    dial = response.dial(
        action=_link("callbacks.bridge_dialed", request_id=request_id, attempt=attempt),
        method="POST",
        timeout=policy.caller_ring_seconds,
        caller_id=loaded.config.crisis_number,
    )
    dial.number(
        found.number,
        url=_link("callbacks.bridge_caller", request_id=request_id, attempt=attempt),
        method="POST",
    )
    return xml(response)


@bp.post("/bridge/<request_id>/caller")
@twilio_signed
def bridge_caller(request_id: str) -> ResponseReturnValue:
    """The caller picked up: the callback is reached.

    They hear who is calling, then are connected."""
    loaded = _web().live.current()
    ctx, found, attempt = _bridge_request(loaded, request_id)
    lang = found.lang if found else loaded.menus.default_language
    if found is not None:
        try:
            queueing.reached(ctx, request_id, attempt, _now())
        except redis.RedisError:
            logger.exception(
                "callback %s: could not record 'reached'; connecting anyway", request_id
            )
    response = VoiceResponse()
    _say(response, loaded, lang, _text(lang, "called_back"))
    return xml(response)


@bp.post("/bridge/<request_id>/dialed")
@twilio_signed
@staff_side
def bridge_dialed(request_id: str) -> ResponseReturnValue:
    """The `<Dial>` to the caller ended: a conversation (ask its triage outcome),
    or one failed attempt."""
    loaded = _web().live.current()
    status = param("DialCallStatus")
    if status in ("completed", "answered"):
        return xml(_after_conversation(loaded, request_id))
    ctx = _web().context(loaded)
    attempt = int(request.args.get("attempt", "-1") or -1)
    t = queueing.attempt_failed(ctx, request_id, attempt, f"caller-{status or 'unknown'}", _now())
    gave_up = t.ok and t.after is cb.State.FAILED
    return xml(_staff_say(_STAFF["given_up" if gave_up else "requeued"]))


@bp.post("/bridge/<request_id>/triage")
@twilio_signed
def bridge_triage(request_id: str) -> ResponseReturnValue:
    """The key the staff member pressed for the triage outcome after the callback.

    A valid key is recorded (``via=keypad``) and confirmed; anything else gets
    the menu once more, then a goodbye that says how to send it by SMS.
    """
    try:
        loaded = _web().live.current()
        codes = _codes(loaded)
        call_sid, by, ref, tries = _web().triage_states().loads(request.args.get("s", ""))
        state = _TriageState(str(call_sid), str(by), str(ref), int(tries))
    except Exception:  # a forged or garbled state, or no config: nothing to record against
        logger.warning("%s: unreadable triage state; nothing recorded", request.path)
        return xml(_staff_say(_STAFF["triage_lost"]))
    try:
        store = CallStore(_web().context(loaded).conn, None)
        code = store.triage_keypad(state.call_sid, param("Digits"), codes, by=state.by, at=_now())
    except Exception:
        logger.exception("callback %s: the triage outcome could not be stored", request_id)
        return xml(_staff_say(_triage_text("triage_failed", codes, state.ref)))
    if code is not None:
        logger.info("callback %s: triage %s by %s (keypad)", request_id, code.code, state.by)
        return xml(_staff_say(_STAFF["triage_done"].format(label=code.label)))
    if state.tries >= 1:
        return xml(_staff_say(_triage_text("triage_by_sms", codes, state.ref)))
    return xml(_triage_menu(loaded, request_id, state.again(), codes, _STAFF["triage_invalid"]))


@bp.post("/bridge/<request_id>/status")
@twilio_signed
def bridge_status(request_id: str) -> ResponseReturnValue:
    """Status callback of our call to the staff member: it ended (not answered, busy, hung up)."""
    status = param("CallStatus")
    if status in ("no-answer", "busy", "failed", "canceled", "completed"):
        loaded = _web().live.current()
        ctx = _web().context(loaded)
        attempt = int(request.args.get("attempt", "-1") or -1)
        outcome = "staff-hung-up" if status == "completed" else f"staff-{status}"
        queueing.attempt_failed(ctx, request_id, attempt, outcome, _now())
    return Response(status=204)


# --------------------------------------------------------------------------- admin API


def describe(req: cb.Request, now: dt.datetime, loaded: Loaded) -> dict[str, Any]:
    """A request as the CLI and API show it: masked number, no raw data."""
    member = cb.member_by_id(loaded.config, req.claimed_by) if req.claimed_by else None
    return {
        "id": req.id,
        "code": req.code,
        "state": req.state.value,
        "priority": req.priority,
        "caller_type": req.caller_type,
        "age_group": req.age_group,
        "region": req.region,
        "number": req.number_masked,
        "created_at": req.created_at.isoformat(),
        "age_seconds": int((now - req.created_at).total_seconds()),
        "deadline": req.deadline.isoformat(),
        "sla_left_seconds": int((req.deadline - now).total_seconds()),
        "claimed_by": req.claimed_by,
        "claimed_by_name": member.name if member else None,
        "attempts": req.attempts,
        "asked": req.asked,
        "outcome": req.outcome,
    }


@api.get("")
def api_list() -> ResponseReturnValue:
    loaded = _web().live.current()
    ctx = _web().context(loaded)
    now = _now()
    found = ctx.store.recent(200) if request.args.get("all") else ctx.store.active()
    return jsonify(callbacks=[describe(r, now, loaded) for r in found])


@api.post("/<ref>/<action>")
def api_act(ref: str, action: str) -> ResponseReturnValue:
    loaded = _web().live.current()
    ctx = _web().context(loaded)
    rid = ctx.store.resolve(ref)
    if rid is None:
        return jsonify(error=f"no callback {ref!r}"), 404
    now = _now()
    body = request.get_json(silent=True) or {}
    if action == "claim":
        member = str(body.get("member", ""))
        if cb.member_by_id(loaded.config, member) is None:
            return jsonify(error=f"unknown member {member!r}"), 400
        result = queueing.claim(ctx, rid, member, now, via="api")
        return jsonify(won=result.won, holder=result.holder), 200 if result.won else 409
    by = str(body.get("by", "admin"))
    if action == "release":
        t = queueing.release(ctx, rid, now, by=by)
    elif action == "cancel":
        t = queueing.cancel(ctx, rid, now, by=by, note=str(body.get("note", "")))
    else:
        return jsonify(error=f"unknown action {action!r}"), 404
    state = t.after or t.before
    return jsonify(ok=t.ok, state=state.value if state else None), 200 if t.ok else 409
