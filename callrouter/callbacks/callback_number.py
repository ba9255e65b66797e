"""Which numbers a caller may be called back on, and why not, for a spoken reason.

The number-type policy (a positive list of types that can take a call from a
crisis worker) is `callrouter.routing.numbers.callback_number`. On top of it the
callback refuses every number of the service itself: the crisis number, any
configured line and any staff mobile. Called back, those would ring the
service (or a colleague) instead of the caller.

Pure: no Flask, Redis, RQ, Twilio or clock reads.
"""

from __future__ import annotations

from enum import StrEnum

from callrouter.callbacks.policy import CallbackPolicy
from callrouter.routing import numbers
from callrouter.routing.model import Config


class Refusal(StrEnum):
    """Why a number a caller typed cannot be called back; the caller text of the same name."""

    INVALID = numbers.Refusal.INVALID.value
    SERVICE = numbers.Refusal.SERVICE.value
    FOREIGN = numbers.Refusal.FOREIGN.value
    OWN_LINE = "not_callable"
    """A number of the service itself: the crisis number, a configured line, a staff mobile."""


def own_numbers(config: Config) -> frozenset[str]:
    """Every number of the service: the crisis number, configured lines, staff mobiles."""
    found = {config.crisis_number, *(line.number for line in config.lines)}
    found.update(m.mobile for team in config.teams for m in team.members)
    return frozenset(n for n in found if n)


def check_callback_number(
    raw: str, policy: CallbackPolicy, config: Config
) -> tuple[str | None, Refusal | None]:
    """(E.164, None) when we may call `raw` back, else (None, why not).

    The positive list of number types is `numbers.callback_number`."""
    try:
        e164 = numbers.callback_number(raw, policy.number_policy())
    except numbers.NumberError as exc:
        return None, Refusal(exc.reason.value)
    if e164 in own_numbers(config):
        return None, Refusal.OWN_LINE
    return e164, None
