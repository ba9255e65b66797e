"""Triage outcome codes: config, SMS replies, keypad digits, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from callrouter.calls.triage import (
    DEFAULT_CODES,
    DEFAULT_TEXTS,
    TriageRejected,
    TriageReport,
    from_digits,
    is_triage_message,
    keypad_prompt,
    parse_config,
    parse_reply,
)
from callrouter.config.builder import Builder
from callrouter.config.files import build, read_documents
from callrouter.config.yaml_marks import MarkedDoc
from tests.helpers import CONFIG_DIR, copy_config, sample_generation


@pytest.fixture(scope="module")
def codes():
    return sample_generation().triage


def test_sample_config_has_the_outcomes_the_crisis_services_use(codes) -> None:
    assert [c.code for c in codes.codes] == [
        "advies",
        "actieve_inschatting",
        "ambulant",
        "crisisopvang",
        "opname",
        "doorverwijzing",
        "veilig_thuis",
        "geen_actie",
    ]
    assert codes.get("opname").label == "Opname (vrijwillig of Wvggz)"


@pytest.mark.parametrize(
    ("text", "ref", "code"),
    [
        ("T 123 advies", "123", "advies"),
        ("t 123 ADVIES", "123", "advies"),
        ("T123 advies", "123", "advies"),
        ("  T 123   2 ", "123", "actieve_inschatting"),
        ("T 123 actieve inschatting", "123", "actieve_inschatting"),
        ("T 77 Actieve-Inschatting", "77", "actieve_inschatting"),
        ("T 9 iht", "9", "ambulant"),
        ("T 9 Ambulante crisishulp / IHT", "9", "ambulant"),
        ("T 9 wvggz", "9", "opname"),
        ("T 9 Veilig Thuis-melding", "9", "veilig_thuis"),
        ("T cb-4f2a vt", "cb-4f2a", "veilig_thuis"),
    ],
)
def test_staff_can_type_an_outcome_the_way_they_say_it(codes, text, ref, code) -> None:
    assert parse_reply(text, codes) == TriageReport(ref, code)


def test_an_unknown_code_gets_a_reply_listing_the_valid_ones(codes) -> None:
    result = parse_reply("T 123 opnamee", codes)

    assert isinstance(result, TriageRejected)
    assert "Onbekende uitkomst 'opnamee' voor gesprek 123" in result.reply
    assert "Bedoelde u opname?" in result.reply
    assert "1 advies" in result.reply and "9 geen_actie" in result.reply
    assert "T 123 advies" in result.reply


def test_an_unused_keypad_digit_in_a_reply_is_refused(codes) -> None:
    result = parse_reply("T 123 8", codes)

    assert isinstance(result, TriageRejected)
    assert "Onbekende uitkomst '8'" in result.reply


def test_a_report_without_a_code_explains_the_format(codes) -> None:
    result = parse_reply("T 123", codes)

    assert isinstance(result, TriageRejected)
    assert "Geef gespreksnummer en uitkomst" in result.reply


def test_triage_messages_are_told_apart_from_other_sms(codes) -> None:
    assert is_triage_message("T 123 advies", codes)
    assert is_triage_message("t12 1", codes)
    assert not is_triage_message("Terugbellen lukt niet", codes)
    assert not is_triage_message("1", codes)
    assert not is_triage_message("OK", codes)


@pytest.mark.parametrize(
    ("digits", "code"), [("1", "advies"), ("3#", "ambulant"), (" 9", "geen_actie")]
)
def test_keypad_digits_choose_an_outcome(codes, digits, code) -> None:
    found = from_digits(digits, codes)

    assert found is not None and found.code == code


@pytest.mark.parametrize("digits", ["8", "", "12", "*"])
def test_keypad_input_that_is_no_outcome_is_none(codes, digits) -> None:
    assert from_digits(digits, codes) is None


def test_keypad_prompt_reads_every_digit_with_its_label(codes) -> None:
    prompt = keypad_prompt(codes, "nl")

    assert prompt.startswith("Toets de uitkomst van de triage: 1 voor Advies")
    assert "7 voor Veilig Thuis-melding" in prompt
    assert keypad_prompt(codes, "en").startswith("Key in the triage outcome: 1 for Advies")


def test_every_triage_word_staff_read_is_in_the_sample_config_in_dutch_and_english() -> None:
    """Issue 8: every word a caller or staff member reads lives in config, none in Python."""
    raw = yaml.safe_load((CONFIG_DIR / "triage.yaml").read_text(encoding="utf-8"))
    texts = raw["triage"]["texts"]
    assert set(texts) == set(DEFAULT_TEXTS)
    assert all(set(langs) == {"nl", "en"} for langs in texts.values())


def test_replies_come_in_the_members_first_language(codes) -> None:
    rejected = parse_reply("T 123 advise", codes, ("en", "nl"))

    assert isinstance(rejected, TriageRejected)
    assert rejected.reply.startswith("Unknown outcome 'advise' for call 123. Did you mean advies?")
    dutch = parse_reply("T 123 advise", codes, ("de", "nl"))
    assert isinstance(dutch, TriageRejected) and dutch.reply.startswith("Onbekende uitkomst")


def test_a_triage_text_with_an_unknown_field_is_refused_with_its_line(tmp_path: Path) -> None:
    directory = copy_config(
        tmp_path, {"triage.yaml": [("Vastgelegd voor gesprek {ref}", "Vastgelegd {gesprek}")]}
    )

    _config, problems = build(read_documents(directory))

    [problem] = [str(p) for p in problems]
    assert "triage.yaml:" in problem and "triage.texts.saved.nl has a bad field" in problem
    assert "use only {ref} {label}" in problem


def test_without_a_triage_section_the_default_codes_apply() -> None:
    b = Builder(MarkedDoc())
    assert parse_config(b, None) == DEFAULT_CODES and not b.problems


def test_duplicate_digits_and_ambiguous_aliases_are_problems() -> None:
    raw = {
        "codes": {
            "advies": {"digit": 1, "aliases": ["opname"]},
            "opname": {"digit": 1},
            "x": {"digti": 2},
        }
    }

    b = Builder(MarkedDoc())
    parse_config(b, raw)
    messages = [p.message for p in b.problems]

    assert "keypad digit 1 is used by both 'advies' and 'opname'" in messages
    assert "'opname' would mean both 'advies' and 'opname'" in messages
    assert "unknown key 'digti' in triage.codes.x" in messages
    assert any(p.fix == "did you mean 'digit'?" for p in b.problems)


def test_config_problems_name_file_and_line(tmp_path: Path) -> None:
    directory = copy_config(tmp_path / "cfg", {"triage.yaml": [("digit: 9", "digit: 1")]})
    lines = (directory / "triage.yaml").read_text(encoding="utf-8").splitlines()
    block = lines.index("    geen_actie:")
    digit_line = next(i for i in range(block, len(lines)) if "digit:" in lines[i]) + 1

    config, problems = build(read_documents(directory))

    assert config is None
    assert [str(p) for p in problems] == [
        f"{directory / 'triage.yaml'}:{digit_line}: keypad digit 1 is used by both 'advies' "
        "and 'geen_actie'. Fix: give each outcome its own digit"
    ]
