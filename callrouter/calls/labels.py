"""The words of the call log's reports and listings, per language.

Fixed words come from `report_texts.yaml` next to this module (Dutch, and
English for `--lang en`); values come from the config by their labels
(window labels, caller type labels, region names, triage outcome labels),
so a reader never sees a raw id such as `maas_en_waal`. CSV and JSON keep
the ids as well, in their own column or key, for spreadsheets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from callrouter.calls.triage import TriageCodes
from callrouter.routing.model import Config

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"


@cache
def all_texts() -> Mapping[str, Mapping[str, Any]]:
    """The texts file, read once per process."""
    raw = resources.files("callrouter.calls").joinpath("report_texts.yaml").read_text("utf-8")
    loaded: Mapping[str, Mapping[str, Any]] = yaml.safe_load(raw)
    return loaded


@dataclass(frozen=True)
class Labels:
    """Fixed words in one language, and config labels by id for each dimension."""

    lang: str
    texts: Mapping[str, Any]
    values: Mapping[str, Mapping[str, str]]
    """Dimension ('window', 'caller_type', 'age_group', 'region', 'outcome') -> id -> label."""

    @classmethod
    def of(cls, config: Config, codes: TriageCodes, lang: str = DEFAULT_LANGUAGE) -> Labels:
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")
        texts = all_texts()[lang]
        return cls(
            lang,
            texts,
            {
                "window": {w.name: w.label or w.name for w in config.windows},
                "caller_type": {c.id: c.label or c.id for c in config.caller_types},
                "age_group": {a.id: a.label or a.id for a in config.age_groups},
                "region": {r.id: r.name or r.id for r in config.regions},
                "outcome": {
                    **{c.code: c.label for c in codes.codes},
                    "geen_uitkomst": texts["outcome.none"],
                },
                "member": {m.id: m.name for team in config.teams for m in team.members},
            },
        )

    def t(self, key: str, **values: object) -> str:
        text: str = self.texts[key]
        return text.format(**values) if values else text

    def value(self, dimension: str, key: str) -> str:
        """The config label of an id; 'onbekend' for a call where it was not known."""
        if not key:
            return self.t("unknown")
        return self.values.get(dimension, {}).get(key, key)

    def day(self, day: dt.date) -> str:
        return f"{day.day} {self.texts['months'][day.month - 1]} {day.year}"

    def period(self, start: dt.datetime, end: dt.datetime) -> str:
        """'1 okt 2026 t/m 31 okt 2026' (the end of a period is exclusive)."""
        last = (end - dt.timedelta(days=1)).date() if end.time() == dt.time() else end.date()
        return self.t("period", first=self.day(start.date()), last=self.day(last))

    def weekday(self, index: int) -> str:
        return str(self.texts["weekdays"][index])
