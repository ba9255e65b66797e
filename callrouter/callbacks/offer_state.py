"""What the callback offer carries between webhooks: signed in the action URLs.

Language, what is known of the caller (type, age, region), where the offer
is in its table and how often its question was asked, and where "put me
through" goes. Never a phone number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import request
from itsdangerous import BadSignature

from callrouter.callbacks.webhooks import web
from callrouter.routing.callers import recognise
from callrouter.routing.plan import CallerFacts
from callrouter.web.webhook_io import param, public_url
from ivr.callback_offer import Offer, Step

if TYPE_CHECKING:
    from callrouter.config.live import Loaded

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OfferState:
    """What the offer carries, signed, in its action URLs."""

    lang: str
    caller_type: str | None
    age_group: str | None
    region: str | None
    offer: Offer
    decline: str | None
    """Where "put me through" goes: the voice flow's final line, else the fallback line."""

    @property
    def facts(self) -> CallerFacts:
        return CallerFacts(self.caller_type, self.age_group, self.region)

    def dump(self) -> str:
        token: str = (
            web()
            .signer("callback-offer")
            .dumps(
                [
                    self.lang,
                    self.caller_type,
                    self.age_group,
                    self.region,
                    self.offer.step.value,
                    self.offer.tries,
                    self.decline,
                ]
            )
        )
        return token


def load_state(loaded: Loaded, step: Step) -> OfferState:
    """This request's offer state; without a readable one, facts from `From` at `step`."""
    token = request.args.get("s")
    if token:
        try:
            lang, ctype, age, region, at, tries, decline = (
                web().signer("callback-offer").loads(token)
            )
            return OfferState(
                str(lang), ctype, age, region, Offer(Step(at), int(tries)), decline or None
            )
        except (BadSignature, ValueError, TypeError):
            logger.warning("%s: unreadable callback offer state; starting afresh", request.path)
    facts = recognise(param("From") or None, loaded.config).facts
    return OfferState(
        loaded.menus.default_language,
        facts.caller_type,
        facts.age_group,
        facts.region,
        Offer(step),
        None,
    )


def link(endpoint: str, state: OfferState) -> str:
    return public_url(endpoint, s=state.dump())
