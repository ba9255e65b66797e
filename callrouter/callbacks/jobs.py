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

Every job gets the process's `Services` (`callrouter.services`) as its
first argument from the worker that runs it (`callrouter.worker.Worker`),
and takes the time from its clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from callrouter.callbacks import lifecycle as cb
from callrouter.callbacks import service as queueing
from callrouter.callbacks.store import CallbackStore
from callrouter.calls.purge import ensure_purge
from callrouter.errors import ProviderError
from callrouter.services import Services

logger = logging.getLogger(__name__)

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
    lease = s.settings.send_lease_seconds
    verdict = store.begin_send(marker, now, lease)
    if verdict == "busy":
        left = store.conn.pttl(marker)  # Redis expires the marker in real time
        time.sleep(min(max(left, 0) / 1000 + 0.05, lease + 1))
        verdict = store.begin_send(marker, s.now(), lease)
    return verdict


def notify(s: Services, request_id: str, epoch: int, step: int) -> str:
    """Send escalation step `step` of queue round `epoch` (step 0: the first SMS).

    A step that reaches nobody (no backup configured, everyone absent, every
    number refused) passes on to the next step at once.
    """
    now = s.now()
    ctx = s.callback_context()
    store = ctx.store
    request = store.get(request_id)
    if request is None:
        return "gone"
    if request.epoch != epoch or request.state not in cb.OPEN:
        return "stale"
    ladder = ctx.policy.ladder
    pending: ProviderError | None = None
    reached_step = None
    for k in range(step, len(ladder)):
        members = cb.recipients(ladder[k].target, request.routes, ctx.config, ctx.policy, now)
        reached, pending = _send_offers(s, ctx, request, k, members, now)
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
    ctx: queueing.CallbackContext,
    request: cb.Request,
    step: int,
    members: tuple[Any, ...],
    now: dt.datetime,
) -> tuple[int, ProviderError | None]:
    """Offer the request to each member once per queue round; (members reached, retryable error)."""
    store = ctx.store
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
            sid = s.provider.send_sms(member.mobile, cb.offer_sms(request, ctx.config, now, step))
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


def tell_claimed(s: Services, request_id: str, epoch: int) -> str:
    """Tell everyone else who was offered the request that it is taken, and by whom."""
    now = s.now()
    ctx = s.callback_context()
    store = ctx.store
    request = store.get(request_id)
    if request is None or request.epoch != epoch or not request.claimed_by:
        return "stale"
    claimer = cb.member_by_id(ctx.config, request.claimed_by)
    text = cb.claimed_sms(request, claimer.name if claimer else request.claimed_by)
    error: ProviderError | None = None
    for member_id in sorted(store.offered_to(request_id) - {request.claimed_by}):
        member = cb.member_by_id(ctx.config, member_id)
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


def place_bridge(s: Services, request_id: str, attempt: int) -> str:
    """Bridge attempt `attempt`: call the claimer first (from the crisis number).

    When they answer, Twilio fetches the staff TwiML (``web/callbacks.py``):
    a short whisper, "druk 1", then a ``<Dial>`` to the caller with the
    crisis number as caller id.
    """
    now = s.now()
    ctx = s.callback_context()
    store = ctx.store
    request = store.get(request_id)
    if request is None:
        return "gone"
    if request.state is cb.State.CLAIMED and request.attempts == attempt - 1:
        queueing.dial(ctx, request_id, attempt, now)
        request = store.get(request_id)
        assert request is not None
    if request.state is not cb.State.CALLING or request.attempts != attempt:
        return "stale"
    member = cb.member_by_id(ctx.config, request.claimed_by or "")
    if member is None:
        queueing.attempt_failed(ctx, request_id, attempt, "staff-unknown", now)
        return "failed"
    # Exactly once per attempt (issue 10): the marker lives until the watch
    # decides the attempt, so neither a worker killed mid-request nor a
    # timeout (Twilio may have placed it) ever leads to a second call.
    marker = store.sms_key(request_id, attempt, "bridge", member.id)
    verdict = store.begin_send(marker, now, ctx.policy.bridge_watch_seconds)
    if verdict == "sent":
        return "placed"
    if verdict == "busy":
        return "in-doubt"  # an earlier run may have placed it: watch_bridge decides
    try:
        sid = s.provider.place_call(
            member.mobile,
            s.urls.bridge(request_id, "staff", attempt),
            status_callback=s.urls.bridge(request_id, "status", attempt),
            timeout=ctx.policy.staff_ring_seconds,
        )
    except ProviderError as exc:
        store.note(request_id, now, "call_failed", member.id, str(exc))
        if exc.retryable and exc.status is None:  # no answer from Twilio: maybe placed
            return "in-doubt"
        store.abort_send(marker)
        if exc.retryable:
            raise
        queueing.attempt_failed(ctx, request_id, attempt, "twilio-refused", now)
        return "failed"
    store.finish_send(marker, sid)
    store.set_fields(request_id, bridge_sid=sid)
    store.note(request_id, now, "bridge_placed", member.id, f"attempt {attempt} ({sid})")
    return "placed"


def watch_bridge(s: Services, request_id: str, attempt: int) -> str:
    """An attempt still unresolved long after both phones stopped ringing counts as failed."""
    t = queueing.attempt_failed(s.callback_context(), request_id, attempt, "no-result", s.now())
    return "failed" if t.ok else "resolved"


def expire(s: Services, request_id: str, epoch: int) -> str:
    expired = queueing.expire(s.callback_context(), request_id, epoch, s.now())
    return "expired" if expired.ok else "stale"


def purge_number(s: Services, request_id: str) -> bool:
    """Retention: forget the raw number of a finished request."""
    return s.callback_store().purge_number(request_id, s.now())


def purge_raw_numbers(s: Services) -> int:
    """Retention for every finished request past `keep_raw_numbers` (also done by `sweep`)."""
    now = s.now()
    ctx = s.callback_context()
    before = now - dt.timedelta(seconds=ctx.policy.keep_raw_numbers_seconds)
    return queueing.purge_numbers(ctx.conn, before, now)


def replay_spool(s: Services) -> int:
    """Feed requests spooled while Redis was down into Redis (when this worker shares the disk)."""
    return queueing.replay_spool(s.callback_context(), s.spool(), s.now()).applied


def sweep(s: Services) -> dict[str, int]:
    """Every minute: recover abandoned jobs, revive stuck requests, purge, replay the spool."""
    now = s.now()
    ctx = s.callback_context()
    spool = s.spool()
    summary = queueing.sweep(ctx, now)
    if spool.pending():
        summary["replayed"] = queueing.replay_spool(ctx, spool, now).applied
    queueing.ensure_sweep(ctx.conn, now)
    ensure_purge(ctx.conn, now)
    return summary
