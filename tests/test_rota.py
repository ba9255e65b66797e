"""Who is on call: handovers, daily and weekly rotas, DST, swaps and absences."""

from __future__ import annotations

import datetime as dt

import pytest

from callrouter.routing.model import Member, Override, Role, Rota, Team
from callrouter.routing.rota import on_call, ring_group, scheduled, shift_index
from tests.helpers import ams

# Monday 5 January 2026: the first week starts with anna at 08:30.
START = dt.date(2026, 1, 5)
WEEKLY = Rota(
    start=START, handover=8 * 60 + 30, period_days=7, order=("anna", "bram", "carla", "daan")
)
DAILY = Rota(start=START, handover=8 * 60, period_days=1, order=("noor", "otto", "pien"))


def team(*overrides: Override) -> Team:
    ids = ("anna", "bram", "carla", "daan", "noor", "otto", "pien", "eva")
    members = tuple(Member(i, i.title(), f"+3161000{n:04d}") for n, i in enumerate(ids, 1))
    return Team(
        "iht", "IHT", members, (Role("eerste_lijn", WEEKLY), Role("dienst", DAILY)), overrides
    )


def who(t: Team, role: str, moment: dt.datetime) -> str | None:
    r = t.role(role)
    assert r is not None
    member, _ = on_call(t, r, moment)
    return member.id if member else None


def absence(member: str, start: dt.datetime, end: dt.datetime, role: str | None = None) -> Override:
    return Override(role, start, end, None, member, "ziek")


def swap(member: str, start: dt.datetime, end: dt.datetime, role: str | None = None) -> Override:
    return Override(role, start, end, member, None, "ruil")


# --------------------------------------------------------------------------- handovers


def test_weekly_rota_starts_with_the_first_member_at_the_start_handover() -> None:
    assert who(team(), "eerste_lijn", ams(2026, 1, 5, 8, 30)) == "anna"
    assert who(team(), "eerste_lijn", ams(2026, 1, 11, 23, 0)) == "anna"


def test_weekly_handover_monday_0829_is_still_last_weeks_person() -> None:
    assert who(team(), "eerste_lijn", ams(2026, 1, 12, 8, 29)) == "anna"


def test_weekly_handover_monday_0830_is_the_next_person() -> None:
    assert who(team(), "eerste_lijn", ams(2026, 1, 12, 8, 30)) == "bram"


def test_weekly_rota_wraps_around_after_the_last_member() -> None:
    assert who(team(), "eerste_lijn", ams(2026, 1, 26, 8, 30)) == "daan"
    assert who(team(), "eerste_lijn", ams(2026, 2, 2, 8, 30)) == "anna"


@pytest.mark.parametrize(
    ("moment", "member"),
    [
        (ams(2026, 1, 5, 7, 59), "pien"),  # the shift before the first: the rota runs backwards too
        (ams(2026, 1, 5, 8, 0), "noor"),
        (ams(2026, 1, 6, 7, 59), "noor"),
        (ams(2026, 1, 6, 8, 0), "otto"),
        (ams(2026, 1, 7, 8, 0), "pien"),
        (ams(2026, 1, 8, 8, 0), "noor"),
    ],
)
def test_daily_rota_hands_over_every_morning(moment: dt.datetime, member: str) -> None:
    assert who(team(), "dienst", moment) == member


def test_rota_before_its_start_date_still_rotates() -> None:
    # The week before 5 January 2026 is week -1: the last member of the order.
    assert who(team(), "eerste_lijn", ams(2026, 1, 4, 12, 0)) == "daan"
    assert who(team(), "eerste_lijn", ams(2025, 12, 29, 8, 29)) == "carla"
    assert who(team(), "eerste_lijn", ams(2025, 12, 29, 8, 30)) == "daan"
    assert shift_index(WEEKLY, ams(2025, 12, 29, 8, 29)) == -2


# --------------------------------------------------------------------------- DST


def test_weekly_handover_stays_at_0830_local_after_spring_forward() -> None:
    # DST starts Sunday 29 March 2026; the Monday after, the handover is 08:30 CEST (06:30 UTC).
    # Week 11 since the start is daan's, week 12 anna's.
    assert who(team(), "eerste_lijn", ams(2026, 3, 30, 8, 29)) == "daan"
    assert who(team(), "eerste_lijn", ams(2026, 3, 30, 8, 30)) == "anna"
    assert ams(2026, 3, 30, 8, 30).astimezone(dt.UTC).hour == 6


def test_weekly_handover_stays_at_0830_local_after_fall_back() -> None:
    # DST ends Sunday 25 October 2026; Monday 26 October 08:30 CET starts week 42 (carla).
    assert who(team(), "eerste_lijn", ams(2026, 10, 26, 8, 29)) == "bram"
    assert who(team(), "eerste_lijn", ams(2026, 10, 26, 8, 30)) == "carla"
    assert ams(2026, 10, 26, 8, 30).astimezone(dt.UTC).hour == 7


def test_daily_handover_on_the_23_hour_day_is_still_at_0800() -> None:
    assert who(team(), "dienst", ams(2026, 3, 29, 7, 59)) == who(
        team(), "dienst", ams(2026, 3, 28, 8, 0)
    )
    assert who(team(), "dienst", ams(2026, 3, 29, 8, 0)) != who(
        team(), "dienst", ams(2026, 3, 29, 7, 59)
    )


# --------------------------------------------------------------------------- overrides


def test_swap_puts_the_named_member_on_call_for_its_period() -> None:
    t = team(swap("daan", ams(2026, 1, 7, 8, 30), ams(2026, 1, 9, 8, 30), role="eerste_lijn"))
    role = t.role("eerste_lijn")
    assert role is not None
    assert who(t, "eerste_lijn", ams(2026, 1, 7, 8, 29)) == "anna"
    member, why = on_call(t, role, ams(2026, 1, 7, 8, 30))
    assert member is not None and member.id == "daan"
    assert "override" in why and "ruil" in why
    assert who(t, "eerste_lijn", ams(2026, 1, 9, 8, 29)) == "daan"
    assert who(t, "eerste_lijn", ams(2026, 1, 9, 8, 30)) == "anna"


def test_swap_for_one_role_does_not_touch_another_role() -> None:
    t = team(swap("eva", ams(2026, 1, 7, 0, 0), ams(2026, 1, 8, 0, 0), role="eerste_lijn"))
    assert who(t, "eerste_lijn", ams(2026, 1, 7, 12, 0)) == "eva"
    assert who(t, "dienst", ams(2026, 1, 7, 12, 0)) == "pien"


def test_absence_hands_over_to_the_next_member_in_order() -> None:
    t = team(absence("anna", ams(2026, 1, 6, 0, 0), ams(2026, 1, 8, 0, 0)))
    role = t.role("eerste_lijn")
    assert role is not None
    member, why = on_call(t, role, ams(2026, 1, 6, 10, 0))
    assert member is not None and member.id == "bram"
    assert "anna absent" in why
    assert who(t, "eerste_lijn", ams(2026, 1, 8, 0, 0)) == "anna"  # back at the end (half-open)


def test_absence_of_two_members_skips_both() -> None:
    t = team(
        absence("anna", ams(2026, 1, 6, 0, 0), ams(2026, 1, 8, 0, 0)),
        absence("bram", ams(2026, 1, 6, 0, 0), ams(2026, 1, 8, 0, 0)),
    )
    assert who(t, "eerste_lijn", ams(2026, 1, 6, 10, 0)) == "carla"


def test_absence_wraps_to_the_start_of_the_order() -> None:
    # daan's week (from 26 January); daan is ill, so anna (first in order) takes over.
    t = team(absence("daan", ams(2026, 1, 27, 0, 0), ams(2026, 1, 28, 0, 0)))
    assert who(t, "eerste_lijn", ams(2026, 1, 27, 10, 0)) == "anna"


def test_swap_to_an_absent_member_falls_back_to_the_rota() -> None:
    t = team(
        swap("daan", ams(2026, 1, 6, 0, 0), ams(2026, 1, 7, 0, 0)),
        absence("daan", ams(2026, 1, 6, 0, 0), ams(2026, 1, 7, 0, 0)),
    )
    assert who(t, "eerste_lijn", ams(2026, 1, 6, 10, 0)) == "anna"


def test_everyone_absent_means_nobody_on_call() -> None:
    t = team(
        *(
            absence(m, ams(2026, 1, 6, 0, 0), ams(2026, 1, 7, 0, 0))
            for m in ("anna", "bram", "carla", "daan")
        )
    )
    role = t.role("eerste_lijn")
    assert role is not None
    member, why = on_call(t, role, ams(2026, 1, 6, 10, 0))
    assert member is None
    assert "absent" in why
    assert who(t, "eerste_lijn", ams(2026, 1, 7, 0, 0)) == "anna"


def test_override_given_in_utc_applies_at_the_same_instant() -> None:
    # 23:00 UTC on 5 January is midnight in Amsterdam.
    t = team(
        absence(
            "anna",
            dt.datetime(2026, 1, 5, 23, 0, tzinfo=dt.UTC),
            dt.datetime(2026, 1, 6, 23, 0, tzinfo=dt.UTC),
        )
    )
    assert who(t, "eerste_lijn", ams(2026, 1, 5, 23, 59)) == "anna"
    assert who(t, "eerste_lijn", ams(2026, 1, 6, 0, 0)) == "bram"


def test_empty_rota_has_nobody_on_call() -> None:
    empty = Team("x", "X", (), (Role("r", Rota(START, 0, 1, ())),))
    assert on_call(empty, empty.roles[0], ams(2026, 1, 6, 10, 0))[0] is None
    assert scheduled(empty.roles[0].rota, ams(2026, 1, 6, 10, 0)) is None


# --------------------------------------------------------------------------- ring groups


def test_ring_group_is_the_role_rota_without_absent_members() -> None:
    t = team(absence("bram", ams(2026, 1, 6, 0, 0), ams(2026, 1, 7, 0, 0)))
    assert [m.id for m in ring_group(t, t.role("eerste_lijn"), ams(2026, 1, 6, 10, 0))] == [
        "anna",
        "carla",
        "daan",
    ]
    assert [m.id for m in ring_group(t, t.role("eerste_lijn"), ams(2026, 1, 7, 10, 0))] == [
        "anna",
        "bram",
        "carla",
        "daan",
    ]


def test_ring_group_without_a_role_is_the_whole_team() -> None:
    t = team()
    assert len(ring_group(t, None, ams(2026, 1, 6, 10, 0))) == len(t.members)


def test_a_utc_moment_picks_the_shift_of_its_amsterdam_wall_time() -> None:
    # 07:45 UTC on Monday 12 January is 08:45 in Amsterdam: after the 08:30 handover.
    utc_moment = dt.datetime(2026, 1, 12, 7, 45, tzinfo=dt.UTC)
    assert scheduled(WEEKLY, utc_moment) == "bram"
    assert scheduled(WEEKLY, ams(2026, 1, 12, 8, 29)) == "anna"
