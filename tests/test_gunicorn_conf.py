"""gunicorn's hooks for the metrics directory (`callrouter.web.gunicorn_conf`)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from callrouter.web import gunicorn_conf


class Server:
    log = logging.getLogger("test.gunicorn")


def test_an_unusable_metrics_directory_does_not_stop_the_web_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Review: an OSError here stopped gunicorn's master, so no call was answered."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    monkeypatch.setenv(gunicorn_conf.MULTIPROC_ENV, str(blocker / "metrics"))

    gunicorn_conf.on_starting(Server())

    assert gunicorn_conf.MULTIPROC_ENV not in os.environ  # single-process counting
    assert "each worker counts alone" in caplog.text


def test_a_shared_directory_keeps_the_files_of_processes_still_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's directory may be shared with a running `callrouter worker`."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    live = tmp_path / f"counter_{os.getpid()}.db"
    dead = tmp_path / f"counter_{gone}.db"
    live.write_bytes(b"")
    dead.write_bytes(b"")
    monkeypatch.setenv(gunicorn_conf.MULTIPROC_ENV, str(tmp_path))

    gunicorn_conf.on_starting(Server())

    assert live.exists() and not dead.exists()
