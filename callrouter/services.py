"""The composition root: the one place that builds the service's parts.

The web app (`callrouter.web.app.create_app`) and the RQ worker
(`callrouter.worker.Worker`) call `build(settings, ...)` (a CLI command that
needs more than settings does the same, with `Purpose.CLI`) and get the same
`Services`: settings, the live configuration, the clock, Redis,
the Twilio provider, the public URL builder, the stores and the job queue.
Nothing here is cached at module level and nothing reads the environment
(that is `callrouter.settings`): a test builds its own `Services` with its
own clock and Redis and hands them to the code under test, exactly as
production does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from rq import Queue

from callrouter import clock as wall_clock
from callrouter.callbacks import queue as callback_queue
from callrouter.callbacks.queue import JobTable
from callrouter.callbacks.requests import pseudonym_key
from callrouter.callbacks.service import CallbackContext
from callrouter.callbacks.spool import Spool
from callrouter.callbacks.store import CallbackStore
from callrouter.calls.store import CallStore
from callrouter.config.last_good import LastGood
from callrouter.config.live import LiveConfig, Loaded
from callrouter.privacy import derive_key
from callrouter.redis_conn import Purpose, connect
from callrouter.settings import Settings, local_data_dir
from callrouter.twilio_rest import DryRunProvider, PhoneProvider, TwilioProvider

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class PublicUrls:
    """Absolute URLs for Twilio, from `CALLROUTER_PUBLIC_BASE_URL`.

    Twilio's API refuses relative URLs ("must match format uri"), so every
    URL the service hands Twilio, from the web or from the worker, is built
    here. Settings require the base whenever Twilio is not in dry-run; a dry
    run without one keeps the path (nothing reaches Twilio then).
    """

    base: str | None

    def absolute(self, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"an app path starts with '/': {path!r}")
        return f"{self.base}{path}" if self.base else path

    def bridge(self, request_id: str, leg: str, attempt: int) -> str:
        """Where Twilio fetches the bridged callback's staff TwiML (`leg` "staff")
        or posts its progress (`leg` "status"); served by `callrouter.callbacks.web`."""
        return self.absolute(f"/voice/callback/bridge/{request_id}/{leg}?attempt={attempt}")


@dataclass(frozen=True)
class Services:
    """Everything a webhook, a job or a CLI command needs, built once per process."""

    settings: Settings
    live: LiveConfig
    clock: Clock
    redis: redis.Redis | None
    provider: PhoneProvider
    urls: PublicUrls
    jobs: JobTable
    """The functions RQ runs for each callback job (`callbacks.jobs.JOBS`), handed in by
    whoever builds this (web, worker, CLI): the jobs take `Services`, so this module
    cannot import them."""

    @property
    def conn(self) -> redis.Redis:
        """The Redis connection; an error (never None) when this process has none."""
        if self.redis is None:
            raise redis.ConnectionError("no Redis configured (REDIS_URL)")
        return self.redis

    def now(self) -> dt.datetime:
        return self.clock()

    def current(self) -> Loaded:
        """The configuration generation in use right now."""
        return self.live.current()

    def queue(self) -> Queue:
        return callback_queue.rq_queue(self.conn)

    def callback_context(self, loaded: Loaded | None = None) -> CallbackContext:
        """What every callback operation needs, for one configuration generation."""
        generation = loaded or self.current()
        return CallbackContext(
            self.conn,
            generation.config,
            generation.callbacks,
            pseudonym_key(self.settings.secret),
            self.jobs,
            self.call_store(),
        )

    def callback_store(self) -> CallbackStore:
        return CallbackStore(self.conn)

    def spool(self, loaded: Loaded | None = None) -> Spool:
        """Where callback requests wait while Redis is unreachable."""
        if self.settings.spool_dir is not None:
            return Spool(self.settings.spool_dir)
        return Spool((loaded or self.current()).callbacks.spool_dir)

    def call_store(self, *, keyed: bool = False) -> CallStore:
        """The call log; `keyed` (the web, which writes records) uses the pseudonym key."""
        if not keyed:
            return CallStore(self.conn, None)
        policy = self.current().records
        return CallStore(
            self.conn,
            self.settings.pseudonym_key.encode("utf-8"),
            store_masked=policy.store_masked,
            ref_ttl=dt.timedelta(days=policy.retention_days),
        )

    def derived_key(self, purpose: str) -> bytes:
        """One key per purpose from the one secret, so no two uses share a key."""
        return derive_key(self.settings.secret, purpose)

    def close(self) -> None:
        close = getattr(self.provider, "close", None)
        if close is not None:
            close()
        if self.redis is not None:
            self.redis.close()


def build(
    settings: Settings,
    *,
    jobs: JobTable,
    purpose: Purpose = Purpose.WEBHOOK,
    clock: Clock = wall_clock.now,
    conn: redis.Redis | None = None,
    live: LiveConfig | None = None,
    provider: PhoneProvider | None = None,
) -> Services:
    """Wire the parts from `settings`; tests pass their own clock, Redis or provider.

    Raises `ConfigError` when no configuration can be loaded at all.
    """
    if conn is None and settings.redis_url:
        conn = connect(settings.redis_url, purpose)
    live = (
        live
        or LiveConfig(
            settings.config_dir,
            last_good=(
                LastGood(conn, mirror=last_good_mirror(settings)) if conn is not None else None
            ),
            interval=settings.config_check_seconds,
            now=clock,
        ).start()
    )
    return Services(
        settings=settings,
        live=live,
        clock=clock,
        redis=conn,
        provider=provider or phone_provider(settings, live),
        urls=PublicUrls(settings.public_base_url),
        jobs=jobs,
    )


def last_good_mirror(settings: Settings) -> Path:
    """This host's copy of the last good config: beside the callback spool when
    `CALLROUTER_SPOOL_DIR` names it, else in the local data directory."""
    return (settings.spool_dir or local_data_dir()) / "last-good-config.json"


def phone_provider(settings: Settings, live: LiveConfig) -> PhoneProvider:
    """Twilio, or its dry-run twin; SMS and calls come from the crisis number of
    the configuration in use when they are sent."""
    if settings.dry_run:
        return DryRunProvider()
    return TwilioProvider(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        lambda: live.current().config.crisis_number,
        api_base_url=settings.twilio_api_base_url,
        timeout_seconds=settings.twilio_timeout_seconds,
    )
