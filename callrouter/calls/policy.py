"""The `records:` section: how long the call log is kept and what it shows.

Pure: parsing and checking only. The config generation parses it once, with
file:line problems (`parse_policy`); processes read `Generation.records`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callrouter.config.builder import Builder


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


def parse_policy(b: Builder, raw: Any) -> RecordsPolicy:
    """The `records:` section as a policy; its mistakes go into `b` with file:line,
    worded like every other section's (the shared `Builder` readers)."""
    spec = b.mapping(("records",), raw, {"retention_days", "store_masked"})
    return RecordsPolicy(
        retention_days=b.integer(
            ("records", "retention_days"),
            spec.get("retention_days"),
            RecordsPolicy.retention_days,
            1,
            3660,
        ),
        store_masked=b.boolean(
            ("records", "store_masked"), spec.get("store_masked"), RecordsPolicy.store_masked
        ),
    )
