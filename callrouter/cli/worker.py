"""`callrouter worker`: the RQ worker that outlives Redis, for the Procfile and systemd.

Why not plain ``rq worker``: it cannot read a ``redis+sentinel://`` URL, it
exits on a Redis timeout or on any error outside a job, and its scheduler
child stalls timers for up to ten minutes (issue 10). This command:

- connects with `callrouter.redis_conn` ("worker": reconnects for as long
  as an outage lasts, through Sentinel to whichever node is master), so a
  worker started while Redis is down waits for it;
- runs a `TimerPump` (due escalations and expiries onto the queue, from
  whichever worker is alive) and this host's spool replay in threads;
- starts a new RQ work loop when one ends on an error, and stops only on
  SIGTERM/SIGINT (RQ's warm shutdown: the job in hand finishes first).

A supervisor still restarts the process after a crash or ``kill -9``
(``.deploy/systemd/callrouter-worker@.service``, `callrouter serve`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from collections.abc import Callable

import redis
import rq

from callrouter import redis_conn, spool_replay
from callrouter.callbacks.jobs import JOBS
from callrouter.services import build
from callrouter.settings import Process, Settings, SettingsError
from callrouter.timers import Ticker, TimerPump
from callrouter.worker import QUEUES, Worker

logger = logging.getLogger(__name__)

RESTART_PAUSE_SECONDS = 1.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "worker",
        help="run a callback worker that waits through Redis outages and failovers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--log-level", default="INFO", help="log level (default: INFO)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.getLogger().setLevel(args.log_level)  # a service's log, not a command's output
    try:
        settings = Settings.from_env(process=Process.WORKER)
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"callrouter worker refuses to start: {problem}", file=sys.stderr)
        return 2
    assert settings.redis_url  # a worker's required setting
    conn = redis_conn.connect(settings.redis_url, redis_conn.Purpose.WORKER)
    services = build(settings, jobs=JOBS, purpose=redis_conn.Purpose.WORKER, conn=conn)
    pump = TimerPump(redis_conn.connect(settings.redis_url, redis_conn.Purpose.WORKER), QUEUES)
    timers = Ticker([pump.tick], name="callrouter-timer-pump").start()
    replay = spool_replay.start(services)
    try:
        return keep_working(
            lambda: Worker(list(QUEUES), connection=conn, services=services), args.log_level
        )
    finally:
        replay.stop()
        timers.stop()
        with contextlib.suppress(redis.RedisError):
            pump.release()


def keep_working(
    make_worker: Callable[[], rq.Worker],
    log_level: str = "INFO",
    pause: float = RESTART_PAUSE_SECONDS,
) -> int:
    """Run RQ work loops until one ends because the process was asked to stop."""
    while True:
        worker = make_worker()
        worker.work(with_scheduler=False, logging_level=log_level)
        # SIGTERM while busy sets `_stop_requested`; while idle RQ stops at once and
        # only records when shutdown was requested: both mean "stop", not "restart".
        if getattr(worker, "_stop_requested", False) or getattr(
            worker, "_shutdown_requested_date", None
        ):
            return 0
        logger.error("worker %s: the work loop ended; starting a new one", worker.name)
        time.sleep(pause)
