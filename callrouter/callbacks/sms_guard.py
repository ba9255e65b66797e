"""Keeping the crisis number's SMS quiet: who still gets an answer, in Redis.

GoAlert's rule, adapted: after `limits.sms_quiet_after` replies in a row that
asked for nothing (help texts, nothing to claim, a wrong code) the number
stops answering that sender until a real message goes out to them (an offer,
a claim confirmation). Anyone who is not on staff gets the short "how to
reach help" text at most once per `limits.resident_reply_every`. Wrong claim
codes are limited per sender, so walking the code space costs a lifetime.

Keys hold a pseudonym of the number (or a member id), never a number.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import redis

from callrouter.callbacks.policy import Limits
from callrouter.callbacks.ratelimit import RateLimiter

_P = "cb:sms:"
_QUIET_TTL = 30 * 86400


@dataclass(frozen=True)
class SmsGuard:
    conn: redis.Redis
    pseudonym: Callable[[str], str]
    limits: Limits

    def quiet_key(self, number: str) -> str:
        return f"{_P}quiet:{self.pseudonym(number)}"

    def spoke(self, number: str) -> None:
        """A real message went out to `number`: answer it again."""
        self.conn.delete(self.quiet_key(number))

    def may_answer(self, number: str) -> bool:
        """Count one reply that asks for nothing; False once the sender has had enough."""
        key = self.quiet_key(number)
        pipe = self.conn.pipeline()
        pipe.incr(key)
        pipe.expire(key, _QUIET_TTL)
        count = int(pipe.execute()[0])
        return count <= self.limits.sms_quiet_after

    def resident_reply_due(self, number: str, moment: dt.datetime) -> bool:
        """True at most once per `resident_reply_every` for a sender not on staff.

        One atomic check-and-count (`ratelimit`), so two messages at once get one reply."""
        limiter = RateLimiter(self.conn, "resident", 1, self.limits.resident_reply_seconds)
        return limiter.hit(self.pseudonym(number), moment, secrets.token_hex(8))

    def _wrong(self) -> RateLimiter:
        return RateLimiter(
            self.conn, "wrong-code", self.limits.wrong_codes, self.limits.wrong_codes_seconds
        )

    def codes_blocked(self, member_id: str, moment: dt.datetime) -> bool:
        """Whether the member used up their wrong codes for now."""
        return self._wrong().exceeded(member_id, moment)

    def wrong_code(self, member_id: str, moment: dt.datetime) -> None:
        self._wrong().hit(member_id, moment, secrets.token_hex(8))
