"""`callrouter serve`: the whole service on this machine, with one command;
and `callrouter fallback-twiml`: what Twilio plays when the service is down.

Web (gunicorn, the app of the Procfile), a worker (`callrouter worker`, the
Procfile's worker, started again whenever it dies, as systemd does in
production) and, when no `REDIS_URL` is given, an embedded real
redis-server; the sample config (or `--config`); Twilio REST in dry-run
mode, so SMS and outbound calls are logged in this terminal (numbers
masked), never sent. Missing secrets are generated for this run only, and
it says so: production gets its secrets from the environment and refuses
to start without them.

The embedded Redis listens on a known port (--redis-port, 6380) and keeps
its data in --data-dir (./var, append-only file in var/redis), so the
callback queue and the call log survive Ctrl-C; delete the directory to
start afresh. While serve runs, var/serve.json tells the other commands
started in this directory (report, calls, callbacks, staff, phone) where
that Redis is, so they need no REDIS_URL.

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
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import requests

from callrouter.cli.common import (
    UsageError,
    add_config_arg,
    config_dir_default,
    load_generation_or_explain,
)
from callrouter.devtools.local_run import DEFAULT_REDIS_PORT, REDIS_SUBDIR, LocalRun, forget
from callrouter.devtools.redis_server import EmbeddedRedis, PortInUse
from callrouter.metrics import MULTIPROC_ENV
from callrouter.settings import DATA_DIR_ENV, ENV_NAMES, local_data_dir
from ivr import twiml
from ivr.menus import Prompt

RESTART_PAUSE_SECONDS = 1.0
"""A worker that died is started again after this pause (no tight crash loop)."""
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
    parser.add_argument(
        "--redis-port",
        type=int,
        default=DEFAULT_REDIS_PORT,
        help=f"port of the embedded Redis (default: {DEFAULT_REDIS_PORT})",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help=f"where the local data is kept (default: ${DATA_DIR_ENV} or ./var)",
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
    loaded = load_generation_or_explain(directory)  # every section, problems with file:line
    menus = loaded.menus
    document = twiml.announce(menus, menus.default_language, Prompt.FINAL_LINE, first=True)
    print(twiml.dial_line(document, loaded.fallback_number, loaded.config.crisis_number, None))
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return _serve(args)
    except KeyboardInterrupt:  # Ctrl-C while starting: everything started is stopped
        return 130


def _serve(args: argparse.Namespace) -> int:
    directory = args.config or config_dir_default()
    load_generation_or_explain(directory)  # a broken config is reported here, not by gunicorn
    data_dir = Path(args.data_dir) if args.data_dir else local_data_dir()
    env = dict(os.environ)
    generated = [name for name in _EPHEMERAL if not env.get(name)]
    env.update({name: secrets.token_urlsafe(32) for name in generated})
    url = f"http://{args.host}:{args.port}"
    env.update(
        {
            ENV_NAMES["DRY_RUN"]: "1",
            ENV_NAMES["CONFIG_DIR"]: directory,
            ENV_NAMES["PUBLIC_BASE_URL"]: url,  # absolute URLs, the path production takes
        }
    )
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(_listen(args.host, args.port))
        if not env.get(MULTIPROC_ENV):  # /metrics adds up every web worker and job
            env[MULTIPROC_ENV] = str(_fresh(data_dir / "metrics"))
        kept_in = None
        if not env.get("REDIS_URL"):
            kept_in = data_dir / REDIS_SUBDIR
            env["REDIS_URL"] = stack.enter_context(_embedded_redis(args.redis_port, kept_in)).url
            print(f"embedded Redis on {env['REDIS_URL']}, data kept in {kept_in}")
        # gunicorn serves the socket bound above: it cannot end up answering
        # on a port some other program holds, and the port is never raced for.
        web = ["gunicorn", "--bind", f"fd://{listener.fileno()}",
               "--workers", str(args.workers), "callrouter.web.app:production_app()"]  # fmt: skip
        worker = ["callrouter.cli", "worker"]
        processes = {
            "web": _start(stack, env, web, keep=listener.fileno()),
            "worker": _start(stack, env, worker),
        }
        if not _wait_until_healthy(url, processes):
            print(
                "callrouter serve: the web service did not come up (see its output above)",
                file=sys.stderr,
            )
            return 1
        token = env[ENV_NAMES["TWILIO_AUTH_TOKEN"]]
        own = ENV_NAMES["TWILIO_AUTH_TOKEN"] in generated
        secret = env[ENV_NAMES["SECRET"]] if ENV_NAMES["SECRET"] in generated else ""
        state = LocalRun(env["REDIS_URL"], url, os.getpid(), token if own else "", secret)
        state_file = state.write(data_dir)
        stack.callback(forget, data_dir, state.pid)
        _banner(url, directory, generated, env, kept_in, state_file)
        return _wait(processes, {"worker": lambda: _start(stack, env, worker)})


def _fresh(directory: Path) -> Path:
    """An empty directory: prometheus_client's multiprocess files from an
    earlier run would otherwise be added to this one's."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


@contextlib.contextmanager
def _listen(host: str, port: int) -> Iterator[socket.socket]:
    """The web port, bound and listening here; taken, it is a clear error."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise UsageError(
            f"cannot listen on {host}:{port} ({exc.strerror}): another program is using it; "
            "stop it or choose another port with --port"
        ) from None
    listener.listen(128)
    listener.set_inheritable(True)
    try:
        yield listener
    finally:
        listener.close()


@contextlib.contextmanager
def _embedded_redis(port: int, data_dir: Path) -> Iterator[EmbeddedRedis]:
    """The local Redis on its known port, with its append-only file in `data_dir`."""
    server = EmbeddedRedis(port=port, appendonly=True, data_dir=data_dir)
    try:
        server.start()
    except PortInUse:
        raise UsageError(
            f"the embedded Redis cannot use port {port}: another program (another "
            "`callrouter serve`?) is using it; stop it or choose another with --redis-port"
        ) from None
    try:
        yield server
    finally:
        server.close()


def _start(
    stack: contextlib.ExitStack,
    env: Mapping[str, str],
    module_and_args: list[str],
    keep: int | None = None,
) -> subprocess.Popen[bytes]:
    """`python -m module args`, with this interpreter, stopped when `stack` closes;
    `keep` is a file descriptor the child inherits (the web socket).

    In its own session, so Ctrl-C reaches serve alone, which then stops the
    worker, the web and Redis in that order (all at once, Redis would be gone
    while the worker still writes, and the output would end in tracebacks).
    """
    process = subprocess.Popen(
        [sys.executable, "-m", *module_and_args],
        env=dict(env),
        pass_fds=() if keep is None else (keep,),
        start_new_session=True,
    )
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


def command() -> str:
    """How to type `callrouter` so that it runs from here: plain when it is on
    PATH, else the path of the script next to this interpreter (the venv's
    bin, e.g. `.venv/bin/callrouter`, relative when under the working dir)."""
    script = Path(sys.executable).parent / "callrouter"
    on_path = shutil.which("callrouter")
    if on_path and Path(on_path).resolve() == script.resolve():
        return "callrouter"
    if not script.exists():
        return f"{sys.executable} -m callrouter.cli"
    with contextlib.suppress(ValueError):
        return str(script.absolute().relative_to(Path.cwd()))
    return str(script)


def _banner(
    url: str,
    directory: str,
    generated: list[str],
    env: Mapping[str, str],
    kept_in: Path | None,
    state_file: Path,
) -> None:
    cli = command()
    print(f"\ncallrouter is running on {url} with the config in {directory} (Twilio dry run)")
    if kept_in is not None:
        print(
            f"data persists: callbacks and the call log are kept in {kept_in} "
            "(Redis append-only file) across restarts; delete it to start afresh"
        )
    print(
        f"commands run in this directory use this Redis ({env['REDIS_URL']}) "
        f"without REDIS_URL, via {state_file}"
    )
    print("dry-run SMS and calls are logged below, numbers masked")
    print(f"metrics for Prometheus: {url}/metrics")
    if generated:
        print(
            f"generated for this run only (never use these in production): {', '.join(generated)}"
        )
    # Only a token this run made up is shown: an operator's own token is a
    # secret, and a banner ends up in terminals, scrollback and CI logs.
    name = ENV_NAMES["TWILIO_AUTH_TOKEN"]
    token = env[name] if name in generated else f"${name}"
    print("try a call through the running service:")
    print(f"  TWILIO_AUTH_TOKEN={token} {cli} phone --url {url} --from +31612345678")
    print("stop with Ctrl-C\n", flush=True)


def _wait(
    processes: dict[str, subprocess.Popen[bytes]],
    restart: Mapping[str, Callable[[], subprocess.Popen[bytes]]],
) -> int:
    """Until Ctrl-C / SIGTERM (exit 0) or until a process without a `restart`
    dies (exit 1). A dead worker is started again (at most once a second): a
    worker that is gone means no SMS to staff and no timers."""
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for name, process in processes.items():
                if process.poll() is None:
                    continue
                if name not in restart:
                    print(
                        f"callrouter serve: {name} exited ({process.returncode}); stopping",
                        file=sys.stderr,
                    )
                    return 1
                print(
                    f"callrouter serve: {name} exited ({process.returncode}); starting it again",
                    file=sys.stderr,
                )
                time.sleep(RESTART_PAUSE_SECONDS)
                processes[name] = restart[name]()
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("\nstopping")
    return 0
