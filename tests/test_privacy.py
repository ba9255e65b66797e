"""Masking and pseudonymising phone numbers."""

from __future__ import annotations

import pytest

from callrouter.privacy import mask_number, mask_numbers_in, pseudonymise


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+31612344567", "+31 ***** 45 67"),
        ("+31 6 1234 4567", "+31 ***** 45 67"),
        ("+31243436540", "+31 ***** 65 40"),
        ("+14155552671", "+1 ****** 26 71"),
        ("+358401234567", "+358 ***** 45 67"),
        ("0612344567", "****** 45 67"),
    ],
)
def test_mask_keeps_country_code_and_last_four_digits(number: str, masked: str) -> None:
    assert mask_number(number) == masked


@pytest.mark.parametrize("number", ["112", "113", "+31113", "1233"])
def test_short_numbers_are_masked_whole(number: str) -> None:
    assert not any(ch.isdigit() for ch in mask_number(number).removeprefix("+31"))


@pytest.mark.parametrize("identifier", ["client:alice", "sip:alice@example.nl", "anonymous", ""])
def test_anything_but_a_number_is_never_echoed(identifier: str) -> None:
    assert mask_number(identifier) == "***"


def test_numbers_inside_text_are_masked() -> None:
    text = "Terugbelverzoek van +31612344567, bevestigd op +31612344567."

    assert mask_numbers_in(text) == (
        "Terugbelverzoek van +31 ***** 45 67, bevestigd op +31 ***** 45 67."
    )


def test_pseudonym_is_truncated_hmac_sha256() -> None:
    # RFC 4231 test case 2: HMAC-SHA256(key="Jefe", "what do ya want for nothing?")
    assert pseudonymise("what do ya want for nothing?", b"Jefe") == "5bdcc146bf60754e"


def test_pseudonym_is_stable_per_key_and_differs_between_keys() -> None:
    number = "+31612344567"

    first = pseudonymise(number, b"key-one")

    assert first == pseudonymise(number, b"key-one")
    assert first != pseudonymise(number, b"key-two")
    assert first != pseudonymise("+31612344568", b"key-one")
    assert len(first) == 16
    assert "612344567" not in first


def test_pseudonymise_refuses_an_empty_key() -> None:
    with pytest.raises(ValueError):
        pseudonymise("+31612344567", b"")
