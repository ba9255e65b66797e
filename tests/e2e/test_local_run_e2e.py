"""A newcomer's local run: the banner's command works as printed, dry-run SMS show up
in serve's terminal (masked), and the data is still there after a restart."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import requests

from callrouter import clock
from callrouter.callbacks import service as cb_service
from callrouter.cli import main
from callrouter.config.generation import load as load_generation
from callrouter.devtools.local_run import LocalRun
from callrouter.devtools.redis_server import free_port
from callrouter.devtools.twilio_sim import HttpTransport, SimCall, Twilio
from callrouter.routing.plan import CallerFacts
from tests.callbacks_kit import callback_context
from tests.helpers import CONFIG_DIR, ROOT, copy_config

pytestmark = pytest.mark.e2e

CLI = "import sys; from callrouter.cli import main; sys.exit(main())"
CALLROUTER = str(Path(sys.executable).parent / "callrouter")  # the README's .venv/bin/callrouter
CALLER = "+31612344567"
STAFF_MOBILE = "+31610000021"  # Ilse Hendriks in the sample teams.yaml, who takes the call


@contextmanager
def serving(workdir: Path, port: int, redis_port: int) -> Iterator[list[str]]:
    """`callrouter serve` started in `workdir` (data in ./var); yields its output lines
    so far (complete once the block ends)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "TWILIO_AUTH_TOKEN", "CALLROUTER_SECRET")
    }
    env.pop("CALLROUTER_DATA_DIR", None)  # the default, ./var of the working directory
    argv = ["serve", "--port", str(port), "--redis-port", str(redis_port), "--workers", "1",
            "--config", str(CONFIG_DIR)]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, *argv],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("stop with Ctrl-C"):
                break
        assert any("is running on" in line for line in lines), "".join(lines)
        yield lines
    finally:
        process.send_signal(signal.SIGINT)  # as Ctrl-C
        rest, _ = process.communicate(timeout=30)
        lines.extend(rest.splitlines(keepends=True))
    assert process.returncode == 0, "".join(lines)
    assert "Traceback" not in "".join(lines), "".join(lines)


def test_a_local_run_keeps_its_data_logs_dry_runs_and_prints_working_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port, redis_port = free_port(), free_port()
    with serving(tmp_path, port, redis_port) as banner:
        text = "".join(banner)
        assert f"data persists: callbacks and the call log are kept in {Path('var/redis')}" in text
        printed = next(line.strip() for line in banner if " phone --url " in line)
        # Exactly as printed, from a shell without the venv on PATH.
        done = subprocess.run(
            ["bash", "-c", f"{printed} --digits 1,1 --answer yes --config {CONFIG_DIR}"],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "connected to" in done.stdout  # who, depends on the hour (serve's own clock)
        time.sleep(2)  # the worker sends the triage question by (dry-run) SMS
        # Added up over gunicorn's processes (multiprocess mode), with Redis facts.
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'callrouter_webhook_seconds_count{endpoint="voice.incoming"} 1.0' in metrics
        assert "callrouter_workers 1.0" in metrics and "callrouter_redis_up 1.0" in metrics
    log = "".join(banner).split("stop with Ctrl-C", 1)[1]  # what happened after the banner
    assert re.search(
        r"dry run: would send SMS SMdry\w+ to \+31 \*{5} \d\d \d\d: Gesprek [1-9]\d{7} ", log
    )
    assert STAFF_MOBILE not in log and "+31612345678" not in log
    assert not (tmp_path / "var" / "serve.json").exists()
    with pytest.raises(requests.RequestException):
        requests.get(f"http://127.0.0.1:{port}/health", timeout=1)

    with serving(tmp_path, port, redis_port):
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("CALLROUTER_DATA_DIR")
        monkeypatch.setenv("REDIS_URL", "")  # found through ./var/serve.json
        code = main(["calls", "--last", "5", "--config", str(CONFIG_DIR)])
        out = capsys.readouterr().out
    assert code == 0
    # kept across the restart: the call, closed
    assert "laatste 1 oproep(en)" in out and "klaar" in out


def readme_local_run() -> list[str]:
    """The commands of the README's local-run block, as written."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- local-run:", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_the_readme_local_run_and_a_staff_phone_claim_and_answer_a_callback(
    tmp_path: Path,
) -> None:
    copy_config(tmp_path / "config")  # the README's commands use ./config, as in a checkout
    with serving(tmp_path, free_port(), free_port()):
        run = LocalRun.read(tmp_path / "var")
        assert run is not None
        generation = load_generation(CONFIG_DIR)
        config = generation.config
        ctx = callback_context(
            redis.Redis.from_url(run.redis_url), config, generation.callbacks, b"k" * 32
        )
        # A caller hung up and asked for a callback (how, depends on the hour: so directly).
        twilio = Twilio(HttpTransport(), run.twilio_auth_token, run.web_url)
        call = SimCall(twilio, CALLER, config.crisis_number).start().hang_up().report_end()
        facts = CallerFacts("resident", "18+", "nijmegen")
        request_id = cb_service.submit(
            ctx, number=CALLER, facts=facts, moment=clock.now(), call_sid=call.call_sid
        ).request_id
        request = ctx.store.get(request_id)
        assert request is not None
        # Only staff offered a request may claim it: Anna got the offer SMS (as the
        # notify job records it; who is on call depends on the hour the test runs).
        offer = ctx.store.sms_key(request_id, 1, "offer", "anna")
        ctx.store.finish_send(offer, "SMtest", offered=(request_id, "anna"))
        outputs = []
        for line in readme_local_run():
            command = line.replace(".venv/bin/callrouter", CALLROUTER).replace(
                '"OK 482"', f'"OK {request.code}"'
            )
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=tmp_path,
                env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")},
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
            outputs.append(done.stdout)
    calls, queue, claimed, answered = outputs
    assert request.code in queue
    assert f"Terugbelverzoek {request.code} is van u" in claimed
    assert "Anna de Vries (SPV) presses 1" in answered
    assert "the caller answers: connected" in answered
    assert "Vastgelegd: Actieve inschatting" in answered
    assert CALLER[3:] not in "".join(outputs)
