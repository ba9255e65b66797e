"""Days as the routing sees them: weekday tokens, holiday policy, closures.

Kept apart from `model` so the calendar (which `model.Config` carries) can
build on these values without importing the model that imports it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday tokens in `datetime.weekday()` order (Monday is 0)."""

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class Source:
    """Where a configured value came from, so every problem can name file:line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


NOWHERE = Source("<built-in>", 0)


@dataclass(frozen=True)
class HolidayPolicy:
    """Which days count as public holidays, and what a holiday counts as.

    The `holidays` NL calendar gives the legal days; care organisations differ
    (Good Friday is usually a workday, 5 May a day off only in lustrum years),
    so admins include or exclude days by name or date.
    """

    country: str = "NL"
    subdivision: str | None = None
    categories: tuple[str, ...] = ("public",)
    language: str = "nl"
    exclude_names: frozenset[str] = frozenset()
    exclude_dates: frozenset[dt.date] = frozenset()
    include_names: frozenset[str] = frozenset()
    """Names from any category of the library calendar to add (e.g. Bevrijdingsdag every year)."""
    include_dates: tuple[tuple[dt.date, str], ...] = ()
    include_every: tuple[tuple[int, int, str], ...] = ()
    """(month, day, name) added every year, e.g. a regional closure day."""
    counts_as: int = 6
    """Weekday index a holiday behaves like for time windows; Sunday by default."""


@dataclass(frozen=True)
class Closure:
    """A regional closure or part day, e.g. Kerstavond from 17:00.

    During the closure either a fixed window applies (`window`), or the day
    counts as another day (`counts_as`: a weekday index) for window matching.
    """

    name: str
    month: int | None
    day: int | None
    date: dt.date | None
    start: int
    """Minutes after local midnight (inclusive)."""
    end: int
    """Minutes after local midnight (exclusive); 1440 means end of day."""
    window: str | None
    counts_as: int | None
    source: Source = NOWHERE

    def on(self, day: dt.date) -> bool:
        """Whether this closure happens on local date `day`."""
        if self.date is not None:
            return self.date == day
        return (day.month, day.day) == (self.month, self.day)
