"""Callback requests, decided without I/O: lifecycle, policy, ladder, texts, replies.

When nobody could take a call the caller may leave a callback request. This
module holds every *decision* about such a request, so the Redis store, the
RQ jobs and the webhooks only carry decisions out:

- the lifecycle as one transition table (``TRANSITIONS``), so "can a request
  get stuck?" is a question a test answers by walking the table;
- the policy from the ``callbacks:`` config section (SLA and priority per
  caller, the escalation ladder, attempts, limits), validated with file:line;
- who gets the SMS at each escalation step, at a moment passed in;
- what the SMS says (masked number, claim code) and what a reply means;
- which jobs must follow a transition (``follow_ups``).

Pure: no Flask, Redis, RQ, Twilio or clock reads.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import phonenumbers

from callrouter.privacy import mask_number
from callrouter.routing import numbers
from callrouter.routing.model import NOWHERE, CallerKind, Config, LegKind, Member, Source
from callrouter.routing.plan import RoutePlan
from callrouter.routing.rota import on_call, ring_group

# --------------------------------------------------------------------------- lifecycle


class State(StrEnum):
    REQUESTED = "requested"
    """In the queue; the current escalation step has not been sent yet."""
    NOTIFIED = "notified"
    """In the queue; staff have had an SMS and may claim it."""
    CLAIMED = "claimed"
    """A staff member took it; the bridged call is about to be placed."""
    CALLING = "calling"
    """The service is calling the staff member, then the caller."""
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Event(StrEnum):
    NOTIFY = "notify"
    """An escalation step's SMS went out."""
    CLAIM = "claim"
    RELEASE = "release"
    """The claimer (or an admin) hands it back to the queue."""
    DIAL = "dial"
    """The bridged call is being placed (one attempt)."""
    REACHED = "reached"
    """The caller picked up and was connected to the staff member."""
    RETRY = "retry"
    """An attempt failed (no answer, busy); back to the queue."""
    GIVE_UP = "give_up"
    """An attempt failed and it was the last one allowed."""
    EXPIRE = "expire"
    CANCEL = "cancel"


OPEN = frozenset({State.REQUESTED, State.NOTIFIED})
"""States in which a request is in the queue and can be claimed."""
TERMINAL = frozenset({State.COMPLETED, State.FAILED, State.EXPIRED, State.CANCELLED})

TRANSITIONS: Mapping[tuple[State, Event], State] = {
    (State.REQUESTED, Event.NOTIFY): State.NOTIFIED,
    (State.NOTIFIED, Event.NOTIFY): State.NOTIFIED,
    (State.REQUESTED, Event.CLAIM): State.CLAIMED,
    (State.NOTIFIED, Event.CLAIM): State.CLAIMED,
    (State.CLAIMED, Event.RELEASE): State.REQUESTED,
    (State.CLAIMED, Event.DIAL): State.CALLING,
    (State.CLAIMED, Event.RETRY): State.REQUESTED,
    (State.CLAIMED, Event.GIVE_UP): State.FAILED,
    (State.CALLING, Event.REACHED): State.COMPLETED,
    (State.CALLING, Event.RETRY): State.REQUESTED,
    (State.CALLING, Event.GIVE_UP): State.FAILED,
    (State.REQUESTED, Event.EXPIRE): State.EXPIRED,
    (State.NOTIFIED, Event.EXPIRE): State.EXPIRED,
    (State.REQUESTED, Event.CANCEL): State.CANCELLED,
    (State.NOTIFIED, Event.CANCEL): State.CANCELLED,
    (State.CLAIMED, Event.CANCEL): State.CANCELLED,
}
"""Every allowed transition. A live call (``calling``) cannot be cancelled:
it ends through Twilio's status callbacks or the bridge watchdog."""

TIMED: Mapping[State, Event] = {
    State.REQUESTED: Event.EXPIRE,
    State.NOTIFIED: Event.EXPIRE,
    State.CLAIMED: Event.RETRY,
    State.CALLING: Event.RETRY,
}
"""The event a timer fires in each non-terminal state when nobody acts
(expiry timer, bridge job, bridge watchdog): no request waits forever."""


class InvalidTransition(ValueError):
    """The event is not allowed in the request's current state."""


def advance(state: State, event: Event) -> State:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(
            f"{event.value} is not allowed when a callback is {state.value}"
        ) from None


def sources(event: Event) -> dict[State, State]:
    """From-state -> to-state for `event`: what the store checks atomically."""
    return {s: t for (s, e), t in TRANSITIONS.items() if e is event}


def after_failed_attempt(attempts: int, max_attempts: int) -> Event:
    """Back to the queue, unless that was the last attempt allowed."""
    return Event.RETRY if attempts < max_attempts else Event.GIVE_UP


# --------------------------------------------------------------------------- policy


class Target(StrEnum):
    """Who an escalation step sends the SMS to."""

    ONCALL = "oncall"
    """The on-call person of the first on-call leg the call was routed to."""
    BACKUP = "backup"
    """The on-call persons of the other on-call legs (e.g. the achterwacht)."""
    TEAM = "team"
    """Every member (with SMS) of the teams the call was routed to."""
    FALLBACK = "fallback"
    """The on-call persons of every role of the fallback team."""


@dataclass(frozen=True)
class Step:
    target: Target
    after_seconds: int | None = None
    """Fixed delay after the request was confirmed."""
    after_percent: int | None = None
    """Or a share of the request's SLA (100 = when the SLA runs out)."""
    source: Source = NOWHERE

    def delay(self, sla_seconds: int) -> int:
        if self.after_seconds is not None:
            return self.after_seconds
        return (sla_seconds * (self.after_percent or 0)) // 100


@dataclass(frozen=True)
class CallbackPolicy:
    """The validated ``callbacks:`` section. Durations are whole seconds."""

    sla: Mapping[str, int] = field(
        default_factory=lambda: {"referrer": 600, "relative": 1200, "resident": 1200}
    )
    """Seconds within which a request must be claimed, by caller type id or kind."""
    priority: Mapping[str, int] = field(
        default_factory=lambda: {"referrer": 1, "relative": 2, "resident": 2}
    )
    """1 is most urgent; by caller type id or kind."""
    ladder: tuple[Step, ...] = (
        Step(Target.ONCALL, after_seconds=0),
        Step(Target.BACKUP, after_percent=50),
        Step(Target.TEAM, after_percent=100),
        Step(Target.FALLBACK, after_percent=150),
    )
    fallback_team: str | None = None
    expire_seconds: int = 4 * 3600
    max_attempts: int = 3
    staff_ring_seconds: int = 25
    caller_ring_seconds: int = 30
    rate_limit_requests: int = 3
    rate_limit_seconds: int = 3600
    dedupe_seconds: int = 1800
    allow_foreign: bool = False
    spool_dir: str = "var/spool/callbacks"
    keep_raw_numbers_seconds: int = 7 * 86400
    keep_requests_seconds: int = 90 * 86400
    """Finished requests (masked number, facts, audit) are deleted this long after
    they were made; the call log keeps their lifecycle for reports."""
    retry_backoff: tuple[int, ...] = (10, 30, 60, 300)
    """Seconds between retries of a job whose Twilio request failed (5xx, timeout)."""

    def sla_for(self, caller_type: str, kind: str) -> int:
        return _by_type_or_kind(self.sla, caller_type, kind, max(self.sla.values(), default=1200))

    def priority_for(self, caller_type: str, kind: str) -> int:
        return _by_type_or_kind(
            self.priority, caller_type, kind, max(self.priority.values(), default=9)
        )

    def number_policy(self) -> numbers.NumberPolicy:
        return numbers.NumberPolicy(allow_foreign=self.allow_foreign)

    def step_times(self, start: dt.datetime, sla_seconds: int) -> tuple[dt.datetime, ...]:
        """When each ladder step is due, for a request (re)queued at `start`."""
        return tuple(start + dt.timedelta(seconds=s.delay(sla_seconds)) for s in self.ladder)

    @property
    def bridge_watch_seconds(self) -> int:
        """How long a bridged attempt may stay unresolved before it counts as failed:
        both ring times plus a minute for the staff prompt and Twilio's callbacks."""
        return self.staff_ring_seconds + self.caller_ring_seconds + 60


def _by_type_or_kind(table: Mapping[str, int], caller_type: str, kind: str, default: int) -> int:
    if caller_type in table:
        return table[caller_type]
    return table.get(kind, table.get("default", default))


def queue_score(priority: int, deadline: dt.datetime) -> float:
    """Sorted-set score: most urgent priority first, then earliest deadline."""
    return priority * 1e10 + deadline.timestamp()


_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_PERCENT = re.compile(r"^\s*(\d+)\s*%\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}

Where = Callable[[tuple[str | int, ...]], Source]
RawProblem = tuple[Source, str, str]

_KEYS = {
    "sla",
    "priority",
    "escalation",
    "fallback_team",
    "expire_after",
    "max_attempts",
    "ring",
    "rate_limit",
    "dedupe_window",
    "allow_foreign",
    "spool_dir",
    "keep_raw_numbers",
    "keep_requests",
    "retry",
}


def parse_duration(raw: object) -> int | None:
    """'90s', '10m', '2h', '7d' -> seconds; None when it is not such a duration."""
    m = _DURATION.match(str(raw)) if isinstance(raw, str) else None
    return int(m.group(1)) * _UNIT[m.group(2)] if m else None


class _Checker:
    """Reads the raw ``callbacks:`` mapping, collecting file:line problems."""

    def __init__(self, where: Where) -> None:
        self.where = where
        self.problems: list[RawProblem] = []

    def err(self, path: tuple[str | int, ...], message: str, fix: str) -> None:
        self.problems.append((self.where(("callbacks",) + path), message, fix))

    def mapping(
        self, path: tuple[str | int, ...], raw: object, allowed: set[str] | None
    ) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.err(
                path, f"callbacks.{_dotted(path)} must be a mapping", "indent its keys under it"
            )
            return {}
        for key in raw:
            if allowed is not None and key not in allowed:
                self.err(
                    path + (key,),
                    f"unknown key {key!r} in callbacks{'.' if path else ''}{_dotted(path)}",
                    f"allowed keys: {', '.join(sorted(allowed))}",
                )
        return raw

    def duration(self, path: tuple[str | int, ...], raw: object, default: int, low: int = 0) -> int:
        if raw is None:
            return default
        seconds = parse_duration(raw)
        if seconds is None or seconds < low:
            self.err(
                path,
                f"callbacks.{_dotted(path)} {raw!r} is not a duration"
                + (f" of at least {low}s" if low else ""),
                "write a number with a unit, quoted or not: 30s, 10m, 2h, 7d",
            )
            return default
        return seconds

    def integer(
        self, path: tuple[str | int, ...], raw: object, default: int, low: int, high: int
    ) -> int:
        if raw is None:
            return default
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            self.err(
                path,
                f"callbacks.{_dotted(path)} must be a whole number "
                f"from {low} to {high}, not {raw!r}",
                f"use a number between {low} and {high}",
            )
            return default
        return raw


@dataclass(frozen=True)
class PolicyContext:
    """What the policy refers to in the rest of the config."""

    caller_kinds: Mapping[str, str]
    """Caller type id -> kind."""
    teams: frozenset[str]


def context_of(config: Config) -> PolicyContext:
    return PolicyContext(
        {c.id: c.kind.value for c in config.caller_types}, frozenset(t.id for t in config.teams)
    )


def parse_policy(
    raw: object, where: Where, ctx: PolicyContext
) -> tuple[CallbackPolicy, list[RawProblem]]:
    """The ``callbacks:`` section -> policy, plus every problem with file:line."""
    c = _Checker(where)
    base = CallbackPolicy()
    spec = c.mapping((), raw, _KEYS)
    kinds = {k.value for k in CallerKind}
    known = set(ctx.caller_kinds) | kinds | {"default"}

    def per_caller(
        key: str, default: Mapping[str, int], parse: Callable[[tuple[str | int, ...], object], int]
    ) -> dict[str, int]:
        table = c.mapping((key,), spec.get(key), None)
        if not table:
            return dict(default)
        out: dict[str, int] = {}
        for name, value in table.items():
            if name not in known:
                c.err(
                    (key, name),
                    f"{name!r} is not a caller type or kind",
                    f"use a kind ({', '.join(sorted(kinds))}), a caller type id, or 'default'",
                )
                continue
            out[name] = parse((key, name), value)
        missing = sorted(
            t
            for t, k in ctx.caller_kinds.items()
            if t not in out and k not in out and "default" not in out
        )
        if missing:
            c.err(
                (key,),
                f"callbacks.{key} says nothing for caller type(s) {', '.join(missing)}",
                "add their kind (resident, relative, referrer) or a 'default'",
            )
        return out

    sla = per_caller("sla", base.sla, lambda p, v: c.duration(p, v, 1200, low=1))
    priority = per_caller("priority", base.priority, lambda p, v: c.integer(p, v, 9, 1, 99))

    ladder: list[Step] = []
    raw_ladder = spec.get("escalation")
    if raw_ladder is None:
        ladder = list(base.ladder)
    elif not isinstance(raw_ladder, list) or not raw_ladder:
        c.err(
            ("escalation",),
            "callbacks.escalation must be a non-empty list of steps",
            "e.g. - {notify: oncall, after: 0m}",
        )
    else:
        for i, item in enumerate(raw_ladder):
            step = c.mapping(("escalation", i), item, {"notify", "after"})
            target = str(step.get("notify", ""))
            if target not in {t.value for t in Target}:
                c.err(
                    ("escalation", i, "notify"),
                    f"{target!r} is not someone to notify",
                    f"use one of {', '.join(t.value for t in Target)}",
                )
                continue
            after = step.get("after", "0s")
            pct = _PERCENT.match(after) if isinstance(after, str) else None
            if pct:
                ladder.append(
                    Step(
                        Target(target),
                        after_percent=int(pct.group(1)),
                        source=where(("callbacks", "escalation", i)),
                    )
                )
            else:
                ladder.append(
                    Step(
                        Target(target),
                        after_seconds=c.duration(("escalation", i, "after"), after, 0),
                        source=where(("callbacks", "escalation", i)),
                    )
                )
        if ladder and ladder[0].delay(1) != 0:
            c.err(
                ("escalation", 0),
                "the first escalation step must be sent at once",
                "give the first step after: 0m",
            )
        probe = max(sla.values(), default=1200)
        delays = [s.delay(probe) for s in ladder]
        if delays != sorted(delays):
            c.err(
                ("escalation",),
                "escalation steps must be listed in the order they are sent",
                "order the steps by their 'after'",
            )

    fallback_team = spec.get("fallback_team")
    if fallback_team is not None and str(fallback_team) not in ctx.teams:
        c.err(
            ("fallback_team",),
            f"unknown team {fallback_team!r}",
            f"use one of: {', '.join(sorted(ctx.teams))}",
        )
    if fallback_team is None and any(s.target is Target.FALLBACK for s in ladder):
        c.err(
            ("escalation",),
            "the ladder notifies the fallback team but no fallback_team is set",
            "add fallback_team: <team id>, the team on duty 24/7",
        )

    ring = c.mapping(("ring",), spec.get("ring"), {"staff", "caller"})
    rate = c.mapping(("rate_limit",), spec.get("rate_limit"), {"requests", "per"})
    retry = c.mapping(("retry",), spec.get("retry"), {"backoff"})
    backoff_raw = retry.get("backoff")
    backoff = base.retry_backoff
    if backoff_raw is not None:
        if not isinstance(backoff_raw, list) or not backoff_raw:
            c.err(
                ("retry", "backoff"),
                "callbacks.retry.backoff must be a list of durations",
                "e.g. backoff: [10s, 30s, 1m, 5m]",
            )
        else:
            backoff = tuple(
                c.duration(("retry", "backoff", i), v, 10) for i, v in enumerate(backoff_raw)
            )
    allow_foreign = spec.get("allow_foreign", False)
    if not isinstance(allow_foreign, bool):
        c.err(
            ("allow_foreign",),
            f"callbacks.allow_foreign must be true or false, not {allow_foreign!r}",
            "write true or false",
        )
        allow_foreign = False

    expire = c.duration(("expire_after",), spec.get("expire_after"), base.expire_seconds, low=1)
    ladder_end = max((s.delay(max(sla.values(), default=1)) for s in ladder), default=0)
    if expire <= ladder_end:
        c.err(
            ("expire_after",),
            "requests would expire before the last escalation step is sent",
            "make expire_after longer than the last step's 'after'",
        )
    keep = c.duration(
        ("keep_raw_numbers",), spec.get("keep_raw_numbers"), base.keep_raw_numbers_seconds, low=1
    )
    keep_requests = c.duration(
        ("keep_requests",), spec.get("keep_requests"), base.keep_requests_seconds, low=1
    )
    if keep_requests < keep:
        c.err(
            ("keep_requests",),
            "requests would be deleted before their raw numbers are due",
            "make keep_requests at least keep_raw_numbers",
        )

    policy = CallbackPolicy(
        sla=sla,
        priority=priority,
        ladder=tuple(ladder),
        fallback_team=str(fallback_team) if fallback_team is not None else None,
        expire_seconds=expire,
        max_attempts=c.integer(
            ("max_attempts",), spec.get("max_attempts"), base.max_attempts, 1, 10
        ),
        staff_ring_seconds=c.duration(
            ("ring", "staff"), ring.get("staff"), base.staff_ring_seconds, low=5
        ),
        caller_ring_seconds=c.duration(
            ("ring", "caller"), ring.get("caller"), base.caller_ring_seconds, low=5
        ),
        rate_limit_requests=c.integer(
            ("rate_limit", "requests"), rate.get("requests"), base.rate_limit_requests, 1, 100
        ),
        rate_limit_seconds=c.duration(
            ("rate_limit", "per"), rate.get("per"), base.rate_limit_seconds, low=1
        ),
        dedupe_seconds=c.duration(
            ("dedupe_window",), spec.get("dedupe_window"), base.dedupe_seconds
        ),
        allow_foreign=allow_foreign,
        spool_dir=str(spec.get("spool_dir", base.spool_dir)),
        keep_raw_numbers_seconds=keep,
        keep_requests_seconds=keep_requests,
        retry_backoff=backoff,
    )
    return policy, c.problems


def policy_of(config: Config) -> CallbackPolicy:
    """The policy of an already validated config (defaults when the section is absent)."""
    policy, problems = parse_policy(
        config.extra.get("callbacks"), lambda _p: NOWHERE, context_of(config)
    )
    if problems:
        raise ValueError(f"invalid callbacks section: {problems[0][1]}")
    return policy


def check_config(data: Mapping[str, Any], where: Where) -> list[RawProblem]:
    """Loader hook (``config_files.SECTION_CHECKS``): problems in ``callbacks:``, with file:line.

    Reads caller types and teams from the raw documents, since the hook runs
    while the rest of the config is still being built.
    """
    if "callbacks" not in data:
        return []
    raw_types = data.get("caller_types")
    kinds = (
        {str(k): str(v.get("kind", "")) for k, v in raw_types.items() if isinstance(v, dict)}
        if isinstance(raw_types, dict)
        else {}
    )
    raw_teams = data.get("teams")
    teams = frozenset(str(t) for t in raw_teams) if isinstance(raw_teams, dict) else frozenset()
    return parse_policy(data["callbacks"], where, PolicyContext(kinds, teams))[1]


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path)


# --------------------------------------------------------------------------- requests


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
    asked: int = 1
    """How many times the caller asked (duplicates merged into this one)."""

    @property
    def is_open(self) -> bool:
        return self.state in OPEN

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


# --------------------------------------------------------------------------- ladder


def recipients(
    target: Target,
    routes: Iterable[Route],
    config: Config,
    policy: CallbackPolicy,
    moment: dt.datetime,
) -> tuple[Member, ...]:
    """Who gets the SMS for one ladder step at `moment` (members without SMS left out)."""
    routes = tuple(routes)
    oncall = [r for r in routes if r.oncall and r.role]
    found: list[Member] = []

    def on_duty(team_id: str, role_name: str) -> None:
        team = config.team(team_id)
        role = team.role(role_name) if team else None
        if team and role:
            member, _ = on_call(team, role, moment)
            if member:
                found.append(member)

    if target is Target.ONCALL:
        if oncall:
            on_duty(oncall[0].team, oncall[0].role or "")
        elif routes:
            team = config.team(routes[0].team)
            if team:
                role = team.role(routes[0].role) if routes[0].role else None
                found.extend(ring_group(team, role, moment))
    elif target is Target.BACKUP:
        for r in oncall[1:]:
            on_duty(r.team, r.role or "")
    elif target is Target.TEAM:
        for team_id in dict.fromkeys(r.team for r in routes):
            team = config.team(team_id)
            if team:
                found.extend(ring_group(team, None, moment))
    elif target is Target.FALLBACK and policy.fallback_team:
        team = config.team(policy.fallback_team)
        for role in team.roles if team else ():
            on_duty(team.id if team else "", role.name)
    unique = {m.id: m for m in found if m.sms}
    return tuple(unique.values())


def member_by_number(config: Config, e164: str) -> Member | None:
    """The staff member whose mobile this is (SMS replies are only taken from them)."""
    for team in config.teams:
        for member in team.members:
            if member.mobile == e164:
                return member
    return None


def member_by_id(config: Config, member_id: str) -> Member | None:
    for team in config.teams:
        member = team.member(member_id)
        if member is not None:
            return member
    return None


# --------------------------------------------------------------------------- texts


@dataclass(frozen=True)
class Labels:
    """Readable names for a request's facts, looked up in the config."""

    caller: str
    age: str
    region: str


def labels(request: Request, config: Config) -> Labels:
    ctype = config.caller_type(request.caller_type)
    age = next((a for a in config.age_groups if a.id == request.age_group), None)
    region = config.region(request.region) if request.region else None
    return Labels(
        caller=(ctype.label or ctype.id) if ctype else request.caller_type,
        age=(age.label or age.id) if age else request.age_group,
        region=region.name if region else "regio onbekend",
    )


def offer_sms(request: Request, config: Config, moment: dt.datetime, step: int) -> str:
    """The SMS that asks staff to claim a request: what is needed and no more.

    Caller type, region, age group, waiting time, the claim code and a masked
    number; never the caller's name, never the full number.
    """
    lab = labels(request, config)
    head = "Terugbelverzoek" if step <= 0 else f"ESCALATIE {step}: terugbelverzoek"
    again = " (opnieuw in wachtrij)" if request.epoch > 1 and step <= 0 else ""
    return (
        f"{head} {request.code}{again}: {lab.caller}, {lab.region}, {lab.age}, "
        f"wacht {request.waited_minutes(moment)} min, nr {request.number_masked}. "
        f"Antwoord OK {request.code} (of 1) om te claimen; we bellen u dan en verbinden door."
    )


def claimed_sms(request: Request, claimer: str) -> str:
    return f"Terugbelverzoek {request.code} is geclaimd door {claimer}. U hoeft niets te doen."


def claim_reply(request: Request, won: bool, claimer_name: str, current: State) -> str:
    """The answer to a staff member's claim attempt."""
    if won:
        return (
            f"Terugbelverzoek {request.code} is van u. We bellen u nu vanaf de crisislijn; "
            f"neem op en druk 1 om de beller te verbinden."
        )
    if current in (State.CLAIMED, State.CALLING):
        return f"Terugbelverzoek {request.code} is al geclaimd door {claimer_name}."
    if current is State.COMPLETED:
        return f"Terugbelverzoek {request.code} is al afgehandeld."
    return f"Terugbelverzoek {request.code} is niet meer open ({_STATE_NL[current]})."


HELP_SMS = (
    "Antwoord OK gevolgd door de code (bijv. OK 123) om een terugbelverzoek te claimen, "
    "of 1 voor het laatste."
)
UNKNOWN_SENDER_SMS = "Dit nummer kan geen terugbelverzoeken claimen."
NOTHING_TO_CLAIM_SMS = "Er staat geen terugbelverzoek voor u open."

_STATE_NL: Mapping[State, str] = {
    State.REQUESTED: "in de wachtrij",
    State.NOTIFIED: "in de wachtrij",
    State.CLAIMED: "geclaimd",
    State.CALLING: "wordt gebeld",
    State.COMPLETED: "afgehandeld",
    State.FAILED: "mislukt",
    State.EXPIRED: "verlopen",
    State.CANCELLED: "geannuleerd",
}


def spoken_digits(e164: str, count: int = 4) -> str:
    """The last digits of a number as a text-to-speech engine reads them digit by digit."""
    digits = re.sub(r"\D", "", e164)[-count:]
    return " ".join(digits)


def spoken_national(e164: str) -> str:
    """The whole number in national form, digit by digit ('0 6 1 2 ...')."""
    try:
        national = phonenumbers.format_number(
            numbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL
        )
    except numbers.NumberError:
        national = e164
    return " ".join(ch for ch in national if ch.isdigit() or ch == "+")


# --------------------------------------------------------------------------- replies


class ReplyKind(StrEnum):
    CLAIM_LAST = "claim_last"
    """'1', 'OK', 'ja': claim the last request offered to this staff member."""
    CLAIM_CODE = "claim_code"
    """'OK 123', 'ok123', '123': claim by code."""
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    code: str | None = None


_CLAIM_CODE = re.compile(r"^(?:(?:ok|claim|ja)\s*[:.,-]?\s*)?(\d{3})$")
_CLAIM_LAST = {"1", "ok", "oké", "oke", "ja", "claim"}


def parse_reply(body: str) -> Reply:
    """What a staff member's SMS reply means."""
    text = " ".join(body.strip().casefold().replace("!", "").split())
    text = text.rstrip(".")
    if text in _CLAIM_LAST:
        return Reply(ReplyKind.CLAIM_LAST)
    m = _CLAIM_CODE.match(text)
    if m:
        return Reply(ReplyKind.CLAIM_CODE, m.group(1))
    return Reply(ReplyKind.UNKNOWN)


# --------------------------------------------------------------------------- numbers


Refusal = numbers.Refusal
"""Why a typed number cannot be called back; each value names a spoken explanation."""


def check_callback_number(raw: str, policy: CallbackPolicy) -> tuple[str | None, Refusal | None]:
    """(E.164, None) when we may call `raw` back, else (None, why not).

    The positive list of number types is `numbers.callback_number`."""
    try:
        return numbers.callback_number(raw, policy.number_policy()), None
    except numbers.NumberError as exc:
        return None, exc.reason


# --------------------------------------------------------------------------- follow-ups


class Job(StrEnum):
    NOTIFY = "notify"
    EXPIRE = "expire"
    BRIDGE = "bridge"
    WATCH = "watch"
    TELL_CLAIMED = "tell_claimed"
    PURGE = "purge"


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
