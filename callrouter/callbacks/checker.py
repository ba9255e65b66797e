"""Reading a raw YAML mapping under ``callbacks:`` while collecting file:line problems.

Pure: no Flask, Redis, RQ, Twilio or clock reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from callrouter.routing.model import Source

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}

Where = Callable[[tuple[str | int, ...]], Source]
RawProblem = tuple[Source, str, str]


def parse_duration(raw: object) -> int | None:
    """'90s', '10m', '2h', '7d' -> seconds; None when it is not such a duration."""
    m = _DURATION.match(str(raw)) if isinstance(raw, str) else None
    return int(m.group(1)) * _UNIT[m.group(2)] if m else None


class Checker:
    """Reads the raw ``callbacks:`` mapping, collecting file:line problems."""

    def __init__(self, where: Where) -> None:
        self.where = where
        self.problems: list[RawProblem] = []

    def err(self, path: tuple[str | int, ...], message: str, fix: str) -> None:
        self.problems.append((self.where(("callbacks",) + path), message, fix))

    def mapping(
        self, path: tuple[str | int, ...], raw: object, allowed: set[str] | None
    ) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.err(
                path, f"callbacks.{_dotted(path)} must be a mapping", "indent its keys under it"
            )
            return {}
        for key in raw:
            if allowed is not None and key not in allowed:
                self.err(
                    path + (key,),
                    f"unknown key {key!r} in callbacks{'.' if path else ''}{_dotted(path)}",
                    f"allowed keys: {', '.join(sorted(allowed))}",
                )
        return raw

    def duration(self, path: tuple[str | int, ...], raw: object, default: int, low: int = 0) -> int:
        if raw is None:
            return default
        seconds = parse_duration(raw)
        if seconds is None or seconds < low:
            self.err(
                path,
                f"callbacks.{_dotted(path)} {raw!r} is not a duration"
                + (f" of at least {low}s" if low else ""),
                "write a number with a unit, quoted or not: 30s, 10m, 2h, 7d",
            )
            return default
        return seconds

    def integer(
        self, path: tuple[str | int, ...], raw: object, default: int, low: int, high: int
    ) -> int:
        if raw is None:
            return default
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            self.err(
                path,
                f"callbacks.{_dotted(path)} must be a whole number "
                f"from {low} to {high}, not {raw!r}",
                f"use a number between {low} and {high}",
            )
            return default
        return raw


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path)
