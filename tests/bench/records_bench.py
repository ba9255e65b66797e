"""How fast is the call log, and how long does a report over 100,000 calls take?

Run:  .venv/bin/python tests/bench/records_bench.py [--records N] [--quick] [--report-only]

Measures, in one run, against a private redis-server (EmbeddedRedis):
  1. appends per second, one at a time as live calls do (one round trip each):
     a) raw `XADD <stream> * <record fields>`: the floor, no Lua, no ids computed;
     b) `CallStore.report_outcome`: the Lua append with ids from the event's moment;
     c) a whole call through the event sink (started + routed + 2 legs + answered
        + ended, which folds the events and appends the one record): calls/s;
  2. `callrouter report` over N calls (default 100,000) in one month, next to
     a bare read of the stream in the same run (XRANGE of every entry, nothing
     parsed: the floor of any report that reads the log): read the report rows
     kept as calls closed (`CallReader.report_rows`), aggregate (`build_report`),
     render table / CSV / JSON, the PNG plot; `callrouter report` as a user
     runs it (a new process: imports, config, Redis, report); and, once, the old
     way (read, parse and fold the whole stream: `CallStore.records` + `rows.row_of`).
The load average is printed at the start and the end: on a busy machine every
figure grows, the ratios to the bare read less so.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from _common import median_seconds, ms, rate, table, us
from redis.utils import HIREDIS_AVAILABLE

from callrouter.calls.codec import link_fields, to_fields
from callrouter.calls.labels import Labels
from callrouter.calls.plot import plot
from callrouter.calls.reader import ms_of
from callrouter.calls.record import (
    Answered,
    CallbackChanged,
    CallRecord,
    Ended,
    LegAttempt,
    LegTried,
    Outcome,
    OutcomeReported,
    Routed,
    Started,
    fold,
)
from callrouter.calls.render import csv_text, json_text
from callrouter.calls.render import table as table_text
from callrouter.calls.reporting import build_report, period_bounds, sla_by_caller
from callrouter.calls.rows import encode_row, row_of
from callrouter.calls.store import CallStore
from callrouter.config.files import load
from callrouter.config.generation import load as load_generation
from callrouter.devtools.redis_server import EmbeddedRedis
from callrouter.routing.plan import CallerFacts, route

CONFIG = Path(__file__).resolve().parents[2] / "config"
KEY = b"bench-pseudonym-key-0123456789"
MONTH_START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
WINDOWS = ("kantoortijd", "avond", "weekend_dag", "nacht")
CALLERS = ("resident", "relative", "huisarts", "politie", "wijkteam")
CODES = (
    "advies",
    "actieve_inschatting",
    "ambulant",
    "crisisopvang",
    "opname",
    "doorverwijzing",
    "veilig_thuis",
    "geen_actie",
)


def synthetic_record(rng: random.Random, n: int, start: dt.datetime) -> CallRecord:
    """A plausible call: 60% first leg, 25% later leg, 10% callback, 5% nobody."""
    t0 = start + dt.timedelta(seconds=rng.randrange(30 * 86400))
    events: list = [
        Started(t0, str(1000 + n), f"{rng.getrandbits(64):016x}", "+31 ***** 12 34"),
        Routed(
            t0,
            rng.choice(WINDOWS),
            None,
            None,
            rng.choice(CALLERS),
            rng.choice(("18+", "<18")),
            rng.choice((None, "nijmegen", "maas_en_waal")),
            "volwassenen",
        ),
    ]
    t = t0 + dt.timedelta(seconds=30 + rng.randrange(30))
    roll = rng.random()
    events.append(
        LegTried(
            LegAttempt(
                1,
                "anna",
                "completed" if roll < 0.6 else "no-answer",
                rng.randrange(5, 25),
                t,
                "oncall",
            )
        )
    )
    if roll < 0.6:
        events.append(Answered(t, "anna", 1))
    elif roll < 0.85:
        t += dt.timedelta(seconds=20)
        events += [
            LegTried(LegAttempt(2, "bram", "completed", 8, t, "oncall")),
            Answered(t, "bram", 2),
        ]
    elif roll < 0.95:
        events += [
            CallbackChanged(t, f"cb{n}", "requested"),
            CallbackChanged(t + dt.timedelta(minutes=rng.randrange(2, 40)), f"cb{n}", "claimed"),
            CallbackChanged(t + dt.timedelta(minutes=45), f"cb{n}", "completed"),
        ]
    events.append(Ended(t + dt.timedelta(minutes=8), 500))
    if roll < 0.95:
        events.append(OutcomeReported(Outcome(rng.choice(CODES), t + dt.timedelta(minutes=30))))
    return fold(f"CA{n:032x}", events)


def fill(conn: redis.Redis, store: CallStore, count: int) -> None:
    """Write `count` records plus their triage entries, pipelined, ids in time order,
    and each call's report row as `CallStore.finish` keeps it; and as many rows of
    calls 31 days earlier (September: rows only), since a month's report must not
    pay for the month before it."""
    rng = random.Random(5)
    records = sorted(
        (synthetic_record(rng, n, MONTH_START) for n in range(count)),
        key=lambda r: r.ended_at or MONTH_START,
    )
    pipe = conn.pipeline(transaction=False)
    last = 0
    for i, record in enumerate(records):
        assert record.ended_at is not None
        stamp = max(ms_of(record.ended_at), last + 1)
        last = stamp
        record_fields = to_fields(record)
        outcomes = record.outcomes
        if outcomes:
            pipe.xadd(store.stream, {k: v for k, v in record_fields.items()}, id=f"{stamp}-0")
            for j, outcome in enumerate(outcomes, 1):
                pipe.xadd(
                    store.stream,
                    link_fields(record.call_id, OutcomeReported(outcome)),
                    id=f"{stamp}-{j}",
                )
        else:
            pipe.xadd(store.stream, record_fields, id=f"{stamp}-0")
        row = row_of(record)
        assert row is not None
        pipe.hset(store.rows_key(row.start_ms), record.call_id, encode_row(row, 9))
        earlier = row._replace(start_ms=row.start_ms - 31 * 86_400_000)
        pipe.hset(store.rows_key(earlier.start_ms), f"sep-{record.call_id}", encode_row(earlier, 9))
        if i % 2000 == 1999:
            pipe.execute()
    pipe.execute()


def bare_read(conn: redis.Redis, stream: str) -> int:
    """Every entry of the stream, in batches, parsed by redis-py only: the floor of
    any report that reads the log itself."""
    count, low = 0, "-"
    while True:
        batch = conn.xrange(stream, low, "+", count=10_000)
        count += len(batch)
        if len(batch) < 10_000:
            return count
        low = "(" + batch[-1][0].decode()


def load_average() -> str:
    """1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    return " / ".join(f"{n:.2f}" for n in os.getloadavg())


def cli_report(url: str) -> None:
    """`callrouter report` for October as a user types it, in a new process."""
    subprocess.run(
        [
            str(Path(sys.executable).with_name("callrouter")),
            "report",
            "--config",
            str(CONFIG),
            "--redis-url",
            url,
            "--from",
            "2026-10-01",
            "--to",
            "2026-11-01",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        # The access log (every look at call data) is keyed from the service's secret.
        env={**os.environ, "CALLROUTER_SECRET": "bench-secret-0123456789abcdef"},
    )


def bench_appends(conn: redis.Redis, n: int, repeat: int) -> list[list[object]]:
    config = load(CONFIG)
    plan = route(
        dt.datetime(2026, 10, 6, 17, 0, tzinfo=dt.UTC), CallerFacts("resident", "18+"), config
    )
    record = synthetic_record(random.Random(1), 0, MONTH_START)
    record_fields = to_fields(record)
    outcome = Outcome("advies", MONTH_START, "bench", "sms")
    outcome_fields = link_fields(record.call_id, OutcomeReported(outcome))
    store = CallStore(conn, KEY, prefix="bench:append")
    base = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)

    def raw(fields: dict[str, str]) -> None:
        for _ in range(n):
            conn.xadd("bench:raw", fields)

    def outcomes() -> None:
        for i in range(n):
            store.report_outcome(
                record.call_id, "advies", base + dt.timedelta(milliseconds=i), by="bench", via="sms"
            )

    counter = iter(range(10**9))

    def whole_call() -> None:
        for _ in range(n // 10):
            i = next(counter)
            sid = f"CAbench{i}"
            t = base + dt.timedelta(seconds=i)
            store.started(sid, "+31612345678", t, None)
            store.routed(sid, plan, t)
            store.leg(sid, 1, "anna", "no-answer", 20, t + dt.timedelta(seconds=50))
            store.leg(sid, 2, "bram", "completed", 8, t + dt.timedelta(seconds=60))
            store.answered(sid, "bram", t + dt.timedelta(seconds=60), leg=2)
            store.ended(sid, 300, t + dt.timedelta(seconds=300))

    raw_record = median_seconds(lambda: raw(record_fields), repeat)
    raw_outcome = median_seconds(lambda: raw(outcome_fields), repeat)
    lua_outcome = median_seconds(outcomes, repeat)
    call_s = median_seconds(whole_call, repeat)
    calls = n // 10
    return [
        [
            f"record ({len(record_fields)} fields): raw XADD *",
            f"{n:,}",
            rate(n, raw_record),
            us(raw_record / n),
            "1.0x",
        ],
        [
            f"triage ({len(outcome_fields)} fields): raw XADD *",
            f"{n:,}",
            rate(n, raw_outcome),
            us(raw_outcome / n),
            "1.0x",
        ],
        [
            "triage: CallStore.report_outcome",
            f"{n:,}",
            rate(n, lua_outcome),
            us(lua_outcome / n),
            f"{lua_outcome / raw_outcome:.2f}x",
        ],
        [
            "whole call: 6 sink calls -> 1 record",
            f"{calls:,}",
            rate(calls, call_s),
            us(call_s / calls),
            f"{call_s / calls / (raw_record / n):.1f}x",
        ],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 records, fewer repeats")
    parser.add_argument("--report-only", action="store_true", help="skip 1. (appends)")
    args = parser.parse_args()
    count = 10_000 if args.quick else args.records
    repeat = 3 if args.quick else 5
    began = time.perf_counter()
    print(
        f"records_bench: Python {platform.python_version()} ({platform.machine()}), "
        f"redis-py {redis.__version__} (reply parser: "
        f"{'hiredis' if HIREDIS_AVAILABLE else 'pure Python'}); "
        f"median of {repeat} runs; GC paused while timing; load average {load_average()}"
    )
    with EmbeddedRedis() as server:
        conn = redis.Redis.from_url(server.url)
        print(f"redis-server {conn.info('server')['redis_version']} on loopback")

        if not args.report_only:
            rows = bench_appends(conn, 2000 if args.quick else 5000, repeat)
            table(
                "1. appends, one round trip at a time (as live calls write)",
                ["what", "n", "per second", "each", "x raw"],
                rows,
                note="CallStore appends run a Lua script that picks the id from the event's\n"
                "moment (XINFO + XADD); `x raw` compares with XADD * of the same fields.\n"
                "A whole call is 6 sink calls: ~10 round trips incl. the fold and commit;\n"
                "its `x raw` is against one raw record append.",
            )

        store = CallStore(conn, None)
        t = time.perf_counter()
        fill(conn, store, count)
        fill_s = time.perf_counter() - t
        entries = conn.xlen(store.stream)
        memory = conn.memory_usage(store.stream) or 0
        generation = load_generation(CONFIG)
        config = generation.config
        start, end = period_bounds(dt.date(2026, 10, 1), dt.date(2026, 11, 1), config.timezone)
        sla, sla_minutes = sla_by_caller(config, generation.callbacks)
        codes = generation.triage
        labels = Labels.of(config, codes)

        def report_from(rows: list) -> object:
            return build_report(
                rows,
                start=start,
                end=end,
                tz=config.timezone,
                callback_sla=sla,
                sla_minutes=sla_minutes,
                codes=codes,
            )

        rows = store.report_rows(start, end)
        report = report_from(rows)
        assert report.calls == count, (report.calls, count)
        bare_s = median_seconds(lambda: bare_read(conn, store.stream), repeat)
        rows_s = median_seconds(lambda: store.report_rows(start, end), repeat)
        agg_s = median_seconds(lambda: report_from(rows), repeat)
        tab_s = median_seconds(lambda: table_text(report, labels), repeat)
        csv_s = median_seconds(lambda: csv_text(report, labels), repeat)
        json_s = median_seconds(lambda: json_text(report, labels), repeat)
        with tempfile.TemporaryDirectory() as tmp:
            png = Path(tmp) / "report.png"
            plot(report, labels, png)  # first call pays the matplotlib import
            plot_s = median_seconds(lambda: plot(report, labels, png), max(1, repeat - 2))
        cli_s = median_seconds(lambda: cli_report(server.url), max(1, repeat - 2))
        old_s = median_seconds(
            lambda: report_from([row_of(r) for r in store.records(start, end)]), 1
        )
        total = rows_s + agg_s + tab_s
        table(
            f"2. report over {count:,} calls ({entries:,} stream entries incl. triage, "
            f"{memory / 1e6:,.1f} MB in Redis; written in {fill_s:,.1f} s pipelined)",
            ["step", "time", "per call", "x bare read"],
            [
                ["bare stream read (XRANGE, every entry)", ms(bare_s), us(bare_s / count), "1.0x"],
                [
                    "read report rows (CallReader.report_rows)",
                    ms(rows_s),
                    us(rows_s / count),
                    f"{rows_s / bare_s:.2f}x",
                ],
                ["aggregate (build_report)", ms(agg_s), us(agg_s / count), ""],
                ["render table", ms(tab_s), "", ""],
                ["render CSV", ms(csv_s), "", ""],
                ["render JSON", ms(json_s), "", ""],
                ["plot PNG", ms(plot_s), "", ""],
                [
                    "report --format table, total",
                    ms(total),
                    us(total / count),
                    f"{total / bare_s:.2f}x",
                ],
                [
                    "`callrouter report`, new process, end to end",
                    ms(cli_s),
                    us(cli_s / count),
                    f"{cli_s / bare_s:.2f}x",
                ],
                [
                    "old way: fold the stream, then aggregate (1 run)",
                    ms(old_s),
                    us(old_s / count),
                    f"{old_s / bare_s:.2f}x",
                ],
            ],
            note="Report rows are kept per call as it closes (and again when a late\n"
            "callback step or triage outcome arrives), so a report reads one\n"
            "compact value per call instead of every stream entry.",
        )
        conn.close()
    print(f"\ntotal bench time {time.perf_counter() - began:,.1f} s; load average {load_average()}")


if __name__ == "__main__":
    sys.exit(main())
