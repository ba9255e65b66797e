"""Coming coverage gaps: where they are looked for, and which coordinators were told.

The live configuration never has a gap (a reload with one is refused and
the last good config keeps routing), so gaps are looked for in the files
on disk: when an admin enters sick leave that leaves a role empty, the
reload is refused, calls still go to the old rota, and this is exactly
when coordinators must hear about it. `files_config` is that config, built
without the proof; the console and the gap alert job check it.

Which gaps coordinators were told about: once per gap.

A hash `gap key -> when told`; the key names the gap and its first
occurrence (`board.UpcomingGap.key`), so the same hole is texted once,
while a new one (another week's, or after a config change) is texted again.
Entries of gaps no longer upcoming are dropped, so the hash stays small.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import redis

from callrouter.config.generation import judge
from callrouter.routing.model import Config

ALERTED = "console:gaps:alerted"


def files_config(directory: Path, live: Config) -> tuple[Config, tuple[str, ...]]:
    """The config the files on disk describe (no coverage proof), or the live one
    with the problems that stop the files from being read."""
    verdict = judge(directory, today=None)
    if verdict.generation is None:
        return live, tuple(verdict.refusals)
    return verdict.generation.config, ()


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class GapAlerts:
    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    def first_time(self, key: str, at: dt.datetime) -> bool:
        """Mark gap `key` as told at `at`; True only the first time (atomic)."""
        return bool(self.conn.hsetnx(ALERTED, key, at.isoformat()))

    def alerted(self) -> dict[str, str]:
        """Gap key -> ISO time the coordinators were told."""
        return {_text(k): _text(v) for k, v in self.conn.hgetall(ALERTED).items()}

    def keep_only(self, keys: Iterable[str]) -> int:
        """Forget gaps that are no longer upcoming."""
        wanted = set(keys)
        stale = [k for k in self.alerted() if k not in wanted]
        return int(self.conn.hdel(ALERTED, *stale)) if stale else 0
