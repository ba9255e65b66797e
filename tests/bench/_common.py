"""Tiny timing and table helpers shared by the bench scripts (stdlib only)."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence


def median_seconds(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of `fn()` over `repeat` runs (time.perf_counter, GC
    paused during each run as `timeit` does, so figures are steadier)."""
    times = []
    for _ in range(repeat):
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        finally:
            if was_enabled:
                gc.enable()
    return statistics.median(times)


def rate(count: int, seconds: float) -> str:
    """'123,456/s'"""
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "inf"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.2f} µs"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], note: str = ""
) -> None:
    """Print a plain-text table: first column left-aligned, the rest right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    print(f"\n{title}")
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))
    for text in note.strip().splitlines():
        print(f"  {text}")
