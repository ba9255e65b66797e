"""The coverage proof: the sample has no dead ends; each kind of hole in a
config is found and described so an admin can find it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from callrouter.config.files import load
from callrouter.routing.coverage import CoverageReport, prove
from callrouter.routing.model import Config
from tests.helpers import copy_config, sample_config

HORIZON_START = dt.date(2026, 11, 23)
A_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def config_with(tmp_path: Path, edits: dict[str, list[tuple[str, str]]]) -> Config:
    """A valid (loadable) variant of the sample config."""
    return load(copy_config(tmp_path / "config", edits))


def gap_lines(report: CoverageReport) -> list[str]:
    return [str(g) for g in report.gaps]


def test_sample_config_proves_clean_for_a_year_from_2026_11_23() -> None:
    report = prove(sample_config(), HORIZON_START)
    assert report.gaps == ()
    assert report.rota_gaps == ()
    assert report.unused_rules == ()
    assert report.ok
    # A normal week plus the holiday and closure days of the year were checked.
    assert report.day_groups > 7
    assert report.evaluations > 0


NIGHT_ALWAYS = '      - {days: [any], from: "00:00", to: "24:00"}'
NIGHT_FROM_0800_AT_WEEKENDS = (
    '      - {days: [workday], from: "21:00", to: "08:30"}\n'
    '      - {days: [weekend], from: "18:00", to: "08:00"}'
)


def test_night_window_ending_0800_after_a_sunday_leaves_monday_0800_0830_uncovered(
    tmp_path: Path,
) -> None:
    config = config_with(tmp_path, {"routing.yaml": [(NIGHT_ALWAYS, NIGHT_FROM_0800_AT_WEEKENDS)]})
    report = prove(config, HORIZON_START)
    assert not report.ok
    # Youth are still covered (their rule has no window), adults are not.
    assert "every caller aged 18+, Monday 08:00-08:30: no rule matches" in gap_lines(report)
    # The same hole after a Monday holiday is on a Tuesday, named with its date.
    assert any(
        "Tuesday 2027-03-30 (day after Tweede paasdag)" in g and "08:00-08:30" in g
        for g in gap_lines(report)
    )
    # Nothing else in an ordinary week is uncovered.
    weekly = [g for g in report.gaps if not A_DATE.search(g.when)]
    assert [g.when for g in weekly] == ["Monday 08:00-08:30"]


def test_gap_for_callers_of_every_type_and_age_reads_every_caller(tmp_path: Path) -> None:
    # The youth rule now needs a window too, so nobody is covered Monday 08:00-08:30.
    config = config_with(
        tmp_path,
        {
            "routing.yaml": [
                (NIGHT_ALWAYS, NIGHT_FROM_0800_AT_WEEKENDS),
                (
                    'when: {age: "<18"}',
                    'when: {age: "<18", window: [kantoortijd, avond, weekend_dag, nacht]}',
                ),
            ]
        },
    )
    assert "every caller, Monday 08:00-08:30: no rule matches" in gap_lines(
        prove(config, HORIZON_START)
    )


def test_gap_only_on_holidays_is_reported_with_the_holiday_date(tmp_path: Path) -> None:
    # The adult IHT rule no longer applies on holidays, and nothing else does in the daytime.
    config = config_with(
        tmp_path,
        {
            "routing.yaml": [
                ("when: {window: [kantoortijd", "when: {holiday: false, window: [kantoortijd"),
            ]
        },
    )
    report = prove(config, HORIZON_START)
    assert report.gaps
    assert all(A_DATE.search(g.when) for g in report.gaps), gap_lines(report)
    christmas = [g for g in report.gaps if "2026-12-25 (Eerste kerstdag)" in g.when]
    assert len(christmas) == 1
    assert christmas[0].when.endswith("08:00-18:00")
    assert christmas[0].who == "resident, relative (18+)"  # referrers and youth have own rules
    assert christmas[0].what == "no rule matches"
    assert any("2027-04-27 (Koningsdag)" in g.when for g in report.gaps)


EXTRA_ABSENCES = """\
      - {absent: anna, from: 2026-12-01T00:00, to: 2026-12-02T00:00, reason: ziek}
      - {absent: carla, from: 2026-12-01T00:00, to: 2026-12-02T00:00, reason: ziek}
      - {absent: daan, from: 2026-12-01T00:00, to: 2026-12-02T00:00, reason: ziek}
      - {absent: bram,"""


def test_rota_with_everyone_absent_for_a_day_is_a_rota_gap_with_its_time_range(
    tmp_path: Path,
) -> None:
    # bram is already off sick 30 November - 5 December in the sample.
    config = config_with(tmp_path, {"teams.yaml": [("      - {absent: bram,", EXTRA_ABSENCES)]})
    report = prove(config, HORIZON_START)
    assert not report.ok
    assert report.gaps == ()  # every minute still has a rule ...
    assert [str(g) for g in report.rota_gaps] == [  # ... but the rule's first leg rings nobody
        "team iht role eerste_lijn, 2026-12-01 00:00-2026-12-02 00:00: "
        "nobody on call (every member of the rota is absent)"
    ]


def test_rota_gap_outside_the_horizon_is_not_reported(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"teams.yaml": [("      - {absent: bram,", EXTRA_ABSENCES)]})
    assert prove(config, dt.date(2026, 12, 2), days=30).rota_gaps == ()


NEVER_CHOSEN = """\
  - name: iht_feestavond
    description: a holiday is never a workday evening, so this never applies
    when: {window: avond, holiday: true}
    legs:
      - {oncall: iht, role: achterwacht, timeout: 20}
    final: {callback: true, line: fallback}

  - name: iht
"""


def test_rule_that_can_never_be_chosen_is_reported_as_unused(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"routing.yaml": [("  - name: iht\n", NEVER_CHOSEN)]})
    report = prove(config, HORIZON_START)
    assert [r.name for r in report.unused_rules] == ["iht_feestavond"]
    assert report.gaps == ()
    assert not report.ok


def test_gap_over_sunday_midnight_reads_as_one_range_into_monday(tmp_path: Path) -> None:
    edits = {
        "routing.yaml": [
            (
                NIGHT_ALWAYS,
                (
                    '      - {days: [tue, wed, thu, fri, sat], from: "00:00", to: "24:00"}\n'
                    '      - {days: [sun], from: "00:00", to: "23:00"}\n'
                    '      - {days: [mon], from: "01:00", to: "24:00"}'
                ),
            )
        ]
    }
    report = prove(config_with(tmp_path, edits), HORIZON_START)
    weekly = [g.when for g in report.gaps if not A_DATE.search(g.when)]
    assert weekly == ["Sunday 23:00-Monday 01:00"]
