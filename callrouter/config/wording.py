"""The words of a section: `texts:` mappings of name -> language -> text.

Staff-facing texts (the console's sign-in code, the triage replies) are
config, like everything a caller or staff member reads or hears, so a region
can word them its own way and add English. Each section that has texts
names them and the `{fields}` they may use; this module checks a section's
`texts:` against that, with file:line problems, and picks a text in a
member's language. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from callrouter.config.builder import Builder
from callrouter.config.yaml_marks import PathKey

Wording = Mapping[str, Mapping[str, str]]
"""Text name -> language -> text with `{field}` placeholders."""


@dataclass(frozen=True)
class TextSpec:
    """The texts a section has: their defaults and the fields each may use."""

    section: str
    defaults: Wording
    fields: Mapping[str, tuple[str, ...]]
    """Text name -> the `{fields}` it may use."""


def parse_wording(b: Builder, raw: Any, spec: TextSpec) -> Wording:
    """`<section>.texts` over the defaults; every problem into `b` with file:line."""
    texts = {name: dict(langs) for name, langs in spec.defaults.items()}
    base: PathKey = (spec.section, "texts")
    for name, langs in b.table(base, raw).items():
        path: PathKey = (*base, str(name))
        dotted = f"{spec.section}.texts.{name}"
        if name not in spec.defaults:
            fix = f"use one of {', '.join(sorted(spec.defaults))}"
            b.err(path, f"unknown {spec.section} text {name!r}", fix)
            continue
        if not isinstance(langs, dict) or not all(isinstance(v, str) for v in langs.values()):
            b.err(
                path,
                f"{dotted} must map languages to text",
                'write nl: "..." and en: "..." under it',
            )
            continue
        allowed = spec.fields.get(str(name), ())
        for lang, text in langs.items():
            try:
                text.format(**{k: "" for k in allowed})
            except (KeyError, IndexError, ValueError):
                fields = " ".join("{" + f + "}" for f in allowed) or "no {fields}"
                fix = f"use only {fields} (and write {{{{ }}}} for a literal brace)"
                b.err((*path, str(lang)), f"{dotted}.{lang} has a bad field", fix)
                continue
            texts[str(name)][str(lang)] = text
    return texts


def word(texts: Wording, defaults: Wording, name: str, languages: tuple[str, ...]) -> str:
    """Text `name` in the first of `languages` it exists in (Dutch otherwise)."""
    by_lang = texts.get(name) or defaults[name]
    lang = next((lang for lang in languages if lang in by_lang), "nl")
    return by_lang.get(lang) or defaults[name]["nl"]
