"""The routing configuration as typed, immutable values.

`callrouter.config` turns the admin's YAML into these objects (with
file:line errors); everything in `callrouter.core` only reads them. Keeping the
model free of YAML, Flask, Redis and Twilio is what lets the routing decision be
a pure function that tests and the coverage proof can call millions of times.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from callrouter.routing.calendar import Calendar
from callrouter.routing.days import MINUTES_PER_DAY as MINUTES_PER_DAY
from callrouter.routing.days import NOWHERE as NOWHERE
from callrouter.routing.days import WEEKDAYS as WEEKDAYS
from callrouter.routing.days import Closure as Closure
from callrouter.routing.days import HolidayPolicy as HolidayPolicy
from callrouter.routing.days import Source as Source


@dataclass(frozen=True)
class Segment:
    """One weekly time range of a window: `[start, end)` on the selected days.

    `end <= start` means the range crosses midnight into the next day; the
    range belongs to the day it starts on (Friday 21:00-08:30 is Friday's).
    """

    days: frozenset[str]
    """Day selectors: weekday tokens, 'workday', 'weekend', 'holiday', 'any'."""
    start: int
    end: int
    source: Source = NOWHERE

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class Window:
    """A named part of the week, e.g. 'kantoortijd' or 'nacht'."""

    name: str
    segments: tuple[Segment, ...]
    label: str = ""
    source: Source = NOWHERE


# --------------------------------------------------------------------------- people


@dataclass(frozen=True)
class Member:
    """A staff member who can be called; `mobile` is E.164."""

    id: str
    name: str
    mobile: str
    sms: bool = True
    languages: tuple[str, ...] = ("nl",)
    source: Source = NOWHERE
    console: str | None = None
    """Role on the coordinators' console ('coordinator' or 'staff'); None: no sign-in."""


@dataclass(frozen=True)
class Rota:
    """A rotation for one role: who is on call, handing over at a local time.

    Periods are whole local days so a weekly handover stays at 08:30 across
    daylight-saving changes (a fixed 168-hour period would drift by an hour).
    """

    start: dt.date
    handover: int
    """Minutes after local midnight at which the shift changes."""
    period_days: int
    order: tuple[str, ...]
    source: Source = NOWHERE
    timezone: ZoneInfo = ZoneInfo("Europe/Amsterdam")
    """Whose wall clock the handover follows (the config's timezone)."""


@dataclass(frozen=True)
class Override:
    """A dated change to a rota: a swap (`member` takes over) or an absence.

    `start`/`end` are aware datetimes; `[start, end)`.
    """

    role: str | None
    start: dt.datetime
    end: dt.datetime
    member: str | None
    """Who is on call instead (a swap); None with `absent` for sick leave."""
    absent: str | None
    """Member who is unavailable: the next one in rota order takes over."""
    reason: str = ""
    source: Source = NOWHERE


@dataclass(frozen=True)
class Role:
    name: str
    rota: Rota
    label: str = ""
    source: Source = NOWHERE


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    members: tuple[Member, ...]
    roles: tuple[Role, ...]
    overrides: tuple[Override, ...] = ()
    source: Source = NOWHERE

    def member(self, member_id: str) -> Member | None:
        return next((m for m in self.members if m.id == member_id), None)

    def role(self, name: str) -> Role | None:
        return next((r for r in self.roles if r.name == name), None)


# --------------------------------------------------------------------------- callers


class CallerKind(StrEnum):
    RESIDENT = "resident"
    RELATIVE = "relative"
    REFERRER = "referrer"


@dataclass(frozen=True)
class CallerType:
    """A kind of caller the IVR can ask for, e.g. 'huisarts' (a referrer)."""

    id: str
    kind: CallerKind
    label: str = ""
    source: Source = NOWHERE


@dataclass(frozen=True)
class AgeGroup:
    """An age group, e.g. 'u18' for 0-17; `max_age` None means no upper bound."""

    id: str
    min_age: int
    max_age: int | None
    label: str = ""
    source: Source = NOWHERE


@dataclass(frozen=True)
class Region:
    """A region of municipalities; landline area codes may suggest it."""

    id: str
    name: str
    municipalities: tuple[str, ...] = ()
    area_codes: tuple[str, ...] = ()
    source: Source = NOWHERE


@dataclass(frozen=True)
class DirectoryEntry:
    """A known referrer number (e.g. the local huisartsenpost)."""

    number: str
    caller_type: str
    name: str
    region: str | None = None
    source: Source = NOWHERE


# --------------------------------------------------------------------------- rules


class LegKind(StrEnum):
    ONCALL = "oncall"
    """The on-call person of a team in a role."""
    RING_ALL = "ring_all"
    """Every member of a team (optionally only those in a role's rota) at once."""
    LINE = "line"
    """A fixed number, e.g. the 24/7 GGZ crisis service."""


@dataclass(frozen=True)
class LegSpec:
    """A configured step of a plan, before it is resolved to numbers."""

    kind: LegKind
    timeout: int
    team: str | None = None
    role: str | None = None
    line: str | None = None
    source: Source = NOWHERE


@dataclass(frozen=True)
class FinalSpec:
    """What happens when every leg failed: offer a callback and/or dial a line."""

    callback: bool
    line: str | None
    source: Source = NOWHERE


@dataclass(frozen=True)
class Condition:
    """When a rule applies; an empty set in a dimension means 'any'."""

    windows: frozenset[str] = frozenset()
    caller_types: frozenset[str] = frozenset()
    age_groups: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    holiday: bool | None = None
    """True: only on holidays; False: never on holidays; None: either."""

    def covers(self, other: Condition) -> bool:
        """Whether every situation `other` matches is matched by self too."""

        def wider(mine: frozenset[str], theirs: frozenset[str]) -> bool:
            return not mine or (bool(theirs) and theirs <= mine)

        return (
            wider(self.windows, other.windows)
            and wider(self.caller_types, other.caller_types)
            and wider(self.age_groups, other.age_groups)
            and wider(self.regions, other.regions)
            and (self.holiday is None or self.holiday == other.holiday)
        )


@dataclass(frozen=True)
class Rule:
    name: str
    when: Condition
    legs: tuple[LegSpec, ...]
    final: FinalSpec
    description: str = ""
    source: Source = NOWHERE


@dataclass(frozen=True)
class Line:
    """A fixed number such as the 24/7 crisis line or the final fallback."""

    id: str
    number: str
    label: str = ""
    source: Source = NOWHERE


@dataclass(frozen=True)
class Attempts:
    """How often a 24/7 line is rung before the call moves on, and for how long each time."""

    attempts: int = 2
    timeout: int = 30
    """Seconds of ringing per attempt."""
    source: Source = NOWHERE


@dataclass(frozen=True)
class Overflow:
    """The backup centre ("achtervang"): a neighbouring region's crisis line.

    Rung when the final line did not answer, and, whatever leg is ringing,
    once a caller has waited `after` seconds from pickup without a person.
    """

    line: str
    windows: frozenset[str]
    """The windows in which the backup centre takes our calls; empty is always."""
    after: int
    """Seconds from pickup after which the call rolls over to this line."""
    ring: Attempts
    source: Source = NOWHERE


# --------------------------------------------------------------------------- whole config


@dataclass(frozen=True)
class Config:
    """Everything the routing decision needs, validated and cross-referenced."""

    timezone: ZoneInfo
    holidays: HolidayPolicy
    closures: tuple[Closure, ...]
    windows: tuple[Window, ...]
    teams: tuple[Team, ...]
    caller_types: tuple[CallerType, ...]
    age_groups: tuple[AgeGroup, ...]
    regions: tuple[Region, ...]
    directory: tuple[DirectoryEntry, ...]
    blocked: frozenset[str]
    lines: tuple[Line, ...]
    rules: tuple[Rule, ...]
    fallback_line: str
    """Id of the line dialled when anything at all goes wrong (always 24/7)."""
    default_caller_type: str
    default_age_group: str
    crisis_number: str = ""
    """The public crisis number: caller id for every outbound leg."""
    final_line: Attempts = Attempts()
    """How the final (or fallback) line is rung: a bounded number of times."""
    overflow: Overflow | None = None

    @cached_property
    def calendar(self) -> Calendar:
        """This config's holiday calendar, memoised on the (immutable) config
        so each year's holidays are computed once per loaded config."""
        return Calendar(self.holidays, self.closures)

    @cached_property
    def _index(self) -> dict[str, dict[str, Any]]:
        """Id -> object maps, built once per config: a routing decision looks
        teams, lines and caller types up several times per call."""
        return {
            "team": {t.id: t for t in self.teams},
            "line": {ln.id: ln for ln in self.lines},
            "window": {w.name: w for w in self.windows},
            "caller_type": {c.id: c for c in self.caller_types},
            "region": {r.id: r for r in self.regions},
            "age_group": {a.id: a for a in self.age_groups},
            # By E.164 number, the first entry winning as a scan would: every
            # incoming call looks its caller up here.
            "directory": {d.number: d for d in reversed(self.directory)},
        }

    @cached_property
    def rule_memo(self) -> dict[tuple[object, ...], Rule | None]:
        """First matching rule per (window, holiday, caller, age, region).

        Which rule matches depends only on those five facts, so the routing
        memoises the first-match scan; with 1,000 rules this turns the
        per-call linear scan into a dictionary lookup after the first call.
        """
        return {}

    def team(self, team_id: str) -> Team | None:
        found: Team | None = self._index["team"].get(team_id)
        return found

    def line(self, line_id: str) -> Line | None:
        found: Line | None = self._index["line"].get(line_id)
        return found

    def window(self, name: str) -> Window | None:
        found: Window | None = self._index["window"].get(name)
        return found

    def caller_type(self, type_id: str) -> CallerType | None:
        found: CallerType | None = self._index["caller_type"].get(type_id)
        return found

    def region(self, region_id: str) -> Region | None:
        found: Region | None = self._index["region"].get(region_id)
        return found

    def directory_entry(self, number: str) -> DirectoryEntry | None:
        """The directory's entry for an E.164 number, if it is a known referrer."""
        found: DirectoryEntry | None = self._index["directory"].get(number)
        return found

    def age_group(self, group_id: str) -> AgeGroup | None:
        found: AgeGroup | None = self._index["age_group"].get(group_id)
        return found
