"""The callback operations: each applies one transition, then schedules what follows.

Web handlers, the CLI and the jobs change a request only through these
functions. Each applies one transition in the store (atomic, checked against
the lifecycle table and a token), enqueues the jobs `requests.follow_ups`
says must follow, and tells the call log (the injected `CallbackLog` seam).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

import redis

from callrouter.callbacks import queue
from callrouter.callbacks.lifecycle import Event, State, after_failed_attempt
from callrouter.callbacks.limits import Admission, admit
from callrouter.callbacks.policy import CallbackPolicy
from callrouter.callbacks.queue import JobTable
from callrouter.callbacks.requests import (
    CancelReason,
    Request,
    follow_ups,
    new_request,
    new_request_id,
    sla_seconds,
)
from callrouter.callbacks.staff import may_claim
from callrouter.callbacks.store import CallbackStore, Created, Transition
from callrouter.calls.events import CallbackLog
from callrouter.privacy import pseudonymise
from callrouter.routing.model import Config
from callrouter.routing.plan import CallerFacts, route

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallbackContext:
    """What every callback operation needs; built by a composition root."""

    conn: redis.Redis
    config: Config
    policy: CallbackPolicy
    pseudonym_key: bytes
    jobs: JobTable
    """The functions RQ runs for each follow-up (`callbacks.jobs.JOBS`)."""
    call_log: CallbackLog | None = None
    """Told each lifecycle step (the call log's `CallStore`); None: no call log."""

    @cached_property
    def store(self) -> CallbackStore:
        """One store per context: building one registers (hashes) its Lua scripts."""
        return CallbackStore(self.conn)

    def pseudonym(self, number: str) -> str:
        return pseudonymise(number, self.pseudonym_key)


class Outcome(StrEnum):
    CREATED = "created"
    MERGED = "merged"
    """The number already had an open request: nothing new was made. The caller
    hears the same as for a new request (no oracle for other people's numbers)."""
    EXISTS = "exists"
    """A replay of a request that is already in Redis."""
    OVER_LIMIT = "over_limit"
    """A limit (caller, call, number, open requests) was reached: put the caller through."""


@dataclass(frozen=True)
class Submitted:
    outcome: Outcome
    request_id: str
    code: str
    sla_seconds: int


def submit(
    ctx: CallbackContext,
    *,
    number: str,
    facts: CallerFacts,
    moment: dt.datetime,
    now: dt.datetime | None = None,
    call_sid: str | None = None,
    caller: str | None = None,
    lang: str = "nl",
    request_id: str | None = None,
    replay: bool = False,
) -> Submitted:
    """Put a caller's confirmed callback request on the queue, within the limits.

    `number` is E.164 and already checked (`callback_number.check_callback_number`);
    `caller` is the calling number (Twilio's From), for the per-caller limit.
    `moment` is when the caller asked; `now` (default: the same) when this
    runs, which differs for a spool replay. A replay keeps its request id
    (idempotent) and skips the limits: the caller was already told yes.
    Raises redis errors when Redis is unreachable; the caller-facing code
    spools the request then. Running out of anything is `OVER_LIMIT`, never
    an error that could pass for an outage.
    """
    now = now or moment
    store = ctx.store
    rid = request_id or new_request_id()
    request = new_request(
        request_id=rid,
        number=number,
        plan=route(moment, facts, ctx.config),
        config=ctx.config,
        policy=ctx.policy,
        moment=moment,
        call_sid=call_sid,
        lang=lang,
    )
    sla = sla_seconds(request, ctx.policy)
    if replay:
        existing = store.get(rid)
        if existing is not None:
            return Submitted(Outcome.EXISTS, rid, existing.code, sla)
    pn = ctx.pseudonym(number)
    admission = admit(
        ctx.conn,
        ctx.policy,
        number_pn=pn,
        caller_pn=ctx.pseudonym(caller) if caller else None,
        call_sid=call_sid,
        request_id=rid,
        moment=moment,
        replay=replay,
    )
    if admission is Admission.DUPLICATE:
        logger.info("callback for %s asked again while open; nothing new", request.number_masked)
        return Submitted(Outcome.MERGED, "", "", sla)
    if admission is not Admission.ADMITTED:
        return _over_limit(ctx, admission.value, now, sla)
    created, code = store.create(
        request,
        now,
        pn,
        code_digits=ctx.policy.limits.code_digits,
        max_open=1_000_000 if replay else ctx.policy.limits.open_requests,
    )
    if created is Created.FULL:
        return _over_limit(ctx, "open requests", now, sla)
    if created is Created.EXISTS:
        return Submitted(Outcome.EXISTS, rid, code, sla)
    logger.info(
        "callback %s requested (priority %d, number %s)",
        rid,
        request.priority,
        request.number_masked,
    )
    _after(ctx, store.get(rid) or request, now)
    queue.ensure_sweep(ctx.conn, ctx.jobs, now)
    return Submitted(Outcome.CREATED, rid, code, sla)


def _over_limit(ctx: CallbackContext, which: str, now: dt.datetime, sla: int) -> Submitted:
    """Turn the caller away to a person, count it, and tell the coordinator (once a period)."""
    logger.warning("callback refused: limit on %s reached; caller put through", which)
    ctx.store.count_refused(now, ctx.policy.limits.flood_alert_seconds)
    queue.alert_flood(ctx.conn, ctx.jobs, ctx.policy, now)
    return Submitted(Outcome.OVER_LIMIT, "", "", sla)


ADMIN_CHANNELS = frozenset({"cli", "api", "console-coordinator"})
"""Claims made by an admin for a member, not by the member's own phone."""


@dataclass(frozen=True)
class ClaimResult:
    won: bool
    request: Request | None
    """The request after the attempt (None: no such request, or not the claimer's to see)."""
    holder: str | None
    """Who has it when the claim was lost (member id)."""


def claim(
    ctx: CallbackContext,
    request_id: str,
    member_id: str,
    now: dt.datetime,
    via: str,
) -> ClaimResult:
    """Exactly one of any number of concurrent claims wins; the rest learn who did.

    Staff (by SMS) may claim only a request offered to them, or to a team it
    escalated to, while not absent in the rota; anyone else gets no result at
    all (as if there were no such request). An admin (`ADMIN_CHANNELS`: the
    CLI, the admin API) claims for any member.
    """
    store = ctx.store
    if via not in ADMIN_CHANNELS:
        found = store.get(request_id)
        offered = store.offered_to(request_id)
        if found is None or not may_claim(found, member_id, offered, ctx.config, ctx.policy, now):
            return ClaimResult(False, None, None)
    t = store.transition(
        request_id,
        Event.CLAIM,
        now,
        by=member_id,
        note=f"via {via}",
        set_fields={"claimed_by": member_id, "claimed_at": now},
    )
    request = store.get(request_id)
    if not t.ok:
        if request is not None:
            store.note(
                request_id,
                now,
                "claim_lost",
                member_id,
                f"via {via}; request was {t.before.value if t.before else 'gone'}"
                + (f", held by {t.claimed_by}" if t.claimed_by else ""),
            )
        return ClaimResult(False, request, t.claimed_by)
    assert request is not None
    logger.info("callback %s claimed by %s via %s", request_id, member_id, via)
    _after(ctx, request, now)
    return ClaimResult(True, request, member_id)


def release(ctx: CallbackContext, request_id: str, now: dt.datetime, by: str) -> Transition:
    """Hand a claimed request back to the queue: staff are notified afresh."""
    return _requeue(ctx, request_id, Event.RELEASE, now, by=by, note="released", expect={})


def cancel(
    ctx: CallbackContext,
    request_id: str,
    now: dt.datetime,
    by: str,
    reason: CancelReason = CancelReason.ADMIN,
) -> Transition:
    return _apply(ctx, request_id, Event.CANCEL, now, by=by, note=f"cancelled: {reason.value}")


def expire(ctx: CallbackContext, request_id: str, epoch: int, now: dt.datetime) -> Transition:
    t = ctx.store.transition(
        request_id,
        Event.EXPIRE,
        now,
        by="timer",
        note="nobody claimed it",
        expect={"epoch": epoch},
    )
    if t.ok:
        request = ctx.store.get(request_id)
        logger.error(
            "callback %s EXPIRED unclaimed (number %s)",
            request_id,
            request.number_masked if request else "?",
        )
        if request is not None:
            _after(ctx, request, now)  # the request just read, not a second read
    return t


def dial(ctx: CallbackContext, request_id: str, attempt: int, now: dt.datetime) -> Transition:
    """Start bridge attempt `attempt` (claimed -> calling), at most once per attempt."""
    return _apply(
        ctx,
        request_id,
        Event.DIAL,
        now,
        by="worker",
        note=f"attempt {attempt}",
        expect={"attempts": attempt - 1},
        incr={"attempts": 1},
        set_fields={"bridge_sid": ""},
    )


def reached(ctx: CallbackContext, request_id: str, attempt: int, now: dt.datetime) -> Transition:
    """The caller picked up on bridge attempt `attempt`: done."""
    return _apply(
        ctx,
        request_id,
        Event.REACHED,
        now,
        by="twilio",
        note=f"attempt {attempt}: caller reached",
        expect={"attempts": attempt},
        set_fields={"outcome": "reached"},
    )


def attempt_failed(
    ctx: CallbackContext, request_id: str, attempt: int, outcome: str, now: dt.datetime
) -> Transition:
    """Bridge attempt `attempt` failed (`outcome`: staff-no-answer, caller-busy, ...).

    Back to the queue while attempts remain, else closed as failed. A report
    about an older attempt, or one that already ended, changes nothing.
    """
    request = ctx.store.get(request_id)
    if (
        request is None
        or request.attempts != attempt
        or request.state not in (State.CLAIMED, State.CALLING)
    ):
        return Transition(False, request.state if request else None, None)
    event = after_failed_attempt(request.attempts, ctx.policy.max_attempts)
    note = f"attempt {attempt}: {outcome}"
    if event is Event.GIVE_UP:
        t = ctx.store.transition(
            request_id,
            event,
            now,
            by="twilio",
            note=note,
            expect={"attempts": attempt},
            set_fields={"outcome": outcome},
        )
        if t.ok:
            logger.error("callback %s FAILED after %d attempts (%s)", request_id, attempt, outcome)
            _after_id(ctx, request_id, now)
        return t
    return _requeue(
        ctx,
        request_id,
        event,
        now,
        by="twilio",
        note=note,
        expect={"attempts": attempt},
        outcome=outcome,
    )


def _requeue(
    ctx: CallbackContext,
    request_id: str,
    event: Event,
    now: dt.datetime,
    *,
    by: str,
    note: str,
    expect: dict[str, object],
    outcome: str | None = None,
) -> Transition:
    fields: dict[str, object] = {"claimed_by": "", "claimed_at": "", "step": -1}
    if outcome:
        fields["outcome"] = outcome
    return _apply(
        ctx,
        request_id,
        event,
        now,
        by=by,
        note=note,
        expect=expect,
        set_fields=fields,
        incr={"epoch": 1},
    )


def _apply(
    ctx: CallbackContext, request_id: str, event: Event, now: dt.datetime, **change: Any
) -> Transition:
    """One store transition and, when it happened, what the new state calls for:
    every state change goes through here, so none forgets the call log or its jobs."""
    t = ctx.store.transition(request_id, event, now, **change)
    if t.ok:
        _after_id(ctx, request_id, now)
    return t


def _after_id(ctx: CallbackContext, request_id: str, now: dt.datetime) -> None:
    request = ctx.store.get(request_id)
    if request is not None:
        _after(ctx, request, now)


def _after(ctx: CallbackContext, request: Request, now: dt.datetime) -> None:
    """Tell the call log, then schedule the jobs the new state calls for."""
    if request.call_sid and ctx.call_log is not None:
        try:
            ctx.call_log.callback(request.call_sid, request.id, request.state.value, now)
        except Exception:  # noqa: BLE001 - paperwork never stops a callback
            logger.exception("callback %s: could not tell the call log", request.id)
    queue.schedule(
        ctx.conn, ctx.jobs, request.id, follow_ups(request, ctx.policy, now), ctx.policy, now
    )
