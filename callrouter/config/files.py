"""Admin-edited YAML in a config directory -> a validated `core.model.Config`.

Every problem in every file is collected before anything is rejected, each
with file:line, what is wrong and how to fix it, so an admin fixes a config
in one pass. Unknown keys are errors (a typo such as `timout:` must not be
silently ignored in a crisis line's routing).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callrouter.callbacks import lifecycle as callbacks
from callrouter.calls import policy as records
from callrouter.calls import triage
from callrouter.config.yaml_marks import MarkedDoc, PathKey, load_file
from callrouter.errors import ConfigError
from callrouter.routing import numbers
from callrouter.routing.calendar import all_categories, known_holiday_names
from callrouter.routing.model import (
    MINUTES_PER_DAY,
    WEEKDAYS,
    AgeGroup,
    CallerKind,
    CallerType,
    Closure,
    Condition,
    Config,
    DirectoryEntry,
    FinalSpec,
    HolidayPolicy,
    LegKind,
    LegSpec,
    Line,
    Member,
    Override,
    Region,
    Role,
    Rota,
    Rule,
    Segment,
    Source,
    Team,
    Window,
)

ROUTING_SECTIONS = {
    "timezone",
    "crisis_number",
    "fallback_line",
    "defaults",
    "holidays",
    "closures",
    "windows",
    "lines",
    "rules",
    "teams",
    "caller_types",
    "age_groups",
    "regions",
    "directory",
    "blocked",
}
EXTRA_SECTIONS = {"ivr", "triage", "callbacks", "records", "privacy"}
"""Sections owned by the IVR, callbacks and records; validated by their owners."""


def _check_ivr(
    data: dict[str, Any], where: Callable[[PathKey], Source]
) -> list[tuple[Source, str, str]]:
    from ivr.config import check_config  # lazily: ivr.config builds on this module

    return check_config(data, where)


SECTION_CHECKS: list[
    Callable[[dict[str, Any], Callable[[PathKey], Source]], list[tuple[Source, str, str]]]
] = [
    triage.check_config,
    records.check_config,
    _check_ivr,
    callbacks.check_config,
]
"""The owners' validators of extra sections: (data, where) -> [(file:line, problem, fix)]."""

DAY_SELECTORS = set(WEEKDAYS) | {"workday", "weekend", "holiday", "any"}
_TIME = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
_ID = re.compile(r"^[A-Za-z0-9_+<>.-]+$")


@dataclass(frozen=True)
class Problem:
    source: Source
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}. Fix: {self.fix}"


class _Builder:
    """Turns marked YAML data into model objects, collecting problems."""

    def __init__(self, doc: MarkedDoc) -> None:
        self.doc = doc
        self.problems: list[Problem] = [Problem(*p) for p in doc.problems]

    # -- reporting and basic types -------------------------------------------------

    def err(self, path: PathKey, message: str, fix: str) -> None:
        self.problems.append(Problem(self.doc.where(path), message, fix))

    def src(self, path: PathKey) -> Source:
        return self.doc.where(path)

    def mapping(
        self, path: PathKey, value: Any, allowed: set[str], required: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.err(
                path, f"{_name(path)} must be a mapping (key: value)", "indent its keys under it"
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
                self.err(path + (key,), f"unknown key {key!r} in {_name(path)}", hint)
        for key in sorted(required - set(value)):
            self.err(path, f"{_name(path)} is missing {key!r}", f"add '{key}:'")
        return value

    def seq(self, path: PathKey, value: Any) -> list[Any]:
        if value is None:
            return []
        if isinstance(value, (str, int)):
            return [value]
        if not isinstance(value, list):
            self.err(
                path, f"{_name(path)} must be a list", "write it as [a, b] or as '- item' lines"
            )
            return []
        return value

    def text(self, path: PathKey, value: Any, default: str = "") -> str:
        if value is None:
            return default
        if isinstance(value, (dict, list)):
            self.err(path, f"{_name(path)} must be a single value", "write one word or quoted text")
            return default
        return str(value)

    def integer(self, path: PathKey, value: Any, default: int, low: int, high: int) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.err(
                path,
                f"{_name(path)} must be a whole number from {low} to {high}, not {value!r}",
                f"use a number between {low} and {high}",
            )
            return default
        return value

    def boolean(self, path: PathKey, value: Any, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.err(
                path, f"{_name(path)} must be true or false, not {value!r}", "write true or false"
            )
            return default
        return value

    def time(self, path: PathKey, value: Any, allow_24: bool = True) -> int | None:
        raw = str(value) if value is not None else ""
        m = _TIME.match(raw)
        if not m or (int(m.group(1)) == 24 and (m.group(2) != "00" or not allow_24)):
            self.err(
                path,
                f"{_name(path)} {raw!r} is not a time of day",
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
        except ValueError:
            self.err(
                path, f"{_name(path)} {value!r} is not a date", "write YYYY-MM-DD, e.g. 2026-12-24"
            )
            return None

    def moment(self, path: PathKey, value: Any, tz: ZoneInfo) -> dt.datetime | None:
        raw = value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)
        try:
            parsed = dt.datetime.fromisoformat(raw)
        except ValueError:
            self.err(
                path,
                f"{_name(path)} {value!r} is not a date and time",
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

    def ref(self, path: PathKey, value: str, known: set[str] | dict[str, Any], what: str) -> bool:
        if value in known:
            return True
        close = difflib.get_close_matches(value, list(known), n=1)
        self.err(
            path,
            f"unknown {what} {value!r}",
            f"did you mean {close[0]!r}?"
            if close
            else f"define it, or use one of: {', '.join(sorted(known))}",
        )
        return False

    # -- sections -------------------------------------------------------------------

    def timezone(self) -> ZoneInfo:
        name = self.text(("timezone",), self.doc.data.get("timezone"), "Europe/Amsterdam")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.err(
                ("timezone",),
                f"unknown timezone {name!r}",
                "use an IANA name such as Europe/Amsterdam",
            )
            return ZoneInfo("Europe/Amsterdam")

    def holidays(self) -> HolidayPolicy:
        p: PathKey = ("holidays",)
        raw = self.mapping(
            p,
            self.doc.data.get("holidays"),
            {"country", "subdivision", "categories", "language", "counts_as", "exclude", "include"},
        )
        country = self.text(p + ("country",), raw.get("country"), "NL")
        try:
            cats_known = set(all_categories(country))
        except NotImplementedError:
            self.err(
                p + ("country",), f"the holidays library has no calendar for {country!r}", "use NL"
            )
            return HolidayPolicy()
        categories = tuple(
            str(c) for c in self.seq(p + ("categories",), raw.get("categories", ["public"]))
        )
        for i, cat in enumerate(categories):
            self.ref(p + ("categories", i), cat, cats_known, "holiday category")
        language = self.text(p + ("language",), raw.get("language"), "nl")
        names = known_holiday_names(country, language, range(2020, 2041))
        counts_as = self.weekday(p + ("counts_as",), raw.get("counts_as", "sunday"))
        ex_names: set[str] = set()
        ex_dates: set[dt.date] = set()
        for i, item in enumerate(self.seq(p + ("exclude",), raw.get("exclude"))):
            if isinstance(item, dt.date):
                ex_dates.add(item)
            elif " ".join(str(item).casefold().split()) in names:
                ex_names.add(str(item))
            else:
                self.err(
                    p + ("exclude", i),
                    f"{item!r} is not a holiday name of the {country} calendar",
                    "use a date (YYYY-MM-DD) or a name such as 'Goede vrijdag'"
                    " (see `callrouter calendar`)",
                )
        inc_names: set[str] = set()
        inc_dates: list[tuple[dt.date, str]] = []
        inc_every: list[tuple[int, int, str]] = []
        for i, item in enumerate(self.seq(p + ("include",), raw.get("include"))):
            ip = p + ("include", i)
            if isinstance(item, str):
                if " ".join(item.casefold().split()) in names:
                    inc_names.add(item)
                else:
                    self.err(
                        ip,
                        f"{item!r} is not a holiday name of the {country} calendar",
                        "use {name: ..., date: YYYY-MM-DD} or {name: ..., every: MM-DD}"
                        " for other days",
                    )
                continue
            spec = self.mapping(ip, item, {"name", "date", "every"}, {"name"})
            name = self.text(ip + ("name",), spec.get("name"))
            if "date" in spec:
                d = self.date(ip + ("date",), spec["date"])
                if d:
                    inc_dates.append((d, name))
            elif "every" in spec:
                md = _month_day(str(spec["every"]))
                if md is None:
                    self.err(
                        ip + ("every",),
                        f"{spec['every']!r} is not a month and day",
                        'write "MM-DD", e.g. "12-24"',
                    )
                else:
                    inc_every.append((md[0], md[1], name))
            else:
                self.err(
                    ip,
                    "an included day needs 'date' or 'every'",
                    'add date: YYYY-MM-DD or every: "MM-DD"',
                )
        return HolidayPolicy(
            country=country,
            subdivision=self.text(p + ("subdivision",), raw.get("subdivision")) or None,
            categories=categories,
            language=language,
            exclude_names=frozenset(ex_names),
            exclude_dates=frozenset(ex_dates),
            include_names=frozenset(inc_names),
            include_dates=tuple(inc_dates),
            include_every=tuple(inc_every),
            counts_as=6 if counts_as is None else counts_as,
        )

    def closures(self, window_names: set[str]) -> tuple[Closure, ...]:
        out = []
        for i, item in enumerate(self.seq(("closures",), self.doc.data.get("closures"))):
            p: PathKey = ("closures", i)
            spec = self.mapping(
                p, item, {"name", "date", "every", "from", "to", "window", "counts_as"}, {"name"}
            )
            date = self.date(p + ("date",), spec["date"]) if "date" in spec else None
            md = _month_day(str(spec["every"])) if "every" in spec else None
            if "every" in spec and md is None:
                self.err(
                    p + ("every",),
                    f"{spec['every']!r} is not a month and day",
                    'write "MM-DD", e.g. "12-31"',
                )
            if ("date" in spec) == ("every" in spec):
                self.err(
                    p,
                    "a closure needs exactly one of 'date' or 'every'",
                    'add every: "12-24" or date: 2026-12-24',
                )
            start = self.time(p + ("from",), spec.get("from", "00:00")) or 0
            end = self.time(p + ("to",), spec.get("to", "24:00"))
            end = MINUTES_PER_DAY if end is None else end
            if end <= start:
                self.err(
                    p + ("to",),
                    "a closure must end after it starts on the same day",
                    'split it in two closures, or use "24:00" as the end',
                )
            window = spec.get("window")
            counts_as = spec.get("counts_as")
            if (window is None) == (counts_as is None):
                self.err(
                    p,
                    "a closure needs exactly one of 'window' or 'counts_as'",
                    "say which window applies (window: nacht)"
                    " or what the day counts as (counts_as: sunday)",
                )
            if window is not None:
                self.ref(p + ("window",), str(window), window_names, "window")
            out.append(
                Closure(
                    name=self.text(p + ("name",), spec.get("name")),
                    month=md[0] if md else None,
                    day=md[1] if md else None,
                    date=date,
                    start=start,
                    end=end,
                    window=str(window) if window is not None else None,
                    counts_as=self.weekday(p + ("counts_as",), counts_as)
                    if counts_as is not None
                    else None,
                    source=self.src(p),
                )
            )
        return tuple(out)

    def windows(self) -> tuple[Window, ...]:
        raw = self.doc.data.get("windows")
        if not isinstance(raw, dict) or not raw:
            self.err(
                ("windows",), "no time windows are defined", "add a 'windows:' section (see README)"
            )
            return ()
        out = []
        for name, spec in raw.items():
            p: PathKey = ("windows", name)
            if isinstance(spec, list):
                spec = {"times": spec}
            spec = self.mapping(p, spec, {"label", "times"}, {"times"})
            segments = []
            for j, seg in enumerate(self.seq(p + ("times",), spec.get("times"))):
                sp = p + ("times", j)
                s = self.mapping(sp, seg, {"days", "from", "to"}, {"days", "from", "to"})
                days = frozenset(str(d).lower() for d in self.seq(sp + ("days",), s.get("days")))
                for d in days - DAY_SELECTORS:
                    self.err(
                        sp + ("days",),
                        f"unknown day {d!r}",
                        f"use weekdays ({', '.join(WEEKDAYS)}) or workday, weekend, holiday, any",
                    )
                start, end = (
                    self.time(sp + ("from",), s.get("from"), allow_24=False),
                    self.time(sp + ("to",), s.get("to")),
                )
                if start is None or end is None:
                    continue
                if start == end:
                    self.err(
                        sp,
                        "a time range that starts where it ends is empty",
                        'for a whole day write from: "00:00", to: "24:00"',
                    )
                    continue
                segments.append(Segment(days, start, end, self.src(sp)))
            out.append(
                Window(
                    str(name),
                    tuple(segments),
                    self.text(p + ("label",), spec.get("label")),
                    self.src(p),
                )
            )
        return tuple(out)

    def lines(self) -> tuple[Line, ...]:
        raw = self.mapping(
            ("lines",), self.doc.data.get("lines"), set(self.doc.data.get("lines") or {})
        )
        out = []
        for line_id, spec in raw.items():
            p: PathKey = ("lines", line_id)
            if not isinstance(spec, dict):
                spec = {"number": spec}
            spec = self.mapping(p, spec, {"number", "label"}, {"number"})
            out.append(
                Line(
                    self.ident(p, line_id),
                    self.phone(p + ("number",), spec.get("number")),
                    self.text(p + ("label",), spec.get("label")),
                    self.src(p),
                )
            )
        return tuple(out)

    def teams(self, tz: ZoneInfo) -> tuple[Team, ...]:
        raw = self.doc.data.get("teams") or {}
        if not isinstance(raw, dict):
            self.err(("teams",), "teams must be a mapping of team id to team", "see README: Teams")
            return ()
        return tuple(self.team(str(tid), spec, tz) for tid, spec in raw.items())

    def team(self, tid: str, spec: Any, tz: ZoneInfo) -> Team:
        p: PathKey = ("teams", tid)
        spec = self.mapping(
            p, spec, {"name", "members", "roles", "overrides"}, {"members", "roles"}
        )
        members = []
        for i, m in enumerate(self.seq(p + ("members",), spec.get("members"))):
            mp = p + ("members", i)
            ms = self.mapping(mp, m, {"id", "name", "mobile", "sms", "languages"}, {"id", "mobile"})
            members.append(
                Member(
                    id=self.ident(mp + ("id",), ms.get("id")),
                    name=self.text(mp + ("name",), ms.get("name")) or str(ms.get("id")),
                    mobile=self.phone(mp + ("mobile",), ms.get("mobile")),
                    sms=self.boolean(mp + ("sms",), ms.get("sms"), True),
                    languages=tuple(
                        str(x) for x in self.seq(mp + ("languages",), ms.get("languages", ["nl"]))
                    ),
                    source=self.src(mp),
                )
            )
        ids = {m.id for m in members}
        if len(ids) != len(members):
            self.err(
                p + ("members",),
                f"team {tid!r} has two members with the same id",
                "give each member its own id",
            )
        roles = []
        for rname, rspec in (spec.get("roles") or {}).items():
            rp = p + ("roles", rname)
            rs = self.mapping(rp, rspec, {"label", "rota"}, {"rota"})
            rota_raw = self.mapping(
                rp + ("rota",),
                rs.get("rota"),
                {"start", "handover", "period_days", "order"},
                {"start", "order"},
            )
            order = tuple(str(x) for x in self.seq(rp + ("rota", "order"), rota_raw.get("order")))
            if not order:
                self.err(
                    rp + ("rota",),
                    f"the rota of team {tid!r} role {rname!r} has nobody in it",
                    "list member ids under 'order:'",
                )
            for j, mid in enumerate(order):
                self.ref(rp + ("rota", "order", j), mid, ids, f"member of team {tid!r}")
            start = self.date(rp + ("rota", "start"), rota_raw.get("start", "2026-01-05"))
            roles.append(
                Role(
                    str(rname),
                    Rota(
                        start=start or dt.date(2026, 1, 5),
                        handover=self.time(
                            rp + ("rota", "handover"),
                            rota_raw.get("handover", "08:30"),
                            allow_24=False,
                        )
                        or 0,
                        period_days=self.integer(
                            rp + ("rota", "period_days"), rota_raw.get("period_days"), 7, 1, 366
                        ),
                        order=order,
                        source=self.src(rp + ("rota",)),
                        timezone=tz,
                    ),
                    self.text(rp + ("label",), rs.get("label")),
                    self.src(rp),
                )
            )
        if not roles:
            self.err(
                p + ("roles",),
                f"team {tid!r} has no roles",
                "add a role with a rota, e.g. eerste_lijn",
            )
        role_names = {r.name for r in roles}
        overrides = []
        for i, o in enumerate(self.seq(p + ("overrides",), spec.get("overrides"))):
            op = p + ("overrides", i)
            os_ = self.mapping(
                op, o, {"role", "from", "to", "member", "absent", "reason"}, {"from", "to"}
            )
            role = os_.get("role")
            if role is not None:
                self.ref(op + ("role",), str(role), role_names, f"role of team {tid!r}")
            member, absent = os_.get("member"), os_.get("absent")
            if (member is None) == (absent is None):
                self.err(
                    op,
                    "an override needs exactly one of 'member' (a swap) or 'absent' (sick leave)",
                    "write member: <id> to put someone on call,"
                    " or absent: <id> when someone is away",
                )
            for key, val in (("member", member), ("absent", absent)):
                if val is not None:
                    self.ref(op + (key,), str(val), ids, f"member of team {tid!r}")
            start = self.moment(op + ("from",), os_.get("from"), tz)
            end = self.moment(op + ("to",), os_.get("to"), tz)
            if start and end and end <= start:
                self.err(op + ("to",), "the override ends before it starts", "swap 'from' and 'to'")
            if start and end:
                overrides.append(
                    Override(
                        str(role) if role is not None else None,
                        start,
                        end,
                        str(member) if member is not None else None,
                        str(absent) if absent is not None else None,
                        self.text(op + ("reason",), os_.get("reason")),
                        self.src(op),
                    )
                )
        return Team(
            tid,
            self.text(p + ("name",), spec.get("name")) or tid,
            tuple(members),
            tuple(roles),
            tuple(overrides),
            self.src(p),
        )

    def caller_types(self) -> tuple[CallerType, ...]:
        raw = self.doc.data.get("caller_types") or {}
        out = []
        kinds = {k.value for k in CallerKind}
        for cid, spec in raw.items():
            p: PathKey = ("caller_types", cid)
            spec = self.mapping(p, spec, {"kind", "label"}, {"kind"})
            kind = self.text(p + ("kind",), spec.get("kind"), "resident")
            if not self.ref(p + ("kind",), kind, kinds, "caller kind"):
                kind = "resident"
            out.append(
                CallerType(
                    self.ident(p, cid),
                    CallerKind(kind),
                    self.text(p + ("label",), spec.get("label")),
                    self.src(p),
                )
            )
        if not out:
            self.err(
                ("caller_types",),
                "no caller types are defined",
                "add caller_types (resident, relative, referrers)",
            )
        return tuple(out)

    def age_groups(self) -> tuple[AgeGroup, ...]:
        out = []
        for gid, spec in (self.doc.data.get("age_groups") or {}).items():
            p: PathKey = ("age_groups", str(gid))
            spec = self.mapping(p, spec, {"min", "max", "label"}, {"min"})
            low = self.integer(p + ("min",), spec.get("min"), 0, 0, 130)
            high = (
                self.integer(p + ("max",), spec.get("max"), 130, low, 130)
                if "max" in spec
                else None
            )
            out.append(
                AgeGroup(
                    self.ident(p, gid),
                    low,
                    high,
                    self.text(p + ("label",), spec.get("label")),
                    self.src(p),
                )
            )
        if not out:
            self.err(
                ("age_groups",), "no age groups are defined", 'add age_groups, e.g. "<18" and "18+"'
            )
        return tuple(out)

    def regions(self) -> tuple[Region, ...]:
        out = []
        for rid, spec in (self.doc.data.get("regions") or {}).items():
            p: PathKey = ("regions", rid)
            spec = self.mapping(p, spec, {"name", "municipalities", "area_codes"}, {"name"})
            codes = tuple(str(c) for c in self.seq(p + ("area_codes",), spec.get("area_codes")))
            for j, code in enumerate(codes):
                if not re.fullmatch(r"0\d{1,3}", code):
                    self.err(
                        p + ("area_codes", j),
                        f"{code!r} is not an area code",
                        'write it with its 0, quoted: "024"',
                    )
            out.append(
                Region(
                    self.ident(p, rid),
                    self.text(p + ("name",), spec.get("name")),
                    tuple(
                        str(m)
                        for m in self.seq(p + ("municipalities",), spec.get("municipalities"))
                    ),
                    codes,
                    self.src(p),
                )
            )
        return tuple(out)

    def directory(self, caller_ids: set[str], region_ids: set[str]) -> tuple[DirectoryEntry, ...]:
        out = []
        for i, spec in enumerate(self.seq(("directory",), self.doc.data.get("directory"))):
            p: PathKey = ("directory", i)
            spec = self.mapping(
                p, spec, {"number", "caller_type", "name", "region"}, {"number", "caller_type"}
            )
            ctype = self.text(p + ("caller_type",), spec.get("caller_type"))
            self.ref(p + ("caller_type",), ctype, caller_ids, "caller type")
            region = spec.get("region")
            if region is not None:
                self.ref(p + ("region",), str(region), region_ids, "region")
            out.append(
                DirectoryEntry(
                    self.phone(p + ("number",), spec.get("number")),
                    ctype,
                    self.text(p + ("name",), spec.get("name")),
                    str(region) if region is not None else None,
                    self.src(p),
                )
            )
        return tuple(out)

    def blocked(self) -> frozenset[str]:
        out = set()
        for i, raw in enumerate(self.seq(("blocked",), self.doc.data.get("blocked"))):
            try:
                out.add(numbers.normalise(str(raw)))
            except numbers.NumberError as exc:
                self.err(("blocked", i), str(exc), "write the full number to block")
        return frozenset(out)

    def rules(self, ctx: _RuleContext) -> tuple[Rule, ...]:
        out = []
        seen: set[str] = set()
        for i, spec in enumerate(self.seq(("rules",), self.doc.data.get("rules"))):
            p: PathKey = ("rules", i)
            spec = self.mapping(
                p, spec, {"name", "description", "when", "legs", "final"}, {"name", "legs", "final"}
            )
            name = self.text(p + ("name",), spec.get("name"), f"rule {i + 1}")
            if name in seen:
                self.err(
                    p + ("name",), f"two rules are called {name!r}", "give each rule its own name"
                )
            seen.add(name)
            out.append(
                Rule(
                    name,
                    self.condition(p + ("when",), spec.get("when"), ctx),
                    tuple(
                        self.leg(p + ("legs", j), leg, ctx)
                        for j, leg in enumerate(self.seq(p + ("legs",), spec.get("legs")))
                    ),
                    self.final(p + ("final",), spec.get("final"), ctx),
                    self.text(p + ("description",), spec.get("description")),
                    self.src(p),
                )
            )
        if not out:
            self.err(("rules",), "there are no routing rules", "add rules (see README: Rules)")
        return tuple(out)

    def condition(self, p: PathKey, raw: Any, ctx: _RuleContext) -> Condition:
        spec = self.mapping(p, raw, {"window", "caller", "age", "region", "holiday"})

        def refs(
            key: str, known: set[str], what: str, groups: dict[str, set[str]] | None = None
        ) -> frozenset[str]:
            out: set[str] = set()
            for j, v in enumerate(self.seq(p + (key,), spec.get(key))):
                v = str(v)
                if groups and v in groups:
                    out |= groups[v]
                elif self.ref(p + (key, j), v, known | set(groups or {}), what):
                    out.add(v)
            return frozenset(out)

        holiday = spec.get("holiday")
        return Condition(
            windows=refs("window", ctx.windows, "window"),
            caller_types=refs("caller", ctx.callers, "caller type", ctx.caller_groups),
            age_groups=refs("age", ctx.ages, "age group"),
            regions=refs("region", ctx.regions, "region"),
            holiday=self.boolean(p + ("holiday",), holiday, False) if holiday is not None else None,
        )

    def leg(self, p: PathKey, raw: Any, ctx: _RuleContext) -> LegSpec:
        spec = self.mapping(p, raw, {"oncall", "ring_all", "line", "role", "timeout"}, {"timeout"})
        kinds = [k for k in ("oncall", "ring_all", "line") if k in spec]
        timeout = self.integer(p + ("timeout",), spec.get("timeout"), 20, 5, 120)
        if len(kinds) != 1:
            self.err(
                p,
                "a leg needs exactly one of 'oncall: <team>', 'ring_all: <team>' or 'line: <line>'",
                "e.g. {oncall: iht, role: eerste_lijn, timeout: 20}",
            )
            return LegSpec(LegKind.LINE, timeout, line=ctx.fallback, source=self.src(p))
        kind = LegKind(kinds[0])
        target = self.text(p + (kinds[0],), spec[kinds[0]])
        role = spec.get("role")
        if kind is LegKind.LINE:
            self.ref(p + ("line",), target, ctx.lines, "line")
            if role is not None:
                self.err(p + ("role",), "a line leg has no role", "remove 'role:'")
            return LegSpec(kind, timeout, line=target, source=self.src(p))
        if self.ref(p + (kinds[0],), target, ctx.team_roles, "team"):
            if role is not None:
                self.ref(
                    p + ("role",), str(role), ctx.team_roles[target], f"role of team {target!r}"
                )
            elif kind is LegKind.ONCALL:
                self.err(
                    p,
                    "an oncall leg needs a role",
                    "add role: eerste_lijn (or another role of the team)",
                )
        return LegSpec(
            kind,
            timeout,
            team=target,
            role=str(role) if role is not None else None,
            source=self.src(p),
        )

    def final(self, p: PathKey, raw: Any, ctx: _RuleContext) -> FinalSpec:
        spec = self.mapping(p, raw, {"callback", "line"})
        line = spec.get("line")
        if line is not None:
            self.ref(p + ("line",), str(line), ctx.lines, "line")
        callback = self.boolean(p + ("callback",), spec.get("callback"), False)
        if line is None and not callback:
            self.err(
                p,
                "the final step must offer a callback or dial a line",
                f"add line: {ctx.fallback or 'fallback'} and/or callback: true",
            )
        return FinalSpec(callback, str(line) if line is not None else None, self.src(p))


@dataclass(frozen=True)
class _RuleContext:
    windows: set[str]
    callers: set[str]
    caller_groups: dict[str, set[str]]
    ages: set[str]
    regions: set[str]
    lines: set[str]
    team_roles: dict[str, set[str]]
    fallback: str


def _name(path: PathKey) -> str:
    return ".".join(str(x) for x in path) if path else "the file"


def _month_day(raw: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"(\d{1,2})-(\d{1,2})", raw.strip())
    if not m:
        return None
    try:
        dt.date(2024, int(m.group(1)), int(m.group(2)))
    except ValueError:
        return None
    return int(m.group(1)), int(m.group(2))


def read_documents(directory: Path) -> MarkedDoc:
    """Read every *.yaml file of `directory` into one marked document."""
    doc = MarkedDoc()
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not files:
        doc.problems.append(
            (
                Source(str(directory), 0),
                "no *.yaml files in the config directory",
                "point at the config/ directory of the project",
            )
        )
    for path in files:
        display = str(path)
        data = load_file(path, doc, display)
        for key, value in (data or {}).items():
            if key in doc.data:
                doc.problems.append(
                    (
                        doc.where((key,)),
                        f"section {key!r} is defined twice (also in {display})",
                        "keep each section in one file",
                    )
                )
            elif key not in ROUTING_SECTIONS | EXTRA_SECTIONS:
                close = difflib.get_close_matches(key, ROUTING_SECTIONS | EXTRA_SECTIONS, n=1)
                doc.problems.append(
                    (
                        doc.where((key,)),
                        f"unknown section {key!r}",
                        f"did you mean {close[0]!r}?" if close else "remove it",
                    )
                )
            else:
                doc.data[key] = value
    return doc


def build(doc: MarkedDoc) -> tuple[Config | None, list[Problem]]:
    """Validate and cross-reference; returns the config only when nothing is wrong."""
    b = _Builder(doc)
    tz = b.timezone()
    policy = b.holidays()
    windows = b.windows()
    window_names = {w.name for w in windows}
    closures = b.closures(window_names)
    lines = b.lines()
    teams = b.teams(tz)
    callers = b.caller_types()
    ages = b.age_groups()
    regions = b.regions()
    caller_ids = {c.id for c in callers}
    region_ids = {r.id for r in regions}
    directory = b.directory(caller_ids, region_ids)
    line_ids = {ln.id for ln in lines}
    fallback = b.text(("fallback_line",), doc.data.get("fallback_line"))
    if not fallback:
        b.err(
            ("fallback_line",),
            "no fallback_line is set",
            "name the 24/7 line dialled when anything fails",
        )
    else:
        b.ref(("fallback_line",), fallback, line_ids, "line")
    groups: dict[str, set[str]] = {}
    for c in callers:
        groups.setdefault(c.kind.value, set()).add(c.id)
    groups = {k: v for k, v in groups.items() if k not in caller_ids}
    ctx = _RuleContext(
        window_names,
        caller_ids,
        groups,
        {a.id for a in ages},
        region_ids,
        line_ids,
        {t.id: {r.name for r in t.roles} for t in teams},
        fallback,
    )
    rules = b.rules(ctx)
    defaults = b.mapping(
        ("defaults",),
        doc.data.get("defaults"),
        {"caller_type", "age_group"},
        {"caller_type", "age_group"},
    )
    default_caller = b.text(("defaults", "caller_type"), defaults.get("caller_type"), "resident")
    default_age = b.text(("defaults", "age_group"), defaults.get("age_group"), "18+")
    if "caller_type" in defaults:
        b.ref(("defaults", "caller_type"), default_caller, caller_ids, "caller type")
    if "age_group" in defaults:
        b.ref(("defaults", "age_group"), default_age, {a.id for a in ages}, "age group")
    crisis = (
        b.phone(("crisis_number",), doc.data["crisis_number"])
        if "crisis_number" in doc.data
        else ""
    )
    if not crisis:
        b.err(
            ("crisis_number",),
            "no crisis_number is set",
            "give the public crisis number (the caller id of every leg)",
        )
    for rule in rules:
        for other in rules:
            if other is rule:
                break
            if other.when.covers(rule.when):
                b.problems.append(
                    Problem(
                        rule.source,
                        f"rule {rule.name!r} can never match: "
                        f"rule {other.name!r} ({other.source}) above it matches every such call",
                        "move it above that rule, or narrow the earlier rule",
                    )
                )
                break
    for check in SECTION_CHECKS:
        b.problems.extend(Problem(*problem) for problem in check(doc.data, doc.where))
    config = Config(
        timezone=tz,
        holidays=policy,
        closures=closures,
        windows=windows,
        teams=teams,
        caller_types=callers,
        age_groups=ages,
        regions=regions,
        directory=directory,
        blocked=b.blocked(),
        lines=lines,
        rules=rules,
        fallback_line=fallback,
        default_caller_type=default_caller,
        default_age_group=default_age,
        crisis_number=crisis,
        extra={k: doc.data[k] for k in EXTRA_SECTIONS if k in doc.data},
    )
    return (None if b.problems else config), b.problems


def load(directory: str | Path) -> Config:
    """Load and validate a config directory; raises ConfigError listing every problem."""
    config, problems = build(read_documents(Path(directory)))
    if config is None:
        raise ConfigError([str(p) for p in problems])
    return config
