"""Spool replay on its own, in every process that can hold a spool.

Why: a web host spools a confirmed callback to its own disk when Redis is
down (or no replica acknowledged it); replaying only with the next request
or the worker's minute sweep left requests waiting for minutes, or for ever
when the worker runs on another disk (issue 10: 0 of 2 replayed in 130 s).
Each web process and each worker runs `start(services)`: a `Ticker` thread
that replays within `REPLAY_EVERY_SECONDS` of Redis answering, without new
traffic. Processes sharing a disk take turns (the spool's own lock), and a
line stays until a replica holds its request (`redis_conn.durable_write`).
"""

from __future__ import annotations

from functools import partial

from callrouter.callbacks import service as queueing
from callrouter.services import Services
from callrouter.timers import Ticker

REPLAY_EVERY_SECONDS = 1.0


def replay_pending(services: Services) -> int:
    """Replay this host's spool if anything waits in it (a directory listing
    otherwise: cheap enough to run every second); the number applied."""
    spool = services.spool()
    if not spool.pending():
        return 0
    return queueing.replay_spool(services.callback_context(), spool, services.now()).applied


def start(services: Services, every: float = REPLAY_EVERY_SECONDS) -> Ticker:
    """The background replay for this process (nothing to do without Redis)."""
    tasks = [partial(replay_pending, services)] if services.redis is not None else []
    return Ticker(tasks, every=every, name="callrouter-spool-replay").start()
