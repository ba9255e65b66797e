"""Prompts, voices and menus of the IVR, per language, as configured in `ivr.yaml`.

Every word a caller or staff member hears comes from here, so an admin
changes wording, voices or speech synonyms without touching code, and the
config check (`ivr/config.py`) proves each text exists in every language
before it goes live: a caller who chose English never hears a blank.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from callrouter.routing.model import Config
from callrouter.routing.plan import CallerFacts

ACCEPT_DIGIT = "1"
"""What staff press in the whisper to take a call; fixed, so it is the same on every team."""


class Question(StrEnum):
    """A menu question; `FACT_FIELD` names the `CallerFacts` field its answer fills in."""

    CALLER = "caller"
    AGE = "age"
    REGION = "region"


FACT_FIELD: Mapping[Question, str] = {
    Question.CALLER: "caller_type",
    Question.AGE: "age_group",
    Question.REGION: "region",
}


class Prompt(StrEnum):
    """The fixed prompts every language must have."""

    WELCOME = "welcome"
    SAFETY = "safety"
    CONNECTING = "connecting"
    """Before the first staff leg."""
    STILL_CONNECTING = "still_connecting"
    """Before another staff leg: only when another crisis worker is rung."""
    FINAL_LINE = "final_line"
    """Before the plan's final (24/7) line or the fallback line is rung."""
    LINE_RETRY = "line_retry"
    """Before the same 24/7 line is rung once more."""
    OVERFLOW = "overflow"
    """Before the backup centre of another region is rung."""
    REFERRAL = "referral"
    """The very last words: where else to turn (113, 0800-0113, 112); then the call ends."""
    CALL_REF = "call_ref"
    """Told to staff after the whisper and the bridged callback's intro: the call's
    short reference ("Gespreksnummer {ref}."), which they use to report the outcome."""


PROMPT_FIELDS: Mapping[Prompt, frozenset[str]] = {Prompt.CALL_REF: frozenset({"ref"})}
"""Prompts that are templates, and the placeholders each must have (the others are said as is)."""


class BlockedAction(StrEnum):
    """What a number on the block list gets. There is deliberately no 'reject':
    a crisis line never hangs up on anyone, it only skips the menu."""

    ROUTE = "route"
    """Like any other caller."""
    FALLBACK = "fallback"
    """No menu, straight to the 24/7 fallback line (which knows these callers)."""


@dataclass(frozen=True)
class Voice:
    """How one language is spoken and heard: `<Say voice language>` and `<Gather language>`."""

    voice: str
    language: str
    label: str
    """The language's name in the staff's (default) language, for the whisper."""


@dataclass(frozen=True)
class Option:
    """One answer to a menu: a key, spoken phrases, or both."""

    value: str | None
    """Caller type / age group / region id; None means 'I don't know'."""
    digit: str | None
    speech: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per language, phrases already normalised by `ivr.inputs.normalise`."""


@dataclass(frozen=True)
class Menu:
    question: Question
    ask: Mapping[str, str]
    retry: Mapping[str, str]
    """The clearer second attempt after silence or an invalid answer."""
    options: tuple[Option, ...]

    def hints(self, lang: str) -> str:
        """Speech hints for Twilio's recogniser: every phrase of this menu."""
        return ", ".join(p for o in self.options for p in o.speech.get(lang, ()))


@dataclass(frozen=True)
class LanguageChoice:
    """'For English, press 9': offered at the first question, spoken in that language."""

    language: str
    digit: str
    offer: str
    speech: tuple[str, ...]


@dataclass(frozen=True)
class Whisper:
    """What the staff member hears before being connected, in the default language."""

    text: str
    """Template with {caller}, {age}, {region} and {language}."""
    unknown: str
    """Said for a fact the caller did not give."""
    timeout: int
    """Seconds to press the accept digit; after that the leg counts as not answered."""


@dataclass(frozen=True)
class Menus:
    """The whole IVR configuration, validated."""

    languages: Mapping[str, Voice]
    default_language: str
    prompts: Mapping[Prompt, Mapping[str, str]]
    menus: tuple[Menu, ...]
    """In the order the questions are asked."""
    language_choice: LanguageChoice | None
    whisper: Whisper
    gather_timeout: int
    blocked: BlockedAction

    def voice(self, lang: str) -> Voice:
        return self.languages.get(lang) or self.languages[self.default_language]

    def say(self, prompt: Prompt, lang: str) -> str:
        texts = self.prompts[prompt]
        return texts.get(lang) or texts[self.default_language]

    def call_ref(self, ref: str) -> str:
        """'Gespreksnummer 48213097.' for staff, in the default language; '' without a ref."""
        if not ref:
            return ""
        return self.say(Prompt.CALL_REF, self.default_language).format(ref=ref)

    def menu(self, question: Question) -> Menu | None:
        return next((m for m in self.menus if m.question is question), None)

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(m.question for m in self.menus)


def whisper_text(menus: Menus, config: Config, facts: CallerFacts, lang: str) -> str:
    """Who is calling, for the staff member: the caller's answers as the config
    labels them, never the caller's number."""
    unknown = menus.whisper.unknown
    caller = config.caller_type(facts.caller_type) if facts.caller_type else None
    age = next((a for a in config.age_groups if a.id == facts.age_group), None)
    region = config.region(facts.region) if facts.region else None
    return menus.whisper.text.format(
        caller=(caller.label or caller.id) if caller else unknown,
        age=(age.label or age.id) if age else unknown,
        region=region.name if region else unknown,
        language=menus.voice(lang).label,
    )
