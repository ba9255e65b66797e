"""`callrouter serve` refuses clearly instead of misleading: busy ports, config mistakes,
and the commands its banner prints run exactly as printed."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from callrouter.cli import main
from callrouter.cli.serve import command
from callrouter.devtools.redis_server import free_port
from tests.helpers import copy_config, line_of


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another program listens on (as a second service on 8000 would)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        yield other.getsockname()[1]


def serve(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> tuple[int, str]:
    code = main(["serve", "--data-dir", str(tmp_path / "var"), *argv])
    out, err = capsys.readouterr()
    return code, out + err


def test_a_busy_web_port_is_a_clear_error_not_a_banner_for_the_other_service(
    busy_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = serve(
        capsys, tmp_path, "--port", str(busy_port), "--redis-port", str(free_port())
    )

    assert code == 2
    assert f"cannot listen on 127.0.0.1:{busy_port} (Address already in use)" in output
    assert "choose another port with --port" in output
    assert "is running" not in output and "Traceback" not in output


def test_a_busy_redis_port_is_a_clear_error(
    busy_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = serve(
        capsys, tmp_path, "--port", str(free_port()), "--redis-port", str(busy_port)
    )

    assert code == 2
    assert f"the embedded Redis cannot use port {busy_port}" in output
    assert "--redis-port" in output and "is running" not in output


BROKEN = {
    "an unknown team key": ("teams.yaml", "mobile:", "moblie:", "unknown key 'moblie'"),
    "an empty ivr.yaml": ("ivr.yaml", None, None, "ivr.yaml:1: the file is empty"),
}


@pytest.mark.parametrize("mistake", sorted(BROKEN))
@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--port", "0", "--redis-port", "0"],
        ["phone", "--from", "+31612345678", "--digits", "1"],
        ["fallback-twiml"],
    ],
    ids=lambda argv: argv[0],
)
def test_a_config_mistake_is_one_clear_message_never_a_traceback(
    argv: list[str], mistake: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, old, new, expected = BROKEN[mistake]
    directory = copy_config(tmp_path / "config")
    path = directory / name
    if old is None:
        path.write_text("", encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    code = main([*argv, "--config", str(directory)])
    out, err = capsys.readouterr()

    assert code == 1
    assert expected in err and "Traceback" not in out + err
    if old is not None:
        assert f"{name}:{line_of(path, new)}:" in err
    assert "is running" not in out


def test_the_printed_command_runs_as_printed_without_the_venv_on_path(tmp_path: Path) -> None:
    """Was: the banner said `callrouter phone`, which is not on PATH (exit 127)."""
    printed = command()
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {"PATH": "/usr/bin:/bin"}

    done = subprocess.run(
        ["bash", "-c", f"{printed} phone --help"],
        env=env,
        cwd=Path.cwd(),
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "place a simulated call" in done.stdout
