"""The routing decision on the sample config: named scenarios, then properties
that must hold for every moment and every caller ("no dead ends")."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callrouter.routing.model import LegKind
from callrouter.routing.plan import CallerFacts, RoutePlan, route
from tests.helpers import AMS, ams, sample_config

# Fictional numbers from config/teams.yaml and config/routing.yaml.
ANNA = "+31610000001"
DAAN = "+31610000004"
EVA = "+31610000005"
HANNA = "+31610000012"
KIM = "+31610000023"
NOOR = "+31610000031"
GGZ_CENTRALE = "+31247000100"
FALLBACK = "+31880001199"


def plan_for(
    moment: dt.datetime,
    caller: str | None = "resident",
    age: str | None = "18+",
    region: str | None = None,
) -> RoutePlan:
    return route(moment, CallerFacts(caller, age, region), sample_config())


def legs(plan: RoutePlan) -> list[tuple[str, str | None, str | None]]:
    """(kind, team or line, role) per leg: the shape of the plan."""
    return [(leg.kind.value, leg.team or leg.line, leg.role) for leg in plan.legs]


def numbers(plan: RoutePlan) -> list[list[str]]:
    return [[t.number for t in leg.targets] for leg in plan.legs]


# --------------------------------------------------------------------------- scenarios


def test_workday_evening_resident_goes_to_iht_first_line_then_backup() -> None:
    plan = plan_for(ams(2026, 4, 28, 19, 0))  # Tuesday
    assert plan.window == "avond"
    assert plan.rule == "iht"
    assert legs(plan) == [("oncall", "iht", "eerste_lijn"), ("oncall", "iht", "achterwacht")]
    assert numbers(plan) == [[ANNA], [EVA]]
    assert [leg.timeout for leg in plan.legs] == [25, 20]
    assert plan.final.callback is True
    assert plan.final.number == FALLBACK


def test_sunday_1900_goes_to_the_ggz_night_service() -> None:
    plan = plan_for(ams(2026, 4, 26, 19, 0))
    assert plan.window == "nacht"
    assert plan.rule == "ggz_nacht"
    assert legs(plan) == [("oncall", "ggz", "dienst"), ("line", "ggz_centrale", None)]
    assert numbers(plan) == [[NOOR], [GGZ_CENTRALE]]


def test_sunday_1759_is_still_iht_weekend_hours() -> None:
    plan = plan_for(ams(2026, 4, 26, 17, 59))
    assert (plan.window, plan.rule) == ("weekend_dag", "iht")


def test_youth_at_0300_goes_to_the_crisis_intervention_team() -> None:
    plan = plan_for(ams(2026, 4, 29, 3, 0), age="<18")
    assert plan.window == "nacht"
    assert plan.rule == "jeugd"
    assert legs(plan) == [
        ("oncall", "cit", "eerste_lijn"),
        ("oncall", "cit", "achterwacht"),
        ("line", "ggz_centrale", None),
    ]
    # 03:00 on Wednesday is still Tuesday's CIT shift (daily handover 08:00): kim.
    assert numbers(plan)[0] == [KIM]


def test_youth_in_office_hours_also_goes_to_cit_even_from_a_referrer() -> None:
    plan = plan_for(ams(2026, 4, 28, 10, 0), caller="huisarts", age="<18")
    assert plan.rule == "jeugd"


def test_huisarts_in_iht_hours_gets_the_referrer_fast_lane() -> None:
    plan = plan_for(ams(2026, 4, 28, 10, 0), caller="huisarts")
    assert plan.rule == "verwijzer_iht"
    assert legs(plan) == [
        ("oncall", "iht", "eerste_lijn"),
        ("oncall", "iht", "achterwacht"),
        ("ring_all", "iht", "eerste_lijn"),
    ]
    assert [leg.timeout for leg in plan.legs] == [20, 20, 20]
    assert len(plan.legs[2].targets) == 4  # the whole eerste_lijn rota at once


def test_huisarts_at_night_goes_to_the_on_call_crisis_service_and_psychiatrist() -> None:
    plan = plan_for(ams(2026, 4, 28, 23, 0), caller="huisarts")
    assert plan.window == "nacht"
    assert plan.rule == "verwijzer_nacht"
    assert legs(plan) == [
        ("oncall", "ggz", "dienst"),
        ("oncall", "ggz", "psychiater"),
        ("line", "ggz_centrale", None),
    ]


def test_referrer_fast_lane_applies_on_weekend_days_too() -> None:
    assert plan_for(ams(2026, 4, 25, 12, 0), caller="politie").rule == "verwijzer_iht"


def test_resident_from_land_van_cuijk_in_office_hours_goes_to_the_cuijk_satellite() -> None:
    plan = plan_for(ams(2026, 4, 28, 10, 0), region="land_van_cuijk")
    assert plan.rule == "iht_land_van_cuijk"
    assert legs(plan) == [("oncall", "iht_cuijk", "eerste_lijn"), ("oncall", "iht", "eerste_lijn")]
    assert numbers(plan) == [[HANNA], [ANNA]]


def test_land_van_cuijk_in_the_evening_goes_to_the_main_iht() -> None:
    assert plan_for(ams(2026, 4, 28, 19, 0), region="land_van_cuijk").rule == "iht"


def test_other_region_in_office_hours_goes_to_the_main_iht() -> None:
    assert plan_for(ams(2026, 4, 28, 10, 0), region="nijmegen").rule == "iht"


def test_kings_day_2026_evening_follows_weekend_hours_and_goes_to_the_night_service() -> None:
    plan = plan_for(ams(2026, 4, 27, 19, 0))  # Monday, Koningsdag
    assert plan.holiday == "Koningsdag"
    assert plan.counts_as == "sun"
    assert plan.window == "nacht"
    assert plan.rule == "ggz_nacht"
    # The same Monday evening a week later is an ordinary IHT evening.
    assert plan_for(ams(2026, 5, 4, 19, 0)).rule == "iht"


def test_kings_day_2026_morning_is_iht_weekend_hours_not_office_hours() -> None:
    plan = plan_for(ams(2026, 4, 27, 8, 15))
    assert plan.window == "weekend_dag"
    assert plan.rule == "iht"


def test_christmas_day_follows_weekend_hours_and_the_christmas_swap() -> None:
    plan = plan_for(ams(2026, 12, 25, 10, 0))
    assert plan.holiday is not None and plan.holiday.casefold() == "eerste kerstdag"
    assert plan.window == "weekend_dag"
    assert plan.rule == "iht"
    assert numbers(plan)[0] == [DAAN]
    assert "ruil kerst" in plan.legs[0].note


def test_christmas_eve_after_1700_goes_to_the_night_service() -> None:
    plan = plan_for(ams(2026, 12, 24, 17, 30))  # Thursday
    assert plan.closure == "Kerstavond"
    assert plan.window == "nacht"
    assert plan.rule == "ggz_nacht"
    assert plan_for(ams(2026, 12, 24, 16, 59)).rule == "iht"


def test_unknown_caller_type_falls_back_to_the_default_caller() -> None:
    plan = plan_for(ams(2026, 4, 28, 10, 0), caller="bakker")
    assert plan.facts.caller_type == "resident"
    assert plan.rule == "iht"  # not a referrer's fast lane


def test_caller_who_did_not_answer_is_routed_as_an_adult_resident() -> None:
    plan = plan_for(ams(2026, 4, 28, 10, 0), caller=None, age=None)
    assert plan.facts == CallerFacts("resident", "18+", None)
    assert plan.rule == "iht"


def test_unknown_age_group_and_region_are_treated_as_unknown() -> None:
    plan = plan_for(ams(2026, 4, 28, 10, 0), age="twelve", region="atlantis")
    assert plan.facts.age_group == "18+"
    assert plan.facts.region is None


def test_no_matching_rule_dials_the_fallback_line_with_rule_none() -> None:
    config = sample_config()
    youth_only = replace(config, rules=tuple(r for r in config.rules if r.name == "jeugd"))
    plan = route(ams(2026, 4, 28, 10, 0), CallerFacts("resident", "18+"), youth_only)
    assert plan.rule is None
    assert plan.legs == ()
    assert plan.final.line == "fallback"
    assert plan.final.number == FALLBACK
    assert plan.reaches_someone
    assert any("no rule matches" in r for r in plan.reasons)


def test_reasons_name_the_rule_and_where_it_is_configured() -> None:
    plan = plan_for(ams(2026, 4, 28, 19, 0))
    assert any("rule 'iht'" in r and "routing.yaml:" in r for r in plan.reasons)


def test_plan_to_dict_has_window_holiday_rule_legs_and_final() -> None:
    data = plan_for(ams(2026, 4, 27, 19, 0)).to_dict()
    assert data["window"] == "nacht"
    assert data["holiday"] == "Koningsdag"
    assert data["rule"] == "ggz_nacht"
    assert data["at"] == "2026-04-27T19:00:00+02:00"
    assert [(leg["team"], leg["role"], leg["number"], leg["timeout"]) for leg in data["legs"]] == [
        ("ggz", "dienst", "+31610000032", 25),  # 27 April is otto's day
        (None, None, GGZ_CENTRALE, 30),
    ]
    assert data["legs"][1]["line"] == "ggz_centrale"
    assert data["final"] == {"callback": True, "line": "fallback", "number": FALLBACK}


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        route(dt.datetime(2026, 4, 28, 10, 0), CallerFacts(), sample_config())


def test_moment_is_reported_in_amsterdam_time() -> None:
    plan = route(dt.datetime(2026, 4, 28, 8, 0, tzinfo=dt.UTC), CallerFacts(), sample_config())
    assert plan.local.tzinfo == AMS
    assert (plan.local.hour, plan.local.minute) == (10, 0)


# --------------------------------------------------------------------------- properties

CONFIG = sample_config()
CALLER_TYPES = [c.id for c in CONFIG.caller_types] + ["onbekend", None]
AGE_GROUPS = [a.id for a in CONFIG.age_groups] + ["99", None]
REGIONS = [r.id for r in CONFIG.regions] + ["elders", None]
ZONES = [
    dt.UTC,
    AMS,
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("Pacific/Chatham"),
]

moments = st.datetimes(
    min_value=dt.datetime(2024, 1, 1),
    max_value=dt.datetime(2031, 12, 31, 23, 59),
    timezones=st.sampled_from(ZONES),
)
facts = st.builds(
    CallerFacts,
    st.sampled_from(CALLER_TYPES),
    st.sampled_from(AGE_GROUPS),
    st.sampled_from(REGIONS),
)


@settings(max_examples=200, deadline=None)
@given(moment=moments, caller=facts)
def test_every_moment_and_caller_reaches_someone(moment: dt.datetime, caller: CallerFacts) -> None:
    plan = route(moment, caller, CONFIG)
    assert plan.reaches_someone
    assert plan.window is not None
    assert plan.rule is not None
    assert plan.final.number == FALLBACK


@settings(max_examples=200, deadline=None)
@given(moment=moments, caller=facts)
def test_every_leg_of_every_plan_rings_someone(moment: dt.datetime, caller: CallerFacts) -> None:
    plan = route(moment, caller, CONFIG)
    assert plan.legs
    for leg in plan.legs:
        assert leg.targets, leg.note
        assert all(t.number.startswith("+31") for t in leg.targets)
        assert leg.timeout > 0


@settings(max_examples=200, deadline=None)
@given(moment=moments, caller=facts)
def test_plan_is_for_the_same_instant_in_amsterdam_time(
    moment: dt.datetime, caller: CallerFacts
) -> None:
    plan = route(moment, caller, CONFIG)
    # Compared in UTC: a wall time in another zone's DST gap never compares
    # equal across zones (PEP 495), though it denotes one instant.
    assert plan.local.astimezone(dt.UTC) == moment.astimezone(dt.UTC)
    assert plan.local.tzinfo == AMS
    assert plan.local.utcoffset() in (dt.timedelta(hours=1), dt.timedelta(hours=2))


@settings(max_examples=200, deadline=None)
@given(moment=moments)
def test_youth_always_reach_the_crisis_intervention_team_first(moment: dt.datetime) -> None:
    plan = route(moment, CallerFacts("resident", "<18", None), CONFIG)
    assert plan.rule == "jeugd"
    assert plan.legs[0].team == "cit"
    assert plan.legs[0].kind is LegKind.ONCALL


def test_a_caller_is_found_in_the_directory_by_number_the_first_entry_winning() -> None:
    config = sample_config()
    first, second = config.directory[:2]
    twice = replace(config, directory=(first, replace(second, number=first.number)))

    assert config.directory_entry(second.number) == second
    assert twice.directory_entry(first.number) == first
    assert config.directory_entry("+31612345678") is None
