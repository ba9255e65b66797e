"""One Redis setting for web, worker and CLI: `connect(REDIS_URL, purpose)`.

Why: a crisis line that runs on one Redis is one crash away from silence,
so production runs Redis under Sentinel (a master, replicas, three
sentinels; RQ does not support Redis Cluster, rq#940). Every process must
follow a failover within seconds, and each kind of process must react to a
sick Redis in its own way:

- ``webhook``: a caller is on the line. Short timeouts, no retries, and a
  circuit breaker: after one timeout the process stops asking a Redis it
  knows is hanging for `BREAKER_SECONDS` and routes as it does with Redis
  down, so every webhook answers within 2 s with any number of callers.
- ``worker``: patient. Waits and reconnects (through Sentinel, so to the
  new master) for as long as an outage lasts instead of exiting.
- ``cli``: an admin at a terminal; a few quick retries, then a clear error.

`REDIS_URL` forms (redis-py parses the first three itself):

- ``redis://[[user]:password@]host[:6379][/db]``
- ``rediss://...`` (TLS)
- ``unix:///path/to/redis.sock[?db=0]``
- ``redis+sentinel://[[user]:password@]host:26379,host2:26379,host3/mymaster[/db]``
  (``rediss+sentinel://`` for TLS to the data nodes). Sentinel ports default
  to 26379; user and password are the data nodes' (master and replicas);
  ``?sentinel_password=...`` when the sentinels require their own.

`durable_write` is the other half of surviving a failover: a write the
caller is told about must be on a replica before they hear it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection

from callrouter.errors import CallrouterError

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
DIRECT_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_PORT = 26379

WEBHOOK_TIMEOUT_SECONDS = 0.5
"""A webhook must answer within Twilio's 15 s (our own target: 2 s); a hanging
Redis costs one caller this much once, then the breaker is open."""
BREAKER_SECONDS = 2.0
"""How long a process leaves a Redis that timed out alone before one probe."""
WAIT_TIMEOUT_MS = 300
"""How long a confirming write waits for a replica's acknowledgement (`WAIT`)."""
DURABLE_MARK_KEY = "callrouter:durable-mark"

logger = logging.getLogger(__name__)


class Purpose(StrEnum):
    WEBHOOK = "webhook"
    WORKER = "worker"
    CLI = "cli"


class RedisUrlError(CallrouterError):
    """`REDIS_URL` names no Redis this service can use; the message says how to fix it."""


class BreakerOpen(redis.ConnectionError):
    """Not sent: this process saw Redis hang moments ago (the circuit breaker is open).

    A ``ConnectionError`` so every caller-facing path that already copes with
    "Redis is down" copes with this too.
    """


@dataclass(frozen=True)
class SentinelTarget:
    """A master named `service` as the sentinels at `sentinels` know it."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)
    tls: bool = False


def parse_sentinel_url(url: str) -> SentinelTarget:
    """``redis+sentinel://[user:pw@]h1:26379,h2/mymaster/0`` -> `SentinelTarget`."""
    parts = urlsplit(url)
    example = "redis+sentinel://host1:26379,host2:26379,host3:26379/mymaster/0"
    if parts.scheme not in SENTINEL_SCHEMES:
        raise RedisUrlError(f"REDIS_URL: {parts.scheme!r} is not a sentinel scheme ({example})")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    sentinels = tuple(_host_port(item, url) for item in hostlist.split(",") if item.strip())
    path = [p for p in parts.path.split("/") if p]
    if not sentinels or not 1 <= len(path) <= 2:
        raise RedisUrlError(
            "REDIS_URL: a sentinel URL names the sentinels and the master's service "
            f"name, e.g. {example}"
        )
    if len(path) == 2 and not path[1].isdigit():
        raise RedisUrlError(f"REDIS_URL: database {path[1]!r} is not a number ({example})")
    query = parse_qs(parts.query)
    return SentinelTarget(
        sentinels=sentinels,
        service=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        username=unquote(username) or None,
        password=unquote(password) or None,
        sentinel_password=next(iter(query.get("sentinel_password", [])), None),
        tls=parts.scheme == "rediss+sentinel",
    )


def _host_port(item: str, url: str) -> tuple[str, int]:
    item = item.strip()
    if item.startswith("["):  # [::1]:26379
        host, _, rest = item[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, _, port = item.partition(":")
    if not host or (port and not port.isdigit()):
        raise RedisUrlError(f"REDIS_URL: {item!r} is not host[:port] in the sentinel list")
    return host, int(port) if port else SENTINEL_PORT


# --------------------------------------------------------------------------- circuit breaker


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


# --------------------------------------------------------------------------- connect


class PatientRetry(Retry):
    """Retries for ever, and says so: one log line at the first failure and
    then every `LOG_EVERY` failures, so a worker waiting for Redis (or stuck
    on an address that never answers) is visible, never silent."""

    LOG_EVERY = 30

    def call_with_retry(
        self,
        do: Callable[[], Any],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> Any:
        def failed(error: Exception, count: int) -> None:
            if count == 1 or count % self.LOG_EVERY == 0:
                logger.warning("Redis: %s; still trying (attempt %d)", error, count)
            if with_failure_count:
                fail(error, count)
            else:
                fail(error)

        return super().call_with_retry(do, failed, is_retryable, with_failure_count=True)


def _profile(purpose: Purpose) -> dict[str, Any]:
    """Socket and retry settings per purpose (see the module docstring)."""
    if purpose is Purpose.WEBHOOK:
        return {
            "socket_connect_timeout": WEBHOOK_TIMEOUT_SECONDS,
            "socket_timeout": WEBHOOK_TIMEOUT_SECONDS,
            "retry": Retry(NoBackoff(), 0),
        }
    if purpose is Purpose.WORKER:
        # Forever, capped at 2 s between tries; RQ raises socket_timeout for its
        # blocking dequeue itself. Keepalive + health checks notice a dead peer.
        return {
            "socket_connect_timeout": 2.0,
            "socket_timeout": 30.0,
            "socket_keepalive": True,
            "health_check_interval": 10,
            "retry": PatientRetry(
                ExponentialBackoff(cap=2.0, base=0.1),
                -1,
                supported_errors=(redis.ConnectionError, redis.TimeoutError),
            ),
        }
    return {
        "socket_connect_timeout": 2.0,
        "socket_timeout": 10.0,
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.1), 3),
    }


def connect(
    url: str,
    purpose: Purpose | str,
    *,
    breaker: CircuitBreaker | None = None,
    **overrides: Any,
) -> redis.Redis:
    """A client for `url` set up for `purpose` ("webhook", "worker" or "cli").

    Webhook clients get a circuit breaker (a new one unless `breaker` is
    given). `overrides` are redis-py keyword arguments (tests shorten
    timeouts). Raises `RedisUrlError` for a URL that names no usable Redis;
    never contacts Redis (a worker may start before it is up).
    """
    purpose = Purpose(purpose)
    options = _profile(purpose) | overrides
    guarded = purpose is Purpose.WEBHOOK
    if guarded:
        options["breaker"] = breaker or CircuitBreaker()
    scheme = urlsplit(url).scheme
    if scheme in SENTINEL_SCHEMES:
        return _sentinel_client(parse_sentinel_url(url), options, guarded)
    if scheme not in DIRECT_SCHEMES:
        raise RedisUrlError(
            f"REDIS_URL: scheme {scheme or '(none)'!r} is not one of redis://, rediss://, "
            "unix:// or redis+sentinel://host:26379,host2:26379/mymaster/0"
        )
    if scheme == "unix":
        options.pop("socket_keepalive", None)  # TCP only
    if guarded:
        options["connection_class"] = {
            "redis": GuardedConnection,
            "rediss": GuardedSSLConnection,
            "unix": GuardedUnixConnection,
        }[scheme]
    try:
        return redis.Redis.from_url(url, **options)
    except ValueError as exc:
        raise RedisUrlError(f"REDIS_URL: {exc}") from None


def _sentinel_client(target: SentinelTarget, options: dict[str, Any], guarded: bool) -> redis.Redis:
    sentinel_kwargs: dict[str, Any] = {
        "socket_connect_timeout": options["socket_connect_timeout"],
        "socket_timeout": options["socket_timeout"],
    }
    if target.sentinel_password:
        sentinel_kwargs["password"] = target.sentinel_password
    if guarded:
        options["connection_class"] = (
            GuardedSentinelSSLConnection if target.tls else GuardedSentinelConnection
        )
    else:
        options["connection_class"] = (
            MasterFollowingSSLConnection if target.tls else MasterFollowingConnection
        )
    manager = Sentinel(list(target.sentinels), sentinel_kwargs=sentinel_kwargs)
    return manager.master_for(
        target.service,
        db=target.db,
        username=target.username,
        password=target.password,
        **options,
    )


def is_sentinel(conn: redis.Redis) -> bool:
    """Whether `conn` follows a Sentinel-managed master (and so must have replicas)."""
    return isinstance(conn.connection_pool, SentinelConnectionPool)


def durable_write(conn: redis.Redis, timeout_ms: int = WAIT_TIMEOUT_MS) -> bool:
    """True once every write made so far is on at least one replica (`WAIT 1`).

    Call it after the write that a caller is about to be told about; on
    False, spool the request (idempotent by id) so a failover that promotes
    a replica without it cannot lose it. `WAIT` waits for the writes of its
    own connection, so a marker write goes first on the same connection: it
    follows every earlier write in the replication stream.

    Without Sentinel, a Redis with no replicas has nothing to wait for
    (True); under Sentinel a master without replicas is isolated (an old
    master that came back, or a lost replica) and so never durable.
    Raises redis errors when Redis does not answer (the caller spools).
    """
    with conn.pipeline(transaction=False) as pipe:
        pipe.incr(DURABLE_MARK_KEY)
        pipe.execute_command("WAIT", 1, timeout_ms)
        pipe.execute_command("ROLE")
        _, acked, role = pipe.execute()
    if int(acked) >= 1:
        return True
    replicas = role[2] if len(role) > 2 else []
    return not replicas and not is_sentinel(conn)
