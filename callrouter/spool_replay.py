"""Spool replay on its own, in every process that can hold a spool.

Why: a web host spools a confirmed callback to its own disk when Redis is
down (or no replica acknowledged it); replaying only with the next request
or the worker's minute sweep left requests waiting for minutes, or for ever
when the worker runs on another disk (issue 10: 0 of 2 replayed in 130 s).
Each web process and each worker runs `start(services)`: a `Ticker` thread
that replays within seconds of Redis answering, without new traffic.
Processes sharing a disk take turns (the spool's own lock), and a line stays
until a replica holds its request (`redis_conn.durable_write`).
"""

from __future__ import annotations

import time

from callrouter.callbacks import recovery
from callrouter.callbacks.spool import ReplayResult
from callrouter.services import Services
from callrouter.timers import Ticker

REPLAY_EVERY_SECONDS = 1.0
RETRY_AFTER_SECONDS = 3.0
"""After a replay that left lines (Redis still away, no replica yet): the
next try. Every second would log a warning every second of an outage."""


class Replayer:
    """One process's replay of its host's spool: cheap when there is nothing
    to do (a directory listing), patient when Redis is not back yet."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._quiet_until = 0.0

    def __call__(self) -> ReplayResult:
        spool = self.services.spool()
        if time.monotonic() < self._quiet_until or not spool.pending():
            return ReplayResult(0, 0)
        result = recovery.replay_spool(self.services.callback_context(), spool, self.services.now())
        if result.remaining:
            self._quiet_until = time.monotonic() + RETRY_AFTER_SECONDS
        return result


def start(services: Services, every: float = REPLAY_EVERY_SECONDS) -> Ticker:
    """The background replay for this process (nothing to do without Redis)."""
    tasks = [Replayer(services)] if services.redis is not None else []
    return Ticker(tasks, every=every, name="callrouter-spool-replay").start()
