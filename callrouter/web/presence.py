"""Which staff phones are on a crisis call right now, in Redis.

A staff member who accepted a call (pressed 1 in the whisper) is marked
busy until their leg ends, so the next caller's plan skips them instead of
ringing a phone that is in a crisis conversation. Every process sees the
same marks, and a mark outlives a restart of the web process.

Keys (owned here, prefix ``callrouter:presence``): ``busy:<pseudonym of the
staff number>`` -> the CallSid of the staff member's own leg (which every
webhook about that leg carries, so the leg's end can always clear it), with
a TTL as the upper bound if every "call ended" webhook were lost. Keyed by
number (not member id) because the same person can be in two teams.
``accepted:<caller's CallSid>``: someone accepted this caller in a whisper,
the evidence of a conversation when Twilio's Dial action lacks `DialBridged`.

Presence is a courtesy, not a condition for routing: every method swallows
Redis errors and answers "nobody is busy", so a Redis outage means at worst
ringing someone who is already on a call (who will not press 1), never a
caller who is not routed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis

from callrouter.privacy import pseudonymise

logger = logging.getLogger(__name__)

PREFIX = "callrouter:presence"
BUSY_TTL_SECONDS = 4 * 3600
"""Longer than any crisis call; only matters when the end of a call was never reported."""

# KEYS[1] busy key; ARGV[1] the CallSid that may clear it. A leg that ends
# clears only its own mark, never one a newer call has set since.
_CLEAR_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Presence:
    def __init__(
        self, conn: redis.Redis | None, key: bytes, ttl_seconds: int = BUSY_TTL_SECONDS
    ) -> None:
        self._conn = conn
        self._key = key
        self._ttl = ttl_seconds
        self._clear = conn.register_script(_CLEAR_IF_OURS) if conn is not None else None

    def busy_key(self, number: str) -> str:
        return f"{PREFIX}:busy:{pseudonymise(number, self._key)}"

    def busy(self, numbers: Sequence[str]) -> frozenset[str]:
        """The ones of `numbers` on a crisis call now; empty when Redis fails."""
        if self._conn is None or not numbers:
            return frozenset()
        try:
            marks = self._conn.mget([self.busy_key(n) for n in numbers])
        except redis.RedisError as exc:
            logger.warning(
                "presence unavailable (%s): nobody is skipped as busy", type(exc).__name__
            )
            return frozenset()
        return frozenset(n for n, mark in zip(numbers, marks, strict=True) if mark is not None)

    def mark_busy(self, number: str, call_sid: str) -> None:
        if self._conn is None:
            return
        try:
            self._conn.set(self.busy_key(number), call_sid, ex=self._ttl)
        except redis.RedisError as exc:
            logger.warning("could not mark a staff phone busy (%s)", type(exc).__name__)

    def accept(self, caller_sid: str) -> None:
        """Remember that a staff member accepted this caller (pressed 1)."""
        if self._conn is None:
            return
        try:
            self._conn.set(f"{PREFIX}:accepted:{caller_sid}", 1, ex=self._ttl)
        except redis.RedisError as exc:
            logger.warning("could not record an accepted call (%s)", type(exc).__name__)

    def accepted(self, caller_sid: str) -> bool | None:
        """Whether someone accepted this caller; None when Redis cannot tell."""
        if self._conn is None:
            return None
        try:
            return bool(self._conn.exists(f"{PREFIX}:accepted:{caller_sid}"))
        except redis.RedisError as exc:
            logger.warning("could not read an accepted call (%s)", type(exc).__name__)
            return None

    def clear(self, number: str, call_sid: str) -> None:
        """End the mark `call_sid` set on `number`, if it is still that call's."""
        if self._clear is None:
            return
        try:
            self._clear(keys=[self.busy_key(number)], args=[call_sid])
        except redis.RedisError as exc:
            logger.warning("could not clear a staff busy mark (%s)", type(exc).__name__)

    def reachable(self) -> bool | None:
        """For the health check: None when no Redis is configured."""
        if self._conn is None:
            return None
        try:
            return bool(self._conn.ping())
        except redis.RedisError:
            return False
