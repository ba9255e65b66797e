"""Triage outcomes: the codes staff report after a call, and how they type them.

The codes come from config (`triage:` in config/triage.yaml) because each
region names its follow-up care differently (IHT, ambulante crisishulp,
crisisopvang, Wvggz, Veilig Thuis-melding). Staff report an outcome in the
middle of the night on a phone, so the parser accepts what a tired person
types ("T 123 advies", "t123 2", "T 123 actieve inschatting") and an
unknown code gets a reply that lists the valid ones rather than silence.

Pure: no I/O. The config generation parses the section once (`parse_config`,
with file:line problems); processes read `Generation.triage`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from callrouter.config.builder import Builder
from callrouter.config.wording import TextSpec, Wording, parse_wording, word
from callrouter.config.yaml_marks import PathKey

_AT: PathKey = ("triage",)

DEFAULT_KEYWORD = "T"
_CODE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_MAX_REF_CHARS = 40

DEFAULT_TEXTS: Wording = {
    "unrecognised": {
        "nl": "Geen triage-uitkomst herkend. Stuur bijvoorbeeld: {example}",
        "en": "No triage outcome recognised. Send for example: {example}",
    },
    "incomplete": {
        "nl": "Geef gespreksnummer en uitkomst, bijvoorbeeld: {example}. Uitkomsten: {menu}",
        "en": "Give the call number and the outcome, for example: {example}. Outcomes: {menu}",
    },
    "bad_ref": {
        "nl": "{ref} is geen gespreksnummer. Voorbeeld: {example}",
        "en": "{ref} is not a call number. Example: {example}",
    },
    "unknown_code": {
        "nl": "Onbekende uitkomst {code} voor gesprek {ref}.{hint} Kies: {menu}."
        " Voorbeeld: {example}",
        "en": "Unknown outcome {code} for call {ref}.{hint} Choose: {menu}. Example: {example}",
    },
    "did_you_mean": {"nl": " Bedoelde u {suggestion}?", "en": " Did you mean {suggestion}?"},
    "unknown_call": {
        "nl": "Gesprek {ref} is onbekend. Gebruik het gespreksnummer uit de whisper of de code"
        " uit de terugbel-sms.",
        "en": "Call {ref} is unknown. Use the call number from the whisper or the code from the"
        " callback SMS.",
    },
    "failed": {
        "nl": "De uitkomst is door een storing niet opgeslagen. Probeer het later opnieuw.",
        "en": "The outcome was not saved because of a fault. Please try again later.",
    },
    "saved": {
        "nl": "Vastgelegd voor gesprek {ref}: {label}.",
        "en": "Saved for call {ref}: {label}.",
    },
    "ask": {
        "nl": "Gesprek {ref} afgerond. Uitkomst? Antwoord {keyword} {ref} <code>: {menu}",
        "en": "Call {ref} ended. Outcome? Reply {keyword} {ref} <code>: {menu}",
    },
    "keypad": {
        "nl": "Toets de uitkomst van de triage: {options}.",
        "en": "Key in the triage outcome: {options}.",
    },
    "keypad_option": {"nl": "{digit} voor {label}", "en": "{digit} for {label}"},
}
"""Used when `triage.texts` leaves a text out; config/triage.yaml spells them out."""
TEXTS = TextSpec(
    "triage",
    DEFAULT_TEXTS,
    {
        "unrecognised": ("example",),
        "incomplete": ("example", "menu"),
        "bad_ref": ("ref", "example"),
        "unknown_code": ("code", "ref", "hint", "menu", "example"),
        "did_you_mean": ("suggestion",),
        "unknown_call": ("ref",),
        "saved": ("ref", "label"),
        "ask": ("ref", "keyword", "menu"),
        "keypad": ("options",),
        "keypad_option": ("digit", "label"),
    },
)
Languages = tuple[str, ...]
"""A staff member's languages, first preferred (`Member.languages`)."""


@dataclass(frozen=True)
class OutcomeCode:
    """One outcome staff can report, e.g. 'iht' = Ambulante crisishulp / IHT (keypad 3)."""

    code: str
    label: str
    digit: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class TriageCodes:
    """The configured outcome codes, with lookups by code, alias, label and digit."""

    codes: tuple[OutcomeCode, ...]
    keyword: str = DEFAULT_KEYWORD
    texts: Wording = field(default_factory=lambda: DEFAULT_TEXTS)

    def text(self, name: str, languages: Languages, **values: object) -> str:
        """Staff text `name` in their first language the config has (Dutch otherwise)."""
        return word(self.texts, DEFAULT_TEXTS, name, languages).format(**values)

    @property
    def example(self) -> str:
        """The code shown in 'T 48213097 <code>' examples: the first configured."""
        return self.codes[0].code if self.codes else "advies"

    def get(self, code: str) -> OutcomeCode | None:
        return next((c for c in self.codes if c.code == code), None)

    def label(self, code: str) -> str:
        found = self.get(code)
        return found.label if found else code

    def by_digit(self, digit: str) -> OutcomeCode | None:
        return next((c for c in self.codes if c.digit == digit), None)

    def lookup(self, text: str) -> OutcomeCode | None:
        """The code meant by `text`: a code, alias, label or keypad digit."""
        wanted = _token(text)
        if not wanted:
            return None
        if wanted.isdigit():
            return self.by_digit(wanted)
        for code in self.codes:
            names = (code.code, *code.aliases, code.label)
            if wanted in {_token(name) for name in names}:
                return code
        return None

    def menu(self) -> str:
        """'1 advies, 2 actieve_inschatting, ...' for replies and prompts."""
        return ", ".join(f"{c.digit} {c.code}" if c.digit else c.code for c in self.codes)

    def suggestion(self, text: str) -> str | None:
        names = {_token(n): c.code for c in self.codes for n in (c.code, *c.aliases, c.label)}
        close = difflib.get_close_matches(_token(text), list(names), n=1, cutoff=0.7)
        return names[close[0]] if close else None


DEFAULT_CODES = TriageCodes(
    (
        OutcomeCode("advies", "Advies", "1"),
        OutcomeCode("actieve_inschatting", "Actieve inschatting", "2"),
        OutcomeCode("ambulant", "Ambulante crisishulp / IHT", "3", ("iht",)),
        OutcomeCode("crisisopvang", "Crisisopvang", "4"),
        OutcomeCode("opname", "Opname / Wvggz", "5", ("wvggz",)),
        OutcomeCode("doorverwijzing", "Doorverwijzing huisarts / regulier", "6", ("huisarts",)),
        OutcomeCode("veilig_thuis", "Veilig Thuis-melding", "7", ("vt",)),
        OutcomeCode("geen_actie", "Geen actie", "9", ("geen",)),
    )
)
"""Used when the config has no `triage:` section."""


# --------------------------------------------------------------------------- parsing replies


@dataclass(frozen=True)
class TriageReport:
    """A parsed outcome report: call reference (short number, CallSid or callback id) and code."""

    ref: str
    code: str


@dataclass(frozen=True)
class TriageRejected:
    """The message could not be used; `reply` tells the sender what to send instead."""

    reply: str


def is_triage_message(text: str, codes: TriageCodes) -> bool:
    """Whether an SMS is meant as a triage report ('T 123 advies'), not a callback claim."""
    return _split_keyword(text, codes.keyword) is not None


def parse_reply(
    text: str, codes: TriageCodes, languages: Languages = ("nl",)
) -> TriageReport | TriageRejected:
    """Parse 'T <ref> <code>' where code may be a code, alias, label or digit."""
    example = f"{codes.keyword} 123 {codes.example}"
    rest = _split_keyword(text, codes.keyword)
    if rest is None:
        return TriageRejected(codes.text("unrecognised", languages, example=example))
    parts = rest.split(maxsplit=1)
    if len(parts) < 2:
        return TriageRejected(
            codes.text("incomplete", languages, example=example, menu=codes.menu())
        )
    ref, code_text = parts[0], parts[1]
    if len(ref) > _MAX_REF_CHARS or not re.fullmatch(r"[A-Za-z0-9_-]+", ref):
        shown = repr(ref[:_MAX_REF_CHARS])
        return TriageRejected(codes.text("bad_ref", languages, ref=shown, example=example))
    return resolve(ref, code_text, codes, languages)


def resolve(
    ref: str, code_text: str, codes: TriageCodes, languages: Languages = ("nl",)
) -> TriageReport | TriageRejected:
    """Look up `code_text` for call `ref`; an unknown code gets a reply listing the valid ones."""
    found = codes.lookup(code_text)
    if found is not None:
        return TriageReport(ref, found.code)
    suggestion = codes.suggestion(code_text)
    hint = codes.text("did_you_mean", languages, suggestion=suggestion) if suggestion else ""
    return TriageRejected(
        codes.text(
            "unknown_code",
            languages,
            code=repr(code_text.strip()[:30]),
            ref=ref,
            hint=hint,
            menu=codes.menu(),
            example=f"{codes.keyword} {ref} {codes.example}",
        )
    )


def from_digits(digits: str, codes: TriageCodes) -> OutcomeCode | None:
    """The outcome for keypad input (Twilio `Digits`), e.g. '3' or '3#'; None when unknown."""
    pressed = digits.strip().rstrip("#")
    return codes.by_digit(pressed) if len(pressed) == 1 else None


def keypad_prompt(codes: TriageCodes, lang: str) -> str:
    """What the after-callback keypad step reads out: 'Toets ... 1 voor Advies, 2 voor ...'."""
    options = [
        codes.text("keypad_option", (lang,), digit=c.digit, label=c.label)
        for c in codes.codes
        if c.digit
    ]
    return codes.text("keypad", (lang,), options=", ".join(options))


def ask_sms(ref: str, codes: TriageCodes, languages: Languages) -> str:
    """The SMS to the staff member who took a call, once it ended:
    'Gesprek 48213097 afgerond. Uitkomst? Antwoord T 48213097 <code>: 1 advies, 2 ...'."""
    return codes.text("ask", languages, ref=ref, keyword=codes.keyword, menu=codes.menu())


def _split_keyword(text: str, keyword: str) -> str | None:
    stripped = text.strip()
    kw = keyword.casefold()
    if not stripped.casefold().startswith(kw):
        return None
    rest = stripped[len(kw) :]
    # 'T 123 advies' and 'T123 advies', but not 'Terug' or 'Top'.
    if rest[:1].isspace() or rest[:1].isdigit():
        return rest.strip()
    return None


def _token(text: str) -> str:
    """Compare names the way people type them: case, accents, spaces, '/' and '-' don't matter."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[\s/_\-.]+", "_", plain.casefold()).strip("_")


# --------------------------------------------------------------------------- config


def parse_config(b: Builder, raw: Any) -> TriageCodes:
    """`triage: {keyword: T, codes: {advies: {label: Advies, digit: 1, aliases: [...]}, ...}}`;
    mistakes go into `b` with file:line, worded like every other section's."""
    spec_all = b.mapping(_AT, raw, {"keyword", "codes", "texts"})
    if not isinstance(raw, dict):  # absent (the defaults), or b.mapping said what is wrong
        return DEFAULT_CODES
    texts = parse_wording(b, spec_all["texts"], TEXTS) if "texts" in spec_all else DEFAULT_TEXTS
    keyword = str(spec_all.get("keyword", DEFAULT_KEYWORD)).strip()
    if not re.fullmatch(r"[A-Za-z]{1,10}", keyword):
        b.err(
            (*_AT, "keyword"),
            f"triage keyword {keyword!r} must be letters only",
            "use a short word such as T or TRIAGE",
        )
        keyword = DEFAULT_KEYWORD
    specs = spec_all.get("codes")
    if not isinstance(specs, dict) or not specs:
        b.err(
            (*_AT, "codes"),
            "triage has no outcome codes",
            "list codes such as 'advies: {label: Advies, digit: 1}'",
        )
        return DEFAULT_CODES
    out: list[OutcomeCode] = []
    seen_names: dict[str, str] = {}
    seen_digits: dict[str, str] = {}
    for code, raw_spec in specs.items():
        path: PathKey = (*_AT, "codes", code)
        if not _CODE_ID.match(str(code)):
            b.err(
                path,
                f"outcome code {code!r} must be lowercase letters, digits and _",
                "write it like actieve_inschatting",
            )
        spec = b.mapping(path, raw_spec, {"label", "digit", "aliases"})
        if raw_spec is not None and not isinstance(raw_spec, dict):
            continue  # b.mapping said so
        label = str(spec.get("label") or code)
        digit: str | None = None
        if spec.get("digit") is not None:
            digit = str(spec["digit"])
            if not re.fullmatch(r"[0-9]", digit):
                b.err(
                    (*path, "digit"),
                    f"keypad digit {digit!r} of {code!r} is not one key",
                    "use a single digit 0-9",
                )
                digit = None
            elif digit in seen_digits:
                b.err(
                    (*path, "digit"),
                    f"keypad digit {digit} is used by both {seen_digits[digit]!r} and {code!r}",
                    "give each outcome its own digit",
                )
            else:
                seen_digits[digit] = str(code)
        aliases = tuple(str(a) for a in b.seq((*path, "aliases"), spec.get("aliases") or None))
        for i, name in enumerate((str(code), label, *aliases)):
            token = _token(name)
            if token.isdigit():
                b.err(
                    (*path, *(("aliases", i - 2) if i >= 2 else ("label",))),
                    f"{name!r} is a number; numbers are keypad digits",
                    "use a word",
                )
                continue
            if token in seen_names and seen_names[token] != code:
                b.err(
                    (*path, *(("aliases", i - 2) if i >= 2 else ("label",) if i == 1 else ())),
                    f"{name!r} would mean both {seen_names[token]!r} and {code!r}",
                    "make codes, labels and aliases unique",
                )
            seen_names.setdefault(token, str(code))
        out.append(OutcomeCode(str(code), label, digit, aliases))
    return TriageCodes(tuple(out), keyword, texts)
