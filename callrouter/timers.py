"""Timers on time: due RQ jobs reach their queue within seconds, whatever died.

Why not RQ's own scheduler (``rq worker --with-scheduler``) alone: it runs
in a child process that dies with any Redis error and is restarted only at
the worker's maintenance interval (10 min), and its lock lives 60 s past
the last heartbeat, so after a worker kill no other worker may schedule
for a minute. Measured on the old set-up: escalations 811-835 s late.

`TimerPump` does the scheduler's one job, with RQ's own pieces: it holds
RQ's scheduler lock for the queue (``rq:scheduler-lock:<queue>``, taken
with RQ's own acquire-or-refresh script) on a short lease, and moves due
jobs with `RQScheduler.enqueue_scheduled_jobs`. Every worker runs a pump in
a thread; one holds the lease at a time (no job is moved twice), and when
its worker dies another takes over within `LEASE_SECONDS`. Pumps never
exit: a Redis error is logged and the next tick tries again, so timers
resume within a tick or two of Redis (or a promoted replica) answering.
Do not also run ``--with-scheduler``: its 60 s lock would stall the pumps.

`Ticker` is the thread: it runs the pump and any other periodic task (the
spool replay) every `TICK_SECONDS`, each isolated from the others' errors.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence

import redis
from rq.scheduler import RQScheduler
from rq.scripts import acquire_or_refresh_lock, release_lock

logger = logging.getLogger(__name__)

LEASE_SECONDS = 3
"""How long the pump's lock outlives a pump that stopped refreshing it (a
killed worker): the worst extra lateness of a timer after a worker crash."""
TICK_SECONDS = 0.5
QUIET_SECONDS = 30.0
"""A task that keeps failing is logged again after this long."""


class TimerPump:
    """Moves due scheduled jobs of `queues` onto their queues while it holds the lease."""

    def __init__(
        self,
        conn: redis.Redis,
        queues: Iterable[str],
        *,
        lease_seconds: int = LEASE_SECONDS,
        name: str | None = None,
    ) -> None:
        self.conn = conn
        self.queues = tuple(queues)
        self.lease_seconds = lease_seconds
        self.name = name or f"pump-{uuid.uuid4().hex}"
        self._scheduler = RQScheduler(list(self.queues), connection=conn, name=self.name)
        self._held: tuple[str, ...] = ()

    @property
    def held(self) -> tuple[str, ...]:
        """The queues this pump schedules now (after its last tick)."""
        return self._held

    def tick(self) -> None:
        """Take or refresh the lease per queue; move due jobs of the queues held."""
        held = tuple(
            name
            for name in self.queues
            if acquire_or_refresh_lock(
                self.conn, RQScheduler.get_locking_key(name), self.name, self.lease_seconds
            )
            != "taken"
        )
        if held != self._held:
            logger.info("timer pump %s now schedules %s", self.name, ", ".join(held) or "nothing")
            self._held = held
        if held:
            self._scheduler.prepare_registries(list(held))
            self._scheduler.enqueue_scheduled_jobs()

    def release(self) -> None:
        """Give the lease up at a clean stop, so another pump needs not wait it out."""
        for name in self._held:
            release_lock(self.conn, RQScheduler.get_locking_key(name), self.name)
        self._held = ()


class Ticker:
    """A daemon thread running `tasks` every `every` seconds until `stop()`."""

    def __init__(
        self,
        tasks: Sequence[Callable[[], object]],
        *,
        every: float = TICK_SECONDS,
        name: str = "callrouter-ticker",
    ) -> None:
        self.tasks = tuple(tasks)
        self.every = every
        self._quiet_until: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run_once(self) -> None:
        for index, task in enumerate(self.tasks):
            try:
                task()
            except redis.RedisError as exc:
                if self._say(index):
                    logger.warning("%s: Redis unavailable (%s); retrying", _name(task), exc)
            except Exception:
                if self._say(index):
                    logger.exception("%s failed; retrying", _name(task))
            else:
                self._quiet_until.pop(index, None)

    def _say(self, index: int) -> bool:
        """Log a failing task once per `QUIET_SECONDS`, not twice a second for
        the length of an outage."""
        now = time.monotonic()
        if now < self._quiet_until.get(index, 0.0):
            return False
        self._quiet_until[index] = now + QUIET_SECONDS
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.every)


def _name(task: Callable[[], object]) -> str:
    return getattr(task, "__qualname__", repr(task))
