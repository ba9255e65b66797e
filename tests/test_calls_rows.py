"""Report rows kept as calls close: their stored form, and that no fold is lost."""

from __future__ import annotations

import datetime as dt

import redis

from callrouter.calls.record import Answered, Ended, LegAttempt, LegTried, Reach, Started, fold
from callrouter.calls.rows import ReportRow, decode_row, decode_rows, encode_row, row_of
from callrouter.calls.store import CallStore
from tests.helpers import ams

KEY = b"test-pseudonym-key-0123456789"
T0 = ams(2026, 10, 6, 19, 0)


def s(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_a_row_reads_back_as_written() -> None:
    record = fold(
        "CA1",
        [
            Started(T0, "1001"),
            LegTried(LegAttempt(1, "anna", "completed", 20, s(320), "oncall", 300)),
            Answered(s(20), "anna", 1),
            Ended(s(330), 330),
        ],
    )
    row = row_of(record)

    assert row is not None and row.reach == Reach.FIRST_LEG and row.talk == 300
    assert decode_row(encode_row(row, 4)) == row
    assert decode_rows([encode_row(row, 4).encode()] * 2) == [row, row]
    assert decode_rows([encode_row(row, 4)]) == [row]


def test_a_line_answer_is_timed_from_its_end_minus_the_conversation() -> None:
    record = fold(
        "CA1",
        [
            Started(T0),
            LegTried(LegAttempt(2, "line:achtervang", "completed", 20, s(300), "overflow", 240)),
        ],
    )
    final_line = fold(
        "CA2",
        [
            Started(T0),
            LegTried(LegAttempt(2, "line:fallback", "completed", 20, s(300), "final", 1)),
        ],
    )

    assert record.reach is Reach.OVERFLOW and final_line.reach is Reach.LINE
    assert record.time_to_person == 60 and record.talk_seconds == 240


def test_a_fold_that_saw_fewer_events_never_overwrites_a_newer_row(
    redis_conn: redis.Redis,
) -> None:
    store = CallStore(redis_conn, KEY)
    newer = ReportRow(1, "", "", "", "", "callback", 60.0, None, 1, 2, 3, "advies")
    older = newer._replace(reach="nobody", outcome="")
    key = store.rows_key(1)

    store._row(keys=[key], args=["CA1", encode_row(newer, 17)])
    store._row(keys=[key], args=["CA1", encode_row(older, 5)])
    assert decode_row(redis_conn.hget(key, "CA1")) == newer

    store._row(keys=[key], args=["CA1", encode_row(older, 18)])
    assert decode_row(redis_conn.hget(key, "CA1")) == older


def test_an_outcome_reported_while_the_call_is_open_reaches_its_row(
    redis_conn: redis.Redis,
) -> None:
    store = CallStore(redis_conn, KEY)
    store.started("CA1", "+31612344567", T0)
    store.leg("CA1", 1, "anna", "completed", 20, s(320), "oncall", 300)
    store.answered("CA1", "anna", s(20), leg=1)
    store.report_outcome("CA1", "advies", s(310), by="anna", via="sms")
    store.ended("CA1", 330, s(330))

    [row] = store.report_rows(T0, s(3600))
    [record] = store.records(T0, s(3600))

    assert row.outcome == "advies" and row.reach == "first_leg"
    assert [o.code for o in record.outcomes] == ["advies"]  # once, not twice


def test_an_unreadable_row_is_skipped_not_fatal(redis_conn: redis.Redis) -> None:
    store = CallStore(redis_conn, KEY)
    store.started("CA1", "+31612344567", T0)
    store.ended("CA1", 10, s(10))
    key = store.rows_key(int(T0.timestamp() * 1000))
    redis_conn.hset(key, mapping={"CA-bad": "[3,", "CA-short": '[3,"avond"]', "CA-odd": "7"})

    assert [r.reach for r in store.report_rows(T0, s(3600))] == ["hung_up_menu"]


def test_a_month_report_reads_its_own_utc_days_not_the_month_before(
    redis_conn: redis.Redis,
) -> None:
    """Amsterdam's October starts on 30 September 22:00 UTC and ends on 31 October
    23:00 UTC: the report reads those 32 UTC days, not all of September as well."""
    store = CallStore(redis_conn, KEY)
    start, end = ams(2026, 10, 1), ams(2026, 11, 1)

    keys = store._row_keys(start, end)

    assert keys[0] == f"{store.prefix}:rows:2026-09-30"
    assert keys[-1] == f"{store.prefix}:rows:2026-10-31"
    assert len(keys) == 32
    assert store._row_keys(ams(2026, 10, 6, 2), ams(2026, 10, 7, 2)) == [
        f"{store.prefix}:rows:2026-10-06"  # 00:00 UTC up to (not including) 00:00 UTC
    ]


def test_rows_around_day_boundaries_are_all_read(redis_conn: redis.Redis) -> None:
    """Calls just either side of UTC and local midnight land in different day keys;
    a period gets exactly its own."""
    store = CallStore(redis_conn, KEY)
    moments = [ams(2026, 10, 5, 23, 59), ams(2026, 10, 6, 1, 59), ams(2026, 10, 6, 2, 0)]
    for n, moment in enumerate(moments):
        store.started(f"CA{n}", "+31612344567", moment)
        store.ended(f"CA{n}", 10, moment + dt.timedelta(seconds=10))

    rows = store.report_rows(ams(2026, 10, 6), ams(2026, 10, 7))

    assert sorted(r.start_ms for r in rows) == [int(m.timestamp() * 1000) for m in moments[1:]]


def test_decoded_rows_share_their_repeated_strings() -> None:
    """100,000 rows hold a few dozen distinct windows, caller types, regions,
    categories and codes: one object each, not one per row (the report counts
    shared objects about twice as fast)."""
    row = ReportRow(
        1,
        "avond",
        "resident",
        "18+",
        "nijmegen",
        "first_leg",
        50.0,
        9.0,
        None,
        None,
        None,
        "advies",
    )
    first, second = decode_rows([encode_row(row, 4).encode(), encode_row(row, 5).encode()])

    assert first == second == row
    assert all(a is b for a, b in zip(first[1:6], second[1:6], strict=True))
    assert first.outcome is second.outcome
