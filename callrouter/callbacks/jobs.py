"""RQ jobs for callbacks: plain functions that take ids, each safe to run twice.

A job reads the request, checks that its token (epoch or attempt) is still
current and the state still calls for it, does its one thing and records
it. Rerunning a job (RQ retry, a worker that died mid-job, the sweeper)
therefore never doubles an effect: SMS go out once per recipient per queue
round thanks to per-recipient send markers, a bridge attempt is placed
once per attempt number, transitions are atomic in the store.

Twilio failures that may pass (5xx, 429, timeouts) are raised so RQ retries
the job with the configured backoff; others are recorded and it moves on.

Every job gets the process's `Services` (`callrouter.services`) as its
first argument from the worker that runs it (`callrouter.worker.Worker`),
and takes the time from its clock. Jobs are listed in `JOBS` and enqueued
as functions, never as dotted strings.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from callrouter.callbacks import queue, recovery, service
from callrouter.callbacks.lifecycle import OPEN, Event, State
from callrouter.callbacks.messages import offer_sms
from callrouter.callbacks.queue import JobTable
from callrouter.callbacks.requests import Job
from callrouter.callbacks.sending import send_round
from callrouter.callbacks.sms_guard import SmsGuard
from callrouter.callbacks.staff import flood_alert_recipients, member_by_id, recipients
from callrouter.callbacks.texts import Staff
from callrouter.calls.purge import ensure_purge
from callrouter.console.jobs import ensure_housekeeping
from callrouter.errors import ProviderError

if TYPE_CHECKING:  # the composition root imports the jobs it wires, not the other way
    from callrouter.services import Services

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- jobs


def _guard(ctx: service.CallbackContext) -> SmsGuard:
    return SmsGuard(ctx.conn, ctx.pseudonym, ctx.policy.limits)


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
    if request.epoch != epoch or request.state not in OPEN:
        return "stale"
    ladder = ctx.policy.ladder
    pending: ProviderError | None = None
    reached_step = None
    for k in range(step, len(ladder)):
        members = recipients(ladder[k].target, request.routes, ctx.config, ctx.policy, now)
        sent = send_round(
            s.provider,
            store,
            request_id=request_id,
            token=request.epoch,
            purpose="offer",
            members=members,
            text=offer_sms(request, ctx.config, ctx.policy.texts, now, k),
            now=now,
            lease=s.settings.send_lease_seconds,
            guard=_guard(ctx),
            offered=True,
        )
        pending = sent.retry
        if sent.reached:
            reached_step = k
            break
        if pending is not None:
            break  # nobody reached yet, but a retry may: do not skip ahead of this step
        store.note(request_id, now, "escalation_empty", "worker", f"step {k}")
    if reached_step is not None:
        store.transition(
            request_id,
            Event.NOTIFY,
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


def tell_claimed(s: Services, request_id: str, epoch: int) -> str:
    """Tell everyone else who was offered the request that it is taken, and by whom."""
    now = s.now()
    ctx = s.callback_context()
    store = ctx.store
    request = store.get(request_id)
    if request is None or request.epoch != epoch or not request.claimed_by:
        return "stale"
    claimer = member_by_id(ctx.config, request.claimed_by)
    others = (
        member_by_id(ctx.config, m)
        for m in sorted(store.offered_to(request_id) - {request.claimed_by})
    )
    sent = send_round(
        s.provider,
        store,
        request_id=request_id,
        token=epoch,
        purpose="claimed",
        members=[m for m in others if m is not None and m.sms],
        text=ctx.policy.texts.staff(
            Staff.CLAIMED_SMS,
            code=request.code,
            claimer=claimer.name if claimer else request.claimed_by,
        ),
        now=now,
        lease=s.settings.send_lease_seconds,
        guard=_guard(ctx),
    )
    if sent.retry is not None:
        raise sent.retry
    return "told"


def place_bridge(s: Services, request_id: str, attempt: int) -> str:
    """Bridge attempt `attempt`: call the claimer first (from the crisis number).

    When they answer, Twilio fetches the staff TwiML (`callbacks.bridge_web`):
    a short whisper, "druk 1", then a ``<Dial>`` to the caller with the
    crisis number as caller id.
    """
    now = s.now()
    ctx = s.callback_context()
    store = ctx.store
    request = store.get(request_id)
    if request is None:
        return "gone"
    if request.state is State.CLAIMED and request.attempts == attempt - 1:
        service.dial(ctx, request_id, attempt, now)
        request = store.get(request_id)
        assert request is not None
    if request.state is not State.CALLING or request.attempts != attempt:
        return "stale"
    member = member_by_id(ctx.config, request.claimed_by or "")
    if member is None:
        service.attempt_failed(ctx, request_id, attempt, "staff-unknown", now)
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
        store.note(request_id, now, "call_failed", member.id, f"attempt {attempt}")
        if exc.retryable and exc.status is None:  # no answer from Twilio: maybe placed
            return "in-doubt"
        store.abort_send(marker)
        if exc.retryable:
            raise
        service.attempt_failed(ctx, request_id, attempt, "twilio-refused", now)
        return "failed"
    store.finish_send(marker, sid)
    store.set_fields(request_id, bridge_sid=sid)
    store.note(request_id, now, "bridge_placed", member.id, f"attempt {attempt} ({sid})")
    return "placed"


def watch_bridge(s: Services, request_id: str, attempt: int) -> str:
    """An attempt still unresolved long after both phones stopped ringing counts as failed."""
    ctx = s.callback_context()
    t = service.attempt_failed(ctx, request_id, attempt, "no-result", s.now())
    return "failed" if t.ok else "resolved"


def expire(s: Services, request_id: str, epoch: int) -> str:
    ctx = s.callback_context()
    return "expired" if service.expire(ctx, request_id, epoch, s.now()).ok else "stale"


def purge_number(s: Services, request_id: str) -> bool:
    """Retention: forget the raw number of a finished request."""
    return s.callback_store().purge_number(request_id, s.now())


def flood_alert(s: Services, period: int) -> str:
    """Callers were turned away by a limit: one SMS per alert period to the
    coordinators (`staff.flood_alert_recipients`), instead of staff SMS
    multiplying with the flood."""
    now = s.now()
    ctx = s.callback_context()
    limits = ctx.policy.limits
    members = flood_alert_recipients(ctx.config, ctx.policy, now)
    text = ctx.policy.texts.staff(
        Staff.FLOOD_ALERT,
        open=ctx.store.open_count(),
        refused=ctx.store.refused(period),
        minutes=limits.flood_alert_seconds // 60,
    )
    sent = send_round(
        s.provider,
        ctx.store,
        request_id="flood",
        token=period,
        purpose="alert",
        members=list(members),
        text=text,
        now=now,
        lease=s.settings.send_lease_seconds,
        guard=_guard(ctx),
    )
    if sent.retry is not None:
        raise sent.retry
    logger.error("flood of callback requests: coordinator alerted (%d)", sent.reached)
    return "alerted" if sent.reached else "nobody"


def sweep(s: Services) -> dict[str, int]:
    """Every minute: recover abandoned jobs, revive stuck requests, purge, replay the spool."""
    now = s.now()
    ctx = s.callback_context()
    summary = recovery.sweep(ctx, now)
    spool = s.spool()
    if spool.pending():
        summary["replayed"] = recovery.replay_spool(ctx, spool, now).applied
    queue.ensure_sweep(ctx.conn, JOBS, now)
    ensure_purge(ctx.conn, now)
    ensure_housekeeping(ctx.conn, now)
    return summary


JOBS: JobTable = {
    Job.NOTIFY: notify,
    Job.EXPIRE: expire,
    Job.BRIDGE: place_bridge,
    Job.WATCH: watch_bridge,
    Job.TELL_CLAIMED: tell_claimed,
    Job.PURGE: purge_number,
    Job.SWEEP: sweep,
    Job.FLOOD_ALERT: flood_alert,
}
"""What RQ runs for each follow-up; `service.CallbackContext.jobs` in every process."""
