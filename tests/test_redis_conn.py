"""`callrouter.redis_conn`: the one REDIS_URL, per-purpose clients, breaker, WAIT.

Against real redis-server processes: a private one per test where the test
stops, freezes or restarts it, and a real Sentinel set-up for failover.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from callrouter.devtools.redis_server import EmbeddedRedis
from callrouter.devtools.sentinel import SentinelSet
from callrouter.redis_conn import (
    RedisUrlError,
    SentinelTarget,
    connect,
    durable_write,
    parse_sentinel_url,
)
from callrouter.redis_connections import BREAKER_SECONDS, BreakerOpen, CircuitBreaker


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    """A Redis this test may stop, freeze and restart."""
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def sentinels() -> Iterator[SentinelSet]:
    with SentinelSet(replicas=1, sentinels=1) as cluster:
        yield cluster


# --------------------------------------------------------------------------- URLs


def test_sentinel_url_names_sentinels_service_and_db() -> None:
    target = parse_sentinel_url("redis+sentinel://s1:26380,s2,[::1]:26381/mymaster/2")
    assert target == SentinelTarget(
        sentinels=(("s1", 26380), ("s2", 26379), ("::1", 26381)), service="mymaster", db=2
    )


def test_sentinel_url_credentials_are_the_data_nodes_and_sentinel_password_is_separate() -> None:
    target = parse_sentinel_url("rediss+sentinel://app:s%40cret@s1/crisis?sentinel_password=watch")
    assert (target.username, target.password, target.sentinel_password) == (
        "app",
        "s@cret",
        "watch",
    )
    assert target.tls and target.db == 0 and target.service == "crisis"
    assert "s@cret" not in repr(target)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://s1:26379", "service name"),
        ("redis+sentinel:///mymaster", "service name"),
        ("redis+sentinel://s1:port/mymaster", "host[:port]"),
        ("redis+sentinel://s1/mymaster/zero", "not a number"),
        ("http://localhost:6379", "redis+sentinel://"),
        ("localhost:6379", "redis+sentinel://"),
    ],
)
def test_a_bad_redis_url_says_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(RedisUrlError, match="REDIS_URL") as caught:
        connect(url, "cli")
    assert says in str(caught.value)


def test_an_unknown_purpose_is_refused(redis_url: str) -> None:
    with pytest.raises(ValueError):
        connect(redis_url, "batch")


def test_unix_socket_urls_connect(tmp_path: pytest.TempPathFactory) -> None:
    sock = f"{tmp_path}/redis.sock"
    with EmbeddedRedis(extra_args=("--unixsocket", sock, "--unixsocketperm", "700")):
        for purpose in ("webhook", "worker", "cli"):
            conn = connect(f"unix://{sock}?db=1", purpose)
            assert conn.ping()
            conn.close()


# --------------------------------------------------------------------------- breaker


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_breaker_opens_on_a_timeout_and_lets_one_probe_through_after_the_cooldown() -> None:
    clock = _Clock()
    breaker = CircuitBreaker(cooldown=2.0, probe_timeout=1.0, monotonic=clock)
    assert breaker.allow()
    breaker.timed_out()
    assert breaker.is_open and not breaker.allow()
    clock.t += 2.0
    prober, other = object(), object()
    assert breaker.allow(prober), "the probe"
    assert breaker.allow(prober), "the probe's own next command"
    assert not breaker.allow(other), "only one probe at a time"
    clock.t += 1.0
    assert breaker.allow(other), "a probe that never came back is replaced"
    breaker.answered()
    assert not breaker.is_open and breaker.allow() and breaker.allow()
    assert breaker.trips == 1


def test_a_hung_redis_costs_one_timeout_then_every_caller_fails_fast(
    own_redis: EmbeddedRedis,
) -> None:
    conn = connect(own_redis.url, "webhook")
    assert conn.set("k", "v")
    pid = own_redis._h.proc.pid  # type: ignore[union-attr]
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            conn.get("k")
        first = time.monotonic() - started
        errors: list[BaseException] = []
        lasted: list[float] = []

        def caller() -> None:
            t0 = time.monotonic()
            try:
                conn.get("k")
            except redis.RedisError as exc:
                errors.append(exc)
            lasted.append(time.monotonic() - t0)

        threads = [threading.Thread(target=caller) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        os.kill(pid, signal.SIGCONT)
    assert first < 1.0
    assert len(errors) == 32 and all(isinstance(e, BreakerOpen) for e in errors)
    assert max(lasted) < 0.2
    time.sleep(BREAKER_SECONDS)
    assert conn.get("k") == b"v", "the probe after the cooldown closes the breaker"


def test_a_refused_connection_does_not_open_the_breaker(own_redis: EmbeddedRedis) -> None:
    breaker = CircuitBreaker()
    conn = connect(own_redis.url, "webhook", breaker=breaker)
    own_redis.stop()
    with pytest.raises(redis.ConnectionError):
        conn.ping()
    assert not breaker.is_open
    own_redis.start()
    assert conn.ping()


# --------------------------------------------------------------------------- patience


def test_a_worker_client_waits_through_a_restart_and_says_so(
    own_redis: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    conn = connect(own_redis.url, "worker")
    conn.set("k", "v")
    own_redis.stop()
    timer = threading.Timer(1.0, own_redis.start)
    timer.start()
    try:
        with caplog.at_level(logging.WARNING, logger="callrouter.redis_conn"):
            assert conn.incr("n") == 1, "waited for Redis instead of raising"
    finally:
        timer.join()
    assert "still trying (attempt 1)" in caplog.text


def test_webhook_and_cli_clients_give_up(own_redis: EmbeddedRedis) -> None:
    own_redis.stop()
    for purpose in ("webhook", "cli"):
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError):
            connect(own_redis.url, purpose).ping()
        assert time.monotonic() - started < 3.0


# --------------------------------------------------------------------------- sentinel


def test_clients_follow_a_failover(sentinels: SentinelSet) -> None:
    worker = connect(sentinels.url, "worker")
    webhook = connect(sentinels.url, "webhook")
    worker.set("request", "noted")
    assert durable_write(worker), "a replica acknowledged it"
    old = sentinels.master()
    sentinels.node(old).stop()
    assert worker.get("request") == b"noted", "the worker waited for the promoted replica"
    new = sentinels.wait_for_failover(old)
    assert worker.connection_pool.connection_kwargs  # still one client, now on `new`
    assert webhook.get("request") == b"noted"
    assert webhook.execute_command("ROLE")[0] == b"master"
    assert sentinels.master() == new != old


def test_a_master_without_replicas_is_not_durable_under_sentinel(sentinels: SentinelSet) -> None:
    conn = connect(sentinels.url, "cli")
    old = sentinels.master()
    sentinels.node(old).stop()
    sentinels.wait_for_failover(old)
    conn.set("request", "noted")
    assert not durable_write(conn, timeout_ms=50), "nobody holds a copy: spool it"


def test_a_lone_redis_without_sentinel_is_as_durable_as_it_gets(redis_conn: redis.Redis) -> None:
    redis_conn.set("request", "noted")
    assert durable_write(redis_conn)


def test_a_worker_blocked_in_a_dequeue_follows_the_failover(sentinels: SentinelSet) -> None:
    """What an idle RQ worker does (BLMOVE); redis-py alone retried the dead master."""
    worker = connect(sentinels.url, "worker")
    worker.connection_pool.connection_kwargs["socket_timeout"] = 30  # as RQ sets it
    got: list[object] = []
    blocked = threading.Thread(
        target=lambda: got.append(worker.blmove("queue", "taken", 20, "LEFT", "RIGHT"))
    )
    blocked.start()
    time.sleep(0.3)
    old = sentinels.master()
    sentinels.node(old).stop()
    sentinels.wait_for_failover(old)
    connect(sentinels.url, "cli").rpush("queue", "job")
    blocked.join(15)
    assert got == [b"job"]
