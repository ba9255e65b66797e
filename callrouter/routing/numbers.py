"""Phone numbers: normalise to E.164 and decide which ones may be dialled.

All parsing and classification is `phonenumbers` (libphonenumber's metadata);
this module only states the crisis service's policy on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from callrouter.routing.model import Region

DEFAULT_REGION = "NL"

_REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number (090x)",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
}


class NumberError(ValueError):
    """A number that cannot be used, with a reason a person can act on."""


@dataclass(frozen=True)
class NumberPolicy:
    """Which numbers the service will dial (staff legs, lines, callbacks)."""

    allow_foreign: bool = False
    home_region: str = DEFAULT_REGION


def parse(raw: str, region: str = DEFAULT_REGION) -> phonenumbers.PhoneNumber:
    try:
        number = phonenumbers.parse(str(raw), region)
    except phonenumbers.NumberParseException as exc:
        raise NumberError(f"{raw!r} is not a phone number ({exc})") from exc
    return number


def normalise(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 form of any written number ('024-123 45 67' -> '+31241234567')."""
    number = parse(raw, region)
    if not phonenumbers.is_valid_number(number):
        raise NumberError(
            f"{raw!r} is not a valid number (short codes such as 112 or 1233 cannot be used)"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def dialable(raw: str, policy: NumberPolicy = NumberPolicy()) -> str:
    """Normalise `raw` and refuse what a crisis line must never dial.

    Refused: invalid numbers and short codes, premium-rate and shared-cost
    numbers, and foreign numbers unless the policy allows them.
    """
    e164 = normalise(raw, policy.home_region)
    number = parse(e164)
    kind = phonenumbers.number_type(number)
    if kind in _REFUSED_TYPES:
        raise NumberError(f"{raw!r} is {_REFUSED_TYPES[kind]}; it will never be dialled")
    if (
        not policy.allow_foreign
        and phonenumbers.region_code_for_number(number) != policy.home_region
    ):
        raise NumberError(
            f"{raw!r} is a foreign number; only {policy.home_region} numbers are dialled"
        )
    return e164


def is_mobile(e164: str) -> bool:
    return phonenumbers.number_type(parse(e164)) in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def area_code(e164: str) -> str | None:
    """The geographic area code with trunk prefix ('+31243436540' -> '024')."""
    number = parse(e164)
    length = phonenumbers.length_of_geographical_area_code(number)
    if length == 0:
        return None
    national = phonenumbers.national_significant_number(number)
    return "0" + national[:length]


def region_for(e164: str, regions: tuple[Region, ...]) -> str | None:
    """The region a landline's area code suggests (mobiles suggest nothing)."""
    try:
        code = area_code(e164)
    except NumberError:
        return None
    if code is None:
        return None
    return next((r.id for r in regions if code in r.area_codes), None)
