"""Small helpers shared by the routing-core tests.

Every routing test states its moment in Europe/Amsterdam wall time with
`ams(...)`, so a reader sees the local time the caller experienced, and a
wall time that does not exist (the spring DST gap) is refused instead of
being silently shifted by an hour.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

from callrouter.config import generation
from callrouter.config.files import load
from callrouter.routing.model import Config

AMS = ZoneInfo("Europe/Amsterdam")
UTC = dt.UTC

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"


def ams(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0
) -> dt.datetime:
    """An aware moment at this Europe/Amsterdam wall time.

    `fold=1` picks the second occurrence of a wall time that happens twice
    (the last Sunday of October, 02:00-03:00).
    """
    moment = dt.datetime(year, month, day, hour, minute, tzinfo=AMS, fold=fold)
    back = moment.astimezone(UTC).astimezone(AMS)
    if back.replace(tzinfo=None) != moment.replace(tzinfo=None):
        raise ValueError(f"{moment:%Y-%m-%d %H:%M} does not exist in Europe/Amsterdam")
    return moment


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def minute_of(moment: dt.datetime) -> int:
    """Minutes after local midnight of an Amsterdam moment."""
    local = moment.astimezone(AMS)
    return local.hour * 60 + local.minute


@functools.cache
def sample_config() -> Config:
    """The project's sample config (config/*.yaml), loaded once per session.

    The config is immutable, so sharing it between tests (and hypothesis
    examples, which cannot use function-scoped fixtures) is safe.
    """
    return load(CONFIG_DIR)


@functools.cache
def sample_generation() -> generation.Generation:
    """Every section of the sample config, typed (menus, callback policy, ...)."""
    return generation.load(CONFIG_DIR)


def copy_config(target: Path, edits: dict[str, list[tuple[str, str]]] | None = None) -> Path:
    """Copy the sample config into `target` and apply text edits per file.

    Each edit is (old, new) and `old` must occur exactly once, so a change to
    the sample config makes the test fail loudly instead of testing nothing.
    """
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(CONFIG_DIR.glob("*.yaml")):
        shutil.copy(source, target / source.name)
    for name, changes in (edits or {}).items():
        path = target / name
        text = path.read_text(encoding="utf-8")
        for old, new in changes:
            count = text.count(old)
            if count != 1:
                raise AssertionError(f"{old!r} occurs {count} times in {name}, expected once")
            text = text.replace(old, new)
        path.write_text(text, encoding="utf-8")
    return target


def line_of(path: Path, needle: str, *, whole: bool = False) -> int:
    """1-based line number of the only line of `path` containing `needle`
    (or, with `whole`, the only line that is `needle` apart from indentation)."""
    hits = [
        i
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if (line.strip() == needle if whole else needle in line)
    ]
    if len(hits) != 1:
        raise AssertionError(f"{needle!r} is on lines {hits} of {path}, expected exactly one")
    return hits[0]


REGION_MENU = """\
    region:
      ask:
        nl: "Rijk van Nijmegen: druk 1. Maas en Waal: 2. Land van Cuijk: 3. Weet u het niet: 0."
        en: "Nijmegen area: press 1. Maas en Waal: 2. Land van Cuijk: 3. Not sure: 0."
      retry:
        nl: Noem de woonplaats, of druk 1 voor Nijmegen, 2 voor Maas en Waal, 3 voor Land van Cuijk.
        en: Say the town, or press 1 for Nijmegen, 2 for Maas en Waal, 3 for Land van Cuijk.
      options:
        - {digit: "1", value: nijmegen}
        - {digit: "2", value: maas_en_waal}
        - {digit: "3", value: land_van_cuijk}
        - digit: "0"
          value: null
          speech:
            nl: [weet ik niet, geen idee]
            en: [do not know, no idea]

"""
"""The region question the sample leaves out (to keep the way in short),
for tests of a config that asks it: `copy_config(..., with_region_question())`."""


def with_region_question() -> dict[str, list[tuple[str, str]]]:
    anchor = "    # No region question:"
    return {"ivr.yaml": [(anchor, REGION_MENU + anchor)]}
