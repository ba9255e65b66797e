"""Busy marks of staff on a crisis call, in a real Redis."""

from __future__ import annotations

import redis

from callrouter.redis_conn import Purpose, connect
from callrouter.web.presence import BUSY_TTL_SECONDS, Presence

ANNA, EVA = "+31610000001", "+31610000005"
KEY = b"presence-test-key-0123456789"


def test_a_marked_phone_is_busy_until_its_own_call_clears_it(redis_conn: redis.Redis) -> None:
    presence = Presence(redis_conn, KEY)

    presence.mark_busy(ANNA, "CA1")
    busy_during = presence.busy([ANNA, EVA])
    presence.clear(ANNA, "CA1")

    assert busy_during == {ANNA}
    assert presence.busy([ANNA, EVA]) == frozenset()


def test_marks_expire_and_keys_hold_no_phone_number(redis_conn: redis.Redis) -> None:
    Presence(redis_conn, KEY).mark_busy(ANNA, "CA1")

    (key,) = redis_conn.keys("*")
    assert b"610000001" not in key
    assert 0 < redis_conn.ttl(key) <= BUSY_TTL_SECONDS


def test_with_redis_unreachable_nobody_is_busy_and_nothing_raises() -> None:
    presence = Presence(connect("redis://127.0.0.1:1/0", Purpose.WEBHOOK), KEY)

    presence.mark_busy(ANNA, "CA1")
    presence.clear(ANNA, "CA1")

    assert presence.busy([ANNA]) == frozenset()
    assert presence.reachable() is False


def test_without_redis_configured_presence_is_off() -> None:
    presence = Presence(None, KEY)

    presence.mark_busy(ANNA, "CA1")

    assert presence.busy([ANNA]) == frozenset()
    assert presence.reachable() is None
