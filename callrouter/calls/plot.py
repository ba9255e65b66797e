"""The report as one picture for a progress report page.

Four charts, each titled with the period it covers: when calls come in
(weekday x hour, summed over the period's weeks, and it says over how
many), how calls ended for the caller, the weekly trend, and what triage
concluded. Words come from `callrouter.calls.labels`.

matplotlib is imported here only, through its Agg canvas (no pyplot, no
display, no global backend switch), so the CLI starts fast and works on a
server; `callrouter report` imports this module only for `--plot`.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from callrouter.calls.labels import Labels
from callrouter.calls.record import Reach
from callrouter.calls.render import duration_text, share, weeks_text
from callrouter.calls.reporting import Report

PLOT_SIZE_INCHES = (13.0, 9.0)
PLOT_DPI = 150
"""1950 x 1350 pixels: sharp on an A4 page at full width."""
REACH_COLOURS = {
    Reach.FIRST_LEG: "#2e7d32",
    Reach.LATER_LEG: "#81c784",
    Reach.LINE: "#00897b",
    Reach.OVERFLOW: "#80cbc4",
    Reach.CALLBACK: "#1e88e5",
    Reach.HUNG_UP_MENU: "#ffb300",
    Reach.HUNG_UP_RINGING: "#fb8c00",
    Reach.NOBODY: "#c62828",
}


def plot(report: Report, labels: Labels, path: str | Path) -> Path:
    """Write the report's picture as PNG."""
    fig = Figure(figsize=PLOT_SIZE_INCHES, dpi=PLOT_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 3, height_ratios=[1.0, 1.0], width_ratios=[1.1, 1.0, 1.1])
    period = labels.period(report.start, report.end)
    sl30 = report.service_levels[0] if report.service_levels else None
    cb = report.callbacks
    fig.suptitle(
        f"{labels.t('title', period=period)}  ({labels.t('calls_total', calls=report.calls)})\n"
        + labels.t(
            "plot.summary",
            sl30=share(sl30.within, sl30.offered) if sl30 else "-",
            median=duration_text(report.time_to_person_live.median),
            callbacks=labels.t("of", part=cb.reached_in_time, whole=cb.requested),
        ),
        fontsize=12,
    )
    _heatmap(fig.add_subplot(grid[0, :]), fig, report, labels, period)
    reach = fig.add_subplot(grid[1, 0])
    _bars(
        reach,
        [labels.t(f"reach.{k}") for k, _ in report.reach],
        [c for _, c in report.reach],
        [REACH_COLOURS[Reach(k)] for k, _ in report.reach],
        report.calls,
        labels,
    )
    reach.set_title(f"{labels.t('plot.reach')}\n{period}", loc="left", fontsize=10)
    _trend(fig.add_subplot(grid[1, 1]), report, labels, period)
    outcomes = fig.add_subplot(grid[1, 2])
    shown = list(report.outcomes)
    _bars(
        outcomes,
        [labels.value("outcome", o.code) for o in shown],
        [o.count for o in shown],
        ["#9e9e9e" if o.code == "geen_uitkomst" else "#5e35b1" for o in shown],
        sum(o.count for o in shown),
        labels,
    )
    outcomes.set_title(f"{labels.t('plot.outcomes')}\n{period}", loc="left", fontsize=10)
    target = Path(path)
    fig.savefig(target, format="png")
    return target


def _heatmap(ax: Axes, fig: Figure, report: Report, labels: Labels, period: str) -> None:
    data = [list(row) for row in report.heatmap]
    peak = max((max(row) for row in data), default=0)
    image = ax.imshow(
        data, aspect="auto", cmap="YlOrRd", vmin=0, vmax=max(peak, 1), interpolation="nearest"
    )
    ax.set_yticks(range(7), [labels.weekday(d) for d in range(7)])
    ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)], fontsize=8)
    ax.set_xlabel(labels.t("hour_axis"))
    title = labels.t("heatmap", days=report.days, weeks=weeks_text(report, labels))
    ax.set_title(f"{title}: {period}", loc="left", fontsize=10)
    for d, row in enumerate(data):
        for h, count in enumerate(row):
            if count:
                colour = "white" if count > 0.6 * peak else "black"
                ax.text(h, d, str(count), ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(image, ax=ax, label=labels.t("calls_axis"), shrink=0.9)


def _trend(ax: Axes, report: Report, labels: Labels, period: str) -> None:
    weeks = list(report.trend)
    positions = list(range(len(weeks)))
    ax.bar(positions, [w.calls for w in weeks], color="#90a4ae", label=labels.t("trend.calls"))
    ax.set_xticks(positions, [labels.day(w.monday) for w in weeks], rotation=45, fontsize=8)
    ax.set_ylabel(labels.t("trend.calls"))
    ax.spines[["top"]].set_visible(False)
    rate = ax.twinx()
    rate.plot(
        positions,
        [100 * w.answered / w.calls if w.calls else 0 for w in weeks],
        color=REACH_COLOURS[Reach.FIRST_LEG],
        marker="o",
        label=labels.t("trend.answered"),
    )
    rate.set_ylim(0, 100)
    rate.set_ylabel(f"% {labels.t('trend.answered')}")
    ax.set_title(f"{labels.t('plot.trend')}\n{period}", loc="left", fontsize=10)


def _bars(
    ax: Axes, names: list[str], counts: list[int], colours: list[str], total: int, labels: Labels
) -> None:
    positions = list(range(len(names)))
    ax.barh(positions, counts, color=colours)
    ax.set_yticks(positions, names, fontsize=8)
    ax.invert_yaxis()
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlabel(labels.t("count_axis"))
    top = max(counts, default=0)
    ax.set_xlim(0, max(top, 1) * 1.3)
    for y, count in zip(positions, counts, strict=True):
        ax.text(
            count + max(top, 1) * 0.01,
            y,
            f"{count} ({share(count, total)})",
            va="center",
            fontsize=8,
        )
