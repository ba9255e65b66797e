"""The ivr section is checked with the rest of the config, with file:line problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from callrouter.config.files import load
from callrouter.errors import ConfigError
from ivr.menus import BlockedAction, Prompt, Question
from tests.helpers import copy_config, line_of, sample_generation


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(directory)
    return caught.value.problems


def test_the_sample_ivr_is_valid_in_both_languages() -> None:
    menus = sample_generation().menus

    assert list(menus.languages) == ["nl", "en"]
    assert menus.questions == (Question.CALLER, Question.AGE)  # the region: by area code
    assert all(set(menus.prompts[p]) == {"nl", "en"} for p in Prompt)
    assert menus.blocked is BlockedAction.FALLBACK


def test_a_menu_answer_naming_an_unknown_caller_type_is_reported_at_its_line(
    tmp_path: Path,
) -> None:
    config = copy_config(tmp_path, {"ivr.yaml": [("value: politie", "value: polite")]})

    problems = problems_of(config)

    line = line_of(config / "ivr.yaml", "value: polite")
    assert any(
        p.startswith(f"{config / 'ivr.yaml'}:{line}: unknown caller answer 'polite'")
        and "did you mean 'politie'" in p
        for p in problems
    ), problems


def test_a_prompt_missing_in_english_is_reported(tmp_path: Path) -> None:
    config = copy_config(
        tmp_path,
        {
            "ivr.yaml": [
                ("      en: One moment.\n", ""),
            ]
        },
    )

    problems = problems_of(config)

    assert any("prompts.connecting is missing 'en'" in p for p in problems), problems


def test_two_answers_on_one_key_and_a_key_that_also_chooses_the_language(tmp_path: Path) -> None:
    config = copy_config(
        tmp_path,
        {
            "ivr.yaml": [
                ('- digit: "2"\n          value: "18+"', '- digit: "1"\n          value: "18+"'),
                ('- digit: "3"\n          value: verw', '- digit: "9"\n          value: verw'),
            ]
        },
    )

    problems = problems_of(config)

    line = line_of(config / "ivr.yaml", 'value: "18+"') - 1
    assert any(f"ivr.yaml:{line}: key 1 is also answer 1" in p for p in problems), problems
    assert any("key 9 also chooses the language" in p for p in problems), problems


def test_one_phrase_for_two_answers_is_reported(tmp_path: Path) -> None:
    config = copy_config(
        tmp_path, {"ivr.yaml": [("nl: [politie, agent, wijkagent]", "nl: [politie, huisarts]")]}
    )

    assert any("'huisarts' (nl) is also said for answer" in p for p in problems_of(config))


def test_an_unknown_whisper_placeholder_is_reported(tmp_path: Path) -> None:
    config = copy_config(tmp_path, {"ivr.yaml": [("regio {region}", "regio {regio}")]})

    assert any("unknown placeholder {regio}" in p for p in problems_of(config))


def test_a_whisper_that_does_not_ask_for_the_accept_key_is_reported(tmp_path: Path) -> None:
    config = copy_config(tmp_path, {"ivr.yaml": [("Druk 1 om aan te nemen.", "Neem op.")]})

    assert any("does not tell staff to press 1" in p for p in problems_of(config))


def test_without_an_ivr_section_the_config_is_refused_at_the_home_of_the_section(
    tmp_path: Path,
) -> None:
    config = copy_config(tmp_path)
    (config / "ivr.yaml").unlink()

    assert problems_of(config) == [
        f"{config / 'ivr.yaml'}:1: there is no 'ivr' section."
        " Fix: add config/ivr.yaml (see the sample) with prompts and menus"
    ]


def test_the_call_ref_prompt_must_say_the_ref_in_every_language(tmp_path: Path) -> None:
    config = copy_config(
        tmp_path,
        {"ivr.yaml": [("nl: Gespreksnummer {ref}.", "nl: Gespreksnummer {nummer}."),
                      ("      en: Call number {ref}.\n", "")]},
    )  # fmt: skip

    problems = problems_of(config)

    line = line_of(config / "ivr.yaml", "Gespreksnummer {nummer}")
    assert any(f"ivr.yaml:{line}: unknown placeholder {{nummer}}" in p for p in problems), problems
    assert any(f"ivr.yaml:{line}: the text does not say {{ref}}" in p for p in problems), problems
    assert any("prompts.call_ref is missing 'en'" in p for p in problems), problems


def test_the_call_ref_is_said_in_the_staff_language() -> None:
    menus = sample_generation().menus

    assert menus.call_ref("1042") == "Gespreksnummer 1042."
    assert menus.call_ref("") == ""
