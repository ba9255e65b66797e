"""Callback latency and throughput: confirmed -> SMS request at (fake) Twilio, one worker.

    .venv/bin/python bench/callback_bench.py [--samples 200] [--burst 400]

What is measured, in one run, on one machine:

- latency: from the moment a caller's callback is confirmed (just before
  `cb_service.submit`) to the moment the SMS request reaches the Twilio API
  (a local fake that answers like Twilio, driven by the real twilio Client).
  Requests one at a time, so the queue is empty: p50 and p99;
- throughput: a burst of requests submitted at once, first submit to last SMS;
- the same two figures for a bare RQ job (`noop`, does nothing) on the same
  worker, enqueue to end, as the floor that RQ itself sets (fork per job,
  Redis round trips).

The worker is a real `rq worker -w callrouter.worker.Worker` subprocess on a
private redis-server; escalation steps are an hour away, so each request
costs exactly one notify job and one SMS.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from _common import ms, rate, table
from rq import Queue
from rq.job import Job

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from callrouter import clock
from callrouter.callbacks import queue as cb_queue
from callrouter.callbacks import service as cb_service
from callrouter.config.generation import load as load_generation
from callrouter.devtools.redis_server import EmbeddedRedis
from callrouter.routing.plan import CallerFacts
from tests.callbacks_kit import callback_context
from tests.fakes.twilio_api import FakeTwilioApi  # noqa: E402

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-auth-token"
SECRET = "b" * 40
CALLBACKS = """callbacks:
  sla: {referrer: 1h, relative: 1h, resident: 1h}
  fallback_team: ggz
  expire_after: 4h
  rate_limit: {requests: 100, per: 1h}
  spool_dir: SPOOL
"""
NOOP_QUEUE = "bench-noop"
NOOP = "callback_bench.noop"
"""By name: the worker imports this module (bench/ is on its path), not __main__."""


def noop() -> None:
    """The bare RQ job: nothing at all."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def config_dir(tmp: Path) -> Path:
    target = tmp / "config"
    target.mkdir()
    for path in (ROOT / "config").glob("*.yaml"):
        if path.name != "callbacks.yaml":
            shutil.copy(path, target / path.name)
    (target / "callbacks.yaml").write_text(CALLBACKS.replace("SPOOL", str(tmp / "spool")))
    return target


def start_worker(url: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    rq = str(Path(sys.executable).parent / "rq")
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                rq,
                "worker",
                "--with-scheduler",
                "-w",
                "callrouter.worker.Worker",
                "--url",
                url,
                cb_queue.QUEUE_NAME,
                NOOP_QUEUE,
            ],
            env=env,
            cwd=str(ROOT),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait(check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise SystemExit("benchmark timed out waiting for the worker")
        time.sleep(0.001)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="sequential requests for latency")
    parser.add_argument(
        "--burst", type=int, default=400, help="requests submitted at once for throughput"
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="callback-bench-"))
    with EmbeddedRedis() as server, FakeTwilioApi(credentials=(ACCOUNT_SID, AUTH_TOKEN)) as fake:
        directory = config_dir(tmp)
        env = dict(os.environ) | {
            "REDIS_URL": server.url,
            "CALLROUTER_CONFIG_DIR": str(directory),
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": fake.base_url,
            "CALLROUTER_SECRET": SECRET,
            "CALLROUTER_PUBLIC_BASE_URL": "https://crisis.example.nl",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")]),
        }
        conn = redis.Redis.from_url(server.url)
        generation = load_generation(directory)
        config = generation.config
        ctx = callback_context(conn, config, generation.callbacks, cb_service.pseudonym_key(SECRET))
        noops = Queue(NOOP_QUEUE, connection=conn)
        worker = start_worker(server.url, env, tmp / "worker.log")
        counter = iter(range(10**6))

        def submit() -> tuple[float, str]:
            number = f"+316{next(counter):08d}"
            started = time.time()
            rid = cb_service.submit(
                ctx, number=number, facts=CallerFacts("resident", "<18", None), moment=clock.now()
            ).request_id
            code = ctx.store.get(rid).code  # type: ignore[union-attr]
            return started, code

        def sms_at(code: str) -> float | None:
            for m in fake.messages():
                if f"verzoek {code}:" in m.field("Body"):
                    return m.at
            return None

        try:
            # warm up: the worker's first fork, imports, HTTP connection
            _, code = submit()
            wait(lambda: sms_at(code))
            job = noops.enqueue(NOOP)
            wait(lambda: job.get_status(refresh=True).value == "finished")

            cb_latency, noop_latency = [], []
            for _ in range(args.samples):
                started, code = submit()
                cb_latency.append(wait(lambda code=code: sms_at(code)) - started)
                job = noops.enqueue(NOOP)
                wait(lambda job=job: job.get_status(refresh=True).value == "finished")
                job.refresh()
                noop_latency.append((job.ended_at - job.enqueued_at).total_seconds())

            before = len(fake.messages())
            first = time.time()
            for _ in range(args.burst):
                submit()
            submitted = time.time() - first
            wait(lambda: len(fake.messages()) >= before + args.burst, timeout=300)
            cb_seconds = max(m.at for m in fake.messages()) - first

            jobs = [noops.enqueue(NOOP) for _ in range(args.burst)]
            wait(
                lambda: all(j.get_status(refresh=True).value == "finished" for j in jobs[-5:]),
                timeout=300,
            )
            ended = [Job.fetch(j.id, connection=conn) for j in jobs]
            noop_seconds = (
                max(j.ended_at for j in ended) - min(j.enqueued_at for j in ended)
            ).total_seconds()
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=10)
            conn.close()

    print(
        f"callback bench: {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, one `rq worker` (forks a work horse per job), local redis-server, "
        f"fake Twilio API over HTTP on 127.0.0.1"
    )
    table(
        f"latency, one request at a time ({args.samples} samples)",
        ["job", "p50", "p99", "max"],
        [
            [
                "callback: confirmed -> SMS request at Twilio",
                ms(statistics.median(cb_latency)),
                ms(percentile(cb_latency, 0.99)),
                ms(max(cb_latency)),
            ],
            [
                "bare RQ no-op: enqueued -> finished",
                ms(statistics.median(noop_latency)),
                ms(percentile(noop_latency, 0.99)),
                ms(max(noop_latency)),
            ],
        ],
        note="The callback includes routing the request, storing it (Lua), scheduling its ladder\n"
        "and expiry, then in the worker: fork, load the request, resolve who is on call, one HTTP\n"
        "request through the twilio Client, and recording the send and the transition.",
    )
    table(
        f"throughput, {args.burst} requests submitted at once",
        ["job", "total", "rate"],
        [
            ["callback requests -> SMS at Twilio", ms(cb_seconds), rate(args.burst, cb_seconds)],
            ["bare RQ no-op jobs", ms(noop_seconds), rate(args.burst, noop_seconds)],
        ],
        note=f"Submitting the {args.burst} callback requests took {ms(submitted)} in this process.",
    )


if __name__ == "__main__":
    main()
