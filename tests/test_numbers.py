"""Phone numbers: E.164 normalisation and the service's dialling policy."""

from __future__ import annotations

import pytest

from callrouter.routing.numbers import (
    NumberError,
    NumberPolicy,
    area_code,
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
    with pytest.raises(NumberError, match="not a valid number"):
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
