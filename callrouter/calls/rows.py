"""Report rows: the few facts of a call a report counts, kept as the call closes.

A report over a month reads every call of it. Reading and folding the whole
stream (records, linked callback steps and triage outcomes) costs about a
second per 15,000 calls, so the store also keeps one compact row per call,
computed from the folded record when the call ends and again whenever a
late event (a callback claimed or completed, a triage outcome) changes it.
A report reads the rows of a period in one command and never folds.

The row is derived data: the stream stays the record of truth, and
`CallStore.rebuild_rows` recomputes rows from it.

Pure: `row_of` computes, `encode_row` / `decode_rows` are the stored form
(a JSON array, its last item the number of events folded, so an older
fold never overwrites a newer one).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import NamedTuple

import orjson

from callrouter.calls.record import CallRecord


class ReportRow(NamedTuple):
    start_ms: int
    window: str
    caller_type: str
    age_group: str
    region: str
    reach: str
    """`record.Reach` value."""
    to_person: float | None
    """Seconds from the start until a person spoke with the caller."""
    talk: float | None
    """Seconds of conversation on a leg."""
    cb_requested_ms: int | None
    cb_claimed_ms: int | None
    cb_reached_ms: int | None
    outcome: str
    """The latest triage outcome code ('' when none was reported)."""


_FIELDS = len(ReportRow._fields)


def _ms(moment: dt.datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def row_of(record: CallRecord) -> ReportRow | None:
    """The report row of a record; None for a record without a start."""
    start = _ms(record.started_at)
    if start is None:
        return None
    outcome = record.outcome
    return ReportRow(
        start,
        record.window or "",
        record.caller_type or "",
        record.age_group or "",
        record.region or "",
        record.reach.value,
        record.time_to_person,
        record.talk_seconds,
        _ms(record.callback_requested_at),
        _ms(record.callback_claimed_at),
        _ms(record.callback_reached_at),
        outcome.code if outcome is not None else "",
    )


def encode_row(row: ReportRow, version: int) -> str:
    """`version`: how many events were folded into the record the row came from;
    it goes last, so a reader takes the row's fields as the first items (`decode_rows`)."""
    return json.dumps([*row, version], separators=(",", ":"), ensure_ascii=False)


def decode_row(text: str | bytes) -> ReportRow:
    """One stored row; the standard library's parser, which also reads what
    `json.dumps` may write and orjson refuses (NaN): the fallback of `decode_rows`."""
    return ReportRow._make(json.loads(text)[:_FIELDS])


def decode_rows(values: list[bytes] | list[str]) -> list[ReportRow]:
    """Many stored rows at once (a month holds 100,000 at bench scale). Raises
    ValueError or TypeError when any of them is unreadable.

    orjson parses each small array about three times as fast as `json.loads`.
    The few strings that repeat from row to row (window, caller type, age group,
    region, reach, triage code: a few dozen values) are shared instead of kept
    as 600,000 fresh copies: each copy is freed while it is still in the cache,
    and counting them (`reporting.build_report`) hashes and compares the same
    few objects, which halves the time the report takes to count.
    """
    loads, make = orjson.loads, ReportRow._make
    shared: dict[str, str] = {}
    one = shared.setdefault
    rows = []
    for value in values:
        (
            start_ms,
            window,
            caller_type,
            age_group,
            region,
            reach,
            to_person,
            talk,
            cb_requested_ms,
            cb_claimed_ms,
            cb_reached_ms,
            outcome,
            *_version,
        ) = loads(value)
        rows.append(
            make(
                (
                    start_ms,
                    one(window, window),
                    one(caller_type, caller_type),
                    one(age_group, age_group),
                    one(region, region),
                    one(reach, reach),
                    to_person,
                    talk,
                    cb_requested_ms,
                    cb_claimed_ms,
                    cb_reached_ms,
                    one(outcome, outcome),
                )
            )
        )
    return rows
