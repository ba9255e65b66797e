"""Which time window a local moment falls in: boundaries, midnight, order,
holidays, closures, and daylight-saving changes."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from callrouter.routing.calendar import Calendar
from callrouter.routing.model import Closure, Config, HolidayPolicy, Segment, Window
from callrouter.routing.plan import CallerFacts, route
from callrouter.routing.windows import WindowMatch, resolve_window
from tests.helpers import AMS, ams, minute_of, sample_config, utc


def hm(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def seg(days: str, start: str, end: str) -> Segment:
    return Segment(frozenset(days.split()), hm(start), hm(end))


def match(
    moment: dt.datetime,
    config: Config | None = None,
    windows: tuple[Window, ...] | None = None,
    calendar: Calendar | None = None,
) -> WindowMatch:
    """Resolve the window at an Amsterdam moment (sample config unless told)."""
    config = config or sample_config()
    local = moment.astimezone(AMS)
    return resolve_window(
        calendar or config.calendar,
        config.windows if windows is None else windows,
        local.date(),
        minute_of(local),
    )


def window_at(
    moment: dt.datetime, windows: tuple[Window, ...] | None = None, calendar: Calendar | None = None
) -> str | None:
    return match(moment, windows=windows, calendar=calendar).window


def routed_window(moment: dt.datetime, config: Config | None = None) -> str | None:
    """The window `route()` itself reports, so the timezone conversion is covered."""
    return route(moment, CallerFacts(), config or sample_config()).window


# --------------------------------------------------------------------------- half-open boundaries


@pytest.mark.parametrize(
    ("moment", "window"),
    [
        (ams(2026, 4, 20, 8, 29), "nacht"),  # Monday
        (ams(2026, 4, 20, 8, 30), "kantoortijd"),
        (ams(2026, 4, 20, 16, 59), "kantoortijd"),
        (ams(2026, 4, 20, 17, 0), "avond"),
        (ams(2026, 4, 20, 20, 59), "avond"),
        (ams(2026, 4, 20, 21, 0), "nacht"),
        (ams(2026, 4, 25, 7, 59), "nacht"),  # Saturday
        (ams(2026, 4, 25, 8, 0), "weekend_dag"),
        (ams(2026, 4, 25, 17, 59), "weekend_dag"),
        (ams(2026, 4, 25, 18, 0), "nacht"),
        (ams(2026, 4, 26, 0, 0), "nacht"),  # Sunday midnight
    ],
)
def test_window_ranges_include_their_start_and_exclude_their_end(
    moment: dt.datetime, window: str
) -> None:
    assert window_at(moment) == window


# --------------------------------------------------------------------------- midnight


FRIDAY_NIGHT = (Window("vrijdagnacht", (seg("fri", "21:00", "08:30"),)),)
WORKDAY_NIGHT = (Window("werknacht", (seg("workday", "21:00", "08:30"),)),)


def test_friday_night_segment_covers_saturday_0300() -> None:
    assert window_at(ams(2026, 4, 25, 3, 0), windows=FRIDAY_NIGHT) == "vrijdagnacht"


def test_friday_night_segment_starts_on_friday_and_ends_saturday_0830() -> None:
    assert window_at(ams(2026, 4, 24, 20, 59), windows=FRIDAY_NIGHT) is None
    assert window_at(ams(2026, 4, 24, 21, 0), windows=FRIDAY_NIGHT) == "vrijdagnacht"
    assert window_at(ams(2026, 4, 25, 8, 29), windows=FRIDAY_NIGHT) == "vrijdagnacht"
    assert window_at(ams(2026, 4, 25, 8, 30), windows=FRIDAY_NIGHT) is None


def test_midnight_segment_belongs_to_its_start_day_not_the_day_it_ends_on() -> None:
    # Friday 03:00 is the tail of Thursday's night, which is not a Friday segment.
    assert window_at(ams(2026, 4, 24, 3, 0), windows=FRIDAY_NIGHT) is None
    # Saturday 21:00 would start a Saturday night, not a Friday one.
    assert window_at(ams(2026, 4, 25, 21, 0), windows=FRIDAY_NIGHT) is None


def test_workday_night_does_not_cover_monday_0300_after_a_sunday() -> None:
    assert window_at(ams(2026, 4, 20, 3, 0), windows=WORKDAY_NIGHT) is None


def test_workday_night_covers_tuesday_0300_after_a_monday() -> None:
    assert window_at(ams(2026, 4, 21, 3, 0), windows=WORKDAY_NIGHT) == "werknacht"


def test_workday_night_does_not_continue_after_a_holiday() -> None:
    # Tuesday 7 April 2026 03:00 follows Tweede paasdag, which counts as Sunday.
    assert window_at(ams(2026, 4, 7, 3, 0), windows=WORKDAY_NIGHT) is None


# --------------------------------------------------------------------------- order and holidays


def test_first_window_in_configured_order_wins() -> None:
    day = Window("dag", (seg("workday", "08:00", "18:00"),))
    always = Window("altijd", (seg("any", "00:00", "24:00"),))
    monday_10 = ams(2026, 4, 20, 10, 0)
    assert window_at(monday_10, windows=(day, always)) == "dag"
    assert window_at(monday_10, windows=(always, day)) == "altijd"


def test_no_window_covering_a_moment_gives_none() -> None:
    day = Window("dag", (seg("workday", "08:00", "18:00"),))
    assert window_at(ams(2026, 4, 20, 19, 0), windows=(day,)) is None


def test_a_holiday_on_a_monday_follows_sunday_hours() -> None:
    kings_day = match(ams(2026, 4, 27, 10, 0))
    assert kings_day.window == "weekend_dag"
    assert kings_day.day.holiday == "Koningsdag"
    assert kings_day.day.weekday_token == "sun"
    assert window_at(ams(2026, 4, 27, 19, 0)) == "nacht"
    # The same clock times on the Monday after are ordinary office hours and evening.
    assert window_at(ams(2026, 5, 4, 10, 0)) == "kantoortijd"
    assert window_at(ams(2026, 5, 4, 19, 0)) == "avond"


def test_holiday_selector_matches_holidays_but_not_ordinary_sundays() -> None:
    feest = (Window("feest", (seg("holiday", "00:00", "24:00"),)),)
    assert window_at(ams(2026, 4, 27, 12, 0), windows=feest) == "feest"  # Koningsdag
    assert window_at(ams(2026, 4, 26, 12, 0), windows=feest) is None  # plain Sunday


def test_holiday_counts_as_sunday_so_a_monday_segment_does_not_apply() -> None:
    maandag = (Window("maandag", (seg("mon", "00:00", "24:00"),)),)
    assert window_at(ams(2026, 4, 27, 12, 0), windows=maandag) is None
    assert window_at(ams(2026, 5, 4, 12, 0), windows=maandag) == "maandag"


# --------------------------------------------------------------------------- closures


def calendar_with(*closures: Closure) -> Calendar:
    return Calendar(sample_config().holidays, closures)


def test_closure_with_a_window_forces_that_window_for_its_hours() -> None:
    # Thursday 4 June 2026, closed from 12:00 to 14:00: the night service answers.
    cal = calendar_with(
        Closure("Teamdag", None, None, dt.date(2026, 6, 4), hm("12:00"), hm("14:00"), "nacht", None)
    )
    assert window_at(ams(2026, 6, 4, 11, 59), calendar=cal) == "kantoortijd"
    noon = match(ams(2026, 6, 4, 12, 0), calendar=cal)
    assert noon.window == "nacht"
    assert noon.closure is not None and noon.closure.name == "Teamdag"
    assert window_at(ams(2026, 6, 4, 13, 59), calendar=cal) == "nacht"
    assert window_at(ams(2026, 6, 4, 14, 0), calendar=cal) == "kantoortijd"
    assert window_at(ams(2026, 6, 11, 12, 0), calendar=cal) == "kantoortijd"  # a week later


def test_closure_with_counts_as_makes_the_day_follow_other_hours() -> None:
    # From 12:00 the Thursday counts as a Sunday: weekend hours until 18:00.
    cal = calendar_with(
        Closure(
            "Regionale sluiting", None, None, dt.date(2026, 6, 4), hm("12:00"), hm("24:00"), None, 6
        )
    )
    assert window_at(ams(2026, 6, 4, 11, 59), calendar=cal) == "kantoortijd"
    noon = match(ams(2026, 6, 4, 12, 0), calendar=cal)
    assert noon.window == "weekend_dag"
    assert noon.day.weekday_token == "sun"
    assert noon.day.holiday is None
    assert window_at(ams(2026, 6, 4, 18, 0), calendar=cal) == "nacht"  # not avond


def test_closure_every_year_applies_on_that_month_and_day() -> None:
    cal = calendar_with(Closure("Dies", 6, 4, None, hm("00:00"), hm("24:00"), "nacht", None))
    assert window_at(ams(2026, 6, 4, 10, 0), calendar=cal) == "nacht"
    assert window_at(ams(2027, 6, 4, 10, 0), calendar=cal) == "nacht"
    assert window_at(ams(2027, 6, 3, 10, 0), calendar=cal) == "kantoortijd"


@pytest.mark.parametrize(
    ("day", "before"),
    [
        (dt.date(2026, 12, 24), "kantoortijd"),  # Kerstavond on a Thursday
        (dt.date(2026, 12, 31), "kantoortijd"),  # Oudejaarsavond on a Thursday
        (dt.date(2027, 12, 24), "kantoortijd"),  # Friday
        (dt.date(2027, 12, 31), "kantoortijd"),  # Friday
        (dt.date(2028, 12, 24), "weekend_dag"),  # Sunday
        (dt.date(2028, 12, 31), "weekend_dag"),  # Sunday
        (dt.date(2033, 12, 24), "weekend_dag"),  # Saturday
    ],
)
def test_kerstavond_and_oudejaarsavond_hand_over_to_the_night_at_1700(
    day: dt.date, before: str
) -> None:
    assert window_at(ams(day.year, day.month, day.day, 16, 59)) == before
    at_five = match(ams(day.year, day.month, day.day, 17, 0))
    assert at_five.window == "nacht"
    assert at_five.closure is not None
    assert at_five.closure.name in ("Kerstavond", "Oudejaarsavond")
    assert window_at(ams(day.year, day.month, day.day, 20, 0)) == "nacht"


def test_without_the_closure_sunday_24_december_2028_1700_would_be_weekend_hours() -> None:
    # The control for the test above: a plain Sunday at 17:00 is still IHT time.
    assert window_at(ams(2028, 12, 17, 17, 0)) == "weekend_dag"
    bare = Calendar(sample_config().holidays, ())
    assert window_at(ams(2028, 12, 24, 17, 0), calendar=bare) == "weekend_dag"


# --------------------------------------------------------------------------- DST and UTC input

DEEP_NIGHT = Window("diep", (seg("any", "02:00", "03:00"),))


def with_deep_night() -> Config:
    config = sample_config()
    return replace(config, windows=(DEEP_NIGHT, *config.windows))


def test_spring_forward_jumps_from_0159_cet_to_0300_cest() -> None:
    before = route(utc(2026, 3, 29, 0, 59), CallerFacts(), sample_config())
    after = route(utc(2026, 3, 29, 1, 0), CallerFacts(), sample_config())
    assert (before.local.hour, before.local.minute) == (1, 59)
    assert before.local.utcoffset() == dt.timedelta(hours=1)
    assert (after.local.hour, after.local.minute) == (3, 0)
    assert after.local.utcoffset() == dt.timedelta(hours=2)
    assert before.window == after.window == "nacht"


def test_spring_gap_hour_never_matches_a_0200_0300_window() -> None:
    config = with_deep_night()
    start = utc(2026, 3, 28, 23, 0)  # local midnight, 29 March
    windows = [routed_window(start + dt.timedelta(minutes=m), config) for m in range(23 * 60)]
    assert "diep" not in windows
    assert len(windows) == 23 * 60  # the local day is 23 hours long


def test_fall_back_0230_happens_twice_and_both_folds_resolve_to_the_same_window() -> None:
    first, second = ams(2026, 10, 25, 2, 30, fold=0), ams(2026, 10, 25, 2, 30, fold=1)
    assert second - first == dt.timedelta(0)  # same wall time ...
    assert second.astimezone(dt.UTC) - first.astimezone(dt.UTC) == dt.timedelta(
        hours=1
    )  # ... 1h apart
    assert routed_window(first) == routed_window(second) == "nacht"
    config = with_deep_night()
    assert routed_window(first, config) == routed_window(second, config) == "diep"


def test_fall_back_0200_0300_window_lasts_two_real_hours() -> None:
    config = with_deep_night()
    start = utc(2026, 10, 24, 22, 0)  # local midnight, 25 October
    windows = [routed_window(start + dt.timedelta(minutes=m), config) for m in range(25 * 60)]
    assert windows.count("diep") == 120


def test_utc_moment_is_converted_to_amsterdam_wall_time() -> None:
    plan = route(utc(2026, 6, 1, 6, 30), CallerFacts(), sample_config())  # Monday, CEST
    assert (plan.local.hour, plan.local.minute) == (8, 30)
    assert plan.window == "kantoortijd"
    assert routed_window(utc(2026, 6, 1, 6, 29)) == "nacht"


def test_utc_moment_in_winter_is_one_hour_behind_amsterdam() -> None:
    assert routed_window(utc(2026, 1, 12, 7, 30)) == "kantoortijd"  # 08:30 CET, Monday
    assert routed_window(utc(2026, 1, 12, 7, 29)) == "nacht"


def test_moment_in_another_timezone_routes_on_amsterdam_time() -> None:
    new_york = dt.timezone(dt.timedelta(hours=-4))
    # 20:30 on Sunday in New York is Monday 02:30 in Amsterdam.
    plan = route(dt.datetime(2026, 6, 7, 20, 30, tzinfo=new_york), CallerFacts(), sample_config())
    assert plan.local.date() == dt.date(2026, 6, 8)
    assert plan.window == "nacht"


def test_ams_helper_refuses_wall_times_in_the_spring_gap() -> None:
    with pytest.raises(ValueError):
        ams(2026, 3, 29, 2, 30)


def test_range_ending_2400_covers_the_last_minute_of_the_day() -> None:
    late = (Window("laat", (seg("mon", "22:00", "24:00"),)),)
    cal = Calendar(HolidayPolicy(), ())
    assert resolve_window(cal, late, dt.date(2026, 4, 20), hm("23:59")).window == "laat"
    assert resolve_window(cal, late, dt.date(2026, 4, 21), hm("00:00")).window is None
