"""What the Now page and the iCal feed show, decided purely from the config and a moment."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from callrouter.config.files import load
from callrouter.console import board
from tests.helpers import ams, copy_config, sample_config

SICK_CUIJK = (
    '        rota: {start: 2026-01-05, handover: "08:30", period_days: 1, order: [gijs, hanna]}\n',
    '        rota: {start: 2026-01-05, handover: "08:30", period_days: 1, order: [gijs, hanna]}\n'
    "    overrides:\n"
    "      - {absent: gijs, from: 2026-12-08T00:00, to: 2026-12-09T00:00, reason: ziek}\n"
    "      - {absent: hanna, from: 2026-12-08T12:00, to: 2026-12-10T00:00, reason: ziek}\n",
)


def by_role(duties: list[board.Duty]) -> dict[tuple[str, str], board.Duty]:
    return {(d.team.id, d.role.name): d for d in duties}


def test_duties_name_who_is_on_call_the_backup_and_until_when() -> None:
    duties = by_role(board.duties(sample_config(), ams(2026, 4, 28, 10, 0)))
    cuijk = duties[("iht_cuijk", "eerste_lijn")]
    assert cuijk.member is not None and cuijk.backup is not None
    assert {cuijk.member.id, cuijk.backup.id} == {"gijs", "hanna"}
    assert cuijk.until == ams(2026, 4, 29, 8, 30)  # daily handover
    iht = duties[("iht", "eerste_lijn")]
    assert iht.until == ams(2026, 5, 4, 8, 30)  # weekly, Monday 08:30


def test_a_swap_shows_with_its_reason_and_ends_at_the_override() -> None:
    duties = by_role(board.duties(sample_config(), ams(2026, 12, 25, 10, 0)))
    iht = duties[("iht", "eerste_lijn")]
    assert iht.member is not None and iht.member.id == "daan" and "ruil kerst" in iht.why
    assert iht.until == ams(2026, 12, 27, 8, 30)


def test_next_handover_is_the_earliest() -> None:
    duties = board.duties(sample_config(), ams(2026, 4, 28, 7, 0))
    first = board.next_handover(duties)
    assert first is not None and first.until == ams(2026, 4, 28, 8, 0)  # cit and ggz at 08:00


def test_week_table_has_seven_days_per_role_at_noon() -> None:
    rows = board.week(sample_config(), dt.date(2026, 4, 27))
    cuijk = next(r for r in rows if r.team.id == "iht_cuijk")
    assert len(cuijk.days) == 7 and cuijk.days[0] == dt.date(2026, 4, 27)
    ids = [m.id if m else None for m in cuijk.members]
    assert ids[0] != ids[1] and ids[0] == ids[2]  # daily rota alternates


def test_no_gaps_in_the_sample_config() -> None:
    assert board.upcoming_gaps(sample_config(), dt.date(2026, 12, 1), 14) == []


def test_sick_leave_of_the_whole_rota_is_the_nearest_gap(tmp_path: Path) -> None:
    config = load(copy_config(tmp_path, {"teams.yaml": [SICK_CUIJK]}))
    gaps = board.upcoming_gaps(config, dt.date(2026, 12, 1), 14)
    assert len(gaps) == 1
    assert gaps[0].starts == ams(2026, 12, 8, 12, 0)
    assert "team iht_cuijk role eerste_lijn" in str(gaps[0].gap)
    assert "nobody on call" in str(gaps[0].gap)
    assert board.upcoming_gaps(config, dt.date(2026, 11, 1), 7) == []  # outside the horizon
    again = board.upcoming_gaps(config, dt.date(2026, 12, 1), 14)
    assert again[0].key == gaps[0].key  # stable identity: told once


def test_shifts_follow_rota_swaps_and_absences() -> None:
    config = sample_config()
    start, stop = ams(2026, 12, 20, 0, 0), ams(2026, 12, 31, 0, 0)
    daan = board.shifts(config, "daan", start, stop)
    christmas = [s for s in daan if s.start == ams(2026, 12, 24, 8, 30)]
    assert christmas and christmas[0].end == ams(2026, 12, 27, 8, 30)
    assert all(s.team.id == "iht" for s in daan)
    # nobody else is on call for iht eerste_lijn while daan is
    for other in ("anna", "bram", "carla"):
        for s in board.shifts(config, other, start, stop):
            if s.role.name == "eerste_lijn" and s.team.id == "iht":
                assert s.end <= ams(2026, 12, 24, 8, 30) or s.start >= ams(2026, 12, 27, 8, 30)


def test_a_weekly_shift_keeps_its_wall_clock_handover_across_dst() -> None:
    shifts = board.shifts(sample_config(), "eva", ams(2026, 3, 23, 0, 0), ams(2026, 4, 13, 0, 0))
    starts = {s.start.astimezone(ams(2026, 1, 1).tzinfo).strftime("%H:%M") for s in shifts}
    ends = {s.end.astimezone(ams(2026, 1, 1).tzinfo).strftime("%H:%M") for s in shifts}
    assert starts <= {"08:30", "00:00"} and ends <= {"08:30", "00:00"}
