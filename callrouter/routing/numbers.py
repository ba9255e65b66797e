"""Phone numbers: normalise to E.164 and decide which ones may be dialled.

All parsing and classification is `phonenumbers` (libphonenumber's metadata);
this module only states the crisis service's policy on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo

from callrouter.routing.model import Region

DEFAULT_REGION = "NL"

_REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number (090x)",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
}


class Refusal(StrEnum):
    """Why a number will not be called back, in the classes a caller is told about."""

    INVALID = "invalid"
    """Not a complete number: too short, too long, letters, an extension."""
    SERVICE = "service"
    """A short code or service number: 112, 113, 14024, 0800, 090x, 084/087,
    066 pagers, 097 machine numbers, international networks."""
    FOREIGN = "foreign"
    """A foreign mobile or landline while `allow_foreign` is off."""


class NumberError(ValueError):
    """A number that cannot be used, with a reason a person can act on."""

    def __init__(self, message: str, reason: Refusal = Refusal.INVALID) -> None:
        super().__init__(message)
        self.reason = reason


CALLBACK_TYPES = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
    }
)
"""The positive list: number types a crisis worker can simply ring back
(NL 06, geographic 010-0599, VoIP 085/091; abroad mobiles and landlines).
Everything else (toll-free, premium, shared cost, UAN 084/087/14xxx,
pagers, personal numbers, voicemail access) is refused."""

_NL_M2M_PREFIX = "97"
"""NL 097: machine-to-machine numbers. libphonenumber types them MOBILE,
so the positive list alone would let them through."""
_NL_COMPANY_PREFIX = "88"
"""NL 088: company numbers, typed UAN but charged and answered like a
geographic number (GP practices and care providers use them)."""
_NON_GEOGRAPHIC_REGION = "001"
"""Where phonenumbers puts +800, +808, +870, +881, +882, +883, +979: global
services and satellite networks, expensive and never a person's phone."""


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
    return normalise_parsed(raw, region)[0]


def normalise_parsed(
    raw: str, region: str = DEFAULT_REGION
) -> tuple[str, phonenumbers.PhoneNumber]:
    """`normalise`, and the parsed number for further questions (`region_for`):
    parsing costs more than the rest of an incoming call's webhook, so once."""
    number = parse(raw, region)
    if not phonenumbers.is_valid_number(number):
        raise NumberError(_why_invalid(raw, number, region), _invalid_reason(number, region))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), number


_SHORT_CODE_DIGITS = 6
"""NL numbers this short are short codes (112, 113, 1233, 14024), never a phone."""
_NL_DIGITS = 9
"""Digits after the trunk 0 in every Dutch number that can take a call."""


def _is_short_code(number: phonenumbers.PhoneNumber, region: str) -> bool:
    if number.country_code != phonenumbers.country_code_for_region(region):
        return False
    national = phonenumbers.national_significant_number(number)
    return bool(
        shortnumberinfo.is_valid_short_number_for_region(number, region)
        or len(national) <= _SHORT_CODE_DIGITS - 2
    )


def _invalid_reason(number: phonenumbers.PhoneNumber, region: str) -> Refusal:
    if _is_short_code(number, region):
        return Refusal.SERVICE
    if phonenumbers.region_code_for_number(number) == _NON_GEOGRAPHIC_REGION:
        return Refusal.SERVICE
    return Refusal.INVALID


def _why_invalid(raw: str, number: phonenumbers.PhoneNumber, region: str) -> str:
    """A reason a person can act on: a short code, a network number, digits off."""
    if _is_short_code(number, region):
        return f"{raw!r} is a short code (like 112, 113 or 14024); short codes cannot be used"
    where = phonenumbers.region_code_for_number(number)
    if where == _NON_GEOGRAPHIC_REGION:
        return f"{raw!r} is an international network number"
    national = phonenumbers.national_significant_number(number)
    if where == DEFAULT_REGION and len(national) != _NL_DIGITS:
        kind = "mobile" if national.startswith("6") else "number"
        return (
            f"{raw!r} has {len(national) + 1} digits; a Dutch {kind} has 10"
            f" (0{national[:1]} and {_NL_DIGITS - 1} more): is a digit missing or extra?"
        )
    return f"{raw!r} is not a valid number: no such number range exists"


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


def callback_number(raw: str, policy: NumberPolicy = NumberPolicy()) -> str:
    """Normalise a number a caller gave for a callback; refuse all but the positive list.

    A crisis worker rings this number from the crisis line. Only types that
    reach a person at normal cost qualify (`CALLBACK_TYPES`); NL 097 machine
    numbers and numbers with an extension never do; NL 088 company numbers
    do; abroad only mobiles and landlines, and only with `allow_foreign`.
    Numbers the *service* owns (its own lines, staff mobiles) are refused by
    the callback policy, which knows the configuration.
    """
    e164 = normalise(raw, policy.home_region)
    number = parse(raw, policy.home_region)
    if number.extension:
        raise NumberError(f"{raw!r} has an extension; give a number without one")
    region = phonenumbers.region_code_for_number(number)
    national = phonenumbers.national_significant_number(number)
    kind = phonenumbers.number_type(number)
    if region == _NON_GEOGRAPHIC_REGION:
        raise NumberError(f"{raw!r} is an international network number", Refusal.SERVICE)
    if region == DEFAULT_REGION and national.startswith(_NL_M2M_PREFIX):
        raise NumberError(f"{raw!r} is a machine-to-machine (097) number", Refusal.SERVICE)
    company = region == DEFAULT_REGION and national.startswith(_NL_COMPANY_PREFIX)
    if kind not in CALLBACK_TYPES and not (company and kind == PhoneNumberType.UAN):
        raise NumberError(f"{raw!r} is a service number ({kind_name(kind)})", Refusal.SERVICE)
    if region != policy.home_region and not policy.allow_foreign:
        raise NumberError(
            f"{raw!r} is a foreign number; only {policy.home_region} numbers are called back",
            Refusal.FOREIGN,
        )
    return e164


def kind_name(kind: int) -> str:
    """'TOLL_FREE' -> 'toll free': phonenumbers' type name, for messages."""
    for name, value in vars(PhoneNumberType).items():
        if value == kind and name.isupper():
            return name.lower().replace("_", " ")
    return "unknown"


def is_mobile(e164: str) -> bool:
    return phonenumbers.number_type(parse(e164)) in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def area_code(e164: str | phonenumbers.PhoneNumber) -> str | None:
    """The geographic area code with trunk prefix ('+31243436540' -> '024')."""
    number = e164 if isinstance(e164, phonenumbers.PhoneNumber) else parse(e164)
    length = phonenumbers.length_of_geographical_area_code(number)
    if length == 0:
        return None
    national = phonenumbers.national_significant_number(number)
    return "0" + national[:length]


def region_for(e164: str | phonenumbers.PhoneNumber, regions: tuple[Region, ...]) -> str | None:
    """The region a Dutch landline's area code suggests (mobiles, company
    numbers and foreign numbers suggest nothing: a German 0241 is not ours)."""
    try:
        number = e164 if isinstance(e164, phonenumbers.PhoneNumber) else parse(e164)
    except NumberError:
        return None
    if number.country_code != phonenumbers.country_code_for_region(DEFAULT_REGION):
        return None
    national = "0" + phonenumbers.national_significant_number(number)
    # Most callers ring from a mobile: when no configured area code starts the
    # number, there is no region, without asking phonenumbers for its type.
    if not any(national.startswith(code) for r in regions for code in r.area_codes):
        return None
    code = area_code(number)
    if code is None:
        return None
    return next((r.id for r in regions if code in r.area_codes), None)
