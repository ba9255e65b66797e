"""The call log's store behind the bridge's `BridgeLog` seam (wired by a composition root)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import redis

from callrouter.calls.store import CallStore
from callrouter.calls.triage import OutcomeCode, TriageCodes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallLogBridge:
    store: CallStore

    def ref_of(self, call_sid: str) -> str:
        """A lookup failure only costs the ref, never the call."""
        try:
            record = self.store.snapshot(call_sid)
        except redis.RedisError:
            logger.warning("call log unreachable; no call ref")
            return ""
        return record.ref if record is not None else ""

    def record_keypad(
        self, call_sid: str, digits: str, codes: TriageCodes, *, by: str, at: dt.datetime
    ) -> OutcomeCode | None:
        return self.store.triage_keypad(call_sid, digits, codes, by=by, at=at)
