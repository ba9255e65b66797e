"""Sign-in codes and sessions of the console, in Redis (web processes are stateless).

A member asks for a code; a random 6-digit code goes to their configured
mobile by SMS and only its keyed hash is stored, for `code_minutes`, void
after `code_attempts` wrong tries and after its one use. Codes are
rate-limited per member and per address (`callbacks.ratelimit`'s sliding
window). A session is a random token in the (signed, Secure, HttpOnly)
cookie; Redis keeps its hash with the member and role, expires it after
`session_idle_minutes` without a request and refuses it after
`session_max_hours` in any case (decided from the moment passed in; key
TTLs only collect garbage). Signing out deletes it at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import redis

from callrouter.callbacks.ratelimit import RateLimiter
from callrouter.console.policy import ConsolePolicy, ConsoleRole

CODE_KEY = "console:code:"
SESSION_KEY = "console:session:"
CODE_DIGITS = 6


@dataclass(frozen=True)
class Session:
    member: str
    role: ConsoleRole
    started: dt.datetime
    address: str


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class SignIns:
    def __init__(self, conn: redis.Redis, key: bytes, policy: ConsolePolicy) -> None:
        self.conn = conn
        self.key = key
        self.policy = policy

    def _digest(self, *parts: str) -> str:
        return hmac.new(self.key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ codes

    def allowed(self, member_id: str, address: str, now: dt.datetime) -> bool:
        """Count one code request; False when the member or the address is over the limit."""
        window = self.policy.sign_in_window_minutes * 60
        hit = secrets.token_hex(8)
        by_member = RateLimiter(self.conn, "console-member", self.policy.sign_in_limit, window)
        by_address = RateLimiter(
            self.conn, "console-address", self.policy.sign_in_limit * 4, window
        )
        return by_address.hit(self._digest("address", address), now, hit) and by_member.hit(
            member_id, now, hit
        )

    def new_code(self, member_id: str) -> str:
        """A fresh code for `member_id` (any earlier one is void)."""
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        key = CODE_KEY + member_id
        with self.conn.pipeline() as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"digest": self._digest("code", member_id, code), "tries": 0})
            pipe.expire(key, self.policy.code_minutes * 60)
            pipe.execute()
        return code

    def use_code(self, member_id: str, code: str) -> bool:
        """True once for the right code; a wrong one counts towards `code_attempts`."""
        key = CODE_KEY + member_id
        stored = self.conn.hget(key, "digest")
        if stored is None:
            return False
        given = self._digest("code", member_id, code.strip())
        if hmac.compare_digest(_text(stored), given):
            return bool(self.conn.delete(key))  # one use: a second tab loses the race
        if int(self.conn.hincrby(key, "tries", 1)) >= self.policy.code_attempts:
            self.conn.delete(key)
        return False

    # ------------------------------------------------------------------ sessions

    def open(self, member_id: str, role: ConsoleRole, now: dt.datetime, address: str) -> str:
        token = secrets.token_urlsafe(32)
        key = SESSION_KEY + self._digest("session", token)
        with self.conn.pipeline() as pipe:
            pipe.hset(
                key,
                mapping={
                    "member": member_id,
                    "role": role.value,
                    "started": now.isoformat(),
                    "seen": now.isoformat(),
                    "address": address,
                },
            )
            pipe.expire(key, self.policy.session_idle_minutes * 60)
            pipe.execute()
        return token

    def session(self, token: str, now: dt.datetime) -> Session | None:
        """The live session of `token`, its idle timer restarted; None when over."""
        if not token:
            return None
        key = SESSION_KEY + self._digest("session", token)
        raw = {_text(k): _text(v) for k, v in self.conn.hgetall(key).items()}
        if not raw:
            return None
        started = dt.datetime.fromisoformat(raw["started"])
        idle = now - dt.datetime.fromisoformat(raw["seen"])
        if idle >= dt.timedelta(minutes=self.policy.session_idle_minutes) or (
            now - started >= dt.timedelta(hours=self.policy.session_max_hours)
        ):
            self.conn.delete(key)
            return None
        with self.conn.pipeline() as pipe:
            pipe.hset(key, "seen", now.isoformat())
            pipe.expire(key, self.policy.session_idle_minutes * 60)
            pipe.execute()
        return Session(raw["member"], ConsoleRole(raw["role"]), started, raw["address"])

    def close(self, token: str) -> None:
        if token:
            self.conn.delete(SESSION_KEY + self._digest("session", token))
