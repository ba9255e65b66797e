"""The words of a section: `texts:` mappings of name -> language -> text.

Staff-facing texts (the console's sign-in code, the triage replies) are
config, like everything a caller or staff member reads or hears, so a region
can word them its own way and add English. Each section that has texts
names them and the `{fields}` they may use; this module checks a section's
`texts:` against that, with file:line problems, and picks a text in a
member's language. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from callrouter.routing.model import Source

RawProblem = tuple[Source, str, str]
Where = Callable[[tuple[str | int, ...]], Source]
Wording = Mapping[str, Mapping[str, str]]
"""Text name -> language -> text with `{field}` placeholders."""


@dataclass(frozen=True)
class TextSpec:
    """The texts a section has: their defaults and the fields each may use."""

    section: str
    defaults: Wording
    fields: Mapping[str, tuple[str, ...]]
    """Text name -> the `{fields}` it may use."""


def parse_wording(raw: Any, where: Where, spec: TextSpec, problems: list[RawProblem]) -> Wording:
    """`<section>.texts` over the defaults; every problem with file:line."""
    texts = {name: dict(langs) for name, langs in spec.defaults.items()}
    base = (spec.section, "texts")
    if not isinstance(raw, dict):
        fix = f"see config/{spec.section}.yaml"
        problems.append((where(base), f"{spec.section}.texts must be a mapping", fix))
        return texts
    for name, langs in raw.items():
        path: tuple[str | int, ...] = (*base, str(name))
        dotted = f"{spec.section}.texts.{name}"
        if name not in spec.defaults:
            fix = f"use one of {', '.join(sorted(spec.defaults))}"
            problems.append((where(path), f"unknown {spec.section} text {name!r}", fix))
            continue
        if not isinstance(langs, dict) or not all(isinstance(v, str) for v in langs.values()):
            fix = 'write nl: "..." and en: "..." under it'
            problems.append((where(path), f"{dotted} must map languages to text", fix))
            continue
        allowed = spec.fields.get(str(name), ())
        for lang, text in langs.items():
            try:
                text.format(**{k: "" for k in allowed})
            except (KeyError, IndexError, ValueError):
                fields = " ".join("{" + f + "}" for f in allowed) or "no {fields}"
                fix = f"use only {fields} (and write {{{{ }}}} for a literal brace)"
                problems.append(
                    (where((*path, str(lang))), f"{dotted}.{lang} has a bad field", fix)
                )
                continue
            texts[str(name)][str(lang)] = text
    return texts


def word(texts: Wording, defaults: Wording, name: str, languages: tuple[str, ...]) -> str:
    """Text `name` in the first of `languages` it exists in (Dutch otherwise)."""
    by_lang = texts.get(name) or defaults[name]
    lang = next((lang for lang in languages if lang in by_lang), "nl")
    return by_lang.get(lang) or defaults[name]["nl"]
