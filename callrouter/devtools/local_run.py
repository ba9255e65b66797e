"""How the commands of one working directory find the `callrouter serve` running there.

`serve` keeps its Redis on a known port with its data in a data directory
(`var/` unless `--data-dir` / `CALLROUTER_DATA_DIR` says otherwise) and
writes `serve.json` there while it runs: the Redis URL, the web URL and,
only when serve generated them for this run, the Twilio auth token the local
webhooks check and the service secret (it keys the access log). `report`,
`calls`, `callbacks`, `staff` and an in-process `phone` then use that Redis
when `REDIS_URL` is unset, so a newcomer never
has to copy a URL from one terminal to another.

The file is only trusted while its Redis answers: a stale file left by a
killed serve points nowhere and is ignored. It is written with mode 0600
because of the (local, throw-away) token.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from callrouter.devtools.redis_server import ping
from callrouter.settings import ENV_NAMES, local_data_dir

STATE_FILE = "serve.json"
REDIS_SUBDIR = "redis"
DEFAULT_REDIS_PORT = 6380
"""Next to Redis's usual 6379, so a developer's own Redis is never touched."""


@dataclass(frozen=True)
class LocalRun:
    """What other commands need to know about a running `callrouter serve`."""

    redis_url: str
    web_url: str
    pid: int
    twilio_auth_token: str = field(default="", repr=False)
    """Only a token serve generated for this run; never one from the environment."""
    secret: str = field(default="", repr=False)
    """Only a CALLROUTER_SECRET serve generated for this run: it keys the access log,
    which `calls`, `report` and `callbacks` write to before showing call data."""

    def write(self, data_dir: Path) -> Path:
        path = data_dir / STATE_FILE
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(asdict(self), out, indent=2)
        return path

    @classmethod
    def read(cls, data_dir: Path) -> LocalRun | None:
        """The run whose state is in `data_dir`, if its Redis answers; else None."""
        try:
            raw = json.loads((data_dir / STATE_FILE).read_text(encoding="utf-8"))
            run = cls(
                redis_url=str(raw["redis_url"]),
                web_url=str(raw["web_url"]),
                pid=int(raw["pid"]),
                twilio_auth_token=str(raw.get("twilio_auth_token", "")),
                secret=str(raw.get("secret", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        parts = urlsplit(run.redis_url)
        if parts.hostname is None or parts.port is None:
            return None
        return run if ping(parts.port, parts.hostname) else None


def forget(data_dir: Path, pid: int) -> None:
    """Remove the state file when serve stops (only its own: never a newer run's)."""
    run_file = data_dir / STATE_FILE
    try:
        if json.loads(run_file.read_text(encoding="utf-8")).get("pid") == pid:
            run_file.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def adopt(environ: MutableMapping[str, str]) -> LocalRun | None:
    """Point this process at the local serve when `REDIS_URL` is unset: its
    Redis, and (when serve generated it) the token its webhooks check, so
    `phone --url` and `staff` need nothing copied from serve's terminal."""
    if environ.get(ENV_NAMES["REDIS_URL"]):
        return None
    run = LocalRun.read(local_data_dir(environ))
    if run is not None:
        environ[ENV_NAMES["REDIS_URL"]] = run.redis_url
        if run.twilio_auth_token and not environ.get(ENV_NAMES["TWILIO_AUTH_TOKEN"]):
            environ[ENV_NAMES["TWILIO_AUTH_TOKEN"]] = run.twilio_auth_token
        if run.secret and not environ.get(ENV_NAMES["SECRET"]):
            environ[ENV_NAMES["SECRET"]] = run.secret
    return run
