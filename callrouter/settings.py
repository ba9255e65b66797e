"""Process settings: the one module that reads the environment.

Secrets (the Twilio auth token, the state-signing secret, the pseudonym
key) come from the environment and have no defaults: a process that needs
one and lacks it refuses to start with one line naming each missing setting,
instead of running a crisis line that accepts forged webhooks, signs state
with a guessable key, or a worker whose every job fails. Which settings a
process needs depends on what it does (`Process`): the web answers Twilio's
webhooks, the worker sends SMS and places calls, the CLI needs little. Only
`callrouter serve` (local, dry run) makes ephemeral secrets up, and says so.

Names: the vendor and infrastructure names everyone knows stay as they are
(`TWILIO_AUTH_TOKEN`, `TWILIO_ACCOUNT_SID`, `REDIS_URL`); the service's own
carry the `CALLROUTER_` prefix, so a generic `SECRET` of some other tool is
never picked up by mistake.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from callrouter.errors import CallrouterError

ENV_NAMES: Mapping[str, str] = {
    "TWILIO_AUTH_TOKEN": "TWILIO_AUTH_TOKEN",
    "TWILIO_ACCOUNT_SID": "TWILIO_ACCOUNT_SID",
    "TWILIO_API_BASE_URL": "TWILIO_API_BASE_URL",
    "REDIS_URL": "REDIS_URL",
    "CONFIG_DIR": "CALLROUTER_CONFIG_DIR",
    "PUBLIC_BASE_URL": "CALLROUTER_PUBLIC_BASE_URL",
    "PROXY_HOPS": "CALLROUTER_PROXY_HOPS",
    "SECRET": "CALLROUTER_SECRET",
    "DRY_RUN": "CALLROUTER_DRY_RUN",
    "PSEUDONYM_KEY": "CALLROUTER_PSEUDONYM_KEY",
    "ADMIN_TOKEN": "CALLROUTER_ADMIN_TOKEN",
    "SPOOL_DIR": "CALLROUTER_SPOOL_DIR",
    "TWILIO_TIMEOUT_SECONDS": "CALLROUTER_TWILIO_TIMEOUT_SECONDS",
    "SEND_LEASE_SECONDS": "CALLROUTER_SEND_LEASE_SECONDS",
    "CONFIG_CHECK_SECONDS": "CALLROUTER_CONFIG_CHECK_SECONDS",
    "OPERATOR": "USER",
}
"""Settings key (also the Flask config key of `create_app(test_config)`) -> environment variable."""

MIN_SECRET_CHARS = 32
MIN_PSEUDONYM_KEY_CHARS = 16
MAX_PROXY_HOPS = 5
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class Process(StrEnum):
    """What a process does decides which settings it cannot start without."""

    WEB = "web"
    """Answers Twilio's webhooks: verifies signatures, signs state, keeps call records."""
    WORKER = "worker"
    """Runs the jobs: sends SMS and places calls, so it needs Twilio and a public URL."""
    CLI = "cli"
    """Admin commands: each asks for what it needs with `Settings.require`."""


class SettingsError(CallrouterError):
    """Settings are missing or malformed; `problems` names each (never a secret's value)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    twilio_auth_token: str = field(repr=False)
    secret: str = field(repr=False)
    """Signs the IVR state carried in Twilio's action URLs; keys callback pseudonyms."""
    config_dir: Path
    twilio_account_sid: str = ""
    redis_url: str | None = None
    public_base_url: str | None = None
    """The origin (and path prefix) Twilio calls; every URL handed to Twilio starts with it."""
    proxy_hops: int = 0
    """Reverse proxies in front of the app whose X-Forwarded-* headers are trusted."""
    twilio_api_base_url: str | None = None
    dry_run: bool = False
    """Log SMS and outbound calls instead of sending them (local runs)."""
    pseudonym_key: str = field(default="", repr=False)
    """Keys callers' pseudonyms in the call records (`callrouter.calls.store`)."""
    admin_token: str = field(default="", repr=False)
    """Bearer token of the admin API; '' refuses every admin request."""
    spool_dir: Path | None = None
    """Overrides `callbacks.spool_dir` of the config (containers, tests)."""
    twilio_timeout_seconds: float = 10.0
    """Bounds each Twilio REST request, so a hanging Twilio cannot hold a job."""
    send_lease_seconds: float = 30.0
    """How long a send marker blocks a second attempt at the same SMS or call:
    longer than one Twilio HTTP request may take."""
    config_check_seconds: float = 2.0
    """How often a process looks whether the YAML files changed."""
    operator: str = "cli"
    """Who runs a CLI command (``$USER``), for the audit trail."""

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, process: Process = Process.WEB
    ) -> Settings:
        """From the environment (`os.environ` unless given), checked for `process`."""
        env = os.environ if environ is None else environ
        return cls.from_values(lambda key: env.get(ENV_NAMES[key]), process)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], process: Process = Process.WEB) -> Settings:
        """From Flask-style keys (`create_app(test_config)`), validated the same way."""
        return cls.from_values(config.get, process)

    @classmethod
    def from_values(cls, get: Callable[[str], Any], process: Process = Process.WEB) -> Settings:
        problems: list[str] = []

        def text(key: str) -> str:
            value = get(key)
            return "" if value is None else str(value).strip()

        public = text("PUBLIC_BASE_URL") or None
        if public is not None and not _is_origin(public):
            problems.append(f"{ENV_NAMES['PUBLIC_BASE_URL']} must look like https://host[/prefix]")
        settings = cls(
            twilio_auth_token=text("TWILIO_AUTH_TOKEN"),
            secret=text("SECRET"),
            config_dir=Path(text("CONFIG_DIR") or "config"),
            twilio_account_sid=text("TWILIO_ACCOUNT_SID"),
            redis_url=text("REDIS_URL") or None,
            public_base_url=public.rstrip("/") if public else None,
            proxy_hops=_hops(get("PROXY_HOPS"), problems),
            twilio_api_base_url=text("TWILIO_API_BASE_URL") or None,
            dry_run=_flag(get("DRY_RUN"), problems),
            pseudonym_key=text("PSEUDONYM_KEY"),
            admin_token=text("ADMIN_TOKEN"),
            spool_dir=Path(text("SPOOL_DIR")) if text("SPOOL_DIR") else None,
            twilio_timeout_seconds=_seconds("TWILIO_TIMEOUT_SECONDS", get, 10.0, problems),
            send_lease_seconds=_seconds("SEND_LEASE_SECONDS", get, 30.0, problems),
            config_check_seconds=_seconds("CONFIG_CHECK_SECONDS", get, 2.0, problems, zero=True),
            operator=text("OPERATOR") or "cli",
        )
        problems.extend(settings.missing(*NEEDS[process]))
        if problems:
            raise SettingsError(problems)
        return settings

    def missing(self, *keys: str) -> list[str]:
        """One line per setting among `keys` this process needs and lacks (or has too short)."""
        return [problem for key in keys if (problem := _CHECKS[key](self))]

    def require(self, *keys: str) -> Settings:
        """Refuse (`SettingsError`) unless every setting among `keys` is usable (CLI)."""
        problems = self.missing(*keys)
        if problems:
            raise SettingsError(problems)
        return self

    def flask_config(self) -> dict[str, Any]:
        """The settings under the Flask config keys the blueprints read."""
        return {
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token,
            "TWILIO_ACCOUNT_SID": self.twilio_account_sid,
            "TWILIO_API_BASE_URL": self.twilio_api_base_url,
            "REDIS_URL": self.redis_url,
            "CONFIG_DIR": str(self.config_dir),
            "PUBLIC_BASE_URL": self.public_base_url,
            "PROXY_HOPS": self.proxy_hops,
            "SECRET": self.secret,
            "DRY_RUN": self.dry_run,
            "PSEUDONYM_KEY": self.pseudonym_key,
        }


def cli_settings() -> Settings:
    """The environment as an admin command sees it (it asks for more with `require`)."""
    return Settings.from_env(process=Process.CLI)


def _need(key: str, why: str) -> str:
    return f"{ENV_NAMES[key]} is not set: {why}"


def _check_token(s: Settings) -> str:
    if s.twilio_auth_token:
        return ""
    return _need("TWILIO_AUTH_TOKEN", "without it no Twilio webhook can be verified")


def _check_secret(s: Settings) -> str:
    if len(s.secret) >= MIN_SECRET_CHARS:
        return ""
    return (
        f"{ENV_NAMES['SECRET']} must be a random secret of at least {MIN_SECRET_CHARS} "
        "characters (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    )


def _check_account(s: Settings) -> str:
    if s.twilio_account_sid or s.dry_run:
        return ""
    return _need(
        "TWILIO_ACCOUNT_SID",
        f"needed to send SMS and place calls (or set {ENV_NAMES['DRY_RUN']}=1)",
    )


def _check_sending_token(s: Settings) -> str:
    if s.twilio_auth_token or s.dry_run:
        return ""
    return _need("TWILIO_AUTH_TOKEN", "needed to send SMS and place calls")


def _check_public(s: Settings) -> str:
    if s.public_base_url or s.dry_run:
        return ""
    return _need(
        "PUBLIC_BASE_URL",
        "Twilio only calls absolute URLs; set the https://host Twilio reaches this service on",
    )


def _check_redis(s: Settings) -> str:
    return "" if s.redis_url else _need("REDIS_URL", "the job queue and call records live there")


def _check_pseudonym(s: Settings) -> str:
    if s.redis_url is None or len(s.pseudonym_key) >= MIN_PSEUDONYM_KEY_CHARS:
        return ""
    return (
        f"{ENV_NAMES['PSEUDONYM_KEY']} must be set to a secret of at least "
        f"{MIN_PSEUDONYM_KEY_CHARS} characters "
        "(python -c 'import secrets; print(secrets.token_hex(32))')"
    )


_CHECKS: Mapping[str, Callable[[Settings], str]] = {
    "TWILIO_AUTH_TOKEN": _check_token,
    "SENDING_TOKEN": _check_sending_token,
    "SECRET": _check_secret,
    "TWILIO_ACCOUNT_SID": _check_account,
    "PUBLIC_BASE_URL": _check_public,
    "REDIS_URL": _check_redis,
    "PSEUDONYM_KEY": _check_pseudonym,
}
NEEDS: Mapping[Process, tuple[str, ...]] = {
    Process.WEB: ("TWILIO_AUTH_TOKEN", "SECRET", "TWILIO_ACCOUNT_SID", "PSEUDONYM_KEY"),
    Process.WORKER: (
        "REDIS_URL",
        "SENDING_TOKEN",
        "TWILIO_ACCOUNT_SID",
        "SECRET",
        "PUBLIC_BASE_URL",
    ),
    Process.CLI: (),
}
"""What each process refuses to start without (checks in `_CHECKS`)."""


def _flag(value: Any, problems: list[str]) -> bool:
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in _TRUE:
        return True
    if text not in _FALSE:
        problems.append(f"{ENV_NAMES['DRY_RUN']}={value!r} is not a yes/no value (use 1 or 0)")
    return False


def _hops(value: Any, problems: list[str]) -> int:
    try:
        hops = int(value or 0)
    except (TypeError, ValueError):
        hops = -1
    if not 0 <= hops <= MAX_PROXY_HOPS:
        problems.append(
            f"{ENV_NAMES['PROXY_HOPS']} must be a whole number of proxies, 0 to {MAX_PROXY_HOPS}"
        )
        return 0
    return hops


def _seconds(
    key: str,
    get: Callable[[str], Any],
    default: float,
    problems: list[str],
    *,
    zero: bool = False,
) -> float:
    value = get(key)
    if value is None or str(value).strip() == "":
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if seconds < 0 or (seconds == 0 and not zero):
        problems.append(f"{ENV_NAMES[key]}={value!r} must be a positive number of seconds")
        return default
    return seconds


def _is_origin(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.netloc)
        and not parts.query
        and not parts.fragment
    )


DATA_DIR_ENV = "CALLROUTER_DATA_DIR"
"""Where `callrouter serve` keeps its local data (default `var`): the embedded
Redis's append-only file and the state file other commands read."""
LOG_FORMAT_ENV = "CALLROUTER_LOG_FORMAT"
"""`text` (default) or `json`, one object per line, for a log shipper."""
LOG_FORMATS = ("text", "json")


def local_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The data directory of a local run (`callrouter serve`), relative to the working dir."""
    env = os.environ if environ is None else environ
    return Path(env.get(DATA_DIR_ENV, "").strip() or "var")


def log_format(environ: Mapping[str, str] | None = None) -> str:
    """The log format asked for; a typo is an error, not silently plain text."""
    env = os.environ if environ is None else environ
    value = env.get(LOG_FORMAT_ENV, "").strip().lower() or "text"
    if value not in LOG_FORMATS:
        raise SettingsError(
            [f"{LOG_FORMAT_ENV}={value!r} is not a log format: use {' or '.join(LOG_FORMATS)}"]
        )
    return value
