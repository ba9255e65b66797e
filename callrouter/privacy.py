"""How phone numbers may appear outside the few places that need them raw.

Callers' numbers are health-related personal data (AVG/GDPR): a log line
saying "+31 6 ... called the crisis line" is itself sensitive. Two forms are
allowed elsewhere:

- ``mask_number`` for text a person reads (logs, dry-run output): enough to
  tell two numbers apart at a glance, not enough to call anyone.
- ``pseudonymise`` for records and reports that must join calls from the
  same number without storing the number.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import phonenumbers

_HIDDEN = "***"
_KEPT_DIGITS = 4
# Keep the last digits only when at least this many stay hidden; otherwise
# a short number (113, 1233, an extension) would be shown almost whole.
_MIN_HIDDEN_DIGITS = 4
_NUMBER_CHARS = re.compile(r"^\+?[\d\s().-]+$")
_E164_IN_TEXT = re.compile(r"\+\d{6,15}")
_PSEUDONYM_HEX_CHARS = 16


def mask_number(e164: str) -> str:
    """Mask a phone number for display: '+31612344567' -> '+31 ***** 45 67'.

    Keeps the country code (where a caller is from matters when reading a
    log) and the last four digits; hides the rest, digit for digit. Anything
    that is not a plain number (``client:alice``, ``sip:...``, ``anonymous``,
    the empty string) becomes ``***``: it is never echoed, since it may be an
    identifier too.
    """
    text = e164.strip()
    if not _NUMBER_CHARS.match(text):
        return _HIDDEN
    digits = re.sub(r"\D", "", text)
    country_code = _country_code(text) if text.startswith("+") else None
    rest = digits[len(str(country_code)) :] if country_code is not None else digits
    kept = rest[-_KEPT_DIGITS:] if len(rest) - _KEPT_DIGITS >= _MIN_HIDDEN_DIGITS else ""
    parts = [
        f"+{country_code}" if country_code is not None else "",
        "*" * (len(rest) - len(kept)),
        f"{kept[:2]} {kept[2:]}" if kept else "",
    ]
    return " ".join(part for part in parts if part) or _HIDDEN


def mask_numbers_in(text: str) -> str:
    """Mask every E.164 number inside free text, such as an SMS body about to be logged."""
    return _E164_IN_TEXT.sub(lambda match: mask_number(match.group()), text)


def derive_key(secret: str | bytes, purpose: str | bytes) -> bytes:
    """One key per purpose from the service secret (CALLROUTER_SECRET), so no two
    uses share a key and web, worker and CLI derive the same one."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    label = purpose.encode("utf-8") if isinstance(purpose, str) else purpose
    return hmac.new(raw, label, hashlib.sha256).digest()


def pseudonymise(number: str, key: bytes) -> str:
    """The keyed hash that stands in for a phone number in logs and records.

    HMAC-SHA256 of the (E.164-normalised) number under a secret key, as hex,
    truncated to 16 characters (64 bits: collisions are negligible for the
    numbers one crisis line sees, and the string stays readable in a report).
    Keyed, because the space of phone numbers is small: a plain hash can be
    reversed by hashing every number. Normalise first, or '06 1234 5678' and
    '+31612345678' get different pseudonyms.
    """
    if not key:
        raise ValueError("pseudonymise needs a non-empty secret key; unkeyed hashes are reversible")
    digest = hmac.new(key, number.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:_PSEUDONYM_HEX_CHARS]


def _country_code(text: str) -> int | None:
    """Country calling code of an international number, or None when unknown.

    Read from phonenumbers' table of codes (prefix-free, 1-3 digits) rather
    than by parsing the whole number: a log line must not cost the webhook a
    parse. Like a parse, it needs 2-17 digits after the code."""
    digits = re.sub(r"\D", "", text)
    for size in (1, 2, 3):
        code = int(digits[:size]) if len(digits) > size else 0
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return code if 2 <= len(digits) - size <= 17 else None
    return None
