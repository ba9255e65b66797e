"""A `core.reporting.Report` as a table, CSV, JSON or a PNG for a progress report.

The report's readers are the crisis service and the municipal working
group (ambtelijke werkgroep crisis), so headings are Dutch. The CSV is long
("tidy": section, item, value) so it pivots in a spreadsheet without
reshaping. The plot is one picture for a report page: when calls come in
(weekday x hour), whether callers reached a person, and what triage
concluded.

matplotlib is imported only by `plot`, through its Agg canvas (no pyplot,
no display, no global backend switch), so the CLI starts fast and works on
a server.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from pathlib import Path

from callrouter.calls.reporting import Durations, Report
from callrouter.routing.model import WEEKDAYS

REACHED_LABELS = {
    "first_leg": "Eerste poging aangenomen",
    "later_leg": "Latere poging aangenomen",
    "callback": "Via terugbelverzoek",
    "not_reached": "Niemand gesproken",
}
WEEKDAY_LABELS = ("ma", "di", "wo", "do", "vr", "za", "zo")
MONTHS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")

PLOT_SIZE_INCHES = (12.0, 8.0)
PLOT_DPI = 150
"""1800 x 1200 pixels: sharp on an A4 page at full width."""


def period_text(report: Report) -> str:
    """'1 okt 2026 t/m 31 okt 2026' (the end of a period is exclusive)."""
    end = report.end
    last = (end - dt.timedelta(days=1)).date() if end.time() == dt.time() else end.date()

    def day(d: dt.date) -> str:
        return f"{d.day} {MONTHS[d.month - 1]} {d.year}"

    return f"{day(report.start.date())} t/m {day(last)}"


def duration_text(seconds: float | None) -> str:
    """'0:45', '12:05', '1:02:05' (h:mm:ss); '-' when there is nothing to measure."""
    if seconds is None:
        return "-"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.0f}%" if total else "-"


def _block(title: str, rows: Sequence[tuple[str, str, str]]) -> list[str]:
    if not rows:
        return [title, "  (geen)", ""]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return [
        title,
        *(
            f"  {a:<{w0}}  {b.rjust(w1) if b.isdigit() else b.ljust(w1)}  {c}".rstrip()
            for a, b, c in rows
        ),
        "",
    ]


def _counts(pairs: Sequence[tuple[str, int]], total: int) -> list[tuple[str, str, str]]:
    return [(k, str(n), _share(n, total)) for k, n in pairs]


def _durations(label: str, d: Durations) -> tuple[str, str, str]:
    return (
        label,
        f"mediaan {duration_text(d.median)}",
        f"p90 {duration_text(d.p90)}  (n={d.count})",
    )


def table(report: Report) -> str:
    n = report.calls
    cb = report.callbacks
    lines = [f"Crisislijn: oproepen {period_text(report)}", f"Aantal oproepen: {n}", ""]
    lines += _block("Per tijdvak", _counts(report.by_window, n))
    lines += _block("Per soort beller", _counts(report.by_caller_type, n))
    lines += _block("Per leeftijdsgroep", _counts(report.by_age_group, n))
    lines += _block("Per regio", _counts(report.by_region, n))
    lines += _block(
        "Iemand gesproken",
        [(REACHED_LABELS.get(k, k), str(c), _share(c, n)) for k, c in report.reached],
    )
    lines += _block(
        "Tijd tot een mens (u:mm:ss)",
        [
            _durations("alle", report.time_to_person),
            _durations("direct aangenomen", report.time_to_person_live),
            _durations("via terugbellen", report.time_to_person_callback),
        ],
    )
    lines += _block(
        f"Terugbelverzoeken (norm voor claimen: {cb.sla_text or '-'})",
        [
            ("aangevraagd", str(cb.requested), ""),
            ("binnen de norm geclaimd", str(cb.within_sla), _share(cb.within_sla, cb.requested)),
            ("te laat geclaimd", str(cb.late), _share(cb.late, cb.requested)),
            ("niet geclaimd", str(cb.not_claimed), _share(cb.not_claimed, cb.requested)),
            ("beller teruggebeld en gesproken", str(cb.reached), _share(cb.reached, cb.requested)),
        ],
    )
    reported = sum(o.count for o in report.outcomes)
    lines += _block(
        "Triage-uitkomsten",
        [(o.label, str(o.count), _share(o.count, reported)) for o in report.outcomes],
    )
    lines += _block(
        "Drukste uren",
        [
            (
                f"{WEEKDAY_LABELS[WEEKDAYS.index(day)]} {hour:02d}:00-{hour + 1:02d}:00",
                str(count),
                "",
            )
            for day, hour, count in report.busiest
        ],
    )
    return "\n".join(lines).rstrip() + "\n"


def csv_text(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "item", "value"])
    writer.writerow(["period", "from", report.start.isoformat()])
    writer.writerow(["period", "to", report.end.isoformat()])
    writer.writerow(["calls", "total", report.calls])
    for section, pairs in (
        ("window", report.by_window),
        ("caller_type", report.by_caller_type),
        ("age_group", report.by_age_group),
        ("region", report.by_region),
        ("reached", report.reached),
    ):
        for key, count in pairs:
            writer.writerow([section, key, count])
    for name, d in (
        ("all", report.time_to_person),
        ("live", report.time_to_person_live),
        ("callback", report.time_to_person_callback),
    ):
        writer.writerow([f"time_to_person_{name}", "count", d.count])
        writer.writerow([f"time_to_person_{name}", "median_seconds", _num(d.median)])
        writer.writerow([f"time_to_person_{name}", "p90_seconds", _num(d.p90)])
    cb = report.callbacks
    for key, value in (
        ("sla", cb.sla_text),
        ("requested", cb.requested),
        ("within_sla", cb.within_sla),
        ("late", cb.late),
        ("not_claimed", cb.not_claimed),
        ("reached", cb.reached),
    ):
        writer.writerow(["callbacks", key, value])
    for o in report.outcomes:
        writer.writerow(["outcome", o.code, o.count])
    for d, row in enumerate(report.heatmap):
        for hour, count in enumerate(row):
            writer.writerow(["weekday_hour", f"{WEEKDAYS[d]} {hour:02d}", count])
    return out.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def json_text(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def render(report: Report, fmt: str) -> str:
    if fmt == "table":
        return table(report)
    if fmt == "csv":
        return csv_text(report)
    if fmt == "json":
        return json_text(report)
    raise ValueError(f"unknown report format {fmt!r}; use table, csv or json")


def plot(report: Report, path: str | Path) -> Path:
    """Write the report's picture as PNG: heat map, reached-a-person bars, outcome bars."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=PLOT_SIZE_INCHES, dpi=PLOT_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 2, height_ratios=[1.05, 1], width_ratios=[1, 1.25])
    live = report.time_to_person_live
    cb = report.callbacks
    sla = f"{cb.within_sla} van {cb.requested} binnen de norm geclaimd" if cb.requested else "geen"
    fig.suptitle(
        f"Crisislijn: {report.calls} oproepen, {period_text(report)}\n"
        f"tijd tot een mens (direct): mediaan {duration_text(live.median)}, "
        f"p90 {duration_text(live.p90)}   ·   terugbelverzoeken: {sla}",
        fontsize=13,
    )

    heat = fig.add_subplot(grid[0, :])
    data = [list(row) for row in report.heatmap]
    peak = max((max(row) for row in data), default=0)
    image = heat.imshow(
        data, aspect="auto", cmap="YlOrRd", vmin=0, vmax=max(peak, 1), interpolation="nearest"
    )
    heat.set_yticks(range(7), WEEKDAY_LABELS)
    heat.set_xticks(range(24), [f"{h:02d}" for h in range(24)], fontsize=8)
    heat.set_xlabel("uur van de dag (lokale tijd)")
    heat.set_title("Oproepen per weekdag en uur", loc="left", fontsize=11)
    for d, row in enumerate(data):
        for h, count in enumerate(row):
            if count:
                heat.text(
                    h,
                    d,
                    str(count),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if count > 0.6 * peak else "black",
                )
    fig.colorbar(image, ax=heat, label="oproepen", shrink=0.9)

    reached = fig.add_subplot(grid[1, 0])
    labels = [REACHED_LABELS.get(k, k) for k, _ in report.reached]
    counts = [c for _, c in report.reached]
    colours = ["#2e7d32", "#81c784", "#1e88e5", "#c62828"][: len(counts)]
    _bars(reached, labels, counts, colours, report.calls)
    reached.set_title("Iemand gesproken?", loc="left", fontsize=11)

    outcomes = fig.add_subplot(grid[1, 1])
    shown = list(report.outcomes)
    total = sum(o.count for o in shown)
    _bars(
        outcomes,
        [o.label for o in shown],
        [o.count for o in shown],
        ["#9e9e9e" if o.code == "geen_uitkomst" else "#5e35b1" for o in shown],
        total,
    )
    outcomes.set_title("Triage-uitkomsten", loc="left", fontsize=11)

    target = Path(path)
    fig.savefig(target, format="png")
    return target


def _bars(ax: object, labels: list[str], counts: list[int], colours: list[str], total: int) -> None:
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    positions = list(range(len(labels)))
    ax.barh(positions, counts, color=colours)
    ax.set_yticks(positions, labels, fontsize=9)
    ax.invert_yaxis()
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlabel("aantal")
    top = max(counts, default=0)
    ax.set_xlim(0, max(top, 1) * 1.25)
    for y, count in zip(positions, counts, strict=True):
        ax.text(
            count + max(top, 1) * 0.01,
            y,
            f"{count} ({_share(count, total)})",
            va="center",
            fontsize=9,
        )
