"""Keys and speech -> the caller's answer, with the sample menus."""

from __future__ import annotations

from pathlib import Path

import pytest

from callrouter.config import generation
from ivr.flow import Event, Input
from ivr.inputs import interpret, normalise
from ivr.menus import Menu, Menus, Question
from tests.helpers import copy_config, sample_generation, with_region_question


@pytest.fixture(scope="module")
def menus() -> Menus:
    return sample_generation().menus


def menu(menus: Menus, question: Question) -> Menu:
    found = menus.menu(question)
    assert found is not None
    return found


def test_normalise_ignores_case_accents_and_punctuation() -> None:
    assert normalise("  Huisartsenpost!  Één, twee. ") == "huisartsenpost een twee"


@pytest.mark.parametrize(
    ("digits", "speech", "expected"),
    [
        ("2", None, Event(Input.CHOICE, "relative")),
        ("3", None, Event(Input.CHOICE, "verwijzer")),
        (None, "Ik ben de huisarts van meneer", Event(Input.CHOICE, "huisarts")),
        (None, "politie", Event(Input.CHOICE, "politie")),
        (None, "ik bel voor een naaste", Event(Input.CHOICE, "relative")),
        (None, "twee", Event(Input.CHOICE, "relative")),
        (None, "Één.", Event(Input.CHOICE, "resident")),
        ("9", None, Event(Input.SWITCH_LANGUAGE, "en")),
        (None, "English please", Event(Input.SWITCH_LANGUAGE, "en")),
        ("7", None, Event(Input.INVALID)),
        ("#", None, Event(Input.INVALID)),
        (None, "bloemkool", Event(Input.INVALID)),
        ("", "", Event(Input.SILENCE)),
        (None, None, Event(Input.SILENCE)),
    ],
)
def test_caller_menu(menus: Menus, digits: str | None, speech: str | None, expected: Event) -> None:
    assert (
        interpret(menu(menus, Question.CALLER), "nl", digits, speech, menus.language_choice)
        == expected
    )


def test_an_utterance_that_fits_two_answers_is_invalid_not_a_guess(menus: Menus) -> None:
    said = "de politie en de huisarts"

    assert interpret(menu(menus, Question.CALLER), "nl", None, said) == Event(Input.INVALID)


def test_speech_is_matched_in_the_callers_language(menus: Menus) -> None:
    caller = menu(menus, Question.CALLER)

    assert interpret(caller, "en", None, "I am calling about my mother") == Event(
        Input.CHOICE, "relative"
    )
    assert interpret(caller, "nl", None, "I am calling about my mother") == Event(Input.INVALID)


def test_a_municipality_answers_the_region_question(tmp_path: Path) -> None:
    asks_region = generation.load(copy_config(tmp_path, with_region_question()))
    region = menu(asks_region.menus, Question.REGION)

    assert interpret(region, "nl", None, "Wij wonen in Wijchen") == Event(Input.CHOICE, "nijmegen")
    assert interpret(region, "nl", None, "West Maas en Waal") == Event(Input.CHOICE, "maas_en_waal")
    assert interpret(region, "nl", "0", None) == Event(Input.CHOICE, None)


def test_whole_words_only(menus: Menus) -> None:
    # "zelf" is an answer; "zelfdoding" is not "zelf".
    assert interpret(menu(menus, Question.CALLER), "nl", None, "zelfdoding") == Event(Input.INVALID)
