"""What the bridged call asks of the call log, without importing it (an injected seam).

The other direction of the callbacks <-> call log seam is the call log's own
`calls.events.CallbackLog` (each lifecycle step of a request) and
`CallbackLookup` (which call a claim code belongs to); this one is what the
bridge webhooks need: the call's short ref for the whisper, and recording
the triage key a staff member pressed after the conversation.
`call_log.CallLogBridge` implements it over the call log's store; without a
call log (`NoBridgeLog`) there are no refs and no keypad.

Pure: no Flask, Redis, RQ, Twilio or clock reads.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from callrouter.calls.triage import OutcomeCode, TriageCodes


class BridgeLog(Protocol):
    def ref_of(self, call_sid: str) -> str:
        """The call's short ref for staff ('' when unknown or unreachable)."""
        ...

    def record_keypad(
        self, call_sid: str, digits: str, codes: TriageCodes, *, by: str, at: dt.datetime
    ) -> OutcomeCode | None:
        """Record the outcome pressed after a bridged callback; None when the digits
        are no outcome. Raises when it could not be stored."""
        ...


class NoBridgeLog:
    """No call log: no refs; a keypad outcome has nowhere to go (the keypad is not offered)."""

    def ref_of(self, call_sid: str) -> str:
        return ""

    def record_keypad(
        self, call_sid: str, digits: str, codes: TriageCodes, *, by: str, at: dt.datetime
    ) -> OutcomeCode | None:
        raise LookupError("no call log to record the outcome in")
