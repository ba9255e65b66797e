"""Which named time window a local moment falls in.

Windows are wall-clock ranges in the configured timezone, so they behave the
same on both sides of a DST change; a local time that does not exist (the
spring gap) never reaches this module because moments are always real
instants converted to local time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from callrouter.routing.calendar import Calendar, DayInfo
from callrouter.routing.model import Closure, Segment, Window


@dataclass(frozen=True)
class WindowMatch:
    """The window in force, and the day facts that decided it."""

    window: str | None
    day: DayInfo
    closure: Closure | None
    segment: Segment | None


def day_matches(selectors: frozenset[str], day: DayInfo) -> bool:
    """Whether a segment's day selectors include `day` (after holiday mapping)."""
    if "any" in selectors:
        return True
    if day.holiday is not None and "holiday" in selectors:
        return True
    if day.weekday_token in selectors:
        return True
    if "workday" in selectors and day.counts_as < 5:
        return True
    return "weekend" in selectors and day.counts_as >= 5


def segment_contains(seg: Segment, today: DayInfo, yesterday: DayInfo, minute: int) -> bool:
    """Half-open `[start, end)` test; a midnight-crossing segment belongs to
    the day it starts on, so its early-morning part is checked against
    yesterday's day facts."""
    if not seg.crosses_midnight:
        return seg.start <= minute < seg.end and day_matches(seg.days, today)
    if minute >= seg.start and day_matches(seg.days, today):
        return True
    return minute < seg.end and day_matches(seg.days, yesterday)


def active_closure(calendar: Calendar, date: dt.date, minute: int) -> Closure | None:
    return next((c for c in calendar.closures_on(date) if c.start <= minute < c.end), None)


def resolve_window(
    calendar: Calendar, windows: tuple[Window, ...], date: dt.date, minute: int
) -> WindowMatch:
    """The first window (in configured order) covering local `date` at `minute`.

    A closure with a fixed window wins outright; a closure that makes the day
    count as another day changes today's facts for its duration only. The
    previous day is taken whole (holidays apply, part-day closures do not)
    when deciding the tail of a midnight-crossing segment.
    """
    today = calendar.day(date)
    closure = active_closure(calendar, date, minute)
    if closure is not None and closure.window is not None:
        return WindowMatch(closure.window, today, closure, None)
    if closure is not None and closure.counts_as is not None:
        today = replace(today, counts_as=closure.counts_as)
    yesterday = calendar.day(date - dt.timedelta(days=1))
    for window in windows:
        for seg in window.segments:
            if segment_contains(seg, today, yesterday, minute):
                return WindowMatch(window.name, today, closure, seg)
    return WindowMatch(None, today, closure, None)
