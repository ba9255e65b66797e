"""RQ jobs for callbacks: plain functions that take ids, each safe to run twice.

A job reads the request, checks that its token (epoch or attempt) is still
current and the state still calls for it, does its one thing and records
it. Rerunning a job (RQ retry, a worker that died mid-job, the sweeper)
therefore never doubles an effect: SMS go out once per recipient per queue
round thanks to per-recipient send markers, a bridge attempt is placed
once per attempt number, transitions are atomic in the store.

Twilio failures that may pass (5xx, 429, timeouts) are raised as
``ProviderError`` so RQ retries the job with the configured backoff; other
failures are recorded and the request moves on.

Dependencies come from ``services()``, a small composition helper that reads
the environment when a job runs (never at import): the worker's own Redis
connection, the config directory, Twilio credentials. ``Worker`` is an
``rq.Worker`` that loads them once before forking, so each job does not pay
for loading the YAML config; ``rq worker -w callrouter.callbacks.jobs.Worker``.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import rq
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from rq import get_current_job

from callrouter import clock, logs
from callrouter.callbacks import lifecycle as cb
from callrouter.callbacks import service as queueing
from callrouter.callbacks.spool import Spool
from callrouter.callbacks.store import CallbackStore
from callrouter.calls.purge import ensure_purge
from callrouter.config.files import load
from callrouter.errors import ProviderError
from callrouter.routing.model import Config
from callrouter.settings import Settings
from callrouter.twilio_rest import DryRunProvider, PhoneProvider, TwilioProvider

logger = logging.getLogger(__name__)

SEND_LEASE_SECONDS = 30.0
"""How long a send marker blocks a second attempt at the same SMS or call:
longer than one Twilio HTTP request may take."""


# --------------------------------------------------------------------------- composition


@dataclass(frozen=True)
class Services:
    ctx: queueing.CallbackContext
    provider: PhoneProvider
    public_base_url: str
    spool: Spool
    send_lease: float


@dataclass(frozen=True)
class _Tuning:
    """Worker-only knobs, from the environment (tests make them small)."""

    twilio_timeout: float
    send_lease: float

    @classmethod
    def read(cls) -> _Tuning:
        env = os.environ
        return cls(
            float(env.get("CALLROUTER_TWILIO_TIMEOUT_SECONDS", "10")),
            float(env.get("CALLROUTER_SEND_LEASE_SECONDS", str(SEND_LEASE_SECONDS))),
        )


_cache: dict[str, Any] = {}


def _config(directory: str) -> Config:
    """The config, reloaded when a YAML file changed (admins edit rotas live)."""
    files = sorted(Path(directory).glob("*.y*ml"))
    stamp = (directory, tuple((str(p), p.stat().st_mtime_ns) for p in files))
    if _cache.get("config_stamp") != stamp:
        _cache["config"] = load(directory)
        _cache["config_stamp"] = stamp
    config: Config = _cache["config"]
    return config


def _provider(settings: Settings, tuning: _Tuning, config: Config) -> PhoneProvider:
    key = (
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_api_base_url,
        settings.dry_run,
        tuning.twilio_timeout,
        config.crisis_number,
    )
    if _cache.get("provider_key") != key:
        provider: PhoneProvider
        if settings.dry_run:
            provider = DryRunProvider()
        else:
            provider = TwilioProvider(
                settings.twilio_account_sid,
                settings.twilio_auth_token,
                config.crisis_number,
                api_base_url=settings.twilio_api_base_url,
                timeout_seconds=tuning.twilio_timeout,
            )
        _cache["provider"], _cache["provider_key"] = provider, key
    cached: PhoneProvider = _cache["provider"]
    return cached


def services(conn: redis.Redis | None = None) -> Services:
    """Wire what a job needs from the environment (the same ``Settings`` as the web
    service); inside a job, the worker's own Redis connection."""
    settings = Settings.from_env(os.environ)
    tuning = _Tuning.read()
    if conn is None:
        job = get_current_job()
        if job is not None:
            conn = job.connection
        elif settings.redis_url:
            conn = redis.Redis.from_url(settings.redis_url)
        else:
            raise RuntimeError("REDIS_URL is not set: callback jobs need the queue's Redis")
    config = _config(str(settings.config_dir))
    policy = cb.policy_of(config)
    ctx = queueing.CallbackContext(conn, config, policy, queueing.pseudonym_key(settings.secret))
    return Services(
        ctx,
        _provider(settings, tuning, config),
        settings.public_base_url or "",
        Spool(os.environ.get("CALLROUTER_SPOOL_DIR") or policy.spool_dir),
        tuning.send_lease,
    )


REDIS_PATIENCE = Retry(ExponentialBackoff(cap=1.0, base=0.05), 12)
"""About eight seconds of reconnecting: a Redis restart or failover must not
kill the worker (RQ quits on a connection error outside its dequeue loop)."""


class Worker(rq.Worker):
    """``rq.Worker`` that rides out a Redis restart and loads config and provider
    once, before forking work horses (which inherit both)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        logs.configure()  # dry-run SMS and job logs reach the terminal, masked
        super().__init__(*args, **kwargs)
        self.connection.set_retry(copy.deepcopy(REDIS_PATIENCE))
        try:
            services(self.connection)
            queueing.ensure_sweep(
                self.connection, clock.now()
            )  # the safety net runs from the start
        except Exception:  # a job will report it properly; the worker must still start
            logger.exception("could not preload callback services")


# --------------------------------------------------------------------------- jobs


class SendInFlight(ProviderError):
    """Another run is sending the same SMS or call right now; try again later."""

    def __init__(self) -> None:
        super().__init__("another attempt is in flight", retryable=True)


def _begin_send(s: Services, store: CallbackStore, marker: str, now: dt.datetime) -> str:
    """Take the send marker; if a dead run still holds it, wait out its lease once.

    Only a worker that died mid-send leaves a marker in flight, so waiting
    (at most one lease) is rare and cheaper than spending an RQ retry on it.
    """
    verdict = store.begin_send(marker, now, s.send_lease)
    if verdict == "busy":
        left = store.conn.pttl(marker)
        time.sleep(min(max(left, 0) / 1000 + 0.05, s.send_lease + 1))
        verdict = store.begin_send(marker, clock.now(), s.send_lease)
    return verdict


def notify(request_id: str, epoch: int, step: int) -> str:
    """Send escalation step `step` of queue round `epoch` (step 0: the first SMS).

    A step that reaches nobody (no backup configured, everyone absent, every
    number refused) passes on to the next step at once.
    """
    s = services()
    now = clock.now()
    store = s.ctx.store
    request = store.get(request_id)
    if request is None:
        return "gone"
    if request.epoch != epoch or request.state not in cb.OPEN:
        return "stale"
    ladder = s.ctx.policy.ladder
    pending: ProviderError | None = None
    reached_step = None
    for k in range(step, len(ladder)):
        members = cb.recipients(ladder[k].target, request.routes, s.ctx.config, s.ctx.policy, now)
        reached, pending = _send_offers(s, store, request, k, members, now)
        if reached:
            reached_step = k
            break
        if pending is not None:
            break  # nobody reached yet, but a retry may: do not skip ahead of this step
        store.note(
            request_id,
            now,
            "escalation_empty",
            "worker",
            f"step {k} ({ladder[k].target.value}): nobody to notify",
        )
    if reached_step is not None:
        store.transition(
            request_id,
            cb.Event.NOTIFY,
            now,
            by="worker",
            note=f"step {reached_step} ({ladder[reached_step].target.value})",
            expect={"epoch": epoch},
            at_least={"step": reached_step},
        )
    elif pending is None:
        logger.error("callback %s: nobody could be notified from step %d on", request_id, step)
    if pending is not None:
        raise pending
    return "notified" if reached_step is not None else "nobody"


def _send_offers(
    s: Services,
    store: CallbackStore,
    request: cb.Request,
    step: int,
    members: tuple[Any, ...],
    now: dt.datetime,
) -> tuple[int, ProviderError | None]:
    """Offer the request to each member once per queue round; (members reached, retryable error)."""
    reached = 0
    error: ProviderError | None = None
    for member in members:
        marker = store.sms_key(request.id, request.epoch, "offer", member.id)
        verdict = _begin_send(s, store, marker, now)
        if verdict == "sent":
            reached += 1
            continue
        if verdict == "busy":
            error = error or SendInFlight()
            continue
        try:
            sid = s.provider.send_sms(member.mobile, cb.offer_sms(request, s.ctx.config, now, step))
        except ProviderError as exc:
            store.abort_send(marker)
            store.note(request.id, now, "sms_failed", member.id, str(exc))
            if exc.retryable:
                error = error or exc
            continue
        store.finish_send(marker, sid, offered=(request.id, member.id))
        store.note(request.id, now, "sms_sent", member.id, f"offer step {step} ({sid})")
        reached += 1
    return reached, error


def tell_claimed(request_id: str, epoch: int) -> str:
    """Tell everyone else who was offered the request that it is taken, and by whom."""
    s = services()
    now = clock.now()
    store = s.ctx.store
    request = store.get(request_id)
    if request is None or request.epoch != epoch or not request.claimed_by:
        return "stale"
    claimer = cb.member_by_id(s.ctx.config, request.claimed_by)
    text = cb.claimed_sms(request, claimer.name if claimer else request.claimed_by)
    error: ProviderError | None = None
    for member_id in sorted(store.offered_to(request_id) - {request.claimed_by}):
        member = cb.member_by_id(s.ctx.config, member_id)
        if member is None or not member.sms:
            continue
        marker = store.sms_key(request_id, epoch, "claimed", member_id)
        if _begin_send(s, store, marker, now) != "go":
            continue
        try:
            sid = s.provider.send_sms(member.mobile, text)
        except ProviderError as exc:
            store.abort_send(marker)
            if exc.retryable:
                error = error or exc
            continue
        store.finish_send(marker, sid)
    if error is not None:
        raise error
    return "told"


def place_bridge(request_id: str, attempt: int) -> str:
    """Bridge attempt `attempt`: call the claimer first (from the crisis number).

    When they answer, Twilio fetches the staff TwiML (``web/callbacks.py``):
    a short whisper, "druk 1", then a ``<Dial>`` to the caller with the
    crisis number as caller id.
    """
    s = services()
    now = clock.now()
    store = s.ctx.store
    request = store.get(request_id)
    if request is None:
        return "gone"
    if request.state is cb.State.CLAIMED and request.attempts == attempt - 1:
        queueing.dial(s.ctx, request_id, attempt, now)
        request = store.get(request_id)
        assert request is not None
    if request.state is not cb.State.CALLING or request.attempts != attempt:
        return "stale"
    member = cb.member_by_id(s.ctx.config, request.claimed_by or "")
    if member is None:
        queueing.attempt_failed(s.ctx, request_id, attempt, "staff-unknown", now)
        return "failed"
    marker = store.sms_key(request_id, attempt, "bridge", member.id)
    verdict = _begin_send(s, store, marker, now)
    if verdict == "sent":
        return "placed"
    if verdict == "busy":
        raise SendInFlight()
    base = f"{s.public_base_url}/voice/callback/bridge/{request_id}"
    try:
        sid = s.provider.place_call(
            member.mobile,
            f"{base}/staff?attempt={attempt}",
            status_callback=f"{base}/status?attempt={attempt}",
            timeout=s.ctx.policy.staff_ring_seconds,
        )
    except ProviderError as exc:
        store.abort_send(marker)
        store.note(request_id, now, "call_failed", member.id, str(exc))
        if exc.retryable:
            raise
        queueing.attempt_failed(s.ctx, request_id, attempt, "twilio-refused", now)
        return "failed"
    store.finish_send(marker, sid)
    store.set_fields(request_id, bridge_sid=sid)
    store.note(request_id, now, "bridge_placed", member.id, f"attempt {attempt} ({sid})")
    return "placed"


def watch_bridge(request_id: str, attempt: int) -> str:
    """An attempt still unresolved long after both phones stopped ringing counts as failed."""
    s = services()
    t = queueing.attempt_failed(s.ctx, request_id, attempt, "no-result", clock.now())
    return "failed" if t.ok else "resolved"


def expire(request_id: str, epoch: int) -> str:
    s = services()
    return "expired" if queueing.expire(s.ctx, request_id, epoch, clock.now()).ok else "stale"


def purge_number(request_id: str) -> bool:
    """Retention: forget the raw number of a finished request."""
    return services().ctx.store.purge_number(request_id, clock.now())


def purge_raw_numbers() -> int:
    """Retention for every finished request past `keep_raw_numbers` (also done by `sweep`)."""
    s = services()
    now = clock.now()
    before = now - dt.timedelta(seconds=s.ctx.policy.keep_raw_numbers_seconds)
    return queueing.purge_numbers(s.ctx.conn, before, now)


def replay_spool() -> int:
    """Feed requests spooled while Redis was down into Redis (when this worker shares the disk)."""
    s = services()
    return queueing.replay_spool(s.ctx, s.spool, clock.now()).applied


def sweep() -> dict[str, int]:
    """Every minute: recover abandoned jobs, revive stuck requests, purge, replay the spool."""
    s = services()
    now = clock.now()
    summary = queueing.sweep(s.ctx, now)
    if s.spool.pending():
        summary["replayed"] = queueing.replay_spool(s.ctx, s.spool, now).applied
    queueing.ensure_sweep(s.ctx.conn, now)
    ensure_purge(s.ctx.conn, now)
    return summary
