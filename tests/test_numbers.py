"""Phone numbers: E.164 normalisation and the service's dialling policy."""

from __future__ import annotations

import pytest

from callrouter.routing.model import Region
from callrouter.routing.numbers import (
    NumberError,
    NumberPolicy,
    Refusal,
    area_code,
    callback_number,
    dialable,
    is_mobile,
    normalise,
    region_for,
)
from tests.helpers import sample_config


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("024-343 65 40", "+31243436540"),
        ("024 3436540", "+31243436540"),
        ("(024) 343 65 40", "+31243436540"),
        ("+31 (0)24 343 65 40", "+31243436540"),
        ("0031 24 343 65 40", "+31243436540"),
        ("06-12345678", "+31612345678"),
        ("06 1234 5678", "+31612345678"),
        ("+31 6 1234 5678", "+31612345678"),
        ("0485 700 205", "+31485700205"),
        ("085-1234567", "+31851234567"),
        ("0800-1234567", "+318001234567"),
    ],
)
def test_written_dutch_numbers_normalise_to_e164(written: str, e164: str) -> None:
    assert normalise(written) == e164
    assert dialable(written) == e164


@pytest.mark.parametrize("premium", ["0900-1234567", "0906-1234567", "0909-1234567", "0900 0113"])
def test_premium_rate_numbers_are_refused(premium: str) -> None:
    assert normalise(premium).startswith("+3190")  # a real number ...
    with pytest.raises(NumberError, match="premium-rate"):
        dialable(premium)  # ... that is never dialled


def test_premium_rate_numbers_are_refused_even_when_foreign_numbers_are_allowed() -> None:
    with pytest.raises(NumberError, match="premium-rate"):
        dialable("0900-1234567", NumberPolicy(allow_foreign=True))


@pytest.mark.parametrize("short", ["112", "113", "1233", "0800"])
def test_short_codes_are_refused(short: str) -> None:
    with pytest.raises(NumberError, match="short code"):
        normalise(short)
    with pytest.raises(NumberError):
        dialable(short)


@pytest.mark.parametrize("junk", ["", "abc", "+31 6 1000", "06-1234"])
def test_text_that_is_not_a_full_number_is_refused(junk: str) -> None:
    with pytest.raises(NumberError):
        dialable(junk)


@pytest.mark.parametrize(
    ("foreign", "e164"),
    [
        ("+32 470 12 34 56", "+32470123456"),  # Belgian mobile
        ("+49 30 1234567", "+49301234567"),  # Berlin landline
        ("0049 30 1234567", "+49301234567"),
    ],
)
def test_foreign_numbers_are_refused_unless_allowed(foreign: str, e164: str) -> None:
    with pytest.raises(NumberError, match="foreign"):
        dialable(foreign)
    assert dialable(foreign, NumberPolicy(allow_foreign=True)) == e164


def test_number_error_is_a_value_error_naming_the_number() -> None:
    with pytest.raises(ValueError, match="0906-1234567"):
        dialable("0906-1234567")


def test_mobiles_and_landlines_are_told_apart() -> None:
    assert is_mobile("+31612345678")
    assert not is_mobile("+31243436540")


@pytest.mark.parametrize(
    ("e164", "code"),
    [
        ("+31243436540", "024"),
        ("+31487123456", "0487"),
        ("+31485700205", "0485"),
        ("+31201234567", "020"),
        ("+31612345678", None),  # mobiles have no area
        ("+31880001199", None),  # 088: company numbers, not geographic
    ],
)
def test_area_code_of_a_number(e164: str, code: str | None) -> None:
    assert area_code(e164) == code


@pytest.mark.parametrize(
    ("e164", "region"),
    [
        ("+31243436540", "nijmegen"),
        ("+31487123456", "maas_en_waal"),
        ("+31485700205", "land_van_cuijk"),
        ("+31201234567", None),  # Amsterdam: no configured region
        ("+31612345678", None),  # a mobile suggests no region
        ("+3190", None),  # too short to be a number
    ],
)
def test_area_code_suggests_a_configured_region(e164: str, region: str | None) -> None:
    assert region_for(e164, sample_config().regions) == region


def test_a_foreign_landline_suggests_no_region_even_with_the_same_digits() -> None:
    """Berlin's 030 is not Zwolle's (or a region configured with 030)."""
    zwolle = Region("zwolle", "Zwolle", area_codes=("038", "030"))

    assert region_for("+31301234567", (zwolle,)) == "zwolle"
    assert region_for("+493012345678", (zwolle,)) is None


# ------------------------------------------------------------------ callback numbers
# Issue 9: the callback number policy is a positive list. Every class an attacker
# typed on the landed main is held here, with the class of refusal a caller hears.

CALLBACK_REFUSED = [
    ("0800-0113", Refusal.SERVICE, "toll free"),
    ("0800 1234567", Refusal.SERVICE, "toll free"),
    ("0900-1234567", Refusal.SERVICE, "premium rate"),
    ("0906-1234567", Refusal.SERVICE, "premium rate"),
    ("0909-1234567", Refusal.SERVICE, "premium rate"),
    ("084-1234567", Refusal.SERVICE, "service number"),
    ("087-1234567", Refusal.SERVICE, "service number"),
    ("066-1234567", Refusal.SERVICE, "pager"),
    ("+31 970 1012 3456", Refusal.SERVICE, "machine-to-machine"),
    ("14024", Refusal.SERVICE, "service number"),
    ("1400", Refusal.SERVICE, "short code"),
    ("112", Refusal.SERVICE, "short code"),
    ("113", Refusal.SERVICE, "short code"),
    ("1233", Refusal.SERVICE, "short code"),
    ("+882 1234 5678", Refusal.SERVICE, "international network"),
    ("+883 5100 1234 5678", Refusal.SERVICE, "international network"),
    ("+870 773 123456", Refusal.SERVICE, "international network"),
    ("+881 6 1234 5678", Refusal.SERVICE, "international network"),
    ("06 1234 5678 ext 12", Refusal.INVALID, "extension"),
    ("06-1234567", Refusal.INVALID, "digit missing"),
    ("06-123456789", Refusal.INVALID, "digit missing or extra"),
    ("not a number", Refusal.INVALID, "not a phone number"),
]


@pytest.mark.parametrize(("typed", "reason", "message"), CALLBACK_REFUSED)
@pytest.mark.parametrize("allow_foreign", [False, True])
def test_callback_numbers_outside_the_positive_list_are_refused(
    typed: str, reason: Refusal, message: str, allow_foreign: bool
) -> None:
    with pytest.raises(NumberError, match=message) as refused:
        callback_number(typed, NumberPolicy(allow_foreign=allow_foreign))
    assert refused.value.reason is reason


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("06 1234 5678", "+31612345678"),  # mobile
        ("024-343 65 40", "+31243436540"),  # geographic
        ("085-123 45 67", "+31851234567"),  # VoIP
        ("091-123 45 67", "+31911234567"),  # VoIP
        ("088-012 34 56", "+31880123456"),  # company number (GP practices, care providers)
    ],
)
def test_callback_numbers_on_the_positive_list_are_accepted(typed: str, e164: str) -> None:
    assert callback_number(typed) == e164


@pytest.mark.parametrize("foreign", ["+32 470 12 34 56", "+49 30 1234567", "+49 151 12345678"])
def test_foreign_mobiles_and_landlines_only_with_allow_foreign(foreign: str) -> None:
    with pytest.raises(NumberError) as refused:
        callback_number(foreign)
    assert refused.value.reason is Refusal.FOREIGN
    assert callback_number(foreign, NumberPolicy(allow_foreign=True)).startswith("+")


def test_a_mobile_missing_a_digit_is_not_called_a_short_code() -> None:
    with pytest.raises(NumberError) as refused:
        normalise("06 1234 567")
    assert "short code" not in str(refused.value)
    assert "has 9 digits; a Dutch mobile has 10" in str(refused.value)
