"""The seam between the voice webhooks and the call records.

The voice blueprint tells a `CallEvents` sink what happened to each call;
what is kept, and where, is the records' business. The method set is the
event half of `callrouter.calls.store.CallStore`, so that store plugs in
as it is. The default sink does nothing, and the blueprint never lets a
sink's failure reach the caller: paperwork must not drop a crisis call.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from callrouter.routing.plan import RoutePlan


class CallEvents(Protocol):
    """What the voice webhooks report; the method bodies are the no-op default."""

    def started(
        self,
        call_sid: str,
        caller_number: str | None,
        at: dt.datetime,
        plan: RoutePlan | None = None,
    ) -> str:
        """A call came in. `caller_number` is raw E.164 (or None when withheld):
        the sink pseudonymises it and must never log or keep it as is.
        Returns the call's short reference for staff ('' when there is none)."""
        return ""

    def routed(self, call_sid: str, plan: RoutePlan, at: dt.datetime) -> None:
        """The menu is done: the routing decision the call follows."""
        return None

    def leg(
        self,
        call_sid: str,
        index: int,
        member: str,
        result: str,
        ring_seconds: float,
        at: dt.datetime,
        kind: str = "",
    ) -> None:
        """Leg `index` (1-based; the final line counts on) ended. `member` names who
        rang (`core.records.who_of`), `result` is answered, busy, no-answer,
        failed, canceled or declined (answered without pressing 1)."""
        return None

    def answered(self, call_sid: str, member: str, at: dt.datetime, leg: int | None = None) -> None:
        """A staff member pressed 1 in the whisper: the caller is connected to them."""
        return None

    def ended(
        self, call_sid: str, duration: float | None, at: dt.datetime, reason: str = "completed"
    ) -> None:
        """Twilio reported the end of the caller's call."""
        return None


class NoCallEvents(CallEvents):
    """The default sink when there are no call records (no Redis): keeps nothing."""
