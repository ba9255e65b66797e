"""Which local days are holidays, and what each day counts as for time windows.

The legal days come from the `holidays` package (never hand-written Easter
arithmetic); the admin's policy then excludes or adds days by name or date.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import holidays as holidays_lib

from callrouter.routing.days import WEEKDAYS, Closure, HolidayPolicy


@dataclass(frozen=True)
class DayInfo:
    """One local date as the routing sees it."""

    date: dt.date
    holiday: str | None
    counts_as: int
    """Weekday index used for window matching: the real weekday, or the
    policy's `counts_as` (Sunday by default) on a holiday."""

    @property
    def weekday_token(self) -> str:
        return WEEKDAYS[self.counts_as]


def _norm(name: str) -> str:
    return " ".join(name.casefold().split())


class Calendar:
    """Holiday lookups for one policy, memoised per year.

    The memo is the only state; the library computes each year once, which
    keeps a routing decision at a dictionary lookup instead of rebuilding the
    Easter-based calendar on every call.
    """

    def __init__(self, policy: HolidayPolicy, closures: tuple[Closure, ...] = ()) -> None:
        self.policy = policy
        self.closures = closures
        self._years: dict[int, dict[dt.date, str]] = {}

    def holidays_in(self, year: int) -> dict[dt.date, str]:
        """The effective holidays of `year`: date -> display name."""
        cached = self._years.get(year)
        if cached is None:
            cached = self._years[year] = self._compute(year)
        return cached

    def _library(self, year: int, categories: tuple[str, ...]) -> dict[dt.date, str]:
        lib = holidays_lib.country_holidays(
            self.policy.country,
            subdiv=self.policy.subdivision,
            years=year,
            categories=categories,
            language=self.policy.language,
        )
        return dict(lib.items())

    def _compute(self, year: int) -> dict[dt.date, str]:
        p = self.policy
        chosen = self._library(year, p.categories)
        excluded = {_norm(n) for n in p.exclude_names}
        days = {
            d: name
            for d, name in chosen.items()
            if _norm(name) not in excluded and d not in p.exclude_dates
        }
        if p.include_names:
            wanted = {_norm(n) for n in p.include_names}
            every = self._library(year, all_categories(p.country))
            days.update({d: n for d, n in every.items() if _norm(n) in wanted})
        for month, day, name in p.include_every:
            try:
                days[dt.date(year, month, day)] = name
            except ValueError:  # 29 February in a year without one
                continue
        for date, name in p.include_dates:
            if date.year == year:
                days[date] = name
        return days

    def holiday(self, date: dt.date) -> str | None:
        return self.holidays_in(date.year).get(date)

    def day(self, date: dt.date) -> DayInfo:
        name = self.holiday(date)
        counts_as = self.policy.counts_as if name is not None else date.weekday()
        return DayInfo(date, name, counts_as)

    def closures_on(self, date: dt.date) -> tuple[Closure, ...]:
        return tuple(c for c in self.closures if c.on(date))

    def special_days(self, first: dt.date, days: int) -> list[tuple[dt.date, str]]:
        """Holidays and closure days in `[first, first + days)`, in date order."""
        out: list[tuple[dt.date, str]] = []
        for offset in range(days):
            date = first + dt.timedelta(days=offset)
            names = [n for n in (self.holiday(date),) if n]
            names += [c.name for c in self.closures_on(date)]
            if names:
                out.append((date, " + ".join(names)))
        return out


def all_categories(country: str) -> tuple[str, ...]:
    """Every category the library knows for `country` (for include-by-name)."""
    return tuple(holidays_lib.country_holidays(country).supported_categories)


@functools.lru_cache(maxsize=8)
def known_holiday_names(country: str, language: str, years: range) -> dict[str, str]:
    """All holiday names the library has for `country`, for validating the policy:
    compared name (case and spacing ignored) -> the library's spelling."""
    lib = holidays_lib.country_holidays(
        country, years=list(years), categories=all_categories(country), language=language
    )
    return {_norm(n): n for name in lib.values() for n in name.split("; ")}
