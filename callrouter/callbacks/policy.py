"""The validated ``callbacks:`` policy: SLA, priority, the escalation ladder, limits.

Values only; `section.py` builds them from the YAML with file:line problems.
Pure: no Flask, Redis, RQ, Twilio or clock reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from callrouter.callbacks.texts import Texts
from callrouter.routing import numbers
from callrouter.routing.model import NOWHERE, Source


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
class Limits:
    """What keeps a flood (one prankster, a thousand callers) from starving real callers.

    A caller over any of these is put through to a person at once; nothing is
    spooled or silently dropped. Every default is documented in the README.
    """

    per_number: int = 3
    """Requests per `window_seconds` for one number to call back."""
    per_caller: int = 3
    """Requests per `window_seconds` from one calling number (Twilio's From)."""
    per_call: int = 1
    """Requests one call (CallSid) may make."""
    window_seconds: int = 3600
    open_requests: int = 100
    """Open requests in the whole queue; beyond it callers are put through."""
    code_digits: int = 6
    """Claim codes are this many digits, drawn at random (a space of 9 x 10^(n-1))."""
    wrong_codes: int = 5
    """Claim attempts with a code not offered to the sender, per `wrong_codes_seconds`."""
    wrong_codes_seconds: int = 900
    flood_alert_seconds: int = 900
    """At most one flood alert SMS to the coordinator per this many seconds."""
    coordinator: str | None = None
    """Member id that alone gets the flood alert; None: the console's coordinators
    (`staff.flood_alert_recipients`; the fallback team's on-call persons if there is none)."""
    sms_quiet_after: int = 5
    """Replies in a row that asked for nothing before the SMS number stops answering
    that sender (until a real message goes out to them)."""
    resident_reply_seconds: int = 86400
    """A non-staff sender gets the 'how to reach help' reply at most once per this."""

    @property
    def code_space(self) -> int:
        return int(9 * 10 ** (self.code_digits - 1))


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
    limits: Limits = Limits()
    dedupe_seconds: int = 1800
    allow_foreign: bool = False
    spool_dir: str = "var/spool/callbacks"
    keep_raw_numbers_seconds: int = 7 * 86400
    keep_requests_seconds: int = 90 * 86400
    """Finished requests (masked number, facts, audit) are deleted this long after
    they were made; the call log keeps their lifecycle for reports."""
    retry_backoff: tuple[int, ...] = (10, 30, 60, 300)
    """Seconds between retries of a job whose Twilio request failed (5xx, timeout)."""
    texts: Texts = Texts()
    """Every word callers and staff hear or read about callbacks (``callbacks.texts``);
    empty when the config has no callbacks section, and then no callback is offered."""

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
