"""`callrouter serve`, the README's first command: web + worker + embedded Redis, one call."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from callrouter.cli import main
from callrouter.devtools.redis_server import free_port
from tests.phone import SECRET, TOKEN

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from callrouter.cli import main; sys.exit(main())"


def test_serve_runs_everything_answers_a_call_and_stops_cleanly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {
        "TWILIO_AUTH_TOKEN": TOKEN,
        "CALLROUTER_SECRET": SECRET,
    }
    serve = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CLI,
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--redis-port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "var"),
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    health = None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and serve.poll() is None:
            try:
                health = requests.get(f"{url}/health", timeout=1).json()
                if health["status"] == "ok":  # the worker's first heartbeat is in
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        assert health is not None, "serve never answered /health"
        assert (health["status"], health["redis"], health["routes_calls"]) == ("ok", "ok", True)
        assert (health["config"]["in_use"], health["config"]["refused"]) == ("as on disk", [])
        assert health["worker"]["count"] == 1

        monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
        code = main(
            ["phone", "--url", url, "--from", "+31612345678", "--digits", "1,1", "--answer", "yes"]
        )
        out = capsys.readouterr().out
    finally:
        serve.send_signal(signal.SIGTERM)
        log, _ = serve.communicate(timeout=20)

    assert code == 0
    assert "connected to" in out and "call ends: the service hung up" in out
    assert serve.returncode == 0, log
    assert "embedded Redis on redis://127.0.0.1:" in log and "Twilio dry run" in log
    assert "Listening on callbacks" in log  # the RQ worker
    assert "Traceback" not in log, log
    assert TOKEN not in log and SECRET not in log  # issue 9: banners never print a secret
    assert re.search(r"TWILIO_AUTH_TOKEN=\$TWILIO_AUTH_TOKEN \S*callrouter phone --url", log)
    with pytest.raises(requests.RequestException):
        requests.get(f"{url}/health", timeout=1)
