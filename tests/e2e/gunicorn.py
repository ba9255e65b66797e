"""Start the real app under gunicorn for end-to-end tests, and wait until it is healthy."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests

from callrouter.devtools.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def start_app(
    env: dict[str, str], log: Path, seconds: float = 20
) -> tuple[subprocess.Popen[bytes], str]:
    """`callrouter.web.app:production_app()` under gunicorn (2 workers) on a free port,
    output to `log`; returns the process and its base URL once /health answers."""
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "callrouter.web.app:production_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")
        try:
            if requests.get(f"{url}/health", timeout=1).ok:
                return process, url
        except requests.RequestException:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(
        f"gunicorn did not become healthy on {url}: {log.read_text(errors='replace')}"
    )


def stop_app(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=10)
