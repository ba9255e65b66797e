"""The `ivr:` section (config/ivr.yaml) -> validated `ivr.menus.Menus`, with file:line problems.

The config generation (`callrouter.config.generation`) parses it with every
other section, so an IVR mistake (a prompt missing in English, a menu answer
naming an unknown caller type, two answers on one key) stops a config from
going live exactly like a routing mistake does, and is reported the same way.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from callrouter.config.builder import Builder
from callrouter.config.yaml_marks import PathKey
from callrouter.routing.model import Config
from ivr.inputs import normalise
from ivr.menus import (
    ACCEPT_DIGIT,
    PROMPT_FIELDS,
    BlockedAction,
    LanguageChoice,
    Menu,
    Menus,
    Option,
    Prompt,
    Question,
    Voice,
    Whisper,
)

WHISPER_FIELDS = frozenset({"caller", "age", "region", "language"})
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]+)+$")
_DIGIT = re.compile(r"^[0-9]$")

Answers = Mapping[Question, frozenset[str]]
"""The ids a menu answer may name, per question."""


def parse(b: Builder, config: Config) -> Menus | None:
    """The menus of the `ivr:` section, problems added to `b` with file:line.

    None when the section is missing: the voice service cannot run without
    knowing what to say. A region's name and municipalities become speech
    synonyms of its menu answer here, as they are what callers actually say.
    """
    answers = {
        Question.CALLER: frozenset(c.id for c in config.caller_types),
        Question.AGE: frozenset(a.id for a in config.age_groups),
        Question.REGION: frozenset(r.id for r in config.regions),
    }
    menus = _parse(b, answers)
    return None if menus is None else _with_region_names(menus, config)


def _with_region_names(menus: Menus, config: Config) -> Menus:
    def widen(option: Option) -> Option:
        region = config.region(option.value) if option.value else None
        if region is None:
            return option
        said = tuple(normalise(x) for x in (region.name, *region.municipalities))
        speech = {
            lang: tuple(dict.fromkeys((*phrases, *said))) for lang, phrases in option.speech.items()
        }
        return replace(option, speech=speech)

    return replace(
        menus,
        menus=tuple(
            replace(m, options=tuple(widen(o) for o in m.options))
            if m.question is Question.REGION
            else m
            for m in menus.menus
        ),
    )


def _parse(b: Builder, answers: Answers) -> Menus | None:
    p: PathKey = ("ivr",)
    if b.doc.data.get("ivr") is None:
        b.err(
            p,
            "there is no 'ivr' section",
            "add config/ivr.yaml (see the sample) with prompts and menus",
        )
        return None
    raw = b.mapping(
        p,
        b.doc.data["ivr"],
        {
            "languages",
            "language_choice",
            "gather_timeout",
            "blocked",
            "prompts",
            "menus",
            "whisper",
        },
        {"languages", "prompts", "menus", "whisper"},
    )
    languages = _languages(b, p + ("languages",), raw.get("languages"))
    langs = list(languages) or ["nl"]
    prompt_specs = b.mapping(
        p + ("prompts",), raw.get("prompts"), {x.value for x in Prompt}, {x.value for x in Prompt}
    )
    prompts = {
        x: _texts(b, p + ("prompts", x.value), prompt_specs.get(x.value), langs) for x in Prompt
    }
    for prompt, fields in PROMPT_FIELDS.items():
        for lang, text in prompts[prompt].items():
            _check_template(b, p + ("prompts", prompt.value, lang), text, fields)
    choice = _language_choice(b, p + ("language_choice",), raw.get("language_choice"), langs)
    menus = _menus(b, p + ("menus",), raw.get("menus"), langs, answers, choice)
    blocked_raw = b.text(p + ("blocked",), raw.get("blocked"), BlockedAction.ROUTE.value)
    if not b.ref(
        p + ("blocked",), blocked_raw, {x.value for x in BlockedAction}, "blocked-number behaviour"
    ):
        blocked_raw = BlockedAction.ROUTE.value
    return Menus(
        languages=languages,
        default_language=langs[0],
        prompts=prompts,
        menus=menus,
        language_choice=choice,
        whisper=_whisper(b, p + ("whisper",), raw.get("whisper")),
        gather_timeout=b.integer(p + ("gather_timeout",), raw.get("gather_timeout"), 6, 2, 30),
        blocked=BlockedAction(blocked_raw),
    )


def _languages(b: Builder, p: PathKey, raw: Any) -> dict[str, Voice]:
    out: dict[str, Voice] = {}
    for lang, spec in b.table(p, raw).items():
        lp = p + (lang,)
        spec = b.mapping(lp, spec, {"voice", "language", "label"}, {"voice", "language"})
        tag = b.text(lp + ("language",), spec.get("language"))
        if not _LANGUAGE_TAG.match(tag):
            b.err(
                lp + ("language",), f"{tag!r} is not a language tag", "write it like nl-NL or en-GB"
            )
        out[str(lang)] = Voice(
            b.text(lp + ("voice",), spec.get("voice")),
            tag,
            b.text(lp + ("label",), spec.get("label"), str(lang)),
        )
    if not out:
        b.err(
            p,
            "no languages are defined",
            "add at least nl: {voice: Polly.Laura-Neural, language: nl-NL}",
        )
    return out


def _texts(b: Builder, p: PathKey, raw: Any, langs: list[str]) -> dict[str, str]:
    spec = b.mapping(p, raw, set(langs), set(langs))
    out = {
        lang: " ".join(b.text(p + (lang,), spec.get(lang)).split())
        for lang in langs
        if lang in spec
    }
    for lang, text in out.items():
        if not text:
            b.err(p + (lang,), f"the {lang!r} text is empty", "write what the caller hears")
    return out


def _placeholders(text: str) -> set[str] | None:
    """The {names} in a template, or None when it is not a valid template."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return None


def _check_template(b: Builder, p: PathKey, text: str, fields: frozenset[str]) -> None:
    """A prompt that is filled in (e.g. the call's ref) must name exactly its placeholders."""
    wanted = ", ".join(f"{{{name}}}" for name in sorted(fields))
    found = _placeholders(text)
    if found is None:
        b.err(p, "this text is not a valid template", f"write placeholders as {wanted}")
        return
    for name in sorted(found - fields):
        b.err(p, f"unknown placeholder {{{name}}}", f"use {wanted}")
    for name in sorted(fields - found):
        b.err(p, f"the text does not say {{{name}}}", f'write e.g. "Gespreksnummer {{{name}}}."')


def _language_choice(b: Builder, p: PathKey, raw: Any, langs: list[str]) -> LanguageChoice | None:
    if raw is None:
        return None
    spec = b.mapping(
        p, raw, {"language", "digit", "offer", "speech"}, {"language", "digit", "offer"}
    )
    language = b.text(p + ("language",), spec.get("language"))
    if b.ref(p + ("language",), language, set(langs), "language") and language == langs[0]:
        b.err(
            p + ("language",),
            f"{language!r} is already the default language",
            "offer another language, or remove language_choice",
        )
    offer = b.text(p + ("offer",), spec.get("offer"))
    if not offer.strip():
        b.err(p + ("offer",), "the language offer is empty", 'write e.g. "For English, press 9."')
    return LanguageChoice(
        language,
        _digit(b, p + ("digit",), spec.get("digit")) or "",
        offer.strip(),
        _phrases(b, p + ("speech",), spec.get("speech")),
    )


def _menus(
    b: Builder,
    p: PathKey,
    raw: Any,
    langs: list[str],
    answers: Answers,
    choice: LanguageChoice | None,
) -> tuple[Menu, ...]:
    out = []
    for name, spec in b.mapping(p, raw, {q.value for q in Question}).items():
        mp = p + (name,)
        question = Question(name)
        spec = b.mapping(mp, spec, {"ask", "retry", "options"}, {"ask", "retry", "options"})
        options = tuple(
            _option(b, mp + ("options", i), item, langs, question, answers[question])
            for i, item in enumerate(b.seq(mp + ("options",), spec.get("options")))
        )
        _check_options(b, mp + ("options",), options, choice)
        out.append(
            Menu(
                question,
                _texts(b, mp + ("ask",), spec.get("ask"), langs),
                _texts(b, mp + ("retry",), spec.get("retry"), langs),
                options,
            )
        )
    return tuple(out)


def _option(
    b: Builder, p: PathKey, raw: Any, langs: list[str], question: Question, known: frozenset[str]
) -> Option:
    spec = b.mapping(p, raw, {"digit", "value", "speech"}, {"value"})
    value = spec.get("value")
    if value is not None:
        value = str(value)
        b.ref(p + ("value",), value, set(known), f"{question.value} answer")
    speech_spec = b.mapping(p + ("speech",), spec.get("speech"), set(langs))
    speech = {lang: _phrases(b, p + ("speech", lang), speech_spec.get(lang)) for lang in langs}
    digit = _digit(b, p + ("digit",), spec["digit"]) if "digit" in spec else None
    if digit is None and not any(speech.values()):
        b.err(
            p, "this answer has neither a key nor speech", 'add digit: "1" or speech: {nl: [...]}'
        )
    return Option(value, digit, speech)


def _check_options(
    b: Builder, p: PathKey, options: tuple[Option, ...], choice: LanguageChoice | None
) -> None:
    if not any(o.digit for o in options):
        b.err(p, "no answer can be given by key", 'give the answers digit: "1", "2", ...')
    keys: dict[str, int] = {}
    phrases: dict[tuple[str, str], int] = {}
    for i, option in enumerate(options):
        if option.digit is not None:
            if choice is not None and option.digit == choice.digit:
                b.err(
                    p + (i, "digit"),
                    f"key {option.digit} also chooses the language",
                    "use another key for this answer or for language_choice",
                )
            if option.digit in keys:
                b.err(
                    p + (i, "digit"),
                    f"key {option.digit} is also answer {keys[option.digit] + 1}",
                    "give every answer its own key",
                )
            keys.setdefault(option.digit, i)
        for lang, said in option.speech.items():
            for phrase in said:
                other = phrases.setdefault((lang, phrase), i)
                if other != i and options[other].value != option.value:
                    b.err(
                        p + (i, "speech"),
                        f"{phrase!r} ({lang}) is also said for answer {other + 1}",
                        "keep each phrase under one answer",
                    )


def _whisper(b: Builder, p: PathKey, raw: Any) -> Whisper:
    spec = b.mapping(p, raw, {"text", "unknown", "timeout"}, {"text", "unknown"})
    text = " ".join(b.text(p + ("text",), spec.get("text")).split())
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        b.err(
            p + ("text",),
            f"the whisper text is not a valid template ({exc})",
            "write placeholders as {caller}, {age}, {region}, {language}",
        )
        fields = set()
    for name in sorted(fields - WHISPER_FIELDS):
        b.err(
            p + ("text",),
            f"unknown placeholder {{{name}}} in the whisper text",
            "use {caller}, {age}, {region} and {language}",
        )
    if ACCEPT_DIGIT not in text:
        b.err(
            p + ("text",),
            f"the whisper text does not tell staff to press {ACCEPT_DIGIT}",
            f'end it with e.g. "Druk {ACCEPT_DIGIT} om aan te nemen."',
        )
    return Whisper(
        text,
        b.text(p + ("unknown",), spec.get("unknown")),
        b.integer(p + ("timeout",), spec.get("timeout"), 6, 3, 20),
    )


def _digit(b: Builder, p: PathKey, raw: Any) -> str | None:
    digit = b.text(p, raw)
    if not _DIGIT.match(digit):
        b.err(p, f"{digit!r} is not a single key", 'write one digit in quotes, e.g. "1"')
        return None
    return digit


def _phrases(b: Builder, p: PathKey, raw: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(normalise(str(x)) for x in b.seq(p, raw) if normalise(str(x))))
