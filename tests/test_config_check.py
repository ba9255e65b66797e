"""`callrouter check` on each mistake an admin was seen to make (issue 13):
never a traceback, never a pass for a config that cannot run, and each
mistake reported once, at its file:line, with a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from callrouter.cli import main
from callrouter.config.generation import generation_id
from callrouter.config.live import LiveConfig
from tests.helpers import copy_config, line_of

Edits = dict[str, list[tuple[str, str]]]
FIRST_DAY = "2026-11-23"
IHT_ROTA = 'rota: {start: 2026-01-05, handover: "08:30", period_days: 7, order: [anna'
BRAM = 'mobile: "+31 6 1000 0002"'
SHORT = 'mobile: "+31 6 1000 002"'


def check(capsys: pytest.CaptureFixture[str], directory: Path) -> tuple[int, str, str]:
    code = main(["check", str(directory), "--from", FIRST_DAY])
    out, err = capsys.readouterr()
    return code, out, err


def problems(err: str) -> list[str]:
    """The problem lines `check` printed (after its 'N problem(s):' header)."""
    return [line.strip() for line in err.splitlines() if line.startswith("  ")]


def at(directory: Path, file: str, needle: str) -> str:
    return f"{directory / file}:{line_of(directory / file, needle)}"


def refused(capsys: pytest.CaptureFixture[str], directory: Path) -> list[str]:
    code, _, err = check(capsys, directory)
    assert code == 1, err
    assert "Traceback" not in err
    assert "this config must not go live" in err
    return problems(err)


@pytest.mark.parametrize(
    ("date", "why"),
    [("2026-02-30", "day is out of range for month"), ("2026-13-05", "month must be in 1..12")],
)
def test_an_unquoted_impossible_date_is_a_problem_at_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, date: str, why: str
) -> None:
    config = copy_config(
        tmp_path, {"teams.yaml": [(IHT_ROTA, IHT_ROTA.replace("2026-01-05", date))]}
    )

    assert refused(capsys, config) == [
        f"{at(config, 'teams.yaml', date)}: teams.iht.roles.eerste_lijn.rota.start {date}"
        f" does not exist ({why}). Fix: write a real date as YYYY-MM-DD, e.g. 2026-12-24"
    ]


def test_a_self_referencing_alias_is_a_problem_not_a_crash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocked = 'blocked:\n  - "+31 6 1999 0001"'
    config = copy_config(
        tmp_path, {"directory.yaml": [(blocked, blocked.replace(":", ": &b") + "\n  - *b")]}
    )

    assert refused(capsys, config) == [
        f"{at(config, 'directory.yaml', 'blocked: &b')}: a YAML alias refers to the value that"
        " contains it, which never ends. Fix: point the alias (*name) at a value defined"
        " outside this one"
    ]


@pytest.mark.parametrize(
    ("file", "sections"),
    [
        ("ivr.yaml", "ivr"),
        ("records.yaml", "records"),
        ("triage.yaml", "triage"),
        ("callbacks.yaml", "callbacks"),
        ("callers.yaml", "age_groups, caller_types, regions"),
        (
            "routing.yaml",
            "closures, crisis_number, defaults, fallback_line, final_line, holidays, lines,"
            " overflow, rules, timezone, windows",
        ),
    ],
)
def test_an_empty_file_fails_and_is_blamed_on_itself(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, file: str, sections: str
) -> None:
    config = copy_config(tmp_path)
    (config / file).write_text("# emptied by mistake\n", encoding="utf-8")

    assert refused(capsys, config) == [
        f"{config / file}:1: the file is empty. Fix: write its section(s) ({sections})"
        " as in the sample config, or delete the file"
    ]


def test_a_missing_section_is_blamed_on_the_file_it_belongs_in(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = copy_config(tmp_path)
    (config / "ivr.yaml").unlink()

    assert refused(capsys, config) == [
        f"{config / 'ivr.yaml'}:1: there is no 'ivr' section."
        " Fix: add config/ivr.yaml (see the sample) with prompts and menus"
    ]


@pytest.mark.parametrize(
    ("new", "error", "fix"),
    [
        (
            "\t  - {id: bram,",
            "found character that cannot start any token",
            "this line has a tab: indent with spaces, never tabs",
        ),
        (
            "     - {id: bram,",
            "did not find expected key",
            'check indentation and quoting on this line (quote times like "08:30")',
        ),
    ],
    ids=["tab", "indentation"],
)
def test_a_yaml_error_does_not_cascade_into_the_names_its_file_defines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, new: str, error: str, fix: str
) -> None:
    config = copy_config(tmp_path, {"teams.yaml": [("      - {id: bram,", new)]})

    assert refused(capsys, config) == [
        f"{at(config, 'teams.yaml', 'id: bram')}: YAML syntax error: {error}. Fix: {fix}"
    ]


def test_a_coverage_gap_is_reported_in_the_same_run_as_other_problems(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = copy_config(tmp_path, {"ivr.yaml": [("value: politie", "value: polite")]})
    routing = config / "routing.yaml"
    text = routing.read_text(encoding="utf-8")
    routing.write_text(text[: text.index("  - name: ggz_nacht")], encoding="utf-8")

    code, out, err = check(capsys, config)

    assert code == 1
    assert problems(err) == [
        f"{at(config, 'ivr.yaml', 'value: polite')}: unknown caller answer 'polite'."
        " Fix: did you mean 'politie'?"
    ]
    assert "GAP  resident, relative (18+), Monday 21:00-Tuesday 08:30: no rule matches" in out


def test_a_misspelt_holiday_name_gets_did_you_mean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = copy_config(
        tmp_path, {"routing.yaml": [("    - Goede vrijdag", "    - Goede vrydag")]}
    )

    assert refused(capsys, config) == [
        f"{at(config, 'routing.yaml', 'Goede vrydag')}: 'Goede vrydag' is not a holiday name"
        " of the NL calendar. Fix: did you mean 'Goede vrijdag'? (see `callrouter calendar`)"
    ]


def test_a_mobile_missing_a_digit_is_not_called_a_short_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = copy_config(tmp_path, {"teams.yaml": [(BRAM, SHORT)]})

    assert refused(capsys, config) == [
        f"{at(config, 'teams.yaml', SHORT)}: '+31 6 1000 002' has 9 digits;"
        " a Dutch mobile has 10 (06 and 8 more): is a digit missing or extra?"
        ' Fix: write a full Dutch number such as "+31 6 1234 5678" or "024-123 45 67"'
    ]


@pytest.mark.parametrize(
    ("number", "why", "fix"),
    [
        (
            "+31 24 123 4567",
            "is a landline, not a mobile: it cannot receive the callback and triage SMS,"
            " and rings only where that phone stands",
            "give this member's mobile (06)",
        ),
        (
            "+49 151 2345 6789",
            "is a foreign number (DE): staff SMS may not arrive and every call to it is an"
            " international call",
            "give this member's Dutch mobile (06) if they have one",
        ),
    ],
    ids=["landline", "german"],
)
def test_a_staff_mobile_that_is_no_dutch_mobile_is_a_warning_naming_why(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, number: str, why: str, fix: str
) -> None:
    config = copy_config(tmp_path, {"teams.yaml": [(BRAM, f'mobile: "{number}"')]})

    code, out, err = check(capsys, config)

    assert code == 0, err
    assert f"WARNING  {at(config, 'teams.yaml', number)}: '{number}' {why}. Fix: {fix}" in out
    assert "OK: every caller reaches a person or a callback" in out


def test_bad_command_line_values_are_one_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["check", str(tmp_path / "nope")]) == 2
    assert main(["check", "config", "--from", "2026-02-30"]) == 2
    assert main(["check", "config", "--days", "0"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "is not a date" in err and "must be 1 or more" in err


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "callers.yaml",
            "age_groups:\n",
            "age_groups: 1\nold_age_groups:\n",
            "age_groups must be a mapping",
        ),
        ("routing.yaml", "lines:\n", "lines: 1\nold_lines:\n", "lines must be a mapping"),
        (
            "teams.yaml",
            "    roles:\n",
            "    roles: 1\n    old_roles:\n",
            "teams.iht.roles must be a mapping",
        ),
        ("ivr.yaml", "  menus:\n", "  menus:\n    a: 1\n", "unknown key 'a' in ivr.menus"),
    ],
    ids=["age_groups", "lines", "roles", "menus"],
)
def test_a_section_of_the_wrong_shape_is_a_problem_not_a_crash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    config = copy_config(tmp_path)
    text = (config / file).read_text(encoding="utf-8")
    (config / file).write_text(text.replace(old, new, 1), encoding="utf-8")  # the first one

    found = refused(capsys, config)

    assert any(message in p for p in found), found


def test_check_names_the_generation_a_running_service_would_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = copy_config(tmp_path)
    texts = {p.name: p.read_text(encoding="utf-8") for p in config.glob("*.yaml")}

    code, out, _ = check(capsys, config)

    assert code == 0
    assert f"configuration is valid: generation {generation_id(texts)} (6 rules," in out
    assert generation_id(texts) == LiveConfig(config).status().generation
