"""Other commands find the Redis of the `callrouter serve` running in their directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from callrouter.cli import main
from callrouter.devtools.local_run import STATE_FILE, LocalRun, adopt, forget
from callrouter.devtools.redis_server import free_port
from tests.helpers import CONFIG_DIR


def serving(data_dir: Path, redis_url: str, pid: int = 4242) -> LocalRun:
    run = LocalRun(
        redis_url, "http://127.0.0.1:8000", pid, twilio_auth_token="local-token", secret="s" * 40
    )
    run.write(data_dir)
    return run


def test_the_state_file_is_private_and_read_back_while_its_redis_answers(
    tmp_path: Path, redis_url: str
) -> None:
    run = serving(tmp_path, redis_url)

    assert stat.S_IMODE((tmp_path / STATE_FILE).stat().st_mode) == 0o600
    assert LocalRun.read(tmp_path) == run
    assert "local-token" not in repr(run)


def test_a_state_file_whose_redis_is_gone_is_ignored(tmp_path: Path) -> None:
    serving(tmp_path, f"redis://127.0.0.1:{free_port()}/0")

    assert LocalRun.read(tmp_path) is None
    assert adopt({"CALLROUTER_DATA_DIR": str(tmp_path)}) is None


def test_adopt_sets_redis_url_only_when_it_is_unset(tmp_path: Path, redis_url: str) -> None:
    serving(tmp_path, redis_url)
    unset = {"CALLROUTER_DATA_DIR": str(tmp_path)}
    given = unset | {"REDIS_URL": "redis://elsewhere:6379/0"}

    adopt(unset)
    adopt(given)

    assert unset["REDIS_URL"] == redis_url
    assert unset["TWILIO_AUTH_TOKEN"] == "local-token"  # `phone --url` needs nothing copied
    assert given["REDIS_URL"] == "redis://elsewhere:6379/0" and "TWILIO_AUTH_TOKEN" not in given


def test_serve_removes_only_its_own_state_file(tmp_path: Path, redis_url: str) -> None:
    serving(tmp_path, redis_url, pid=1)
    forget(tmp_path, pid=2)  # an older serve stopping after a newer one started
    assert (tmp_path / STATE_FILE).exists()
    forget(tmp_path, pid=1)
    assert not (tmp_path / STATE_FILE).exists()


def test_report_commands_find_the_local_redis_without_redis_url(
    tmp_path: Path,
    redis_url: str,
    redis_conn: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Was: `error: no Redis given: set REDIS_URL`, while serve ran in the next terminal."""
    monkeypatch.setenv("REDIS_URL", "")  # unset for the command, restored afterwards
    monkeypatch.setenv("CALLROUTER_SECRET", "")  # serve's, for the access log; restored too
    monkeypatch.setenv("CALLROUTER_DATA_DIR", str(tmp_path))
    serving(tmp_path, redis_url)

    code = main(["calls", "--last", "3", "--config", str(CONFIG_DIR)])

    assert code == 0, capsys.readouterr().err
    assert "laatste 0 oproep(en)" in capsys.readouterr().out
    assert os.environ["REDIS_URL"] == redis_url
