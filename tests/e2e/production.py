"""The service in the shape production runs it, for end-to-end journeys.

`Production` starts a real redis-server, then the Procfile's own ``web``
(gunicorn, 2 workers) and ``worker`` (``rq worker``) lines, each with only
the environment production gives it (the settings, nothing inherited from
the test process but PATH). Twilio is NOT in dry-run: the REST API is the
strict fake (`tests.fakes.twilio_api`), which refuses what Twilio refuses
(relative URLs, non-E.164 numbers, unknown parameters). Twilio's webhooks
are played by the simulator, signed with the auth token.

Staff read their phone like a person does (GoAlert style):

    sms = prod.staff(ILSE).expect_sms("OK")
    sms.reply(f"OK {sms.code}")
    call = prod.staff(ILSE).answer_call()    # the bridged callback, via its absolute URL
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import redis
import requests

from callrouter.devtools.redis_server import EmbeddedRedis, free_port
from callrouter.devtools.twilio_sim import HttpTransport, SimCall, Twilio
from tests.callbacks_kit import ACCOUNT_SID, AUTH_TOKEN, SECRET, make_config_dir
from tests.fakes.twilio_api import FakeTwilioApi, RecordedRequest
from tests.phone import CRISIS_NUMBER, PSEUDONYM_KEY

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
"""The venv's bin: `gunicorn` and `rq`, as the Procfile names them."""
START_SECONDS = 60.0
"""Generous: on a busy CI machine importing and loading the config takes a while."""
SAMPLE_CALLBACKS = (
    (ROOT / "config" / "callbacks.yaml").read_text().replace("var/spool/callbacks", "{spool}")
)
"""The sample callback policy (promises "binnen 20 minuten"; escalations minutes apart)."""


def procfile(process: str) -> list[str]:
    """The Procfile's command for `process` (``web``, ``worker``), split like a shell would."""
    for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return shlex.split(command)
    raise AssertionError(f"the Procfile has no {process!r} line")


def wait_for(check: Callable[[], Any], what: str, seconds: float = 10.0) -> Any:
    """Poll `check` until it is truthy (another process does the work)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Sms:
    """An SMS the service sent to a staff member's phone."""

    phone: StaffPhone
    body: str

    @property
    def code(self) -> str:
        """The claim code in an offer ("... antwoord OK 482 ...")."""
        found = re.search(r"\bOK (\w+)", self.body)
        assert found, f"no claim code in {self.body!r}"
        return found.group(1)

    def reply(self, text: str) -> str:
        """Answer from the staff member's own phone; returns the service's SMS reply."""
        root = self.phone.prod.twilio.post(
            "/sms/incoming",
            {
                "From": self.phone.number,
                "To": CRISIS_NUMBER,
                "Body": text,
                "MessageSid": "SM" + uuid.uuid4().hex,
                "AccountSid": ACCOUNT_SID,
            },
        )
        return "" if root is None else " ".join(m.text or "" for m in root.iter("Message"))


@dataclass
class StaffPhone:
    """A staff member's mobile: reads SMS and answers calls the service sends it."""

    prod: Production
    number: str
    read: int = 0
    answered: int = 0

    def expect_sms(self, containing: str, seconds: float = 10.0) -> Sms:
        """The next unread SMS to this phone; it must contain `containing`."""

        def arrived() -> list[RecordedRequest]:
            return [m for m in self.prod.fake.messages() if m.field("To") == self.number]

        messages = wait_for(lambda: len(arrived()) > self.read, "an SMS to staff", seconds)
        message = arrived()[self.read] if messages else None
        assert message is not None
        self.read += 1
        body = message.field("Body")
        assert containing in body, f"expected {containing!r} in the SMS {body!r}"
        return Sms(self, body)

    def answer_call(self, seconds: float = 10.0) -> SimCall:
        """Pick up the next call the service places to this phone, at the URL it gave Twilio."""

        def placed() -> list[RecordedRequest]:
            return [c for c in self.prod.fake.calls() if c.field("To") == self.number]

        wait_for(lambda: len(placed()) > self.answered, "a call to staff", seconds)
        call = placed()[self.answered]
        self.answered += 1
        url = call.field("Url")
        assert url.startswith(self.prod.url + "/"), f"not an absolute URL of the service: {url}"
        return SimCall(self.prod.twilio, CRISIS_NUMBER, self.number).start(url)


@dataclass
class Production:
    """Redis, the fake Twilio API, config, and the Procfile's processes; a context manager."""

    tmp: Path
    callbacks_yaml: str = SAMPLE_CALLBACKS
    redis_server: EmbeddedRedis = field(default_factory=EmbeddedRedis)
    fake: FakeTwilioApi = field(
        default_factory=lambda: FakeTwilioApi(credentials=(ACCOUNT_SID, AUTH_TOKEN))
    )
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.config_dir = make_config_dir(self.tmp, self.callbacks_yaml, stable_rotas=True)
        self.url = f"http://127.0.0.1:{self.port}"
        self.transport = HttpTransport()
        self.twilio = Twilio(self.transport, AUTH_TOKEN, self.url)

    def __enter__(self) -> Production:
        self.redis_server.start()
        self.fake.__enter__()
        self.conn = redis.Redis.from_url(self.redis_server.url)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for process in self.processes.values():  # all at once: their shutdowns overlap
            if process.poll() is None:
                process.terminate()
        for name in list(self.processes):
            self.stop(name)
        self.transport.close()
        self.conn.close()
        self.fake.__exit__(exc_type, exc, tb)
        self.redis_server.close()

    # -- the environment production gives each process ----------------------------

    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "REDIS_URL": self.redis_server.url,
            "CALLROUTER_CONFIG_DIR": str(self.config_dir),
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": self.fake.base_url,
            "CALLROUTER_SECRET": SECRET,
            "CALLROUTER_PSEUDONYM_KEY": PSEUDONYM_KEY,
            "CALLROUTER_PUBLIC_BASE_URL": self.url,
            "CALLROUTER_TWILIO_TIMEOUT_SECONDS": "2",
            "CALLROUTER_SEND_LEASE_SECONDS": "2",
            "CALLROUTER_CONFIG_CHECK_SECONDS": "0.2",
            "CALLROUTER_SPOOL_DIR": str(self.tmp / "spool"),
        }

    # -- processes --------------------------------------------------------------

    def start(self) -> Production:
        """Web and worker, started side by side (as a platform starts a Procfile)."""
        return self.start_web(wait=False).start_worker().start_web(start=False)

    def start_web(
        self, *, start: bool = True, wait: bool = True, without: tuple[str, ...] = ()
    ) -> Production:
        """`web:` of the Procfile, bound to this harness's port; waits until /health answers.
        `without`: settings left out of its environment (an operator's mistake)."""
        if start:
            extra = {"GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{self.port} --graceful-timeout 2"}
            env = {k: v for k, v in (self.env() | extra).items() if k not in without}
            self._start("web", procfile("web"), env)
        if wait:
            wait_for(self.answers, "gunicorn answering /health", START_SECONDS)
        return self

    def start_worker(self) -> Production:
        """`worker:` of the Procfile; waits until it registered with RQ (its heartbeat)."""
        command = [a.replace("$REDIS_URL", self.redis_server.url) for a in procfile("worker")]
        self._start("worker", command, self.env())
        wait_for(lambda: self.worker_count() > 0, "the rq worker registering", START_SECONDS)
        return self

    def worker_count(self) -> int:
        process = self.processes["worker"]
        assert process.poll() is None, f"the worker exited:\n{self.log('worker')}"
        found = self.conn.smembers("rq:workers:callbacks")
        return len(found)

    def sighup_web(self) -> None:
        """What `systemctl reload` or a deploy does: gunicorn restarts its workers."""
        self.processes["web"].send_signal(signal.SIGHUP)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        with (self.tmp / f"{name}.log").open("ab") as out:
            self.processes[name] = subprocess.Popen(
                command,
                cwd=self.tmp,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def answers(self) -> bool:
        """Whether the web answers /health (it must still be running)."""
        assert self.processes["web"].poll() is None, f"gunicorn exited:\n{self.log('web')}"
        try:
            return requests.get(f"{self.url}/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    # -- looking at it from outside ---------------------------------------------

    def health(self) -> dict[str, Any]:
        response = requests.get(f"{self.url}/health", timeout=2)
        assert response.status_code in (200, 503), response.text
        body: dict[str, Any] = response.json()
        return body

    def staff(self, number: str) -> StaffPhone:
        phones: dict[str, StaffPhone] = self.__dict__.setdefault("_phones", {})
        return phones.setdefault(number, StaffPhone(self, number))

    def call(self, caller: str) -> SimCall:
        """A caller rings the crisis number."""
        return SimCall(self.twilio, caller, CRISIS_NUMBER).start()

    def twilio_urls(self) -> list[str]:
        """Every URL the service handed Twilio's REST API (each must be absolute)."""
        return [
            value
            for request in self.fake.requests()
            for name, values in request.form.items()
            if name in ("Url", "StatusCallback")
            for value in values
        ]

    def break_config(self, file: str = "teams.yaml") -> None:
        """A one-key typo, as an admin makes it (refused with file:line)."""
        path = self.config_dir / file
        text = path.read_text(encoding="utf-8")
        broken = text.replace("order:", "ordr:", 1)
        assert broken != text
        path.write_text(broken, encoding="utf-8")

    def fix_config(self, file: str = "teams.yaml") -> None:
        path = self.config_dir / file
        path.write_text(path.read_text(encoding="utf-8").replace("ordr:", "order:", 1))


def is_absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
