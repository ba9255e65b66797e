"""How fast do the voice webhooks answer, next to a bare Flask endpoint?

Run:  .venv/bin/python tests/bench/voice_bench.py [--seconds 5] [--rounds 3] [--workers 2]
      [--clients 4]

Starts, in one run, on loopback:
  - an embedded redis-server (the app's presence store);
  - gunicorn with `callrouter.web.app:production_app()` on the sample config;
  - gunicorn with a bare Flask app (this file's `bare_app()`) that returns a
    static TwiML document of the same shape, with the same gunicorn settings
    (workers, sync worker class, no access log);
  - for the incoming call only, gunicorn with this file's `floor_app()`: the
    production app whose incoming-call view does nothing but the signature
    check and the call-start write (one Redis round trip) before answering
    the static TwiML: the ceiling any incoming-call webhook that records the
    call in Redis can reach on this machine;
and loads each with the same signed Twilio-style requests from `--clients`
processes, each sending one request at a time (a closed loop, so the load
is bounded and the latency is not queueing in the load generator):
  1. incoming call: `POST /voice/incoming` (signature check, caller lookup,
     the questions the routing needs, the first menu);
  2. IVR step: `POST /voice/step?s=...` with Digits=2 (signed state, the
     answer, the next question);
  3. IVR step that dials: the last menu answer, which routes the call and
     asks Redis who is busy before answering with a `<Dial>`.
Ours and bare alternate for `--rounds` rounds per webhook; the table shows
the medians of requests/s and p50/p99 latency side by side. The load
generator and the servers share the machine's cores: compare the columns,
not figures from other machines. About 1.5 minutes with the defaults.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
from _common import ms, table
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

from callrouter.devtools.redis_server import EmbeddedRedis, free_port
from callrouter.devtools.twilio_sim import SIGNATURE_HEADER
from callrouter.web import voice
from callrouter.web.app import production_app
from callrouter.web.twilio_auth import twilio_signed

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "bench-auth-token-0123456789abcdef"
SECRET = "bench-state-secret-0123456789abcdef-0123456789"
CALLER = "+31612345678"
CRISIS = "+31880001133"

STATIC_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    '<Say language="nl-NL" voice="Polly.Laura-Neural">Welkom bij de Crisislijn.</Say>'
    '<Gather action="http://127.0.0.1/voice/step?s=static" input="dtmf speech" language="nl-NL" '
    'method="POST" numDigits="1" speechTimeout="auto" timeout="6">'
    '<Say language="nl-NL" voice="Polly.Laura-Neural">Belt u voor uzelf? Druk 1.</Say></Gather>'
    '<Redirect method="POST">http://127.0.0.1/voice/step?s=static</Redirect></Response>'
)


def bare_app() -> Flask:
    """The floor: Flask under the same gunicorn, answering static TwiML, no checks."""
    app = Flask("bare")

    def static_twiml() -> Response:
        return Response(STATIC_TWIML, mimetype="text/xml")

    for path in ("/voice/incoming", "/voice/step"):
        app.add_url_rule(path, path, static_twiml, methods=["POST"])
    return app


def floor_app() -> Flask:
    """The production app, its incoming-call view cut down to the signature
    check and the call-start write (`CallStore.started`, the webhook's one
    Redis round trip), answering the static TwiML: what the real view's
    routing, state signing and logging cost is the gap between this and ours."""
    app = production_app()
    events = app.extensions[voice.EXTENSION].events
    clock = app.config["CLOCK"]

    def started_only() -> Response:
        events.started(request.form["CallSid"], request.form["From"], clock())
        return Response(STATIC_TWIML, mimetype="text/xml")

    app.view_functions["voice.incoming"] = twilio_signed(started_only)
    return app


@dataclass(frozen=True)
class Request:
    path: str
    params: dict[str, str]


@dataclass(frozen=True)
class Job:
    base_url: str
    requests: tuple[Request, ...]
    seconds: float


def signed_headers(url: str, params: dict[str, str]) -> dict[str, str]:
    return {SIGNATURE_HEADER: RequestValidator(TOKEN).compute_signature(url, params)}


def load(job: Job) -> tuple[int, list[float]]:
    """One client process: send the requests round robin for `job.seconds`; latencies."""
    session = requests.Session()
    signed = [
        (job.base_url + r.path, r.params, signed_headers(job.base_url + r.path, r.params))
        for r in job.requests
    ]
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + job.seconds
    i = 0
    while time.perf_counter() < deadline:
        url, params, headers = signed[i % len(signed)]
        i += 1
        start = time.perf_counter()
        reply = session.post(url, data=params, headers=headers, timeout=10)
        latencies.append(time.perf_counter() - start)
        errors += reply.status_code != 200
    session.close()
    return errors, latencies


def call_params(**extra: str) -> dict[str, str]:
    return {
        "CallSid": "CA" + uuid.uuid4().hex,
        "From": CALLER,
        "To": CRISIS,
        "CallStatus": "in-progress",
        **extra,
    }


def menu_action(base_url: str, path: str, params: dict[str, str]) -> str:
    """The `<Gather>` action our app answers `path` with (a real signed state)."""
    url = base_url + path
    reply = requests.post(url, data=params, headers=signed_headers(url, params), timeout=10)
    reply.raise_for_status()
    gather = ET.fromstring(reply.text).find("Gather")
    if gather is None:
        raise SystemExit(f"{path} did not answer with a menu:\n{reply.text}")
    return (gather.get("action") or "").removeprefix(base_url)


def scenarios(base_url: str) -> dict[str, list[Request]]:
    """Requests per webhook, with real states from the running app."""
    incoming = [Request("/voice/incoming", call_params(CallStatus="ringing")) for _ in range(50)]
    caller_menu = menu_action(base_url, "/voice/incoming", call_params(CallStatus="ringing"))
    step = [Request(caller_menu, call_params(Digits="2")) for _ in range(50)]
    # 'Under 18' is the last question at any hour: the next answer dials the CIT.
    age_menu = menu_action(base_url, caller_menu, call_params(Digits="1"))
    dial = [Request(age_menu, call_params(Digits="1")) for _ in range(50)]
    return {"incoming call": incoming, "IVR step": step, "IVR step that dials": dial}


@contextlib.contextmanager
def gunicorn(app_spec: str, workers: int, env: dict[str, str], log: Path) -> Iterator[str]:
    """The app under gunicorn; its stderr (a masked INFO line per call: a cost it
    pays in production too) goes to `log`, shown when it does not start."""
    port = free_port()
    stderr = log.open("a")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
            "--pythonpath",
            str(ROOT / "tests" / "bench"),
            app_spec,
        ],
        cwd=ROOT,
        env=env,
        stderr=stderr,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(requests.RequestException):
                requests.get(f"{url}/health", timeout=1)  # any answer: it is up
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn {app_spec} did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        stderr.close()


@dataclass(frozen=True)
class Figures:
    rate: float
    p50: float
    p99: float
    errors: int


def measure(pool: ProcessPoolExecutor, clients: int, job: Job) -> Figures:
    """Requests/s and latency percentiles of `clients` closed-loop clients."""
    load(Job(job.base_url, job.requests[:5], 0.5))  # warm up every worker's imports and caches
    started = time.perf_counter()
    results = list(pool.map(load, [job] * clients))
    wall = time.perf_counter() - started
    latencies = sorted(t for _, ts in results for t in ts)
    q = statistics.quantiles(latencies, n=100)
    return Figures(len(latencies) / wall, q[49], q[98], sum(e for e, _ in results))


def median_of(rounds: list[Figures]) -> Figures:
    """Per figure, the median over rounds: a noisy neighbour on a shared machine
    spoils a round, not the result."""
    return Figures(
        statistics.median(f.rate for f in rounds),
        statistics.median(f.p50 for f in rounds),
        statistics.median(f.p99 for f in rounds),
        sum(f.errors for f in rounds),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="load per webhook per app")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, both apps")
    parser.add_argument("--clients", type=int, default=4, help="load generator processes")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds; medians are shown"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    with contextlib.ExitStack() as stack, ProcessPoolExecutor(args.clients) as pool:
        redis_url = stack.enter_context(EmbeddedRedis()).url
        env = os.environ | {
            "TWILIO_AUTH_TOKEN": TOKEN,
            "CALLROUTER_SECRET": SECRET,
            "CALLROUTER_PSEUDONYM_KEY": "bench-pseudonym-key-0123456789",
            "CALLROUTER_DRY_RUN": "1",
            "CALLROUTER_CONFIG_DIR": str(ROOT / "config"),
            "REDIS_URL": redis_url,
        }
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="voice-bench-")))
        ours = stack.enter_context(
            gunicorn("callrouter.web.app:production_app()", args.workers, env, logs / "ours.log")
        )
        bare = stack.enter_context(
            gunicorn("voice_bench:bare_app()", args.workers, env, logs / "bare.log")
        )
        floor = stack.enter_context(
            gunicorn("voice_bench:floor_app()", args.workers, env, logs / "floor.log")
        )
        rows = []
        verdicts = []
        for name, reqs in scenarios(ours).items():
            runs: dict[str, list[Figures]] = {ours: [], bare: []}
            if name == "incoming call":
                runs[floor] = []
            for _ in range(args.rounds):
                for url in runs:
                    runs[url].append(
                        measure(pool, args.clients, Job(url, tuple(reqs), args.seconds))
                    )
            o, b = median_of(runs[ours]), median_of(runs[bare])
            rows.append(
                [
                    name,
                    f"{o.rate:,.0f}/s",
                    ms(o.p50),
                    ms(o.p99),
                    f"{b.rate:,.0f}/s",
                    ms(b.p50),
                    ms(b.p99),
                    f"{o.rate / b.rate:.0%}",
                ]
            )
            if name == "incoming call":
                f = median_of(runs[floor])
                verdicts.append(
                    f"floor for the incoming call (signature check + the call-start write, "
                    f"one Redis round trip, + static TwiML): {f.rate:,.0f}/s, p99 {ms(f.p99)}, "
                    f"{f.rate / b.rate:.0%} of bare Flask"
                )
                verdicts.append(
                    f"target for the incoming call (issue 8): at least 60% of bare Flask's "
                    f"requests/s and p99 under 15 ms: {o.rate / b.rate:.0%} "
                    f"({'met' if o.rate >= 0.6 * b.rate else 'NOT met'}), p99 {ms(o.p99)} "
                    f"({'met' if o.p99 < 0.015 else 'NOT met'})"
                )
            if o.errors or b.errors:
                print(
                    f"warning: {name}: {o.errors} errors (ours), {b.errors} (bare)", file=sys.stderr
                )

    table(
        f"Voice webhooks under gunicorn ({args.workers} sync workers), {args.clients} closed-loop "
        f"clients, median of {args.rounds} x {args.seconds:g} s; "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after",
        ["webhook", "ours", "p50", "p99", "bare Flask", "p50", "p99", "ours/bare"],
        rows,
        note="""
ours = callrouter.web.app:production_app() on the sample config with a real Redis; bare =
Flask returning static TwiML. Same gunicorn settings, same signed requests, loopback.
Load generator and servers share the CPUs; the load average before the run says how
busy the machine already was (other work takes CPU from both columns, unevenly).""",
    )
    for verdict in verdicts:
        print(verdict)


if __name__ == "__main__":
    main()
