"""`callrouter phone` (an admin tries the config before it goes live) and
`callrouter fallback-twiml` (what Twilio plays when the service is down)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from callrouter.cli import main
from tests.twiml_schema import assert_valid_twiml


def phone(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["phone", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_scripted_call_prints_what_the_caller_hears_who_rings_and_how_it_ends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = phone(
        capsys,
        "--from",
        "+31612345678",
        "--at",
        "2026-04-28T10:00",
        "--digits",
        "2,2",
        "--answer",
        "no,yes",
    )

    assert code == 0
    assert "call from +31 ***** 56 78" in out and "Tue 2026-04-28 10:00 CEST" in out
    assert "caller hears: Levensgevaar? Hang op en bel 1 1 2." in out.splitlines()[1]
    assert "caller hears: Crisislijn Waalland." in out
    assert "  caller presses 2" in out
    assert "dialling Anna de Vries (SPV) (+31 ***** 00 01): rings for 25 s" in out
    assert "Eva Smit (psychiater) hears: Crisislijn: Naaste" in out
    assert "connected to Eva Smit (psychiater)" in out
    ended, estimate = out.rstrip().splitlines()[-2:]
    assert ended == "call ends: the service hung up"
    assert estimate.startswith("estimated (README: How long until the first ring): first ring")
    assert "+31612345678" not in out and "+31610000001" not in out


def test_when_the_answers_run_out_legs_are_not_answered_and_the_final_line_is_shown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = phone(
        capsys, "--from", "+31612345678", "--at", "2026-04-29T03:00", "--digits", "1,"
    )

    assert code == 0
    assert "Dat heb ik niet goed verstaan" not in out  # silence routes at once
    assert "dialling Regionale 24/7 crisislijn (fallback)" in out
    assert "dialling Crisisdienst buurregio (achtervang)" in out
    assert "Bel 1 1 3, of gratis 0 8 0 0, 0 1 1 3" in out
    assert out.rstrip().splitlines()[-2] == "call ends: the service hung up"


def test_interactive_when_no_digits_are_given(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = iter(["3", "2", "voicemail", "yes"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(typed))

    code, out, _ = phone(capsys, "--from", "+31612345678", "--at", "2026-04-28T10:00")

    assert code == 0
    assert "Anna de Vries (SPV) presses nothing" in out
    assert "connected to Eva Smit (psychiater)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--answer", "perhaps"], "--answer perhaps"),
        (["--url", "http://127.0.0.1:9", "--at", "2026-04-28T10:00"], "--at only works in-process"),
        (["--at", "2026-03-29T02:30"], "does not exist"),
    ],
)
def test_bad_options_are_explained(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = phone(capsys, "--from", "+31612345678", "--digits", "1", *argv)

    assert code == 2
    assert message in err


def test_fallback_twiml_for_a_twiml_bin_rings_the_fallback_line_with_the_crisis_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["fallback-twiml"])
    out = capsys.readouterr().out

    root = ET.fromstring(out)
    assert code == 0
    assert [el.tag for el in root] == ["Say", "Say", "Say", "Dial"]
    assert "1 1 2" in (root[0].text or "")  # the safety line first
    dial = root.find("Dial")
    assert dial is not None and (dial.text or "") == "+31880001199"
    assert dial.get("callerId") == "+31880001133" and dial.get("action") is None
    assert_valid_twiml(root)
