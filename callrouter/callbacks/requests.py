"""A callback request as a value, and the jobs each state calls for.

`new_request` builds a fresh request from a caller's confirmed number and
the route plan; `follow_ups` says which jobs (notify, expire, bridge, ...)
must follow once a request has entered its current state, each with a token
(epoch or attempt) so a timer that outlived its purpose does nothing.

Pure: no Flask, Redis, RQ, Twilio or clock reads.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from callrouter.callbacks.lifecycle import TERMINAL, State
from callrouter.callbacks.policy import CallbackPolicy
from callrouter.privacy import derive_key, mask_number
from callrouter.routing.model import CallerKind, Config, LegKind
from callrouter.routing.plan import RoutePlan


@dataclass(frozen=True)
class Route:
    """A (team, role) the call was routed to; role None for a whole-team leg."""

    team: str
    role: str | None
    oncall: bool

    def encode(self) -> str:
        return f"{'oncall' if self.oncall else 'team'}:{self.team}:{self.role or ''}"

    @classmethod
    def decode(cls, text: str) -> Route:
        kind, team, role = text.split(":", 2)
        return cls(team, role or None, kind == "oncall")


def routes_of(plan: RoutePlan) -> tuple[Route, ...]:
    """The teams and roles a call was routed to, from its route plan."""
    out = []
    for leg in plan.legs:
        if leg.team and leg.kind in (LegKind.ONCALL, LegKind.RING_ALL):
            out.append(Route(leg.team, leg.role, leg.kind is LegKind.ONCALL))
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Request:
    """A callback request as stored; `number` is raw E.164 (empty once purged)."""

    id: str
    state: State
    code: str
    priority: int
    created_at: dt.datetime
    deadline: dt.datetime
    caller_type: str
    caller_kind: str
    age_group: str
    region: str | None
    number: str = field(repr=False)
    number_masked: str
    routes: tuple[Route, ...]
    epoch: int = 1
    step: int = -1
    """Highest escalation step sent in this epoch (-1: none yet)."""
    attempts: int = 0
    claimed_by: str | None = None
    call_sid: str | None = None
    lang: str = "nl"
    outcome: str | None = None

    def waited_minutes(self, moment: dt.datetime) -> int:
        return max(0, int((moment - self.created_at).total_seconds() // 60))


def new_request(
    *,
    request_id: str,
    number: str,
    plan: RoutePlan,
    config: Config,
    policy: CallbackPolicy,
    moment: dt.datetime,
    call_sid: str | None = None,
    lang: str = "nl",
) -> Request:
    """A fresh request (state requested) for a caller's confirmed number."""
    facts = plan.facts
    caller_type = facts.caller_type or config.default_caller_type
    ctype = config.caller_type(caller_type)
    kind = ctype.kind.value if ctype else CallerKind.RESIDENT.value
    sla = policy.sla_for(caller_type, kind)
    return Request(
        id=request_id,
        state=State.REQUESTED,
        code="",
        priority=policy.priority_for(caller_type, kind),
        created_at=moment,
        deadline=moment + dt.timedelta(seconds=sla),
        caller_type=caller_type,
        caller_kind=kind,
        age_group=facts.age_group or config.default_age_group,
        region=facts.region,
        number=number,
        number_masked=mask_number(number),
        routes=routes_of(plan),
        call_sid=call_sid,
        lang=lang,
    )


def sla_seconds(request: Request, policy: CallbackPolicy) -> int:
    return policy.sla_for(request.caller_type, request.caller_kind)


class Job(StrEnum):
    NOTIFY = "notify"
    EXPIRE = "expire"
    BRIDGE = "bridge"
    WATCH = "watch"
    TELL_CLAIMED = "tell_claimed"
    PURGE = "purge"
    SWEEP = "sweep"
    """The safety net, every minute (`service.sweep`)."""
    FLOOD_ALERT = "flood_alert"
    """One SMS to the coordinator when callers were turned away by a limit."""


@dataclass(frozen=True)
class FollowUp:
    """A job that must run because of a transition; `token` makes stale timers harmless."""

    job: Job
    at: dt.datetime
    token: int
    step: int = 0


def follow_ups(
    request: Request, policy: CallbackPolicy, moment: dt.datetime
) -> tuple[FollowUp, ...]:
    """The jobs a request needs now that it has just entered its current state."""
    state = request.state
    if state is State.REQUESTED:
        start = moment
        times = policy.step_times(start, sla_seconds(request, policy))
        ups = [FollowUp(Job.NOTIFY, at, request.epoch, step) for step, at in enumerate(times)]
        ups.append(
            FollowUp(Job.EXPIRE, start + dt.timedelta(seconds=policy.expire_seconds), request.epoch)
        )
        return tuple(ups)
    if state is State.CLAIMED:
        return (
            FollowUp(Job.BRIDGE, moment, request.attempts + 1),
            FollowUp(Job.TELL_CLAIMED, moment, request.epoch),
        )
    if state is State.CALLING:
        return (
            FollowUp(
                Job.WATCH,
                moment + dt.timedelta(seconds=policy.bridge_watch_seconds),
                request.attempts,
            ),
        )
    if state in TERMINAL:
        return (
            FollowUp(Job.PURGE, moment + dt.timedelta(seconds=policy.keep_raw_numbers_seconds), 0),
        )
    return ()


class CancelReason(StrEnum):
    """Why a request was cancelled: a code, never free text (the audit trail is kept long)."""

    ADMIN = "admin"
    CALLER_REACHED = "caller_reached"
    DUPLICATE = "duplicate"
    WRONG_NUMBER = "wrong_number"
    OTHER = "other"


def pseudonym_key(secret: str | bytes) -> bytes:
    """The key for callers' number pseudonyms (limits, dedupe), derived from
    ``CALLROUTER_SECRET`` for this one purpose; web, worker and CLI derive the same."""
    return derive_key(secret, b"callback-numbers")


def new_request_id() -> str:
    """12 hex characters: job-id safe, unguessable, short enough to type."""
    return secrets.token_hex(6)
