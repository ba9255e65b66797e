"""A `reporting.Report` as a table, CSV or JSON, in the reader's language.

Every section says what it counts and over which period; values show
their config labels (`callrouter.calls.labels`). The CSV is long ("tidy":
section, id, label, measure, value) so it pivots in a spreadsheet without
reshaping, with ids in their own column next to the label. The picture
for a report page is `callrouter.calls.plot`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

from callrouter.calls.labels import Labels
from callrouter.calls.reporting import AnswerRate, Durations, Report

FORMATS = ("table", "csv", "json")
Row = tuple[str, str, str, str, str | int | float]
"""(section, id, label, measure, value): one line of the CSV."""


def duration_text(seconds: float | None) -> str:
    """'0:45', '12:05', '1:02:05' (h:mm:ss); '-' when there is nothing to measure."""
    if seconds is None:
        return "-"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def share(count: int, total: int) -> str:
    return f"{100 * count / total:.0f}%" if total else "-"


def weeks_text(report: Report, labels: Labels) -> str:
    """'4,4' weeks in Dutch, '4.4' in English."""
    return f"{report.days / 7:.1f}".replace(".", labels.t("decimal"))


def sla_text(report: Report, labels: Labels) -> str:
    """The promised callback times; `callbacks.sla` names caller kinds or caller types."""
    parts = [
        labels.t(
            "minutes",
            who=labels.t(f"kind.{who}")
            if f"kind.{who}" in labels.texts
            else labels.value("caller_type", who),
            minutes=minutes,
        )
        for who, minutes in report.callbacks.sla_minutes
    ]
    return ", ".join(parts) or "-"


def rows(report: Report, labels: Labels) -> Iterator[Row]:
    """Every figure of the report once: the lines of the CSV, the entries of the JSON."""
    yield ("calls", "total", labels.t("calls_axis"), "count", report.calls)
    for key, count in report.reach:
        yield ("reach", key, labels.t(f"reach.{key}"), "count", count)
    for level in report.service_levels:
        within = labels.t("within", seconds=level.seconds)
        yield ("service_level", f"{level.seconds}s", within, "within", level.within)
        yield ("service_level", f"{level.seconds}s", within, "offered", level.offered)
    for section, dimension, pairs in (
        ("window", "window", report.by_window),
        ("caller_type", "caller_type", report.by_caller_type),
        ("age_group", "age_group", report.by_age_group),
        ("region", "region", report.by_region),
    ):
        for key, count in pairs:
            yield (section, key, labels.value(dimension, key), "count", count)
    for section, dimension, rates in (
        ("answer_by_region", "region", report.answer_by_region),
        ("answer_by_caller_type", "caller_type", report.answer_by_caller_type),
    ):
        for rate in rates:
            label = labels.value(dimension, rate.key)
            yield (section, rate.key, label, "calls", rate.calls)
            yield (section, rate.key, label, "answered", rate.answered)
    for key, d in (
        ("all", report.time_to_person),
        ("live", report.time_to_person_live),
        ("callback", report.time_to_person_callback),
    ):
        yield from _durations("time_to_person", key, labels.t(f"to_person.{key}"), d)
    yield from _durations("talk", "live", labels.t("to_person.live"), report.talk)
    yield ("talk", "live", labels.t("to_person.live"), "total_seconds", _num(report.talk.total))
    cb = report.callbacks
    for key in ("requested", "claimed_in_time", "claimed_late", "not_claimed", "reached"):
        yield ("callbacks", key, labels.t(f"callbacks.{key}"), "count", getattr(cb, key))
    yield (
        "callbacks",
        "reached_in_time",
        labels.t("callbacks.reached_in_time"),
        "count",
        cb.reached_in_time,
    )
    for who, minutes in cb.sla_minutes:
        yield ("callback_sla", who, labels.value("caller_type", who), "minutes", minutes)
    for o in report.outcomes:
        yield ("outcome", o.code, labels.value("outcome", o.code), "count", o.count)
    for week in report.trend:
        day = week.monday.isoformat()
        for measure in ("calls", "answered", "offered", "within_30"):
            yield ("week", day, labels.day(week.monday), measure, getattr(week, measure))
    for weekday, hours in enumerate(report.heatmap):
        for hour, count in enumerate(hours):
            yield (
                "weekday_hour",
                f"{weekday} {hour:02d}",
                f"{labels.weekday(weekday)} {hour:02d}",
                "count",
                count,
            )


def _durations(section: str, key: str, label: str, d: Durations) -> Iterator[Row]:
    yield (section, key, label, "count", d.count)
    yield (section, key, label, "median_seconds", _num(d.median))
    yield (section, key, label, "p90_seconds", _num(d.p90))


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


# --------------------------------------------------------------------------- table


def _block(title: str, lines: Sequence[tuple[str, str, str]], labels: Labels) -> list[str]:
    if not lines:
        return [title, f"  {labels.t('none')}", ""]
    w0 = max(len(r[0]) for r in lines)
    w1 = max(len(r[1]) for r in lines)
    return [title, *(f"  {a:<{w0}}  {b:>{w1}}  {c}".rstrip() for a, b, c in lines), ""]


def _counts(
    pairs: Sequence[tuple[str, int]], total: int, labels: Labels, dimension: str
) -> list[tuple[str, str, str]]:
    return [(labels.value(dimension, k), str(n), share(n, total)) for k, n in pairs]


def _rates(
    rates: Sequence[AnswerRate], labels: Labels, dimension: str
) -> list[tuple[str, str, str]]:
    return [
        (
            labels.value(dimension, r.key),
            share(r.answered, r.calls),
            labels.t("of", part=r.answered, whole=r.calls),
        )
        for r in rates
    ]


def _duration_line(label: str, d: Durations, labels: Labels) -> tuple[str, str, str]:
    return (
        label,
        f"{labels.t('median')} {duration_text(d.median)}",
        f"p90 {duration_text(d.p90)}  (n={d.count})",
    )


def table(report: Report, labels: Labels) -> str:
    n = report.calls
    cb = report.callbacks
    period = labels.period(report.start, report.end)
    lines = [labels.t("title", period=period), labels.t("calls_total", calls=n), ""]
    lines += _block(
        labels.t("reach"),
        [(labels.t(f"reach.{k}"), str(c), share(c, n)) for k, c in report.reach],
        labels,
    )
    offered = report.service_levels[0].offered if report.service_levels else 0
    lines += _block(
        labels.t("service_level", offered=offered),
        [
            (labels.t("within", seconds=s.seconds), share(s.within, s.offered), str(s.within))
            for s in report.service_levels
        ],
        labels,
    )
    lines += _block(
        labels.t("answer_by_region"), _rates(report.answer_by_region, labels, "region"), labels
    )
    lines += _block(
        labels.t("answer_by_caller_type"),
        _rates(report.answer_by_caller_type, labels, "caller_type"),
        labels,
    )
    lines += _block(labels.t("by_window"), _counts(report.by_window, n, labels, "window"), labels)
    lines += _block(
        labels.t("by_age_group"), _counts(report.by_age_group, n, labels, "age_group"), labels
    )
    lines += _block(
        labels.t("time_to_person"),
        [
            _duration_line(labels.t("to_person.all"), report.time_to_person, labels),
            _duration_line(labels.t("to_person.live"), report.time_to_person_live, labels),
            _duration_line(labels.t("to_person.callback"), report.time_to_person_callback, labels),
        ],
        labels,
    )
    talk = report.talk
    lines += _block(
        labels.t("talk"),
        [
            _duration_line(labels.t("talk.calls"), talk, labels),
            (labels.t("total"), duration_text(talk.total), ""),
        ],
        labels,
    )
    lines += _block(
        labels.t("callbacks", sla=sla_text(report, labels)),
        [
            (
                labels.t(f"callbacks.{key}"),
                str(getattr(cb, key)),
                share(getattr(cb, key), cb.requested),
            )
            for key in (
                "requested",
                "claimed_in_time",
                "claimed_late",
                "not_claimed",
                "reached",
                "reached_in_time",
            )
        ],
        labels,
    )
    reported = sum(o.count for o in report.outcomes)
    lines += _block(
        labels.t("outcomes"),
        [
            (labels.value("outcome", o.code), str(o.count), share(o.count, reported))
            for o in report.outcomes
        ],
        labels,
    )
    lines += _block(
        labels.t("trend"),
        [
            (
                labels.day(w.monday),
                str(w.calls),
                f"{labels.t('trend.answered')} {share(w.answered, w.calls)}, "
                f"{labels.t('trend.within')} {share(w.within_30, w.offered)}",
            )
            for w in report.trend
        ],
        labels,
    )
    lines += _block(
        labels.t("busiest", days=report.days, weeks=weeks_text(report, labels)),
        [
            (f"{labels.weekday(day)} {hour:02d}:00-{hour + 1:02d}:00", str(count), "")
            for day, hour, count in report.busiest
        ],
        labels,
    )
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- csv, json


def csv_text(report: Report, labels: Labels) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "id", "label", "measure", "value"])
    writer.writerow(["period", "from", "", "", report.start.isoformat()])
    writer.writerow(["period", "to", "", "", report.end.isoformat()])
    writer.writerows(rows(report, labels))
    return out.getvalue()


def json_text(report: Report, labels: Labels) -> str:
    """Sections of {id: {label, measure: value, ...}}; the period up front."""
    data: dict[str, Any] = {
        "period": {
            "from": report.start.isoformat(),
            "to": report.end.isoformat(),
            "label": labels.period(report.start, report.end),
            "days": report.days,
        },
        "calls": report.calls,
    }
    for section, key, label, measure, value in rows(report, labels):
        if section == "calls":
            continue
        entry = data.setdefault(section, {}).setdefault(key, {"label": label})
        entry[measure] = value
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render(report: Report, fmt: str, labels: Labels) -> str:
    if fmt == "table":
        return table(report, labels)
    if fmt == "csv":
        return csv_text(report, labels)
    if fmt == "json":
        return json_text(report, labels)
    raise ValueError(f"unknown report format {fmt!r}; use {', '.join(FORMATS)}")
