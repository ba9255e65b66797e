"""The connection classes behind `redis_conn.connect`: a circuit breaker and
connections that follow a Sentinel failover.

Why a module of their own: they are redis-py connection subclasses with
their own subtle rules (which calls count as a timeout, who may probe, when
to ask the sentinels again), tested on their own; `redis_conn` only picks
the right class for a URL and a purpose.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.sentinel import SentinelManagedConnection

WEBHOOK_TIMEOUT_SECONDS = 0.5
"""A webhook must answer within Twilio's 15 s (our own target: 2 s); a hanging
Redis costs one caller this much once, then the breaker is open."""
BREAKER_SECONDS = 2.0
"""How long a process leaves a Redis that timed out alone before one probe."""


class BreakerOpen(redis.ConnectionError):
    """Not sent: this process saw Redis hang moments ago (the circuit breaker is open).

    A ``ConnectionError`` so every caller-facing path that already copes with
    "Redis is down" copes with this too.
    """


class CircuitBreaker:
    """Per process: closed -> (a timeout) -> open for `cooldown` s -> one probe -> closed.

    Thread-safe; while open (and while the single probe is out) every command
    fails at once with `BreakerOpen` instead of waiting for its own timeout.
    """

    def __init__(
        self,
        cooldown: float = BREAKER_SECONDS,
        probe_timeout: float = 2 * WEBHOOK_TIMEOUT_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cooldown = cooldown
        self.probe_timeout = probe_timeout
        self._now = monotonic
        self._lock = threading.Lock()
        self._open_until: float | None = None
        self._probe_since: float | None = None
        self._prober: object = None
        self.trips = 0

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._open_until is not None

    def allow(self, caller: object = None) -> bool:
        """May `caller` (a connection) talk to Redis now? After the cooldown, one
        probe may: the first caller to ask, until it answers or times out."""
        with self._lock:
            if self._open_until is None:
                return True
            now = self._now()
            if now < self._open_until:
                return False
            probing = self._probe_since is not None and now - self._probe_since < self.probe_timeout
            if probing:
                return caller is not None and caller is self._prober
            self._probe_since, self._prober = now, caller
            return True

    def timed_out(self) -> None:
        with self._lock:
            if self._open_until is None:
                self.trips += 1
            self._open_until = self._now() + self.cooldown
            self._probe_since = self._prober = None

    def answered(self) -> None:
        with self._lock:
            self._open_until = None
            self._probe_since = self._prober = None


class _Guarded:
    """Connection mixin: ask the breaker before talking, tell it how it went."""

    breaker: CircuitBreaker

    def __init__(self, *args: Any, breaker: CircuitBreaker, **kwargs: Any) -> None:
        self.breaker = breaker
        super().__init__(*args, **kwargs)

    def _gate(self) -> None:
        if not self.breaker.allow(self):
            raise BreakerOpen("Redis timed out moments ago; not asking again yet")

    def connect(self) -> None:
        self._gate()
        try:
            super().connect()  # type: ignore[misc]
        except redis.TimeoutError:
            self.breaker.timed_out()
            raise

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self._gate()
        try:
            super().send_packed_command(command, check_health)  # type: ignore[misc]
        except redis.TimeoutError:
            self.breaker.timed_out()
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().read_response(*args, **kwargs)  # type: ignore[misc]
        except redis.TimeoutError:
            self.breaker.timed_out()
            raise
        self.breaker.answered()
        return response


class GuardedConnection(_Guarded, Connection):
    pass


class GuardedSSLConnection(_Guarded, SSLConnection):
    pass


class GuardedUnixConnection(_Guarded, UnixDomainSocketConnection):
    pass


class MasterFollowingConnection(SentinelManagedConnection):
    """Asks the sentinels for the master on every (re)connect.

    redis-py 8 reconnects inside a command's own retry loop through
    `connect_check_health`, which keeps the address the connection had: a
    worker blocked in BLMOVE when the master died retried the dead address
    for ever while the sentinels had long promoted a replica.
    """

    def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if not self._sock and self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        super().connect_check_health(
            check_health=check_health, retry_socket_connect=retry_socket_connect
        )


class MasterFollowingSSLConnection(MasterFollowingConnection, SSLConnection):
    pass


class GuardedSentinelConnection(_Guarded, MasterFollowingConnection):
    pass


class GuardedSentinelSSLConnection(_Guarded, MasterFollowingSSLConnection):
    pass
