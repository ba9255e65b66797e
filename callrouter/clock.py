"""The one place that reads the wall clock.

Everything else takes the moment as an argument, so routing, rotas and
escalation timers can be tested at any instant (DST nights, Christmas) by
passing it in rather than mocking time.
"""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """The current instant, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)
