"""The `console:` section and the members' `console:` role: typed, with file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from callrouter.config.builder import Builder
from callrouter.config.files import load
from callrouter.config.yaml_marks import MarkedDoc
from callrouter.console.policy import ConsolePolicy, parse_policy
from callrouter.errors import ConfigError
from tests.helpers import copy_config, line_of, sample_generation


def problems(tmp_path: Path, edits: dict[str, list[tuple[str, str]]]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(copy_config(tmp_path, edits))
    return info.value.problems


def test_sample_policy_and_roles() -> None:
    generation = sample_generation()
    config = generation.config
    assert generation.console.gap_alert_days == 14
    roles = {m.id: m.console for t in config.teams for m in t.members if m.console}
    assert roles == {"anna": "coordinator", "bram": "staff", "carla": "staff"}


def test_defaults_without_a_console_section() -> None:
    b = Builder(MarkedDoc())
    assert parse_policy(b, None) == ConsolePolicy() and not b.problems


def test_a_bad_number_and_an_unknown_key_are_reported_with_their_line(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "console.yaml": [
                ("gap_alert_days: 14", "gap_alert_days: 0"),
                ("code_attempts: 5", "code_atempts: 5"),
            ]
        },
    )
    path = tmp_path / "console.yaml"
    line = line_of(path, "gap_alert_days")
    assert any(f"console.yaml:{line}: console.gap_alert_days must be" in p for p in found)
    assert any(
        "unknown key 'code_atempts'" in p and "did you mean 'code_attempts'" in p for p in found
    )


def test_an_unknown_console_role_is_reported(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "teams.yaml": [
                ('"+31 6 1000 0002", console: staff}', '"+31 6 1000 0002", console: admin}')
            ]
        },
    )
    assert any("console role 'admin' is unknown" in p and "coordinator, staff" in p for p in found)


def test_a_text_with_an_unknown_field_is_reported(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {"console.yaml": [("Geldig {minutes} minuten.", "Geldig {minuten} minuten.")]},
    )
    assert any("console.texts.sign_in_code.nl has a bad field" in p for p in found)
