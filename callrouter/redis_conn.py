"""One Redis setting for web, worker and CLI: `connect(REDIS_URL, purpose)`.

Why: a crisis line that runs on one Redis is one crash away from silence,
so production runs Redis under Sentinel (a master, replicas, three
sentinels; RQ does not support Redis Cluster, rq#940). Every process must
follow a failover within seconds, and each kind of process must react to a
sick Redis in its own way:

- ``webhook``: a caller is on the line. Short timeouts, no retries, and a
  circuit breaker: after one timeout the process stops asking a Redis it
  knows is hanging for `redis_connections.BREAKER_SECONDS` and routes as it does with Redis
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
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from callrouter.errors import CallrouterError
from callrouter.redis_connections import (
    WEBHOOK_TIMEOUT_SECONDS,
    CircuitBreaker,
    GuardedConnection,
    GuardedSentinelConnection,
    GuardedSentinelSSLConnection,
    GuardedSSLConnection,
    GuardedUnixConnection,
    MasterFollowingConnection,
    MasterFollowingSSLConnection,
)

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
DIRECT_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_PORT = 26379

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
