"""The configuration a process runs on: the last good generation, swapped in the background.

An admin edits the YAML while calls come in. A background thread
(`LiveConfig.start()`) looks at the files' names, mtimes and sizes every
`interval` seconds and, when they changed, builds a new generation and
swaps it in as one value. `current()` only returns that value: no request,
webhook or job ever waits for YAML parsing.

Files that are refused (a typo, a half-saved file, a coverage gap, an
oversized file or an alias bomb) change nothing: the process keeps its
last good generation, logs the problems with file:line, reports them in
`status()`, and does not parse the same files again until they change.
A process that starts while the files are refused runs on the last good
generation any process accepted (`last_good.LastGood`, in Redis); only
when there never was a good config does it refuse to start.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from callrouter import clock
from callrouter.config.documents import Texts
from callrouter.config.generation import Generation, assemble, judge
from callrouter.config.generation import Loaded as Loaded
from callrouter.config.last_good import LastGood
from callrouter.config.yaml_marks import DEFAULT_LIMITS, Limits, MarkedDoc
from callrouter.errors import ConfigError

logger = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, int], ...]


class Origin(StrEnum):
    FILES = "files"
    """The files on disk, as they are now."""
    LAST_GOOD = "last-good"
    """The last generation any process accepted (Redis): the files were refused at start."""


@dataclass(frozen=True)
class ConfigStatus:
    """What /health and /metrics say about the config in use."""

    generation: str
    loaded_at: dt.datetime
    source: Origin
    refused: tuple[str, ...]
    """Problems of the files on disk when they are refused; empty while they are in use."""
    refused_at: dt.datetime | None


def signature(directory: Path) -> Signature:
    """What changes when an admin saves a file: names, mtimes and sizes of the YAML."""
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    return tuple((f.name, (st := f.stat()).st_mtime_ns, st.st_size) for f in files)


class LiveConfig:
    """The last good `Generation` of a directory, reloaded by a background thread."""

    def __init__(
        self,
        directory: Path,
        *,
        last_good: LastGood | None = None,
        interval: float = 1.0,
        limits: Limits = DEFAULT_LIMITS,
        now: Callable[[], dt.datetime] = clock.now,
    ) -> None:
        self.directory = Path(directory)
        self.interval = interval
        self._limits = limits
        self._now = now
        self._last_good = last_good
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen = self._signature()
        verdict = judge(self.directory, today=self._today(), limits=limits)
        if verdict.generation is not None:
            self._status = self._accept(verdict.generation)
        else:
            self._status = self._start_on_last_good(verdict.refusals)
            self._publish(verdict.files_id, self._status.refused)

    # -- what callers use --------------------------------------------------------------

    def current(self) -> Generation:
        """The generation in use: a plain read, never a reload."""
        return self._current

    def status(self) -> ConfigStatus:
        """This process's own view (a plain read, for metrics)."""
        return self._status

    def shared_status(self) -> ConfigStatus:
        """The view every process shares (/health, the console): this process's
        status, with the refusal another process found in files this one has not
        looked at yet, or without its own refusal once another process found the
        files on disk to be exactly the generation in use here."""
        own = self._status
        shared = self._last_good.published() if self._last_good is not None else None
        if shared is None:
            return own
        if shared.refused and shared.files_id != own.generation and not own.refused:
            return replace(own, refused=shared.refused, refused_at=shared.at)
        if not shared.refused and shared.files_id == own.generation and own.refused:
            return replace(own, refused=(), refused_at=None)
        return own

    @property
    def reload_problems(self) -> tuple[str, ...]:
        """Problems of the refused files on disk; empty while they are in use."""
        return self._status.refused

    def start(self) -> LiveConfig:
        """Start watching the files (idempotent); returns self for chaining.

        The thread holds the LiveConfig only weakly: a process, test or app that
        drops its LiveConfig also ends its watcher, without a stop() call.
        """
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping.clear()
                self._thread = threading.Thread(
                    target=_watch,
                    args=(weakref.ref(self), self._stopping, max(self.interval, 0.05)),
                    name="callrouter-config",
                    daemon=True,
                )
                self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def refresh(self) -> bool:
        """Reload now if the files changed; True when a new generation went live.

        The watcher thread calls this; tests call it instead of waiting.
        """
        with self._lock:
            try:
                seen = self._signature()
            except OSError as exc:
                logger.error("config directory %s unreadable (%s): keeping the config in use",
                             self.directory, exc)  # fmt: skip
                return False
            if seen == self._seen:
                return False
            self._seen = seen
            verdict = judge(self.directory, today=self._today(), limits=self._limits)
            if verdict.generation is None:
                self._refuse(verdict.refusals)
                self._publish(verdict.files_id, self._status.refused)
                return False
            self._status = self._accept(verdict.generation)
            logger.info("config generation %s from %s in use", verdict.generation.id,
                        self.directory)  # fmt: skip
            return True

    # -- inside ------------------------------------------------------------------------

    def _signature(self) -> Signature:
        return signature(self.directory)

    def _today(self) -> dt.date:
        return self._now().date()

    def _accept(self, generation: Generation) -> ConfigStatus:
        self._current = generation
        now = self._now()
        for warning in generation.warnings:
            logger.warning("config generation %s: %s", generation.id, warning)
        if self._last_good is not None:
            self._last_good.save(generation.id, generation.texts, now)
        self._publish(generation.id, ())
        return ConfigStatus(generation.id, now, Origin.FILES, (), None)

    def _publish(self, files_id: str | None, refused: tuple[str, ...]) -> None:
        if self._last_good is not None and files_id is not None:
            self._last_good.publish(files_id, refused, self._now())

    def _refuse(self, problems: list[str]) -> None:
        logger.error(
            "config in %s refused, %d problem(s); keeping generation %s:\n  %s",
            self.directory,
            len(problems),
            self._current.id,
            "\n  ".join(problems),
        )
        old = self._status
        self._status = ConfigStatus(
            old.generation, old.loaded_at, old.source, tuple(problems), self._now()
        )

    def _start_on_last_good(self, problems: list[str]) -> ConfigStatus:
        stored = self._last_good.load() if self._last_good is not None else None
        if stored is None:
            raise ConfigError(problems)
        texts = Texts(str(self.directory), stored.files)
        rebuilt = assemble(texts, MarkedDoc(), today=None, limits=self._limits).generation
        if rebuilt is None:  # stored by a newer version that checks more
            raise ConfigError(problems)
        self._current = rebuilt
        now = self._now()
        logger.error(
            "config in %s refused, %d problem(s); starting on the last good generation %s"
            " (accepted %s):\n  %s",
            self.directory,
            len(problems),
            rebuilt.id,
            stored.accepted_at,
            "\n  ".join(problems),
        )
        return ConfigStatus(rebuilt.id, now, Origin.LAST_GOOD, tuple(problems), now)


def _watch(ref: weakref.ref[LiveConfig], stopping: threading.Event, interval: float) -> None:
    while not stopping.wait(interval):
        live = ref()
        if live is None:
            return
        try:
            live.refresh()
        except Exception:  # noqa: BLE001 -- the watcher must outlive any one bad reload
            logger.exception("config reload failed: keeping the config in use")
        del live
