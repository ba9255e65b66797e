"""Interactive `callrouter phone`: what people type is read as they mean it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from callrouter.cli import main


def interactive_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], typed: list[str]
) -> str:
    lines: Iterator[str] = iter(typed)
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines, "q"))
    code = main(["phone", "--from", "+31612345678", "--at", "2026-04-28T10:00"])
    assert code == 0
    return capsys.readouterr().out


def test_y_and_n_at_a_ringing_phone_mean_yes_and_no(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was: "y" counted as nobody answering."""
    out = interactive_call(monkeypatch, capsys, ["2", "2", "n", "y"])

    assert "dialling Anna de Vries (SPV) (+31 ***** 00 01)" in out
    assert "  no-answer" in out
    assert "connected to Eva Smit (psychiater)" in out


def test_yes_and_no_in_capitals_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = interactive_call(monkeypatch, capsys, ["2", "2", "No", "YES"])

    assert "connected to Eva Smit (psychiater)" in out


def test_typed_digits_ending_in_hash_are_keys_not_speech(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was: "2#" was sent as speech."""
    out = interactive_call(monkeypatch, capsys, ["2#", "2#", "no", "yes"])

    assert out.count("caller presses 2") == 2 and "says 2#" not in out
    assert "connected to Eva Smit (psychiater)" in out
