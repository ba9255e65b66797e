"""The seams between the call log and the code around it, as Protocols.

`CallEvents`: the voice blueprint tells a sink what happened to each call;
what is kept, and where, is the records' business. `CallbackLog` and
`CallbackLookup`: the call log and the callbacks talk through these two,
one per direction, wired by the composition root. `CallStore` implements
`CallEvents` and `CallbackLog` as it is. The default sink does nothing,
and the blueprint never lets a sink's failure reach the caller: paperwork
must not drop a crisis call.
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
        talk_seconds: float = 0.0,
    ) -> None:
        """Leg `index` (1-based; the final line counts on) ended. `member` names who
        rang (`callrouter.calls.record.who_of`), `result` is answered, busy, no-answer,
        failed, canceled or declined (answered without pressing 1); `talk_seconds`
        is Twilio's DialCallDuration of an answered leg (`ring_seconds` excludes it)."""
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


class CallbackLog(Protocol):
    """What the callback service tells the call log (`CallStore.callback` fits):
    each lifecycle step of a callback, joined to the call by its CallSid.
    Injected into the callback service, so callbacks never import the call log."""

    def callback(self, call_sid: str, callback_id: str, state: str, at: dt.datetime) -> None: ...


class CallbackLookup(Protocol):
    """What the call log asks the callbacks (injected, so the call log never
    imports them): the CallSid of the call behind a callback reference that
    staff typed (a request id or its 3-digit claim code), or None."""

    def call_sid_of(self, reference: str) -> str | None: ...

    def claimers_of(self, call_sid: str) -> frozenset[str]:
        """Members who claimed (and so had) a callback of this call."""
        ...
