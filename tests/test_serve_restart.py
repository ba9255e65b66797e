"""`callrouter serve` starts a dead worker again (a worker that is gone means
no staff SMS and no timers) and stops when the web dies."""

from __future__ import annotations

import subprocess
import sys

import pytest

from callrouter.cli import serve


def _process(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code])


def test_a_dead_worker_is_started_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve, "RESTART_PAUSE_SECONDS", 0.0)
    web = _process("import time; time.sleep(30)")
    started: list[subprocess.Popen[bytes]] = []

    def restart() -> subprocess.Popen[bytes]:
        if len(started) == 2:
            raise KeyboardInterrupt  # Ctrl-C, once it has restarted twice
        started.append(_process("raise SystemExit(1)"))  # dies again at once
        return started[-1]

    try:
        code = serve._wait(
            {"web": web, "worker": _process("raise SystemExit(1)")}, {"worker": restart}
        )
    finally:
        web.kill()
        web.wait()
        for process in started:
            process.wait()
    assert code == 0 and len(started) == 2


def test_a_dead_web_stops_everything() -> None:
    web = _process("raise SystemExit(3)")
    worker = _process("import time; time.sleep(30)")
    try:
        assert serve._wait({"web": web, "worker": worker}, {"worker": lambda: worker}) == 1
    finally:
        worker.kill()
        worker.wait()
