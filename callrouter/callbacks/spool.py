"""A durable local spool for callback requests made while Redis is unreachable.

A caller who confirmed a callback must not lose it because Redis is down
(DESIGN 4: degrade, don't drop). The web process appends the request as one
JSON line to ``<dir>/spool.jsonl`` and fsyncs file and directory before the
caller hears "uw verzoek is genoteerd". When Redis is back, ``replay``
feeds every line to a function that writes it into Redis; records carry
their request id, so replaying a line twice (a crash mid-replay, two
processes) creates one request.

Concurrency, with POSIX advisory locks (processes on one machine):

- appends hold ``append.lock`` while writing, so a replay never renames the
  file under a half-written line;
- a replay renames ``spool.jsonl`` to ``replaying-<ns>.jsonl`` under that
  lock, then works through the renamed files holding ``replay.lock``; new
  appends go to a fresh ``spool.jsonl`` meanwhile;
- a renamed file is deleted only after every line in it was applied, so a
  replay cut short (Redis gone again) resumes next time.

The spool holds raw phone numbers (a callback needs them): the directory is
created 0700 and files 0600, and lines are deleted once replayed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_CURRENT = "spool.jsonl"
_REPLAYING = "replaying-"


@dataclass(frozen=True)
class ReplayResult:
    applied: int
    """Lines handed to the apply function without error."""
    remaining: int
    """Lines left for a later replay (apply failed, e.g. Redis went away again)."""
    skipped: int = 0
    """Lines that were not valid JSON (a torn write at a crash); logged, dropped."""


class Spool:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def append(self, record: dict[str, Any]) -> None:
        """Durably add one record; returns only once it is on disk."""
        line = (json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._lock("append.lock"):
            fd = os.open(self.directory / _CURRENT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        self._fsync_dir()

    def pending(self) -> bool:
        """Whether anything waits to be replayed (cheap: a directory listing)."""
        try:
            return any(
                p.name == _CURRENT or p.name.startswith(_REPLAYING)
                for p in self.directory.iterdir()
            )
        except FileNotFoundError:
            return False

    def replay(self, apply: Callable[[dict[str, Any]], None]) -> ReplayResult:
        """Apply every spooled record, oldest first; stops at the first failure.

        Returns at once (nothing applied) when another process is replaying.
        """
        if not self.pending():
            return ReplayResult(0, 0)
        with self._lock("replay.lock", blocking=False) as got:
            if not got:
                return ReplayResult(0, 0)
            with self._lock("append.lock"):
                current = self.directory / _CURRENT
                if current.exists():
                    current.rename(self.directory / f"{_REPLAYING}{time.time_ns():020d}.jsonl")
                    self._fsync_dir()
            applied = skipped = 0
            files = sorted(p for p in self.directory.iterdir() if p.name.startswith(_REPLAYING))
            for index, path in enumerate(files):
                lines = path.read_bytes().splitlines()
                for n, raw in enumerate(lines):
                    try:
                        record = json.loads(raw)
                    except ValueError:
                        logger.warning(
                            "spool %s line %d is not JSON (torn write?); dropped", path.name, n + 1
                        )
                        skipped += 1
                        continue
                    try:
                        apply(record)
                    except Exception:
                        remaining = (
                            len(lines)
                            - n
                            + sum(len(p.read_bytes().splitlines()) for p in files[index + 1 :])
                        )
                        logger.warning(
                            "spool replay stopped at %s line %d; %d record(s) left for later",
                            path.name,
                            n + 1,
                            remaining,
                            exc_info=True,
                        )
                        return ReplayResult(applied, remaining, skipped)
                    applied += 1
                path.unlink()
                self._fsync_dir()
            return ReplayResult(applied, 0, skipped)

    @contextlib.contextmanager
    def _lock(self, name: str, blocking: bool = True) -> Iterator[bool]:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.directory / name, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
