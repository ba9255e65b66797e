"""TwiML documents built once and filled per call (`ivr.twiml.Template`, `QuestionDocuments`)."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from ivr import twiml
from ivr.menus import Menu, Menus, Question
from tests.helpers import sample_generation
from tests.twiml_schema import assert_valid_twiml


def _menus() -> Menus:
    return sample_generation().menus


def _caller_menu(menus: Menus) -> Menu:
    menu = menus.menu(Question.CALLER)
    assert menu is not None
    return menu


@pytest.mark.parametrize(
    "url",
    [
        "https://crisis.example.nl/voice/step?s=.eJyLVkpOzMlJLVLSUcrL.upITGW1Y",
        "https://crisis.example.nl/voice/step?s=a&c=CA1&n=<2>",  # escaped like the builders
    ],
)
@pytest.mark.parametrize("retry", [False, True])
@pytest.mark.parametrize("first", [True, False])
def test_a_filled_question_is_the_document_the_builders_make_for_that_url(
    url: str, retry: bool, first: bool
) -> None:
    menus = _menus()
    menu = _caller_menu(menus)
    built = str(twiml.question(menus, menu, "nl", retry, url, first))

    filled = twiml.QuestionDocuments().question(menus, menu, "nl", retry, first).fill(url)

    assert filled == built
    assert_valid_twiml(ET.fromstring(filled))


def test_a_quote_in_the_url_cannot_break_out_of_the_attribute() -> None:
    menus = _menus()
    url = 'https://crisis.example.nl/voice/step?s=x"><Hangup/><Say a="'

    root = ET.fromstring(
        twiml.QuestionDocuments().question(menus, _caller_menu(menus), "nl", False, True).fill(url)
    )

    assert [el.tag for el in root] == ["Say", "Gather", "Redirect"]
    gather, redirect = root.find("Gather"), root.find("Redirect")
    assert gather is not None and redirect is not None
    assert gather.get("action") == url and redirect.text == url


def test_each_question_document_is_built_once_per_config_generation() -> None:
    menus = _menus()
    menu = _caller_menu(menus)
    documents = twiml.QuestionDocuments()

    first = documents.question(menus, menu, "nl", False, True)

    assert documents.question(menus, menu, "nl", False, True) is first
    assert documents.question(menus, menu, "en", False, True) is not first
    assert documents.question(menus, menu, "nl", True, True) is not first


def test_a_new_generation_is_heard_at_once() -> None:
    menus = _menus()
    menu = _caller_menu(menus)
    documents = twiml.QuestionDocuments()
    documents.question(menus, menu, "nl", False, False)
    reworded = dataclasses.replace(menu, ask={**menu.ask, "nl": "Nieuwe vraag: druk 1."})
    reloaded = dataclasses.replace(
        menus, menus=tuple(reworded if m is menu else m for m in menus.menus)
    )

    again = documents.question(reloaded, reworded, "nl", False, False).fill("https://x.nl/s")

    assert "Nieuwe vraag: druk 1." in again
