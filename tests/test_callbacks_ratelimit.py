"""Per-number limits on a real Redis, with moments passed in (no sleeping)."""

from __future__ import annotations

import datetime as dt

import redis

from callrouter.callbacks.ratelimit import DedupeWindow, RateLimiter
from tests.helpers import ams

T0 = ams(2026, 4, 27, 10, 0)


def test_the_limit_slides_with_the_moments_given(redis_conn: redis.Redis) -> None:
    limiter = RateLimiter(redis_conn, "callback", limit=3, window_seconds=3600)
    hits = [limiter.hit("pn", T0 + dt.timedelta(minutes=m), f"r{m}") for m in (0, 10, 20, 30)]
    assert hits == [True, True, True, False]
    assert limiter.hit("pn", T0 + dt.timedelta(minutes=61), "r61")  # the 10:00 hit slid out
    assert limiter.hit("other", T0, "x")  # per number


def test_replaying_the_same_hit_does_not_count_twice(redis_conn: redis.Redis) -> None:
    limiter = RateLimiter(redis_conn, "callback", limit=1, window_seconds=3600)
    assert limiter.hit("pn", T0, "r1")
    assert not limiter.hit("pn", T0, "r2")


def test_dedupe_keeps_the_first_holder_within_the_window(redis_conn: redis.Redis) -> None:
    window = DedupeWindow(redis_conn, "callback", window_seconds=1800)
    assert window.hold("pn", "first", T0) == "first"
    assert window.hold("pn", "second", T0 + dt.timedelta(minutes=29)) == "first"
    assert window.hold("pn", "third", T0 + dt.timedelta(minutes=31)) == "third"


def test_dedupe_slot_can_be_handed_over_or_released_by_its_holder_only(
    redis_conn: redis.Redis,
) -> None:
    window = DedupeWindow(redis_conn, "callback", window_seconds=1800)
    window.hold("pn", "first", T0)
    assert not window.swap("pn", "someone", "x", T0)
    assert window.swap("pn", "first", "second", T0)
    assert window.hold("pn", "third", T0) == "second"
    assert window.swap("pn", "second", None, T0)
    assert window.hold("pn", "third", T0) == "third"


def test_keys_hold_no_phone_number(redis_conn: redis.Redis) -> None:
    RateLimiter(redis_conn, "callback", 3, 3600).hit("3f1a9c", T0, "r1")
    DedupeWindow(redis_conn, "callback", 1800).hold("3f1a9c", "r1", T0)
    assert sorted(k.decode() for k in redis_conn.keys("*")) == [
        "cb:limit:callback:3f1a9c",
        "cb:limit:callback:dedupe:3f1a9c",
    ]
