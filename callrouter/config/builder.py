"""Problem collection shared by every config section: typed readers, did-you-mean.

Every problem in every file is collected before anything is rejected, each
with file:line, what is wrong and how to fix it, so an admin fixes a config
in one pass. Unknown keys are errors (a typo such as `timout:` must not be
silently ignored in a crisis line's routing).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Collection
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from callrouter.config.yaml_marks import MarkedDoc, PathKey
from callrouter.routing import numbers
from callrouter.routing.model import WEEKDAYS, Source

_TIME = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
_DATE_SHAPE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}")
_ID = re.compile(r"^[A-Za-z0-9_+<>.-]+$")
_DEFINES = {
    "team": "teams",
    "member": "teams",
    "role of team": "teams",
    "line": "lines",
    "window": "windows",
    "caller type": "caller_types",
    "caller answer": "caller_types",
    "age group": "age_groups",
    "age answer": "age_groups",
    "region": "regions",
    "region answer": "regions",
}
"""What a reference names -> the section that defines such names."""


def _defined_in(what: str) -> set[str]:
    return {section for prefix, section in _DEFINES.items() if what.startswith(prefix)}


@dataclass(frozen=True)
class Problem:
    source: Source
    message: str
    fix: str

    def __str__(self) -> str:
        stop = "" if self.message.endswith(("?", "!", ".")) else "."
        return f"{self.source}: {self.message}{stop} Fix: {self.fix}"


class Builder:
    """Turns marked YAML data into model values, collecting every problem.

    Section parsers (`callrouter.config.sections`, `ivr.config`) share these
    readers so a mistake reads the same wherever it is made. Problems about a
    section whose file could not be parsed are dropped (`MarkedDoc.broken`):
    its names are unknown, and reporting "unknown team" for every team that
    file defined would bury the one real error, the syntax error.
    """

    def __init__(self, doc: MarkedDoc) -> None:
        self.doc = doc
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    # -- reporting and basic types -------------------------------------------------

    def err(self, path: PathKey, message: str, fix: str) -> None:
        if path and str(path[0]) in self.doc.broken:
            return
        self.problems.append(Problem(self.doc.where(path), message, fix))

    def warn(self, path: PathKey, message: str, fix: str) -> None:
        """Something that works but is probably not meant; `check` shows it, nothing refuses it."""
        self.warnings.append(Problem(self.doc.where(path), message, fix))

    def src(self, path: PathKey) -> Source:
        return self.doc.where(path)

    def mapping(
        self,
        path: PathKey,
        value: Any,
        allowed: AbstractSet[str],
        required: AbstractSet[str] = frozenset(),
    ) -> dict[str, Any]:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.err(
                path, f"{name_of(path)} must be a mapping (key: value)", "indent its keys under it"
            )
            return {}
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else f"allowed keys: {', '.join(sorted(allowed))}"
                )
                self.err(path + (key,), f"unknown key {key!r} in {name_of(path)}", hint)
        for key in sorted(required - set(value)):
            self.err(path, f"{name_of(path)} is missing {key!r}", f"add '{key}:'")
        return {k: v for k, v in value.items() if k in allowed}

    def table(self, path: PathKey, value: Any) -> dict[str, Any]:
        """A mapping whose keys are ids the admin chooses (teams, lines, roles)."""
        return self.mapping(path, value, set(value) if isinstance(value, dict) else set())

    def seq(self, path: PathKey, value: Any) -> list[Any]:
        if value is None:
            return []
        if isinstance(value, (str, int)):
            return [value]
        if not isinstance(value, list):
            self.err(
                path, f"{name_of(path)} must be a list", "write it as [a, b] or as '- item' lines"
            )
            return []
        return value

    def text(self, path: PathKey, value: Any, default: str = "") -> str:
        if value is None:
            return default
        if isinstance(value, (dict, list)):
            self.err(
                path, f"{name_of(path)} must be a single value", "write one word or quoted text"
            )
            return default
        return str(value)

    def integer(self, path: PathKey, value: Any, default: int, low: int, high: int) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.err(
                path,
                f"{name_of(path)} must be a whole number from {low} to {high}, not {value!r}",
                f"use a number between {low} and {high}",
            )
            return default
        return value

    def duration(self, path: PathKey, value: Any, default: int, low: int = 0) -> int:
        """'90s', '10m', '2h', '7d' in seconds (at least `low`); `default` when absent."""
        if value is None:
            return default
        seconds = parse_duration(value)
        if seconds is None or seconds < low:
            self.err(
                path,
                f"{name_of(path)} {value!r} is not a duration"
                + (f" of at least {low}s" if low else ""),
                "write a number with a unit, quoted or not: 30s, 10m, 2h, 7d",
            )
            return default
        return seconds

    def boolean(self, path: PathKey, value: Any, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.err(
                path, f"{name_of(path)} must be true or false, not {value!r}", "write true or false"
            )
            return default
        return value

    def time(self, path: PathKey, value: Any, allow_24: bool = True) -> int | None:
        raw = str(value) if value is not None else ""
        m = _TIME.match(raw)
        if not m or (int(m.group(1)) == 24 and (m.group(2) != "00" or not allow_24)):
            self.err(
                path,
                f"{name_of(path)} {raw!r} is not a time of day",
                'write HH:MM in 24-hour form, quoted, e.g. "08:30" (use "24:00" for end of day)',
            )
            return None
        return int(m.group(1)) * 60 + int(m.group(2))

    def date(self, path: PathKey, value: Any) -> dt.date | None:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError as exc:
            self.err(
                path,
                _not_real(path, value, exc) or f"{name_of(path)} {value!r} is not a date",
                "write a real date as YYYY-MM-DD, e.g. 2026-12-24",
            )
            return None

    def moment(self, path: PathKey, value: Any, tz: ZoneInfo) -> dt.datetime | None:
        raw = value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)
        try:
            parsed = dt.datetime.fromisoformat(raw)
        except ValueError as exc:
            self.err(
                path,
                _not_real(path, value, exc) or f"{name_of(path)} {value!r} is not a date and time",
                "write YYYY-MM-DDTHH:MM, e.g. 2026-12-24T08:30 (local time)",
            )
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=tz)
        return parsed

    def phone(self, path: PathKey, value: Any) -> str:
        if value is None:
            return ""  # the missing key itself is already reported
        raw = self.text(path, value)
        try:
            return numbers.dialable(raw, numbers.NumberPolicy(allow_foreign=True))
        except numbers.NumberError as exc:
            self.err(
                path,
                str(exc),
                'write a full Dutch number such as "+31 6 1234 5678" or "024-123 45 67"',
            )
            return raw

    def mobile(self, path: PathKey, value: Any) -> str:
        """A staff member's number: dialable, and warned about unless a Dutch mobile,
        since the callback and triage SMS only reach a mobile and a foreign
        number may not get them at all."""
        before = len(self.problems)
        e164 = self.phone(path, value)
        if not e164 or len(self.problems) > before:
            return e164
        number = phonenumbers.parse(e164)
        country = phonenumbers.region_code_for_number(number)
        if country != numbers.DEFAULT_REGION:
            self.warn(
                path,
                f"{value!r} is a foreign number ({country}): staff SMS may not arrive"
                " and every call to it is an international call",
                "give this member's Dutch mobile (06) if they have one",
            )
        elif not numbers.is_mobile(e164):
            self.warn(
                path,
                f"{value!r} is a landline, not a mobile: it cannot receive the callback"
                " and triage SMS, and rings only where that phone stands",
                "give this member's mobile (06)",
            )
        return e164

    def ident(self, path: PathKey, value: Any) -> str:
        raw = self.text(path, value)
        if not _ID.match(raw):
            self.err(path, f"{raw!r} is not a usable id", "use letters, digits, _ - + < > only")
        return raw

    def weekday(self, path: PathKey, value: Any) -> int | None:
        token = self.text(path, value).lower()[:3]
        if token not in WEEKDAYS:
            self.err(path, f"{value!r} is not a weekday", f"use one of {', '.join(WEEKDAYS)}")
            return None
        return WEEKDAYS.index(token)

    def ref(self, path: PathKey, value: str, known: Collection[str], what: str) -> bool:
        if value in known:
            return True
        if _defined_in(what) & self.doc.broken:
            return False
        if not known and self.problems:
            # Nothing of this kind was defined because of a problem already
            # reported (a 'membres:' typo): one line per reference would bury it.
            return False
        close = difflib.get_close_matches(value, list(known), n=1)
        self.err(
            path,
            f"unknown {what} {value!r}",
            f"did you mean {close[0]!r}?"
            if close
            else f"define it, or use one of: {', '.join(sorted(known))}"
            if known
            else "define it: none is defined yet",
        )
        return False


def _not_real(path: PathKey, value: Any, exc: ValueError) -> str | None:
    """'date 2026-02-30 does not exist (day is out of range for month)' for a date
    that has the right shape but is not in the calendar."""
    raw = str(value)
    if not _DATE_SHAPE.match(raw):
        return None
    return f"{name_of(path)} {raw} does not exist ({exc})"


_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(raw: object) -> int | None:
    """'90s', '10m', '2h', '7d' -> seconds; None when it is not such a duration."""
    m = _DURATION.match(raw) if isinstance(raw, str) else None
    return int(m.group(1)) * _UNIT[m.group(2)] if m else None


def name_of(path: PathKey) -> str:
    return ".".join(str(x) for x in path) if path else "the file"
