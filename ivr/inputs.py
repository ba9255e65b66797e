"""Twilio's `Digits` / `SpeechResult` -> what the caller chose.

Speech is matched on whole words after normalising case, accents and
punctuation ("Huisartsenpost!" and "huisartsenpost" are the same), so a
synonym list in `ivr.yaml` is all an admin maintains. When an utterance
matches two different answers the result is *invalid*, never a guess: the
caller is asked once more, which costs seconds; a wrong guess could send a
child's crisis to the adult team.
"""

from __future__ import annotations

import re
import unicodedata

from ivr.flow import Event, Input
from ivr.menus import LanguageChoice, Menu

_NOT_WORD = re.compile(r"[^0-9a-z]+")

# A key pressed by voice ("twee", "two"; "één" normalises to "een"): accepted
# only as the whole utterance, because "een" is also Dutch for "a" ("ik bel
# voor een naaste").
_SPOKEN_DIGITS: dict[str, str] = {
    word: str(digit)
    for digit, words in enumerate(
        (
            ("nul", "zero"),
            ("een", "one"),
            ("twee", "two"),
            ("drie", "three"),
            ("vier", "four"),
            ("vijf", "five"),
            ("zes", "six"),
            ("zeven", "seven"),
            ("acht", "eight"),
            ("negen", "nine"),
        )
    )
    for word in words
}


def normalise(text: str) -> str:
    """Lower case, no accents, words separated by single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", plain).strip()


def _contains(utterance: str, phrase: str) -> bool:
    return f" {phrase} " in f" {utterance} "


def interpret(
    menu: Menu,
    lang: str,
    digits: str | None,
    speech: str | None,
    choice: LanguageChoice | None = None,
) -> Event:
    """Read one `<Gather>` result for `menu` as an event for the flow."""
    digits = (digits or "").strip()
    said = normalise(speech or "")
    if not digits and said:
        digits = _SPOKEN_DIGITS.get(said, "") or (said if said.isdigit() else "")
    if digits:
        if choice is not None and digits == choice.digit:
            return Event(Input.SWITCH_LANGUAGE, choice.language)
        for option in menu.options:
            if option.digit is not None and option.digit == digits:
                return Event(Input.CHOICE, option.value)
        return Event(Input.INVALID)
    if not said:
        return Event(Input.SILENCE)
    if choice is not None and any(_contains(said, p) for p in choice.speech):
        return Event(Input.SWITCH_LANGUAGE, choice.language)
    matched = {
        option.value
        for option in menu.options
        if any(_contains(said, phrase) for phrase in option.speech.get(lang, ()))
    }
    if len(matched) == 1:
        return Event(Input.CHOICE, matched.pop())
    return Event(Input.INVALID)
