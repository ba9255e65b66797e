"""The YAML loader: the sample loads clean; every kind of admin mistake is
reported with file:line, what is wrong and how to fix it, all in one pass."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from callrouter.config.files import build, load, read_documents
from callrouter.errors import ConfigError
from tests.helpers import CONFIG_DIR, copy_config, line_of

Edits = dict[str, list[tuple[str, str]]]


def problems(tmp_path: Path, edits: Edits) -> list[str]:
    """Load a copy of the sample config with `edits`; the problems it reports."""
    directory = copy_config(tmp_path / "config", edits)
    with pytest.raises(ConfigError) as info:
        load(directory)
    assert str(info.value) == f"{len(info.value.problems)} problem(s) in the configuration"
    return info.value.problems


def at(tmp_path: Path, file: str, needle: str, *, whole: bool = False) -> str:
    """'<file>:<line>' of the line holding `needle` in the broken copy."""
    path = tmp_path / "config" / file
    return f"{path}:{line_of(path, needle, whole=whole)}"


def only(found: list[str]) -> str:
    assert len(found) == 1, found
    return found[0]


def assert_problem(text: str, where: str, what: str, fix: str) -> None:
    """`text` is 'file:line: what. Fix: how' with this place, what and fix."""
    assert text.startswith(f"{where}: "), text
    message, _, hint = text.partition(" Fix: ")
    assert what in message, text
    assert fix in hint, text


# --------------------------------------------------------------------------- the sample


def test_sample_config_loads_without_problems() -> None:
    config, found = build(read_documents(CONFIG_DIR))
    assert found == []
    assert config is not None
    assert [r.name for r in config.rules] == [
        "jeugd",
        "verwijzer_iht",
        "verwijzer_nacht",
        "iht_land_van_cuijk",
        "iht",
        "ggz_nacht",
    ]
    assert config.crisis_number == "+31880001133"
    assert config.line("fallback") is not None


def test_sample_config_keeps_the_source_line_of_every_rule() -> None:
    config = load(CONFIG_DIR)
    rule = next(r for r in config.rules if r.name == "ggz_nacht")
    assert rule.source.file.endswith("routing.yaml")
    assert rule.source.line == line_of(CONFIG_DIR / "routing.yaml", "name: ggz_nacht")


def test_unquoted_time_still_works(tmp_path: Path) -> None:
    # YAML 1.1 would read 17:00 as the base-60 number 1020.
    directory = copy_config(
        tmp_path / "config",
        {
            "routing.yaml": [
                (
                    '{days: [workday], from: "17:00", to: "21:00"}',
                    "{days: [workday], from: 17:00, to: 21:00}",
                ),
            ]
        },
    )
    window = load(directory).window("avond")
    assert window is not None
    assert (window.segments[0].start, window.segments[0].end) == (17 * 60, 21 * 60)


def test_holiday_include_and_exclude_forms_load_into_the_calendar(tmp_path: Path) -> None:
    directory = copy_config(
        tmp_path / "config",
        {
            "routing.yaml": [
                (
                    "  include: []",
                    "  include:\n"
                    "    - Bevrijdingsdag\n"
                    "    - {name: Regionale sluiting, date: 2027-06-04}\n"
                    '    - {name: Sint-Maarten, every: "11-11"}',
                ),
                (
                    "    - Goede vrijdag",
                    "    - Goede vrijdag\n    - 2026-12-26",
                ),
            ]
        },
    )
    calendar = load(directory).calendar
    assert calendar.holiday(dt.date(2026, 5, 5)) == "Bevrijdingsdag"
    assert calendar.holiday(dt.date(2027, 6, 4)) == "Regionale sluiting"
    assert calendar.holiday(dt.date(2026, 11, 11)) == "Sint-Maarten"
    assert calendar.holiday(dt.date(2026, 12, 26)) is None
    assert calendar.holiday(dt.date(2027, 12, 26)) is not None
    assert calendar.holiday(dt.date(2026, 4, 3)) is None  # Goede vrijdag still excluded


def test_unknown_holiday_name_is_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, {"routing.yaml": [("    - Goede vrijdag", "    - Goede vrijdagg")]})
    assert_problem(
        only(found),
        at(tmp_path, "routing.yaml", "- Goede vrijdagg"),
        "'Goede vrijdagg' is not a holiday name of the NL calendar",
        "Goede vrijdag",
    )


# --------------------------------------------------------------------------- one mistake each


def test_unknown_key_is_reported_with_a_did_you_mean(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "routing.yaml": [
                (
                    "{oncall: ggz, role: dienst, timeout: 25}",
                    "{oncall: ggz, role: dienst, timout: 25}",
                ),
            ]
        },
    )
    where = at(tmp_path, "routing.yaml", "timout: 25")
    typo = [p for p in found if "unknown key 'timout'" in p]
    assert_problem(only(typo), where, "rules.5.legs.0", "did you mean 'timeout'?")
    # ... and the leg now lacks its timeout, which is reported too.
    assert any("missing 'timeout'" in p and p.startswith(where) for p in found)


def test_unknown_section_is_reported_with_a_did_you_mean(tmp_path: Path) -> None:
    found = problems(tmp_path, {"callers.yaml": [("age_groups:", "age_group:")]})
    where = at(tmp_path, "callers.yaml", "age_group:")
    assert_problem(
        next(p for p in found if "unknown section" in p),
        where,
        "unknown section 'age_group'",
        "did you mean 'age_groups'?",
    )


def test_bad_time_is_reported(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "routing.yaml": [
                (
                    '{days: [workday], from: "17:00", to: "21:00"}',
                    '{days: [workday], from: "25:00", to: "21:00"}',
                ),
            ]
        },
    )
    assert_problem(
        only(found),
        at(tmp_path, "routing.yaml", '"25:00"'),
        "windows.avond.times.0.from '25:00' is not a time of day",
        'quoted, e.g. "08:30"',
    )


@pytest.mark.parametrize(
    ("file", "old", "new", "what", "fix"),
    [
        (
            "routing.yaml",
            "{oncall: ggz, role: dienst, timeout: 25}",
            "{oncall: gzz, role: dienst, timeout: 25}",
            "unknown team 'gzz'",
            "did you mean 'ggz'?",
        ),
        (
            "routing.yaml",
            "{oncall: iht_cuijk, role: eerste_lijn, timeout: 25}",
            "{oncall: iht_cuijk, role: eerstelijn, timeout: 25}",
            "unknown role of team 'iht_cuijk' 'eerstelijn'",
            "did you mean 'eerste_lijn'?",
        ),
        (
            "routing.yaml",
            "when: {caller: referrer, window: nacht}",
            "when: {caller: referrer, window: nachten}",
            "unknown window 'nachten'",
            "did you mean 'nacht'?",
        ),
        (
            "routing.yaml",
            "when: {window: kantoortijd, region: land_van_cuijk}",
            "when: {window: kantoortijd, region: land_van_cuijk, caller: huisarst}",
            "unknown caller type 'huisarst'",
            "did you mean 'huisarts'?",
        ),
        (
            "routing.yaml",
            "fallback_line: fallback",
            "fallback_line: falback",
            "unknown line 'falback'",
            "did you mean 'fallback'?",
        ),
        (
            "routing.yaml",
            "    window: nacht\n  - name: Oudejaarsavond",
            "    window: nachtdienst\n  - name: Oudejaarsavond",
            "unknown window 'nachtdienst'",
            "did you mean 'nacht'?",
        ),
        (
            "directory.yaml",
            "caller_type: seh,",
            "caller_type: ambulance,",
            "unknown caller type 'ambulance'",
            "define it, or use one of:",
        ),
        (
            "teams.yaml",
            "order: [gijs, hanna]",
            "order: [gijs, hana]",
            "unknown member of team 'iht_cuijk' 'hana'",
            "did you mean 'hanna'?",
        ),
    ],
    ids=[
        "team",
        "role",
        "window",
        "caller",
        "line",
        "closure-window",
        "directory-caller",
        "member",
    ],
)
def test_unknown_reference_is_reported_with_its_line(
    tmp_path: Path, file: str, old: str, new: str, what: str, fix: str
) -> None:
    found = problems(tmp_path, {file: [(old, new)]})
    needle = new.splitlines()[0].strip()
    assert_problem(only(found), at(tmp_path, file, needle), what, fix)


@pytest.mark.parametrize(
    ("file", "old", "new", "what"),
    [
        (
            "teams.yaml",
            '"+31 6 1000 0003"',
            '"+31 6 1000 003"',
            "has 9 digits; a Dutch mobile has 10",
        ),
        ("routing.yaml", '"+31 24 700 0100"', '"0900-1234567"', "premium-rate"),
        ("routing.yaml", '"+31 88 000 1199"', '"112"', "short codes"),
        ("routing.yaml", '"+31 88 000 1133"', '"1233"', "short codes"),
    ],
    ids=["invalid", "premium-rate", "short-code-112", "short-code-1233"],
)
def test_unusable_phone_number_is_reported(
    tmp_path: Path, file: str, old: str, new: str, what: str
) -> None:
    found = problems(tmp_path, {file: [(old, new)]})
    assert_problem(only(found), at(tmp_path, file, new), what, "write a full Dutch number")


def test_rota_with_nobody_in_it_is_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, {"teams.yaml": [("order: [gijs, hanna]", "order: []")]})
    assert_problem(
        only(found),
        at(tmp_path, "teams.yaml", "order: []"),
        "the rota of team 'iht_cuijk' role 'eerste_lijn' has nobody in it",
        "list member ids under 'order:'",
    )


SHADOWED_RULE = """
  - name: iht_avond
    when: {window: avond}
    legs:
      - {oncall: iht, role: achterwacht, timeout: 20}
    final: {callback: true, line: fallback}

  - name: ggz_nacht"""


def test_rule_shadowed_by_an_earlier_rule_is_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, {"routing.yaml": [("\n  - name: ggz_nacht", SHADOWED_RULE)]})
    text = only(found)
    assert_problem(
        text,
        at(tmp_path, "routing.yaml", "name: iht_avond"),
        "rule 'iht_avond' can never match: rule 'iht'",
        "move it above that rule",
    )
    # It also says where the earlier rule is, so the admin can find both.
    assert f"rule 'iht' ({at(tmp_path, 'routing.yaml', '- name: iht', whole=True)})" in text


def test_duplicate_key_is_reported_at_its_second_occurrence(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "routing.yaml": [
                (
                    "    label: Avond (IHT, werkdagen)\n",
                    "    label: Avond (IHT, werkdagen)\n    label: Avond\n",
                ),
            ]
        },
    )
    assert_problem(
        only(found),
        at(tmp_path, "routing.yaml", "label: Avond", whole=True),
        "key 'label' appears twice",
        "remove one of them",
    )


def test_yaml_syntax_error_is_reported_with_its_line(tmp_path: Path) -> None:
    found = problems(tmp_path, {"directory.yaml": [("caller_type: seh,", "caller_type: [seh,")]})
    assert_problem(
        only(found),
        at(tmp_path, "directory.yaml", "caller_type: [seh,"),
        "YAML syntax error",
        "check indentation and quoting",
    )


def test_closure_without_window_or_counts_as_is_reported(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "routing.yaml": [
                (
                    '    from: "17:00"\n    window: nacht\n  - name: Oudejaarsavond',
                    '    from: "17:00"\n  - name: Oudejaarsavond',
                ),
            ]
        },
    )
    assert_problem(
        only(found),
        at(tmp_path, "routing.yaml", "name: Kerstavond"),
        "a closure needs exactly one of 'window' or 'counts_as'",
        "window: nacht",
    )


# --------------------------------------------------------------------------- all at once


def test_all_problems_in_all_files_are_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "routing.yaml": [('from: "17:00", to: "21:00"', 'from: "25:00", to: "21:00"')],
            "teams.yaml": [('"+31 6 1000 0003"', '"0906-1234567"')],
            "directory.yaml": [("caller_type: seh,", "caller_type: ambulance,")],
        },
    )
    assert len(found) == 3, found
    wheres = sorted(p.split(": ", 1)[0] for p in found)
    assert wheres == sorted(
        [
            at(tmp_path, "routing.yaml", '"25:00"'),
            at(tmp_path, "teams.yaml", '"0906-1234567"'),
            at(tmp_path, "directory.yaml", "caller_type: ambulance,"),
        ]
    )
    assert all("Fix: " in p for p in found)


def test_with_teams_yaml_unreadable_a_typo_in_callbacks_is_still_reported(tmp_path: Path) -> None:
    """Review: the cascade filter hid every callbacks problem starting with 'unknown '
    while teams.yaml was broken, real typos too. Only references to teams stay quiet."""
    found = problems(
        tmp_path,
        {
            "teams.yaml": [("teams:", "teams: [")],
            "callbacks.yaml": [("fallback_team: ggz", "fallback_team: ggz\n  retyr: {}")],
        },
    )
    assert any("YAML syntax error" in p for p in found)
    assert any("unknown key 'retyr' in callbacks" in p for p in found)
    assert not any("unknown team" in p or "unknown member" in p for p in found)
