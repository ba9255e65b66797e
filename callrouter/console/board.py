"""What the Now page shows, decided purely: who is on call, who backs them up,
when the next handover is, the week ahead, and the coming coverage gaps.

Built on the routing kernel (`routing.rota`, `routing.coverage`), so the
console says exactly what routing will do: the same overrides, the same
absences handed to the next member, the same coverage proof as
`callrouter check`. The moment is an argument; nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from callrouter.routing.coverage import WEEKDAY_NAMES, Gap, prove
from callrouter.routing.model import Config, Member, Role, Team
from callrouter.routing.rota import absent_members, on_call, shift_bounds, shift_index

WEEK_PROBE = dt.time(12, 0)
"""The week table shows who is on call at noon of each day."""


@dataclass(frozen=True)
class Duty:
    team: Team
    role: Role
    member: Member | None
    why: str
    backup: Member | None
    """Who takes over when `member` drops out: the next one in rota order who is not absent."""
    until: dt.datetime
    """The next handover or override boundary of this role."""

    @property
    def label(self) -> str:
        return self.role.label or self.role.name


@dataclass(frozen=True)
class WeekRow:
    team: Team
    role: Role
    days: tuple[dt.date, ...]
    members: tuple[Member | None, ...]


@dataclass(frozen=True)
class UpcomingGap:
    gap: Gap
    starts: dt.datetime | None
    """First moment of the gap in the horizon, when its text pins one down."""

    @property
    def key(self) -> str:
        """Identity for 'once per gap': the gap's text and its first occurrence."""
        text = f"{self.gap}|{self.starts.isoformat() if self.starts else ''}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _handover(role: Role, index: int) -> dt.datetime:
    first, _next = shift_bounds(role.rota, index)
    minutes = role.rota.handover
    return dt.datetime.combine(
        first, dt.time(minutes // 60, minutes % 60), tzinfo=role.rota.timezone
    )


def _backup(team: Team, role: Role, moment: dt.datetime, member: Member | None) -> Member | None:
    order = role.rota.order
    if not order or member is None or member.id not in order:
        return None
    absent = absent_members(team, role.name, moment)
    start = order.index(member.id)
    for step in range(1, len(order)):
        candidate = order[(start + step) % len(order)]
        if candidate not in absent and candidate != member.id:
            return team.member(candidate)
    return None


def duties(config: Config, moment: dt.datetime) -> list[Duty]:
    """Every team role at `moment`, in config order."""
    out = []
    for team in config.teams:
        for role in team.roles:
            member, why = on_call(team, role, moment)
            boundaries = [_handover(role, shift_index(role.rota, moment) + 1)]
            boundaries += [
                b
                for o in team.overrides
                if o.role in (None, role.name)
                for b in (o.start, o.end)
                if b > moment
            ]
            out.append(
                Duty(team, role, member, why, _backup(team, role, moment, member), min(boundaries))
            )
    return out


def next_handover(items: list[Duty]) -> Duty | None:
    return min(items, key=lambda d: d.until, default=None)


def week(config: Config, first: dt.date) -> list[WeekRow]:
    """Who is on call at noon on each of the seven days from `first`."""
    days = tuple(first + dt.timedelta(days=i) for i in range(7))
    rows = []
    for team in config.teams:
        for role in team.roles:
            members = tuple(
                on_call(team, role, dt.datetime.combine(d, WEEK_PROBE, tzinfo=config.timezone))[0]
                for d in days
            )
            rows.append(WeekRow(team, role, days, members))
    return rows


_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_TIME = re.compile(r"(\d{2}):(\d{2})")


def _starts(gap: Gap, first: dt.date, config: Config) -> dt.datetime | None:
    """The first moment of a gap from its text: a dated gap ('2026-12-01 00:00-...',
    'Friday 2026-12-25 (...) 08:00-08:30') or a weekly one ('Monday 08:00-08:30',
    whose next Monday from `first` counts)."""
    when = gap.when
    date_match = _DATE.search(when)
    if date_match:
        day = dt.date.fromisoformat(date_match.group(1))
    else:
        weekday = next((i for i, n in enumerate(WEEKDAY_NAMES) if when.startswith(n)), None)
        if weekday is None:
            return None
        day = first + dt.timedelta(days=(weekday - first.weekday()) % 7)
    rest = when[date_match.end() :] if date_match else when
    time_match = _TIME.search(rest)
    hour, minute = (int(time_match.group(1)), int(time_match.group(2))) if time_match else (0, 0)
    return dt.datetime.combine(day, dt.time(hour % 24, minute), tzinfo=config.timezone)


def upcoming_gaps(config: Config, first: dt.date, days: int) -> list[UpcomingGap]:
    """Coverage gaps and rota roles with nobody on call in `[first, first + days)`,
    nearest first (the coverage proof of `callrouter check`, over a short horizon)."""
    report = prove(config, first, days)
    found = [UpcomingGap(g, _starts(g, first, config)) for g in report.gaps + report.rota_gaps]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(found, key=lambda u: u.starts or far)


@dataclass(frozen=True)
class Shift:
    team: Team
    role: Role
    start: dt.datetime
    end: dt.datetime


def _boundaries(team: Team, role: Role, start: dt.datetime, stop: dt.datetime) -> list[dt.datetime]:
    """Every moment in [start, stop] at which who is on call for `role` may change."""
    points = {start, stop}
    index = shift_index(role.rota, start)
    while (handover := _handover(role, index)) <= stop:
        points.add(handover)
        index += 1
    points.update(
        b for o in team.overrides if o.role in (None, role.name) for b in (o.start, o.end)
    )
    return sorted(p for p in points if start <= p <= stop)


def shifts(config: Config, member_id: str, start: dt.datetime, stop: dt.datetime) -> list[Shift]:
    """The member's on-call stretches in [start, stop): rota, swaps and absences applied
    exactly as routing applies them (adjacent stretches of one role merged)."""
    found: list[Shift] = []
    for team in config.teams:
        for role in team.roles:
            points = _boundaries(team, role, start, stop)
            for begin, end in zip(points, points[1:], strict=False):
                member, _why = on_call(team, role, begin)
                if member is None or member.id != member_id:
                    continue
                last = found[-1] if found else None
                if last and last.team == team and last.role == role and last.end == begin:
                    found[-1] = Shift(team, role, last.start, end)
                else:
                    found.append(Shift(team, role, begin, end))
    return found
