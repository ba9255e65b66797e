"""The NEN 7513 access log: append-only, hash-chained, tamper-evident, trimmed by retention."""

from __future__ import annotations

import datetime as dt
import threading

import redis

from callrouter.console.access_log import ANCHOR, HEAD, STREAM, Access, AccessLog, Via
from tests.helpers import ams

KEY = b"k" * 32
T0 = ams(2026, 12, 1, 10, 0)


def look(who: str = "anna", callers: tuple[str, ...] = ("p1",), what: str = "calls") -> Access:
    return Access(who, Via.CONSOLE, "view", what, "192.0.2.1", ("CA1",), callers, "")


def filled(conn: redis.Redis, n: int = 5) -> AccessLog:
    log = AccessLog(conn, KEY)
    for i in range(n):
        log.record(look(callers=(f"p{i % 2}",)), T0 + dt.timedelta(minutes=i))
    return log


def test_entries_read_back_in_order_with_who_what_when_where(redis_conn: redis.Redis) -> None:
    log = filled(redis_conn)
    entries = list(log.entries())
    assert [e.at for e in entries] == [T0 + dt.timedelta(minutes=i) for i in range(5)]
    assert entries[0].access == look(callers=("p0",))
    assert entries[0].prev == "0" * 64 and entries[1].prev == entries[0].hash


def test_period_and_caller_queries(redis_conn: redis.Redis) -> None:
    log = filled(redis_conn)
    window = list(log.entries(T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=3)))
    assert [e.at.minute for e in window] == [1, 2]
    assert [e.at.minute for e in log.about_caller("p1")] == [1, 3]
    assert log.about_caller("nobody") == []


def test_an_untouched_log_verifies(redis_conn: redis.Redis) -> None:
    verdict = filled(redis_conn).verify()
    assert verdict.ok and verdict.checked == 5


def test_an_altered_entry_is_detected(redis_conn: redis.Redis) -> None:
    log = filled(redis_conn)
    raw = redis_conn.xrange(STREAM)
    redis_conn.delete(STREAM)
    for i, (entry_id, fields) in enumerate(raw):
        if i == 2:
            fields = {**fields, b"who": b"mallory"}
        redis_conn.xadd(STREAM, fields, id=entry_id)
    verdict = log.verify()
    assert not verdict.ok and verdict.checked == 2 and "altered" in verdict.problem


def test_a_removed_entry_is_detected(redis_conn: redis.Redis) -> None:
    log = filled(redis_conn)
    middle = redis_conn.xrange(STREAM)[2][0]
    redis_conn.xdel(STREAM, middle)
    verdict = log.verify()
    assert not verdict.ok and "chain broken" in verdict.problem


def test_removing_the_newest_entries_is_detected(redis_conn: redis.Redis) -> None:
    log = filled(redis_conn)
    redis_conn.xdel(STREAM, redis_conn.xrange(STREAM)[-1][0])
    assert "newest entries were removed" in log.verify().problem
    redis_conn.delete(STREAM)
    assert "emptied" in log.verify().problem


def test_a_chain_rebuilt_without_the_key_is_detected(redis_conn: redis.Redis) -> None:
    filled(redis_conn)
    forger = AccessLog(redis_conn, b"x" * 32)
    redis_conn.delete(STREAM, HEAD)
    for i in range(5):
        forger.record(look(), T0 + dt.timedelta(minutes=i))
    assert "altered" in AccessLog(redis_conn, KEY).verify().problem


def test_retention_trims_the_oldest_and_the_rest_still_verifies(redis_conn: redis.Redis) -> None:
    log = filled(redis_conn)
    removed = log.trim(T0 + dt.timedelta(days=10, minutes=2), dt.timedelta(days=10))
    assert removed == 2
    assert [e.at.minute for e in log.entries()] == [2, 3, 4]
    assert redis_conn.get(ANCHOR) is not None
    assert log.verify().ok and log.verify().checked == 3
    assert log.trim(T0 + dt.timedelta(days=10, minutes=2), dt.timedelta(days=10)) == 0


def test_concurrent_appends_form_one_chain(redis_url: str, redis_conn: redis.Redis) -> None:
    def append(who: str) -> None:
        own = AccessLog(redis.Redis.from_url(redis_url), KEY)
        for i in range(20):
            own.record(look(who=who), T0 + dt.timedelta(seconds=i))

    threads = [threading.Thread(target=append, args=(f"m{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    verdict = AccessLog(redis_conn, KEY).verify()
    assert verdict.ok and verdict.checked == 80


def test_a_clock_that_steps_back_still_appends(redis_conn: redis.Redis) -> None:
    log = AccessLog(redis_conn, KEY)
    log.record(look(), T0)
    log.record(look(who="bram"), T0 - dt.timedelta(minutes=5))
    assert [e.access.who for e in log.entries()] == ["anna", "bram"]
    assert log.verify().ok
