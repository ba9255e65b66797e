"""Every word a caller or staff member hears or reads about callbacks, from config.

The texts live in ``callbacks.texts`` (config/callbacks.yaml), one entry per
key in every IVR language; Python only names the keys and the placeholders
each may use, so a text that would fail to format is refused at load time
with file:line, never while a caller waits.

Staff hear and read the IVR's default language (the first one listed).

Pure: no Flask, Redis, RQ, Twilio or clock reads.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Say(StrEnum):
    """What a caller hears (or, for `RESIDENT_SMS`, reads) in their language."""

    OFFER = "offer"
    OFFER_OWN = "offer_own"
    OFFER_OTHER = "offer_other"
    OFFER_TYPED = "offer_typed"
    """The caller's own number is visible but may not be called back (said why first)."""
    ENTER = "enter"
    INVALID = "invalid"
    SERVICE = "service"
    FOREIGN = "foreign"
    NOT_CALLABLE = "not_callable"
    CONFIRM = "confirm"
    CREATED = "created"
    MINUTE = "minute"
    MINUTES = "minutes"
    OVER_LIMIT = "over_limit"
    SPOOLED = "spooled"
    BROKEN = "broken"
    PUT_THROUGH = "put_through"
    GOODBYE = "goodbye"
    CALLED_BACK = "called_back"
    RESIDENT_SMS = "resident_sms"


class Staff(StrEnum):
    """What a staff member reads by SMS or hears on the bridged call."""

    OFFER_SMS = "offer_sms"
    OFFER_SMS_HEAD = "offer_head"
    ESCALATION = "escalation"
    REQUEUED = "requeued_mark"
    CLAIMED_SMS = "claimed_sms"
    CLAIM_WON = "claim_won"
    CLAIM_TAKEN = "claim_taken"
    CLAIM_CLOSED = "claim_closed"
    HELP = "help"
    NOTHING_TO_CLAIM = "nothing_to_claim"
    OUTAGE = "outage"
    COLLEAGUE = "colleague"
    REGION_UNKNOWN = "region_unknown"
    FLOOD_ALERT = "flood_alert"
    INTRO = "intro"
    GONE = "gone"
    CONNECTING = "connecting"
    NO_INPUT = "no_input"
    ATTEMPT_REQUEUED = "attempt_requeued"
    GIVEN_UP = "given_up"
    ENDED = "ended"
    ENDED_TRIAGE = "ended_triage"
    TRIAGE_INVALID = "triage_invalid"
    TRIAGE_DONE = "triage_done"
    TRIAGE_BY_SMS = "triage_by_sms"
    TRIAGE_LOST = "triage_lost"
    TRIAGE_FAILED = "triage_failed"
    ERROR = "error"


PLACEHOLDERS: Mapping[str, frozenset[str]] = {
    Say.OFFER_OWN: frozenset({"last"}),
    Say.CONFIRM: frozenset({"digits"}),
    Say.CREATED: frozenset({"minutes"}),
    Say.MINUTE: frozenset({"count"}),
    Say.MINUTES: frozenset({"count"}),
    Staff.OFFER_SMS: frozenset(
        {"head", "code", "again", "caller", "region", "age", "minutes", "number"}
    ),
    Staff.ESCALATION: frozenset({"step"}),
    Staff.CLAIMED_SMS: frozenset({"code", "claimer"}),
    Staff.CLAIM_WON: frozenset({"code"}),
    Staff.CLAIM_TAKEN: frozenset({"code", "claimer"}),
    Staff.CLAIM_CLOSED: frozenset({"code"}),
    Staff.FLOOD_ALERT: frozenset({"open", "refused", "minutes"}),
    Staff.INTRO: frozenset({"code", "caller", "region", "age", "minutes"}),
    Staff.TRIAGE_DONE: frozenset({"label"}),
    Staff.TRIAGE_BY_SMS: frozenset({"keyword", "ref", "example"}),
    Staff.TRIAGE_FAILED: frozenset({"keyword", "ref", "example"}),
}
"""The values each text may use ({name}); texts not listed take none."""

GROUPS: Mapping[str, tuple[str, ...]] = {
    "caller": tuple(k.value for k in Say),
    "staff": tuple(k.value for k in Staff),
}


@dataclass(frozen=True)
class Texts:
    """The validated ``callbacks.texts``: group -> key -> language -> text."""

    languages: tuple[str, ...] = ()
    """The IVR's languages; the first is the default, which staff hear."""
    table: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Key (a `Say` or `Staff` value) -> language -> text."""

    def __bool__(self) -> bool:
        return bool(self.table)

    @property
    def staff_language(self) -> str:
        return self.languages[0] if self.languages else "nl"

    def say(self, key: Say, lang: str, **values: object) -> str:
        """A caller's text in `lang` (the default language when `lang` has none)."""
        by_lang = self.table[key.value]
        text = by_lang.get(lang) or by_lang[self.staff_language]
        return text.format(**values)

    def staff(self, key: Staff, **values: object) -> str:
        return self.table[key.value][self.staff_language].format(**values)

    def minutes(self, lang: str, count: int) -> str:
        return self.say(Say.MINUTE if count == 1 else Say.MINUTES, lang, count=count)


Report = Callable[[tuple[str | int, ...], str, str], None]
"""(path under ``callbacks``, problem, how to fix it)."""


def parse_texts(raw: object, languages: tuple[str, ...], report: Report) -> Texts:
    """``callbacks.texts`` -> `Texts`; every missing or unusable text is reported."""
    if not isinstance(raw, dict):
        report(
            ("texts",),
            "callbacks.texts is missing: every word callers and staff hear lives there",
            "copy the texts: block of the sample config/callbacks.yaml",
        )
        return Texts()
    table: dict[str, dict[str, str]] = {}
    for group, keys in GROUPS.items():
        section = raw.get(group)
        if not isinstance(section, dict):
            report(("texts", group), f"callbacks.texts.{group} must be a mapping", "indent it")
            continue
        for key in sorted(set(section) - set(keys)):
            report(
                ("texts", group, key),
                f"unknown text {key!r} in callbacks.texts.{group}",
                f"known texts: {', '.join(keys)}",
            )
        for key in keys:
            table[key] = _one(section.get(key), (group, key), languages, report)
    return Texts(languages, table)


def _one(
    raw: object, path: tuple[str, str], languages: tuple[str, ...], report: Report
) -> dict[str, str]:
    where = ("texts", *path)
    name = ".".join(where)
    if not isinstance(raw, dict):
        report(where, f"callbacks.{name} is missing", f"give it in {', '.join(languages)}")
        return {}
    allowed = PLACEHOLDERS.get(path[1], frozenset())
    out: dict[str, str] = {}
    for lang in languages:
        text = raw.get(lang)
        if not isinstance(text, str) or not text.strip():
            report(where + (lang,), f"callbacks.{name} has no {lang} text", "add it")
            continue
        used = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        unknown = sorted(used - allowed)
        if unknown:
            report(
                where + (lang,),
                f"callbacks.{name}.{lang} uses {{{unknown[0]}}}, which it cannot fill",
                f"use only {', '.join('{' + p + '}' for p in sorted(allowed)) or 'no {...}'}",
            )
            continue
        out[lang] = " ".join(text.split())
    return out
