"""The configuration a web process routes with: the last good one, reloaded on change.

An admin edits the YAML while calls come in. Each process looks at the
files' modification times at most every few seconds and reloads when they
changed; a reload that fails (a typo, a half-saved file) is logged with its
file:line problems and changes nothing: calls keep routing with the last
good configuration, and the same broken files are not parsed again until
they change once more.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from callrouter.config.files import load
from callrouter.errors import ConfigError
from callrouter.routing.model import Config
from ivr.config import load as load_menus
from ivr.menus import Menus
from ivr.route_context import QuestionsMemo

logger = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Loaded:
    """One consistent generation of the config: routing and IVR together."""

    config: Config
    menus: Menus
    fallback_number: str
    """The 24/7 line dialled whenever anything fails."""
    questions_memo: QuestionsMemo = field(default_factory=dict, compare=False, repr=False)
    """Which questions matter, per situation, for this generation of the config."""

    @classmethod
    def from_directory(cls, directory: Path) -> Loaded:
        config = load(directory)
        fallback = config.line(config.fallback_line)
        if fallback is None:  # load() refuses this; kept as a guard for the last resort
            raise ConfigError(
                [f"{directory}: the fallback line {config.fallback_line!r} is not defined"]
            )
        return cls(config, load_menus(config), fallback.number)


def signature(directory: Path) -> Signature:
    """What changes when an admin saves a file: names, mtimes and sizes of the YAML."""
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    return tuple((f.name, (st := f.stat()).st_mtime_ns, st.st_size) for f in files)


class LiveConfig:
    """The last good `Loaded` of a directory. The first load must succeed:
    a service that starts without any valid configuration cannot route."""

    def __init__(
        self,
        directory: Path,
        check_every: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self._check_every = check_every
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._signature = signature(directory)
        self._current = Loaded.from_directory(directory)
        self._refused: Signature | None = None
        self._next_check = monotonic() + check_every
        self.reload_problems: tuple[str, ...] = ()
        """Problems of the last refused reload; empty while the files on disk are in use."""

    def current(self) -> Loaded:
        now = self._monotonic()
        if now >= self._next_check:
            self._next_check = now + self._check_every
            self._reload_if_changed()
        return self._current

    def _reload_if_changed(self) -> None:
        with self._lock:
            try:
                seen = signature(self.directory)
            except OSError as exc:
                logger.error(
                    "config directory %s unreadable (%s): keeping the last good config",
                    self.directory,
                    exc,
                )
                return
            if seen in (self._signature, self._refused):
                return
            try:
                loaded = Loaded.from_directory(self.directory)
            except ConfigError as exc:
                self._refuse(seen, exc.problems)
                return
            except Exception as exc:  # noqa: BLE001 -- any failure keeps the last good config
                logger.exception("config reload failed: keeping the last good config")
                self._refuse(seen, [f"{type(exc).__name__} while loading"])
                return
            self._current, self._signature, self._refused = loaded, seen, None
            self.reload_problems = ()
            logger.info("config reloaded from %s", self.directory)

    def _refuse(self, seen: Signature, problems: list[str]) -> None:
        self._refused = seen
        self.reload_problems = tuple(problems)
        logger.error(
            "config reload refused, %d problem(s); keeping the last good config:\n  %s",
            len(problems),
            "\n  ".join(problems),
        )
