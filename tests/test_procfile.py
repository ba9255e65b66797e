"""The Procfile's release phase runs `check`, so a broken config never deploys."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from callrouter.cli import main
from tests.helpers import ROOT, copy_config


def release_command() -> list[str]:
    lines = (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
    (release,) = [line.split(":", 1)[1] for line in lines if line.startswith("release:")]
    return shlex.split(release)


def test_the_release_phase_refuses_a_broken_config_and_passes_the_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    program, *argv = release_command()
    assert program == "callrouter"
    broken = copy_config(tmp_path, {"teams.yaml": [("id: anna,", "id: anna, moblie: x,")]})

    monkeypatch.setenv("CALLROUTER_CONFIG_DIR", str(broken))
    refused = main(argv)
    monkeypatch.setenv("CALLROUTER_CONFIG_DIR", str(ROOT / "config"))
    passed = main(argv)

    assert (refused, passed) == (1, 0)
    assert "unknown key 'moblie'" in capsys.readouterr().err
