"""Process settings, from the environment only.

Secrets (the Twilio auth token, the state-signing secret) come from the
environment and have no defaults: a missing one stops the web service at
start-up, with every missing setting named at once, instead of running a
crisis line that accepts forged webhooks or signs state with a guessable
key. Only `callrouter serve` (local, dry run) makes ephemeral ones up, and
says so.

Names: the vendor and infrastructure names everyone knows stay as they are
(`TWILIO_AUTH_TOKEN`, `TWILIO_ACCOUNT_SID`, `REDIS_URL`); the service's own
carry the `CALLROUTER_` prefix, like `CALLROUTER_CONFIG_DIR` of the admin
CLI, so a generic `SECRET` of some other tool is never picked up by mistake.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
}
"""Flask config key -> environment variable."""

MIN_SECRET_CHARS = 32
MAX_PROXY_HOPS = 5
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class SettingsError(CallrouterError):
    """Settings are missing or malformed; `problems` names each (never a secret's value)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    twilio_auth_token: str = field(repr=False)
    secret: str = field(repr=False)
    """Signs the IVR state carried in Twilio's action URLs."""
    config_dir: Path
    twilio_account_sid: str = ""
    redis_url: str | None = None
    public_base_url: str | None = None
    """The origin (and path prefix) Twilio calls, when a proxy rewrites it."""
    proxy_hops: int = 0
    """Reverse proxies in front of the app whose X-Forwarded-* headers are trusted."""
    twilio_api_base_url: str | None = None
    dry_run: bool = False
    """Log SMS and outbound calls instead of sending them (local runs)."""
    pseudonym_key: str = field(default="", repr=False)
    """Keys callers' pseudonyms in the call records (`callrouter.calls.store`);
    the web app requires it when it has a Redis, see `create_app`."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        return cls.from_values(lambda key: environ.get(ENV_NAMES[key]))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """From Flask-style keys (`create_app(test_config)`), validated the same way."""
        return cls.from_values(config.get)

    @classmethod
    def from_values(cls, get: Callable[[str], Any]) -> Settings:
        problems: list[str] = []

        def text(key: str) -> str:
            value = get(key)
            return "" if value is None else str(value).strip()

        def need(key: str, why: str) -> None:
            problems.append(f"{ENV_NAMES[key]} is not set: {why}")

        token, secret = text("TWILIO_AUTH_TOKEN"), text("SECRET")
        dry_run = _flag(get("DRY_RUN"), problems)
        if not token:
            need("TWILIO_AUTH_TOKEN", "without it no Twilio webhook can be verified")
        if len(secret) < MIN_SECRET_CHARS:
            problems.append(
                f"{ENV_NAMES['SECRET']} must be a random secret of at least {MIN_SECRET_CHARS} "
                "characters (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        account = text("TWILIO_ACCOUNT_SID")
        if not account and not dry_run:
            need(
                "TWILIO_ACCOUNT_SID",
                f"needed to send SMS and place calls (or set {ENV_NAMES['DRY_RUN']}=1)",
            )
        public = text("PUBLIC_BASE_URL") or None
        if public is not None and not _is_origin(public):
            problems.append(f"{ENV_NAMES['PUBLIC_BASE_URL']} must look like https://host[/prefix]")
        hops = _hops(get("PROXY_HOPS"), problems)
        if problems:
            raise SettingsError(problems)
        return cls(
            twilio_auth_token=token,
            secret=secret,
            config_dir=Path(text("CONFIG_DIR") or "config"),
            twilio_account_sid=account,
            redis_url=text("REDIS_URL") or None,
            public_base_url=public.rstrip("/") if public else None,
            proxy_hops=hops,
            twilio_api_base_url=text("TWILIO_API_BASE_URL") or None,
            dry_run=dry_run,
            pseudonym_key=text("PSEUDONYM_KEY"),
        )

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


def local_data_dir(environ: Mapping[str, str]) -> Path:
    """The data directory of a local run (`callrouter serve`), relative to the working dir."""
    return Path(environ.get(DATA_DIR_ENV, "").strip() or "var")


def log_format(environ: Mapping[str, str]) -> str:
    """The log format asked for; a typo is an error, not silently plain text."""
    value = environ.get(LOG_FORMAT_ENV, "").strip().lower() or "text"
    if value not in LOG_FORMATS:
        raise SettingsError(
            [f"{LOG_FORMAT_ENV}={value!r} is not a log format: use {' or '.join(LOG_FORMATS)}"]
        )
    return value
