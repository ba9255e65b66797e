"""`callrouter check | route | oncall | calendar` as an admin uses them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from callrouter.cli import main

CONFIG = Path(__file__).resolve().parent.parent / "config"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def broken_config(tmp_path: Path) -> Path:
    """A copy of the sample whose night window misses Monday 08:00-08:30."""
    target = tmp_path / "config"
    shutil.copytree(CONFIG, target)
    routing = target / "routing.yaml"
    text = routing.read_text()
    text = text.replace(
        '      - {days: [any], from: "00:00", to: "24:00"}',
        '      - {days: [workday], from: "21:00", to: "08:30"}\n'
        '      - {days: [weekend], from: "18:00", to: "08:00"}',
    )
    routing.write_text(text)
    return target


def test_check_passes_on_the_sample_config(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(CONFIG), "--from", "2026-11-23")
    assert code == 0
    assert "OK: every caller reaches a person or a callback" in out


def test_check_reports_gaps_as_local_time_ranges_and_fails(
    capsys: pytest.CaptureFixture[str], broken_config: Path
) -> None:
    code, out, err = run(capsys, "check", str(broken_config), "--from", "2026-11-23")
    assert code == 1
    assert "GAP  every caller aged 18+, Monday 08:00-08:30: no rule matches" in out
    assert "day after Koningsdag" in out
    assert "must not go live" in err


def test_check_lists_every_config_problem_with_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "config"
    shutil.copytree(CONFIG, target)
    teams = target / "teams.yaml"
    teams.write_text(
        teams.read_text().replace('mobile: "+31 6 1000 0002"', 'moblie: "+31 6 1000 0002"', 1)
    )
    routing = target / "routing.yaml"
    routing.write_text(
        routing.read_text().replace(
            "{oncall: ggz, role: dienst, timeout: 25}", "{oncall: ggzz, role: dienst, timeout: 25}"
        )
    )
    code, _, err = run(capsys, "check", str(target))
    assert code == 1
    assert "teams.yaml:" in err and "did you mean 'mobile'" in err
    assert "routing.yaml:" in err and "unknown team 'ggzz'" in err and "did you mean 'ggz'" in err


def test_route_json_has_the_documented_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "route",
        "--config",
        str(CONFIG),
        "--at",
        "2026-04-27T19:00",
        "--caller",
        "resident",
        "--age",
        "18+",
        "--json",
    )
    assert code == 0
    plan = json.loads(out)
    assert plan["window"] == "nacht"
    assert plan["holiday"] == "Koningsdag"
    assert plan["rule"] == "ggz_nacht"
    assert {"team", "role", "number", "timeout"} <= set(plan["legs"][0])
    assert plan["legs"][0]["team"] == "ggz"
    assert plan["final"] == {"callback": True, "line": "fallback", "number": "+31880001199"}


def test_route_refuses_a_local_time_in_the_spring_gap(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "route", "--config", str(CONFIG), "--at", "2026-03-29T02:30")
    assert code == 2
    assert "does not exist" in err


def test_route_reads_an_ambiguous_autumn_time_as_the_first_occurrence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run(capsys, "route", "--config", str(CONFIG), "--at", "2026-10-25T02:30", "--json")
    assert json.loads(out)["at"] == "2026-10-25T02:30:00+02:00"
    _, out, _ = run(
        capsys, "route", "--config", str(CONFIG), "--at", "2026-10-25T02:30+01:00", "--json"
    )
    assert json.loads(out)["at"] == "2026-10-25T02:30:00+01:00"


def test_route_recognises_a_known_referrer_number(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(
        capsys,
        "route",
        "--config",
        str(CONFIG),
        "--at",
        "2026-11-24T10:00",
        "--from",
        "024 700 0201",
        "--json",
    )
    plan = json.loads(out)
    assert plan["caller"] == "huisarts" and plan["region"] == "nijmegen"
    assert plan["rule"] == "verwijzer_iht"


def test_route_accepts_an_age_in_years(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(
        capsys,
        "route",
        "--config",
        str(CONFIG),
        "--at",
        "2026-11-24T10:00",
        "--age",
        "15",
        "--json",
    )
    assert json.loads(out)["rule"] == "jeugd"


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--caller", "dokter", "--caller 'dokter' is unknown"),
        ("--age", "volwassen", "is not an age group"),
        ("--at", "morgen", "is not a time"),
    ],
)
def test_route_explains_bad_input(
    capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    code, _, err = run(capsys, "route", "--config", str(CONFIG), flag, value)
    assert code == 2
    assert message in err


def test_route_human_output_explains_the_decision(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(
        capsys, "route", "--config", str(CONFIG), "--at", "2026-12-24T17:30", "--caller", "relative"
    )
    assert "closure Kerstavond" in out
    assert "rule 'ggz_nacht'" in out
    assert "leg 1:" in out and "offer a callback" in out


def test_oncall_shows_overrides_and_a_week_table(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "oncall", "--config", str(CONFIG), "--at", "2026-12-25T10:00")
    assert "Daan Visser" in out and "override: daan (ruil kerst)" in out
    _, out, _ = run(capsys, "oncall", "--config", str(CONFIG), "--at", "2026-12-21T10:00", "--week")
    header = out.splitlines()[1]
    assert "mon 21-12" in header and "sun 27-12" in header


def test_calendar_shows_closures_and_what_is_not_observed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run(capsys, "calendar", "--config", str(CONFIG), "--year", "2026")
    assert "2026-12-24  thu  Kerstavond" in out
    assert "17:00 nacht" in out
    assert "2026-04-03 Goede vrijdag" in out and "2026-05-05 Bevrijdingsdag" in out
    _, out, _ = run(capsys, "calendar", "--config", str(CONFIG), "--year", "2025")
    assert "2025-05-05  mon  Bevrijdingsdag" in out
    assert "2025-04-26  sat  Koningsdag" in out
