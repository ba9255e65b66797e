"""The ``callbacks:`` config section -> `CallbackPolicy`, with file:line problems.

Pure: no Flask, Redis, RQ, Twilio or clock reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from callrouter.callbacks.policy import CallbackPolicy, Limits, Step, Target
from callrouter.callbacks.texts import parse_texts
from callrouter.calls.refs import REF_DIGITS
from callrouter.config.builder import Builder
from callrouter.config.yaml_marks import PathKey
from callrouter.console.policy import coordinators
from callrouter.routing.model import CallerKind, Config

_AT: PathKey = ("callbacks",)
"""Where this section's paths start: problems name `callbacks.<key>` and its line."""
_PERCENT = re.compile(r"^\s*(\d+)\s*%\s*$")

_KEYS = {
    "sla",
    "priority",
    "escalation",
    "fallback_team",
    "expire_after",
    "max_attempts",
    "ring",
    "limits",
    "dedupe_window",
    "allow_foreign",
    "spool_dir",
    "keep_raw_numbers",
    "keep_requests",
    "retry",
    "texts",
}


@dataclass(frozen=True)
class PolicyContext:
    """What the policy refers to in the rest of the config."""

    caller_kinds: Mapping[str, str]
    """Caller type id -> kind."""
    teams: frozenset[str]
    members: frozenset[str] = frozenset()
    languages: tuple[str, ...] = ("nl", "en")
    """The IVR's languages (ivr.languages), the default first: every text needs each."""
    coordinators: frozenset[str] = frozenset()
    """Members with the console's coordinator role and SMS: who hears of a flood."""


def context_of(config: Config, ivr: object) -> PolicyContext:
    """What the callbacks section may name: the routing config's caller types,
    teams and members, and the languages of the raw `ivr:` section (every
    callback text must exist in each)."""
    return PolicyContext(
        {c.id: c.kind.value for c in config.caller_types},
        frozenset(t.id for t in config.teams),
        frozenset(m.id for t in config.teams for m in t.members),
        _languages(ivr),
        frozenset(m.id for m in coordinators(config)),
    )


def flood_alert_warning(
    policy: CallbackPolicy, ctx: PolicyContext
) -> tuple[tuple[str, ...], str, str] | None:
    """(path, message, fix) for `callrouter check` when a flood alert would go to the
    fallback team because nobody is a coordinator; None when a coordinator gets it
    (or there are no callbacks, hence no floods)."""
    if not policy.texts or policy.limits.coordinator or ctx.coordinators:
        return None
    return (
        ("callbacks", "limits"),
        "nobody has `console: coordinator` in teams.yaml: a flood of callback requests "
        f"is reported to the on-call persons of fallback_team {policy.fallback_team!r}",
        "give the coordinator(s) `console: coordinator` (and a mobile) in teams.yaml",
    )


def _languages(ivr: object) -> tuple[str, ...]:
    langs = ivr.get("languages") if isinstance(ivr, dict) else None
    return tuple(str(k) for k in langs) if isinstance(langs, dict) and langs else ("nl", "en")


def parse_policy(c: Builder, raw: object, ctx: PolicyContext) -> CallbackPolicy:
    """The ``callbacks:`` section -> policy; every problem into `c` with file:line.

    Without a section there are no callback texts, and then no callback is offered
    (`offer_web.VoiceOffer` declines): the caller goes to the final line."""
    if raw is None:
        return CallbackPolicy()
    where = c.doc.where
    base = CallbackPolicy()
    spec = c.mapping(_AT, raw, _KEYS)
    kinds = {k.value for k in CallerKind}
    known = set(ctx.caller_kinds) | kinds | {"default"}

    def per_caller(
        key: str, default: Mapping[str, int], parse: Callable[[PathKey, object], int]
    ) -> dict[str, int]:
        table = c.table((*_AT, key), spec.get(key))
        if not table:
            return dict(default)
        out: dict[str, int] = {}
        for name, value in table.items():
            if name not in known:
                if "caller_types" in c.doc.broken:  # the names are unknown, not wrong
                    continue
                c.err(
                    (*_AT, key, name),
                    f"{name!r} is not a caller type or kind",
                    f"use a kind ({', '.join(sorted(kinds))}), a caller type id, or 'default'",
                )
                continue
            out[name] = parse((*_AT, key, name), value)
        missing = sorted(
            t
            for t, k in ctx.caller_kinds.items()
            if t not in out and k not in out and "default" not in out
        )
        if missing:
            c.err(
                (*_AT, key),
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
            (*_AT, "escalation"),
            "callbacks.escalation must be a non-empty list of steps",
            "e.g. - {notify: oncall, after: 0m}",
        )
    else:
        for i, item in enumerate(raw_ladder):
            step = c.mapping((*_AT, "escalation", i), item, {"notify", "after"})
            target = str(step.get("notify", ""))
            if target not in {t.value for t in Target}:
                c.err(
                    (*_AT, "escalation", i, "notify"),
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
                        after_seconds=c.duration((*_AT, "escalation", i, "after"), after, 0),
                        source=where(("callbacks", "escalation", i)),
                    )
                )
        if ladder and ladder[0].delay(1) != 0:
            c.err(
                (*_AT, "escalation", 0),
                "the first escalation step must be sent at once",
                "give the first step after: 0m",
            )
        probe = max(sla.values(), default=1200)
        delays = [s.delay(probe) for s in ladder]
        if delays != sorted(delays):
            c.err(
                (*_AT, "escalation"),
                "escalation steps must be listed in the order they are sent",
                "order the steps by their 'after'",
            )

    fallback_team = spec.get("fallback_team")
    if fallback_team is not None:
        c.ref((*_AT, "fallback_team"), str(fallback_team), ctx.teams, "team")
    if fallback_team is None and any(s.target is Target.FALLBACK for s in ladder):
        c.err(
            (*_AT, "escalation"),
            "the ladder notifies the fallback team but no fallback_team is set",
            "add fallback_team: <team id>, the team on duty 24/7",
        )

    ring = c.mapping(
        (*_AT, "ring"),
        spec.get("ring"),
        {"staff", "caller"},
    )
    retry = c.mapping(
        (*_AT, "retry"),
        spec.get("retry"),
        {"backoff"},
    )
    backoff_raw = retry.get("backoff")
    backoff = base.retry_backoff
    if backoff_raw is not None:
        if not isinstance(backoff_raw, list) or not backoff_raw:
            c.err(
                (*_AT, "retry", "backoff"),
                "callbacks.retry.backoff must be a list of durations",
                "e.g. backoff: [10s, 30s, 1m, 5m]",
            )
        else:
            backoff = tuple(
                c.duration((*_AT, "retry", "backoff", i), v, 10) for i, v in enumerate(backoff_raw)
            )
    allow_foreign = c.boolean((*_AT, "allow_foreign"), spec.get("allow_foreign"), False)

    expire = c.duration(
        (*_AT, "expire_after"),
        spec.get("expire_after"),
        base.expire_seconds,
        low=1,
    )
    ladder_end = max((s.delay(max(sla.values(), default=1)) for s in ladder), default=0)
    if expire <= ladder_end:
        c.err(
            (*_AT, "expire_after"),
            "requests would expire before the last escalation step is sent",
            "make expire_after longer than the last step's 'after'",
        )
    keep = c.duration(
        (*_AT, "keep_raw_numbers"),
        spec.get("keep_raw_numbers"),
        base.keep_raw_numbers_seconds,
        low=1,
    )
    keep_requests = c.duration(
        (*_AT, "keep_requests"),
        spec.get("keep_requests"),
        base.keep_requests_seconds,
        low=1,
    )
    if keep_requests < keep:
        c.err(
            (*_AT, "keep_requests"),
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
            (*_AT, "max_attempts"),
            spec.get("max_attempts"),
            base.max_attempts,
            1,
            10,
        ),
        staff_ring_seconds=c.duration(
            (*_AT, "ring", "staff"), ring.get("staff"), base.staff_ring_seconds, low=5
        ),
        caller_ring_seconds=c.duration(
            (*_AT, "ring", "caller"), ring.get("caller"), base.caller_ring_seconds, low=5
        ),
        limits=_limits(c, spec.get("limits"), ctx, fallback_team is not None),
        dedupe_seconds=c.duration(
            (*_AT, "dedupe_window"),
            spec.get("dedupe_window"),
            base.dedupe_seconds,
        ),
        allow_foreign=allow_foreign,
        spool_dir=str(spec.get("spool_dir", base.spool_dir)),
        keep_raw_numbers_seconds=keep,
        keep_requests_seconds=keep_requests,
        retry_backoff=backoff,
        texts=parse_texts(
            spec.get("texts"), ctx.languages, lambda path, *said: c.err((*_AT, *path), *said)
        ),
    )
    return policy


_LIMIT_KEYS = {
    "per_number",
    "per_caller",
    "per_call",
    "per",
    "open",
    "code_digits",
    "wrong_codes",
    "alert_every",
    "coordinator",
    "sms_quiet_after",
    "resident_reply_every",
}


def _limits(c: Builder, raw: object, ctx: PolicyContext, has_fallback: bool) -> Limits:
    base = Limits()
    spec = c.mapping(
        (*_AT, "limits"),
        raw,
        _LIMIT_KEYS,
    )
    wrong = c.mapping((*_AT, "limits", "wrong_codes"), spec.get("wrong_codes"), {"tries", "per"})

    def count(key: str, default: int, high: int) -> int:
        return c.integer((*_AT, "limits", key), spec.get(key), default, 1, high)

    def every(path: PathKey, raw: object, default: int) -> int:
        return c.duration((*_AT, "limits", *path), raw, default, low=1)

    limits = Limits(
        per_number=count("per_number", base.per_number, 100),
        per_caller=count("per_caller", base.per_caller, 100),
        per_call=count("per_call", base.per_call, 10),
        window_seconds=every(("per",), spec.get("per"), base.window_seconds),
        open_requests=count("open", base.open_requests, 10_000),
        code_digits=c.integer(
            (*_AT, "limits", "code_digits"), spec.get("code_digits"), base.code_digits, 5, 9
        ),
        wrong_codes=c.integer(
            (*_AT, "limits", "wrong_codes", "tries"), wrong.get("tries"), base.wrong_codes, 1, 100
        ),
        wrong_codes_seconds=every(
            ("wrong_codes", "per"), wrong.get("per"), base.wrong_codes_seconds
        ),
        flood_alert_seconds=every(
            ("alert_every",), spec.get("alert_every"), base.flood_alert_seconds
        ),
        coordinator=str(spec["coordinator"]) if spec.get("coordinator") is not None else None,
        sms_quiet_after=count("sms_quiet_after", base.sms_quiet_after, 100),
        resident_reply_seconds=every(
            ("resident_reply_every",), spec.get("resident_reply_every"), base.resident_reply_seconds
        ),
    )
    if limits.coordinator is not None:
        c.ref((*_AT, "limits", "coordinator"), limits.coordinator, ctx.members, "member")
    if limits.coordinator is None and not ctx.coordinators and not has_fallback:
        c.err(
            (*_AT, "limits"),
            "nobody would hear of a flood: no member with `console: coordinator`, "
            "no limits.coordinator and no fallback_team",
            "give the coordinator(s) `console: coordinator` in teams.yaml",
        )
    if limits.code_digits == REF_DIGITS:
        c.err(
            (*_AT, "limits", "code_digits"),
            f"{REF_DIGITS}-digit claim codes could be taken for call refs, which have "
            f"{REF_DIGITS} digits (staff report a triage outcome by either)",
            f"use 5 to {REF_DIGITS - 1} or {REF_DIGITS + 1} code_digits",
        )
    if limits.open_requests * 10 > limits.code_space:
        c.err(
            (*_AT, "limits", "code_digits"),
            f"{limits.code_digits}-digit claim codes are too few for {limits.open_requests} "
            "open requests (codes must stay hard to guess)",
            "use more code_digits or a smaller limits.open",
        )
    return limits
