"""Shared pieces of the callback tests: a config with tiny delays, signed webhooks,
a real `rq worker` subprocess, and a Flask app wired like production.

Kept out of conftest.py so the callback tests say what they use.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import redis
from flask import Flask
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from callrouter import clock as wall_clock
from callrouter.callbacks.jobs import JOBS
from callrouter.callbacks.service import CallbackContext
from callrouter.calls.store import CallStore
from callrouter.redis_conn import Purpose
from callrouter.services import Services, build
from callrouter.settings import Process, Settings

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"

AUTH_TOKEN = "test-auth-token-callbacks"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
SECRET = "s" * 40
ADMIN_TOKEN = "admin-token-for-tests"
CRISIS = "+31880001133"
CALLER = "+31612344567"
"""The caller's own mobile in most tests; its raw digits must never reach a log."""
CALLER_DIGITS = "612344567"

FAST_CALLBACKS_HEAD = """
callbacks:
  sla: {referrer: 2s, relative: 2s, resident: 2s}
  priority: {referrer: 1, relative: 2, resident: 2}
  escalation:
    - {notify: oncall, after: 0s}
    - {notify: backup, after: 50%}
    - {notify: team, after: 100%}
    - {notify: fallback, after: 150%}
  fallback_team: ggz
  expire_after: 1h
  ring: {staff: 5s, caller: 5s}
  max_attempts: 2
  limits: {per_number: 3, per_caller: 3, per_call: 1, per: 1h, open: 100}
  dedupe_window: 30m
  allow_foreign: false
  spool_dir: {spool}
  keep_raw_numbers: 7d
  retry:
    backoff: [1s, 1s, 1s]
"""

SAMPLE_TEXTS = (
    (CONFIG_DIR / "callbacks.yaml").read_text(encoding="utf-8").split("\n  texts:\n", 1)[1]
)
"""The sample config's callback texts (the last block of config/callbacks.yaml)."""
FAST_CALLBACKS = FAST_CALLBACKS_HEAD + "  texts:\n" + SAMPLE_TEXTS


YOUTH = ("resident", "<18", None)
"""Facts that route to the 'jeugd' rule at every hour: CIT first, then its achterwacht."""
ILSE, LARS = "+31610000021", "+31610000024"
CIT_TEAM = {
    "ilse": "+31610000021",
    "joost": "+31610000022",
    "kim": "+31610000023",
    "lars": "+31610000024",
    "mila": "+31610000025",
}
GGZ_ONCALL = {"noor": "+31610000031", "quinten": "+31610000034"}


def make_config_dir(
    tmp: Path, callbacks_yaml: str | None = None, *, stable_rotas: bool = False
) -> Path:
    """A copy of the sample config with a callbacks section for tests (tiny delays).

    `stable_rotas`: every rota has one member and there are no overrides, so
    who is on call does not depend on the day a worker test happens to run.
    """
    target = tmp / "config"
    target.mkdir()
    for path in CONFIG_DIR.glob("*.yaml"):
        if path.name != "callbacks.yaml":
            shutil.copy(path, target / path.name)
    if stable_rotas:
        teams = (target / "teams.yaml").read_text(encoding="utf-8")
        teams = re.sub(r"order: \[(\w+)[^\]]*\]", r"order: [\1]", teams)
        teams = re.sub(r"\n    overrides:\n(      - \{.*\}\n)+", "\n", teams)
        (target / "teams.yaml").write_text(teams, encoding="utf-8")
    text = callbacks_yaml if callbacks_yaml is not None else FAST_CALLBACKS
    (target / "callbacks.yaml").write_text(
        text.replace("{spool}", str(tmp / "spool")), encoding="utf-8"
    )
    return target


def worker_env(redis_url: str, config_dir: Path, twilio_base: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "REDIS_URL": redis_url,
            "CALLROUTER_CONFIG_DIR": str(config_dir),
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": twilio_base,
            "CALLROUTER_SECRET": SECRET,
            "CALLROUTER_PUBLIC_BASE_URL": "https://crisis.example.nl",
            "CALLROUTER_TWILIO_TIMEOUT_SECONDS": "1",
            "CALLROUTER_SEND_LEASE_SECONDS": "2",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


def job_services(
    config_dir: Path,
    conn: redis.Redis,
    twilio_base: str,
    clock: Callable[[], Any] | None = None,
    **extra: str,
) -> Services:
    """The `Services` a worker with `worker_env` builds, on the test's Redis (and clock)."""
    kwargs = conn.connection_pool.connection_kwargs
    url = f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"
    settings = Settings.from_env(worker_env(url, config_dir, twilio_base, **extra), Process.WORKER)
    return build(
        settings, jobs=JOBS, purpose=Purpose.WORKER, conn=conn, clock=clock or wall_clock.now
    )


def use_env(monkeypatch: Any, env: Mapping[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)


# --------------------------------------------------------------------------- web


def make_app(
    config_dir: Path,
    conn: redis.Redis | None,
    clock: Callable[[], Any] | None = None,
    spool_dir: Path | None = None,
) -> Flask:
    """The callback and SMS blueprints on their own, wired as `create_app` wires them."""
    from callrouter.callbacks import web as callbacks_web
    from callrouter.config.live import LiveConfig
    from callrouter.web import admin_auth
    from callrouter.web import sms as sms_web

    app = Flask(__name__)
    app.config.update(TESTING=True, TWILIO_AUTH_TOKEN=AUTH_TOKEN)
    if clock is not None:
        app.config["CLOCK"] = clock
    web = callbacks_web.CallbackWeb(
        live=LiveConfig(config_dir),
        conn=conn,
        secret=SECRET,
        spool_dir=str(spool_dir) if spool_dir else None,
    )
    callbacks_web.init_app(app, web)
    admin_auth.init_app(app, ADMIN_TOKEN)
    sms_web.init_app(app)
    return app


def signed_post(
    client: FlaskClient, path: str, params: Mapping[str, str], *, token: str = AUTH_TOKEN
) -> TestResponse:
    """POST a form the way Twilio does, with a valid X-Twilio-Signature."""
    url = f"http://localhost{path}"
    signature = RequestValidator(token).compute_signature(url, dict(params))
    return client.post(path, data=dict(params), headers={"X-Twilio-Signature": signature})


def path_of(url: str) -> str:
    """The path and query of an absolute URL found in TwiML (to post to next)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def form(**values: str) -> str:
    return urlencode(values)


# --------------------------------------------------------------------------- rq worker


class RqWorker:
    """A real `rq worker --with-scheduler` subprocess (and its work horse and scheduler)."""

    def __init__(
        self, redis_url: str, env: Mapping[str, str], log: Path, burst: bool = False
    ) -> None:
        self.redis_url = redis_url
        self.env = dict(env)
        self.log_path = log
        self.burst = burst
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        rq = str(Path(sys.executable).parent / "rq")
        args = [
            rq,
            "worker",
            "--with-scheduler",
            "-w",
            "callrouter.worker.Worker",
            "--url",
            self.redis_url,
            "callbacks",
        ]
        return [*args, "--burst"] if self.burst else args

    def start(self) -> RqWorker:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.command(),
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=str(ROOT),
        )
        log.close()
        return self

    def descendants(self) -> list[int]:
        """Every process below the worker (work horse, scheduler), from /proc."""
        if self.proc is None:
            return []
        found: list[int] = []
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found.append(child)
                todo.append(child)
        return found

    def kill(self) -> None:
        """SIGKILL the worker and everything below it: a crash, mid-job."""
        if self.proc is None:
            return
        for pid in [self.proc.pid, *self.descendants()]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        below = self.descendants()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.kill() if self.proc.poll() is None else None
        for pid in below:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_until(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy (work done by another process)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def callback_context(
    conn: redis.Redis,
    config: Any,
    policy: Any,
    key: bytes,
    call_log: Any = None,
) -> CallbackContext:
    """A `CallbackContext` wired like production: jobs by reference, the call log's store."""
    return CallbackContext(
        conn, config, policy, key, JOBS, call_log if call_log is not None else CallStore(conn, None)
    )
