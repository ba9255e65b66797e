"""Effective holidays: the legal NL calendar shaped by the service's policy.

The expected dates are copied from the project's oracle table
(nl-feestdagen-2024-2030.csv, column "holidays>=0.83 NL() default PUBLIC"),
which was cross-checked against workalendar, date-holidays and Nager.Date.
"""

from __future__ import annotations

import datetime as dt

import pytest

from callrouter.routing.calendar import Calendar
from callrouter.routing.model import Closure, HolidayPolicy
from tests.helpers import sample_config

D = dt.date

# Oracle rows with "yes" in the `holidays>=0.83` PUBLIC column, per year.
ORACLE_PUBLIC: dict[int, dict[dt.date, str]] = {
    2024: {
        D(2024, 1, 1): "Nieuwjaarsdag",
        D(2024, 3, 29): "Goede Vrijdag",
        D(2024, 3, 31): "Eerste paasdag",
        D(2024, 4, 1): "Tweede paasdag",
        D(2024, 4, 27): "Koningsdag",
        D(2024, 5, 9): "Hemelvaartsdag",
        D(2024, 5, 19): "Eerste Pinksterdag",
        D(2024, 5, 20): "Tweede Pinksterdag",
        D(2024, 12, 25): "Eerste Kerstdag",
        D(2024, 12, 26): "Tweede Kerstdag",
    },
    2025: {
        D(2025, 1, 1): "Nieuwjaarsdag",
        D(2025, 4, 18): "Goede Vrijdag",
        D(2025, 4, 20): "Eerste paasdag",
        D(2025, 4, 21): "Tweede paasdag",
        D(2025, 4, 26): "Koningsdag",
        D(2025, 5, 5): "Bevrijdingsdag",
        D(2025, 5, 29): "Hemelvaartsdag",
        D(2025, 6, 8): "Eerste Pinksterdag",
        D(2025, 6, 9): "Tweede Pinksterdag",
        D(2025, 12, 25): "Eerste Kerstdag",
        D(2025, 12, 26): "Tweede Kerstdag",
    },
    2026: {
        D(2026, 1, 1): "Nieuwjaarsdag",
        D(2026, 4, 3): "Goede Vrijdag",
        D(2026, 4, 5): "Eerste paasdag",
        D(2026, 4, 6): "Tweede paasdag",
        D(2026, 4, 27): "Koningsdag",
        D(2026, 5, 14): "Hemelvaartsdag",
        D(2026, 5, 24): "Eerste Pinksterdag",
        D(2026, 5, 25): "Tweede Pinksterdag",
        D(2026, 12, 25): "Eerste Kerstdag",
        D(2026, 12, 26): "Tweede Kerstdag",
    },
    2027: {
        D(2027, 1, 1): "Nieuwjaarsdag",
        D(2027, 3, 26): "Goede Vrijdag",
        D(2027, 3, 28): "Eerste paasdag",
        D(2027, 3, 29): "Tweede paasdag",
        D(2027, 4, 27): "Koningsdag",
        D(2027, 5, 6): "Hemelvaartsdag",
        D(2027, 5, 16): "Eerste Pinksterdag",
        D(2027, 5, 17): "Tweede Pinksterdag",
        D(2027, 12, 25): "Eerste Kerstdag",
        D(2027, 12, 26): "Tweede Kerstdag",
    },
    2028: {
        D(2028, 1, 1): "Nieuwjaarsdag",
        D(2028, 4, 14): "Goede Vrijdag",
        D(2028, 4, 16): "Eerste paasdag",
        D(2028, 4, 17): "Tweede paasdag",
        D(2028, 4, 27): "Koningsdag",
        D(2028, 5, 25): "Hemelvaartsdag",
        D(2028, 6, 4): "Eerste Pinksterdag",
        D(2028, 6, 5): "Tweede Pinksterdag",
        D(2028, 12, 25): "Eerste Kerstdag",
        D(2028, 12, 26): "Tweede Kerstdag",
    },
    2029: {
        D(2029, 1, 1): "Nieuwjaarsdag",
        D(2029, 3, 30): "Goede Vrijdag",
        D(2029, 4, 1): "Eerste paasdag",
        D(2029, 4, 2): "Tweede paasdag",
        D(2029, 4, 27): "Koningsdag",
        D(2029, 5, 10): "Hemelvaartsdag",
        D(2029, 5, 20): "Eerste Pinksterdag",
        D(2029, 5, 21): "Tweede Pinksterdag",
        D(2029, 12, 25): "Eerste Kerstdag",
        D(2029, 12, 26): "Tweede Kerstdag",
    },
    2030: {
        D(2030, 1, 1): "Nieuwjaarsdag",
        D(2030, 4, 19): "Goede Vrijdag",
        D(2030, 4, 21): "Eerste paasdag",
        D(2030, 4, 22): "Tweede paasdag",
        D(2030, 4, 27): "Koningsdag",
        D(2030, 5, 5): "Bevrijdingsdag",
        D(2030, 5, 30): "Hemelvaartsdag",
        D(2030, 6, 9): "Eerste Pinksterdag",
        D(2030, 6, 10): "Tweede Pinksterdag",
        D(2030, 12, 25): "Eerste Kerstdag",
        D(2030, 12, 26): "Tweede Kerstdag",
    },
}

GOOD_FRIDAYS = {
    year: next(d for d, n in days.items() if n == "Goede Vrijdag")
    for year, days in ORACLE_PUBLIC.items()
}


def sample_calendar() -> Calendar:
    return sample_config().calendar


def casefolded(days: dict[dt.date, str]) -> dict[dt.date, str]:
    return {d: n.casefold() for d, n in days.items()}


# --------------------------------------------------------------------------- sample policy


@pytest.mark.parametrize("year", sorted(ORACLE_PUBLIC))
def test_sample_holidays_are_the_oracle_public_days_without_good_friday(year: int) -> None:
    expected = {d: n for d, n in ORACLE_PUBLIC[year].items() if n != "Goede Vrijdag"}
    assert casefolded(sample_calendar().holidays_in(year)) == casefolded(expected)


def test_kings_day_on_sunday_moves_to_saturday_26_april_2025() -> None:
    cal = sample_calendar()
    assert cal.holiday(D(2025, 4, 26)) == "Koningsdag"
    assert D(2025, 4, 26).weekday() == 5
    assert cal.holiday(D(2025, 4, 27)) is None


def test_kings_day_on_a_weekday_stays_on_27_april() -> None:
    assert sample_calendar().holiday(D(2026, 4, 27)) == "Koningsdag"
    assert sample_calendar().holiday(D(2026, 4, 26)) is None


@pytest.mark.parametrize("year", [2025, 2030])
def test_liberation_day_is_a_holiday_in_lustrum_years(year: int) -> None:
    assert sample_calendar().holiday(D(year, 5, 5)) == "Bevrijdingsdag"


@pytest.mark.parametrize("year", [2024, 2026, 2027, 2028, 2029])
def test_liberation_day_is_a_workday_outside_lustrum_years(year: int) -> None:
    assert sample_calendar().holiday(D(year, 5, 5)) is None
    assert sample_calendar().day(D(year, 5, 5)).counts_as == D(year, 5, 5).weekday()


@pytest.mark.parametrize("year", sorted(GOOD_FRIDAYS))
def test_good_friday_is_a_workday_in_the_sample_because_it_is_excluded_by_name(year: int) -> None:
    day = sample_calendar().day(GOOD_FRIDAYS[year])
    assert day.holiday is None
    assert day.weekday_token == "fri"


@pytest.mark.parametrize("year", sorted(GOOD_FRIDAYS))
def test_good_friday_is_a_holiday_when_the_policy_does_not_exclude_it(year: int) -> None:
    cal = Calendar(HolidayPolicy())
    assert (cal.holiday(GOOD_FRIDAYS[year]) or "").casefold() == "goede vrijdag"


@pytest.mark.parametrize(
    ("date", "name"),
    [
        (D(2026, 4, 6), "tweede paasdag"),
        (D(2027, 3, 29), "tweede paasdag"),
        (D(2026, 5, 25), "tweede pinksterdag"),
        (D(2028, 6, 5), "tweede pinksterdag"),
        (D(2026, 5, 14), "hemelvaartsdag"),
        (D(2029, 5, 10), "hemelvaartsdag"),
        (D(2026, 12, 25), "eerste kerstdag"),
        (D(2026, 12, 26), "tweede kerstdag"),
        (D(2027, 12, 26), "tweede kerstdag"),
        (D(2027, 1, 1), "nieuwjaarsdag"),
    ],
)
def test_easter_whit_ascension_christmas_and_new_year_are_holidays(
    date: dt.date, name: str
) -> None:
    assert (sample_calendar().holiday(date) or "").casefold() == name


@pytest.mark.parametrize("date", [D(2026, 12, 24), D(2026, 12, 27), D(2026, 12, 31), D(2026, 4, 7)])
def test_days_around_holidays_are_ordinary_days(date: dt.date) -> None:
    assert sample_calendar().holiday(date) is None


# --------------------------------------------------------------------------- policy forms


def test_exclude_by_name_ignores_case_and_spacing() -> None:
    cal = Calendar(HolidayPolicy(exclude_names=frozenset({"GOEDE   vrijdag"})))
    assert cal.holiday(D(2026, 4, 3)) is None
    assert cal.holiday(D(2026, 4, 6)) is not None


def test_include_by_name_observes_liberation_day_every_year() -> None:
    cal = Calendar(HolidayPolicy(include_names=frozenset({"Bevrijdingsdag"})))
    for year in (2024, 2026, 2027, 2028, 2029):
        assert cal.holiday(D(year, 5, 5)) == "Bevrijdingsdag", year
    # Including one name does not pull in the rest of the other categories.
    assert set(cal.holidays_in(2026)) == set(Calendar(HolidayPolicy()).holidays_in(2026)) | {
        D(2026, 5, 5)
    }


def test_include_by_date_adds_that_date_only() -> None:
    cal = Calendar(HolidayPolicy(include_dates=((D(2027, 6, 4), "Regionale sluiting"),)))
    assert cal.holiday(D(2027, 6, 4)) == "Regionale sluiting"
    assert cal.holiday(D(2029, 6, 4)) is None  # same day, another year
    assert cal.holiday(D(2027, 6, 3)) is None


def test_include_every_adds_the_day_each_year() -> None:
    cal = Calendar(HolidayPolicy(include_every=((11, 11, "Sint-Maarten"),)))
    for year in (2024, 2026, 2031):
        assert cal.holiday(D(year, 11, 11)) == "Sint-Maarten"
    assert cal.holiday(D(2026, 11, 12)) is None


def test_include_every_29_february_applies_only_in_leap_years() -> None:
    # The loader accepts "02-29"; a non-leap year must not crash every lookup of that year.
    cal = Calendar(HolidayPolicy(include_every=((2, 29, "Schrikkeldag"),)))
    assert cal.holiday(D(2028, 2, 29)) == "Schrikkeldag"
    assert cal.holiday(D(2026, 3, 1)) is None
    assert cal.holiday(D(2026, 2, 28)) is None


def test_exclude_by_date_removes_only_that_year() -> None:
    cal = Calendar(HolidayPolicy(exclude_dates=frozenset({D(2026, 12, 26)})))
    assert cal.holiday(D(2026, 12, 26)) is None
    assert cal.holiday(D(2026, 12, 25)) is not None
    assert cal.holiday(D(2027, 12, 26)) is not None


# --------------------------------------------------------------------------- what a day counts as


def test_a_holiday_counts_as_sunday_in_the_sample() -> None:
    day = sample_calendar().day(D(2026, 4, 27))  # Koningsdag, a Monday
    assert day.holiday == "Koningsdag"
    assert day.counts_as == 6
    assert day.weekday_token == "sun"


def test_an_ordinary_day_counts_as_its_own_weekday() -> None:
    day = sample_calendar().day(D(2026, 4, 28))  # Tuesday
    assert day.holiday is None
    assert day.counts_as == 1
    assert day.weekday_token == "tue"


def test_a_policy_can_make_holidays_count_as_saturday() -> None:
    day = Calendar(HolidayPolicy(counts_as=5)).day(D(2026, 12, 25))
    assert day.weekday_token == "sat"


def test_special_days_lists_holidays_and_closures_in_date_order() -> None:
    closure = Closure("Kerstavond", 12, 24, None, 17 * 60, 24 * 60, "nacht", None)
    cal = Calendar(HolidayPolicy(), (closure,))
    assert cal.special_days(D(2026, 12, 23), 5) == [
        (D(2026, 12, 24), "Kerstavond"),
        (D(2026, 12, 25), "Eerste kerstdag"),
        (D(2026, 12, 26), "Tweede kerstdag"),
    ]
