"""What staff read and hear about a request, composed from the configured texts.

The staff SMS and the bridge whisper say what is needed and no more: caller
type, region, age group, waiting time, the claim code and a masked number;
never the caller's name, never the full number.

Pure: no Flask, Redis, RQ, Twilio or clock reads.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import phonenumbers

from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.requests import Request
from callrouter.callbacks.texts import Staff, Texts
from callrouter.routing import numbers
from callrouter.routing.model import Config


@dataclass(frozen=True)
class Labels:
    """Readable names for a request's facts, looked up in the config."""

    caller: str
    age: str
    region: str


def labels(request: Request, config: Config, texts: Texts) -> Labels:
    ctype = config.caller_type(request.caller_type)
    age = next((a for a in config.age_groups if a.id == request.age_group), None)
    region = config.region(request.region) if request.region else None
    return Labels(
        caller=(ctype.label or ctype.id) if ctype else request.caller_type,
        age=(age.label or age.id) if age else request.age_group,
        region=region.name if region else texts.staff(Staff.REGION_UNKNOWN),
    )


def offer_sms(
    request: Request, config: Config, texts: Texts, moment: dt.datetime, step: int
) -> str:
    """The SMS that asks staff to claim a request."""
    lab = labels(request, config, texts)
    head = (
        texts.staff(Staff.OFFER_SMS_HEAD) if step <= 0 else texts.staff(Staff.ESCALATION, step=step)
    )
    again = texts.staff(Staff.REQUEUED) if request.epoch > 1 and step <= 0 else ""
    return texts.staff(
        Staff.OFFER_SMS,
        head=head,
        code=request.code,
        again=again,
        caller=lab.caller,
        region=lab.region,
        age=lab.age,
        minutes=request.waited_minutes(moment),
        number=request.number_masked,
    )


def whisper(request: Request, config: Config, texts: Texts, moment: dt.datetime) -> str:
    """What the claimer hears when our call reaches them, before pressing 1."""
    lab = labels(request, config, texts)
    return texts.staff(
        Staff.INTRO,
        code=request.code,
        caller=lab.caller,
        region=lab.region,
        age=lab.age,
        minutes=request.waited_minutes(moment),
    )


def claim_reply(request: Request, won: bool, claimer_name: str, texts: Texts) -> str:
    """The answer to a staff member's claim attempt (one that was offered to them)."""
    if won:
        return texts.staff(Staff.CLAIM_WON, code=request.code)
    if request.state in (State.CLAIMED, State.CALLING):
        return texts.staff(Staff.CLAIM_TAKEN, code=request.code, claimer=claimer_name)
    return texts.staff(Staff.CLAIM_CLOSED, code=request.code)


def spoken_digits(e164: str, count: int = 4) -> str:
    """The last digits of a number as a text-to-speech engine reads them digit by digit."""
    digits = re.sub(r"\D", "", e164)[-count:]
    return " ".join(digits)


def spoken_national(e164: str) -> str:
    """The whole number in national form, digit by digit ('0 6 1 2 ...')."""
    try:
        national = phonenumbers.format_number(
            numbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL
        )
    except numbers.NumberError:
        national = e164
    return " ".join(ch for ch in national if ch.isdigit() or ch == "+")
