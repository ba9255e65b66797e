"""The `records:` section: how long the call log is kept and what it shows.

Pure: parsing and checking only. The config generation parses it once, with
file:line problems (`parse_policy`); processes read `Generation.records`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from callrouter.routing.model import Source


@dataclass(frozen=True)
class RecordsPolicy:
    """How long the call log is kept and what it shows (`records:` section).

    Callback settings live in `callbacks:` (the callback owner's section): the
    SLA reports measure against is `callbacks.sla`, and raw callback numbers
    are kept for `callbacks.keep_raw_numbers`. One setting, one place.
    """

    retention_days: int = 730
    """Call records, triage outcomes and linked events; then deleted by the purge job."""
    store_masked: bool = True
    """Keep '+31 ***** 45 67' in records so on-call staff can tell calls apart."""


_POLICY_KEYS = {"retention_days": (1, 3660)}


def parse_policy(raw: Any, where: Any) -> tuple[RecordsPolicy, list[tuple[Source, str, str]]]:
    problems: list[tuple[Source, str, str]] = []
    if raw is None:
        return RecordsPolicy(), problems
    if not isinstance(raw, dict):
        problems.append(
            (
                where(("records",)),
                "records must be a mapping",
                "indent retention_days: etc. under 'records:'",
            )
        )
        return RecordsPolicy(), problems
    values: dict[str, Any] = {}
    allowed = set(_POLICY_KEYS) | {"store_masked"}
    for key, value in raw.items():
        path = ("records", key)
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            problems.append(
                (
                    where(path),
                    f"unknown key {key!r} in records",
                    f"did you mean {close[0]!r}?"
                    if close
                    else f"allowed keys: {', '.join(sorted(allowed))}",
                )
            )
        elif key == "store_masked":
            if not isinstance(value, bool):
                problems.append(
                    (
                        where(path),
                        f"records.store_masked must be true or false, not {value!r}",
                        "write true or false",
                    )
                )
            else:
                values[key] = value
        else:
            low, high = _POLICY_KEYS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                problems.append(
                    (
                        where(path),
                        f"records.{key} must be a whole number from {low} to {high}, not {value!r}",
                        f"use a number between {low} and {high}",
                    )
                )
            else:
                values[key] = value
    return RecordsPolicy(**values), problems
