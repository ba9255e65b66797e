"""The calendar sections of routing.yaml: timezone, holidays, closures, windows.

Holiday names are checked against the `holidays` library's calendar, and a
misspelt one gets the closest real name ("did you mean 'Goede Vrijdag'?").
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callrouter.config.builder import Builder
from callrouter.config.yaml_marks import PathKey
from callrouter.routing.calendar import all_categories, known_holiday_names
from callrouter.routing.model import (
    MINUTES_PER_DAY,
    WEEKDAYS,
    Closure,
    HolidayPolicy,
    Segment,
    Window,
)

_DATE_SHAPE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
NAME_YEARS = range(2024, 2030)
"""Years whose holiday names are known: holiday names do not change from year to
year, and these include a lustrum year (Bevrijdingsdag is a day off in 2025)."""
DAY_SELECTORS = set(WEEKDAYS) | {"workday", "weekend", "holiday", "any"}


def timezone(b: Builder) -> ZoneInfo:
    name = b.text(("timezone",), b.doc.data.get("timezone"), "Europe/Amsterdam")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        b.err(
            ("timezone",),
            f"unknown timezone {name!r}",
            "use an IANA name such as Europe/Amsterdam",
        )
        return ZoneInfo("Europe/Amsterdam")


def holidays(b: Builder) -> HolidayPolicy:
    p: PathKey = ("holidays",)
    raw = b.mapping(
        p,
        b.doc.data.get("holidays"),
        {"country", "subdivision", "categories", "language", "counts_as", "exclude", "include"},
    )
    country = b.text(p + ("country",), raw.get("country"), "NL")
    try:
        cats_known = set(all_categories(country))
    except NotImplementedError:
        b.err(p + ("country",), f"the holidays library has no calendar for {country!r}", "use NL")
        return HolidayPolicy()
    categories = tuple(
        str(c) for c in b.seq(p + ("categories",), raw.get("categories", ["public"]))
    )
    for i, cat in enumerate(categories):
        b.ref(p + ("categories", i), cat, cats_known, "holiday category")
    language = b.text(p + ("language",), raw.get("language"), "nl")
    names = known_holiday_names(country, language, NAME_YEARS)
    counts_as = b.weekday(p + ("counts_as",), raw.get("counts_as", "sunday"))
    ex_names: set[str] = set()
    ex_dates: set[dt.date] = set()
    for i, item in enumerate(b.seq(p + ("exclude",), raw.get("exclude"))):
        if isinstance(item, dt.date) or _DATE_SHAPE.match(str(item)):
            day = b.date(p + ("exclude", i), item)
            if day is not None:
                ex_dates.add(day)
        elif _norm(str(item)) in names:
            ex_names.add(str(item))
        else:
            b.err(
                p + ("exclude", i),
                f"{item!r} is not a holiday name of the {country} calendar",
                _closest(str(item), names)
                or "use a date (YYYY-MM-DD) or a name such as 'Goede vrijdag'"
                " (see `callrouter calendar`)",
            )
    inc_names: set[str] = set()
    inc_dates: list[tuple[dt.date, str]] = []
    inc_every: list[tuple[int, int, str]] = []
    for i, item in enumerate(b.seq(p + ("include",), raw.get("include"))):
        ip = p + ("include", i)
        if isinstance(item, str):
            if _norm(item) in names:
                inc_names.add(item)
            else:
                b.err(
                    ip,
                    f"{item!r} is not a holiday name of the {country} calendar",
                    _closest(item, names)
                    or "use {name: ..., date: YYYY-MM-DD} or {name: ..., every: MM-DD}"
                    " for other days",
                )
            continue
        spec = b.mapping(ip, item, {"name", "date", "every"}, {"name"})
        name = b.text(ip + ("name",), spec.get("name"))
        if "date" in spec:
            d = b.date(ip + ("date",), spec["date"])
            if d:
                inc_dates.append((d, name))
        elif "every" in spec:
            md = _month_day(str(spec["every"]))
            if md is None:
                b.err(
                    ip + ("every",),
                    f"{spec['every']!r} is not a month and day",
                    'write "MM-DD", e.g. "12-24"',
                )
            else:
                inc_every.append((md[0], md[1], name))
        else:
            b.err(
                ip,
                "an included day needs 'date' or 'every'",
                'add date: YYYY-MM-DD or every: "MM-DD"',
            )
    return HolidayPolicy(
        country=country,
        subdivision=b.text(p + ("subdivision",), raw.get("subdivision")) or None,
        categories=categories,
        language=language,
        exclude_names=frozenset(ex_names),
        exclude_dates=frozenset(ex_dates),
        include_names=frozenset(inc_names),
        include_dates=tuple(inc_dates),
        include_every=tuple(inc_every),
        counts_as=6 if counts_as is None else counts_as,
    )


def closures(b: Builder, window_names: set[str]) -> tuple[Closure, ...]:
    out = []
    for i, item in enumerate(b.seq(("closures",), b.doc.data.get("closures"))):
        p: PathKey = ("closures", i)
        spec = b.mapping(
            p, item, {"name", "date", "every", "from", "to", "window", "counts_as"}, {"name"}
        )
        date = b.date(p + ("date",), spec["date"]) if "date" in spec else None
        md = _month_day(str(spec["every"])) if "every" in spec else None
        if "every" in spec and md is None:
            b.err(
                p + ("every",),
                f"{spec['every']!r} is not a month and day",
                'write "MM-DD", e.g. "12-31"',
            )
        if ("date" in spec) == ("every" in spec):
            b.err(
                p,
                "a closure needs exactly one of 'date' or 'every'",
                'add every: "12-24" or date: 2026-12-24',
            )
        start = b.time(p + ("from",), spec.get("from", "00:00")) or 0
        end = b.time(p + ("to",), spec.get("to", "24:00"))
        end = MINUTES_PER_DAY if end is None else end
        if end <= start:
            b.err(
                p + ("to",),
                "a closure must end after it starts on the same day",
                'split it in two closures, or use "24:00" as the end',
            )
        window = spec.get("window")
        counts_as = spec.get("counts_as")
        if (window is None) == (counts_as is None):
            b.err(
                p,
                "a closure needs exactly one of 'window' or 'counts_as'",
                "say which window applies (window: nacht)"
                " or what the day counts as (counts_as: sunday)",
            )
        if window is not None:
            b.ref(p + ("window",), str(window), window_names, "window")
        out.append(
            Closure(
                name=b.text(p + ("name",), spec.get("name")),
                month=md[0] if md else None,
                day=md[1] if md else None,
                date=date,
                start=start,
                end=end,
                window=str(window) if window is not None else None,
                counts_as=b.weekday(p + ("counts_as",), counts_as)
                if counts_as is not None
                else None,
                source=b.src(p),
            )
        )
    return tuple(out)


def windows(b: Builder) -> tuple[Window, ...]:
    raw = b.doc.data.get("windows")
    if not isinstance(raw, dict) or not raw:
        b.err(("windows",), "no time windows are defined", "add a 'windows:' section (see README)")
        return ()
    out = []
    for name, spec in raw.items():
        p: PathKey = ("windows", name)
        if isinstance(spec, list):
            spec = {"times": spec}
        spec = b.mapping(p, spec, {"label", "times"}, {"times"})
        segments = []
        for j, seg in enumerate(b.seq(p + ("times",), spec.get("times"))):
            sp = p + ("times", j)
            s = b.mapping(sp, seg, {"days", "from", "to"}, {"days", "from", "to"})
            days = frozenset(str(d).lower() for d in b.seq(sp + ("days",), s.get("days")))
            for d in days - DAY_SELECTORS:
                b.err(
                    sp + ("days",),
                    f"unknown day {d!r}",
                    f"use weekdays ({', '.join(WEEKDAYS)}) or workday, weekend, holiday, any",
                )
            start, end = (
                b.time(sp + ("from",), s.get("from"), allow_24=False),
                b.time(sp + ("to",), s.get("to")),
            )
            if start is None or end is None:
                continue
            if start == end:
                b.err(
                    sp,
                    "a time range that starts where it ends is empty",
                    'for a whole day write from: "00:00", to: "24:00"',
                )
                continue
            segments.append(Segment(days, start, end, b.src(sp)))
        out.append(
            Window(
                str(name),
                tuple(segments),
                b.text(p + ("label",), spec.get("label")),
                b.src(p),
            )
        )
    return tuple(out)


def _month_day(raw: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"(\d{1,2})-(\d{1,2})", raw.strip())
    if not m:
        return None
    try:
        dt.date(2024, int(m.group(1)), int(m.group(2)))
    except ValueError:
        return None
    return int(m.group(1)), int(m.group(2))


def _norm(name: str) -> str:
    return " ".join(name.casefold().split())


def _closest(name: str, names: dict[str, str]) -> str | None:
    """'did you mean ...' for a misspelt holiday name ("Goede vrydag")."""
    close = difflib.get_close_matches(_norm(name), sorted(names), n=1, cutoff=0.6)
    return f"did you mean {names[close[0]]!r}? (see `callrouter calendar`)" if close else None
