"""Per-number limits on callback requests, in Redis: a sliding window and a dedupe window.

Keys hold a *pseudonym* of the caller's number (a keyed hash, see
``core.privacy.pseudonymise``), never the number itself, so a Redis dump or
``MONITOR`` output does not list who called the crisis line.

Both operations are single Lua scripts, so two web processes handling the
same caller at once cannot both slip under a limit. The moment is passed in and decides every
window (key TTLs only collect garbage), so tests step time explicitly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import redis

_PREFIX = "cb:limit:"

# KEYS[1] sorted set of hit times; ARGV: now (ms), window (ms), limit, member
_SLIDING_WINDOW = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('PEXPIRE', key, window)
return 1
"""

# KEYS[1] holder hash {id, at}; ARGV: candidate, window (ms), now (ms)
# Returns the current holder: the candidate when it took the slot. The key's
# TTL only collects garbage; whether the window is over is decided from the
# moment passed in.
_HOLD = """
local current = redis.call('HGET', KEYS[1], 'id')
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or '0')
if current and tonumber(ARGV[3]) - at < tonumber(ARGV[2]) then
  return current
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'at', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return ARGV[1]
"""

# KEYS[1] holder hash; ARGV: expected holder, new holder ('' = release), window (ms), now (ms)
_SWAP = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'id', ARGV[2], 'at', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
"""


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class RateLimiter:
    """At most `limit` hits per `window_seconds`, per key, sliding."""

    conn: redis.Redis
    name: str
    limit: int
    window_seconds: int

    def key_for(self, subject: str) -> str:
        return f"{_PREFIX}{self.name}:{subject}"

    def hit(self, subject: str, moment: dt.datetime, hit_id: str) -> bool:
        """Count one hit at `moment`; False (and nothing counted) when over the limit.

        `hit_id` names the hit (a request id), so replaying the same hit
        does not count twice.
        """
        allowed = self.conn.eval(
            _SLIDING_WINDOW, 1, self.key_for(subject),
            _ms(moment), self.window_seconds * 1000, self.limit, hit_id,
        )  # fmt: skip
        return bool(allowed)

    def exceeded(self, subject: str, moment: dt.datetime) -> bool:
        """Whether `subject` has used up its hits in the window ending at `moment`."""
        key = self.key_for(subject)
        since = _ms(moment) - self.window_seconds * 1000
        return int(self.conn.zcount(key, f"({since}", "+inf")) >= self.limit


@dataclass(frozen=True)
class DedupeWindow:
    """The first holder of a key within `window_seconds` wins; later ones learn who it is."""

    conn: redis.Redis
    name: str
    window_seconds: int

    def key_for(self, subject: str) -> str:
        return f"{_PREFIX}{self.name}:dedupe:{subject}"

    def hold(self, subject: str, candidate: str, moment: dt.datetime) -> str:
        """Take the slot for `candidate` at `moment`, or return who holds it within the window."""
        if self.window_seconds <= 0:
            return candidate
        holder = self.conn.eval(
            _HOLD, 1, self.key_for(subject), candidate, self.window_seconds * 1000, _ms(moment)
        )
        return holder.decode() if isinstance(holder, bytes) else str(holder)

    def swap(self, subject: str, expected: str, new: str | None, moment: dt.datetime) -> bool:
        """Hand the slot from `expected` to `new` (None releases it).

        False, changing nothing, when someone else holds it."""
        if self.window_seconds <= 0:
            return True
        done = self.conn.eval(
            _SWAP,
            1,
            self.key_for(subject),
            expected,
            new or "",
            self.window_seconds * 1000,
            _ms(moment),
        )
        return bool(done)
