"""`callrouter serve`: the whole service on this machine, with one command;
and `callrouter fallback-twiml`: what Twilio plays when the service is down.

Web (gunicorn, the app of the Procfile), a worker (`rq worker
--with-scheduler`, the Procfile's worker) and, when no `REDIS_URL` is given, an embedded real
redis-server; the sample config (or `--config`); Twilio REST in dry-run
mode, so SMS and outbound calls are logged, never sent. Missing secrets
are generated for this run only, and it says so: production gets its
secrets from the environment and refuses to start without them.

Stop with Ctrl-C; every process it started is stopped with it.

The service answers Twilio's Fallback URL itself (`/voice/fallback`), which
helps when one request fails. When the whole service is unreachable, only
a document served from elsewhere helps: `fallback-twiml` prints one (the
welcome, the safety line, then a `<Dial>` of the 24/7 fallback line with
the crisis number as caller id) to paste into a TwiML Bin.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import requests

from callrouter.cli.common import add_config_arg, config_dir_default, load_or_explain
from callrouter.config.live import Loaded
from callrouter.devtools.redis_server import EmbeddedRedis
from callrouter.errors import ConfigError
from callrouter.settings import ENV_NAMES
from ivr import twiml
from ivr.menus import Prompt

WORKER_QUEUES = ("callbacks",)
"""The RQ queues the worker serves (callrouter.callbacks.service); as in the Procfile."""
WORKER_CLASS = "callrouter.callbacks.jobs.Worker"
"""Loads config and phone provider once, before forking each job."""
READY_SECONDS = 20.0
_EPHEMERAL = (ENV_NAMES["TWILIO_AUTH_TOKEN"], ENV_NAMES["SECRET"], ENV_NAMES["PSEUDONYM_KEY"])


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "serve",
        help="run web + worker + embedded Redis locally, Twilio in dry-run mode",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument(
        "--workers", type=int, default=2, help="gunicorn web processes (default: 2)"
    )
    add_config_arg(parser)
    parser.set_defaults(func=run)
    static = sub.add_parser(
        "fallback-twiml",
        help="print static TwiML that rings the 24/7 fallback line (for a TwiML Bin)",
    )
    add_config_arg(static)
    static.set_defaults(func=print_fallback_twiml)


def print_fallback_twiml(args: argparse.Namespace) -> int:
    directory = args.config or config_dir_default()
    load_or_explain(directory)  # routing problems, file:line
    try:
        loaded = Loaded.from_directory(Path(directory))
    except ConfigError as exc:  # e.g. no ivr section
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    menus = loaded.menus
    document = twiml.announce(menus, menus.default_language, Prompt.CONNECTING, first=True)
    print(twiml.dial_line(document, loaded.fallback_number, loaded.config.crisis_number, None))
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return _serve(args)
    except KeyboardInterrupt:  # Ctrl-C while starting: everything started is stopped
        return 130


def _serve(args: argparse.Namespace) -> int:
    directory = args.config or config_dir_default()
    load_or_explain(directory)  # a broken config is reported here, file:line, not by gunicorn
    env = dict(os.environ)
    generated = [name for name in _EPHEMERAL if not env.get(name)]
    env.update({name: secrets.token_urlsafe(32) for name in generated})
    env.update({ENV_NAMES["DRY_RUN"]: "1", ENV_NAMES["CONFIG_DIR"]: directory})
    url = f"http://{args.host}:{args.port}"
    with contextlib.ExitStack() as stack:
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = stack.enter_context(EmbeddedRedis()).url
            print(f"embedded Redis on {env['REDIS_URL']}")
        web = ["gunicorn", "--bind", f"{args.host}:{args.port}", "--workers", str(args.workers),
               "callrouter.web.app:create_app()"]  # fmt: skip
        worker = ["rq.cli", "worker", "--with-scheduler", "--worker-class", WORKER_CLASS,
                  "--url", env["REDIS_URL"], *WORKER_QUEUES]  # fmt: skip
        processes = {"web": _start(stack, env, web), "worker": _start(stack, env, worker)}
        if not _wait_until_healthy(url, processes):
            print(
                "callrouter serve: the web service did not come up (see its output above)",
                file=sys.stderr,
            )
            return 1
        _banner(url, directory, generated, env)
        return _wait(processes)


def _start(
    stack: contextlib.ExitStack, env: Mapping[str, str], module_and_args: list[str]
) -> subprocess.Popen[bytes]:
    """`python -m module args`, with this interpreter, stopped when `stack` closes."""
    process = subprocess.Popen([sys.executable, "-m", *module_and_args], env=dict(env))
    stack.callback(_stop, process)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(url: str, processes: dict[str, subprocess.Popen[bytes]]) -> bool:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes.values()):
            return False
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/health", timeout=1).ok:
                return True
        time.sleep(0.1)
    return False


def _banner(url: str, directory: str, generated: list[str], env: Mapping[str, str]) -> None:
    print(f"\ncallrouter is running on {url} with the config in {directory} (Twilio dry run)")
    if generated:
        print(
            f"generated for this run only (never use these in production): {', '.join(generated)}"
        )
    # Only a token this run made up is shown: an operator's own token is a
    # secret, and a banner ends up in terminals, scrollback and CI logs.
    name = ENV_NAMES["TWILIO_AUTH_TOKEN"]
    token = env[name] if name in generated else f"${name}"
    print("try a call through the running service:")
    print(f"  TWILIO_AUTH_TOKEN={token} callrouter phone --url {url} --from +31612345678")
    print("stop with Ctrl-C\n", flush=True)


def _wait(processes: dict[str, subprocess.Popen[bytes]]) -> int:
    """Until Ctrl-C / SIGTERM (exit 0) or until a process dies (exit 1)."""
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(
                        f"callrouter serve: {name} exited ({process.returncode}); stopping",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("\nstopping")
    return 0
