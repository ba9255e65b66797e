"""`callrouter report | calls | triage | purge`: account for every call.

`report` is what the crisis service sends the municipal working group;
`calls` is what on-call staff check at night ("did that caller get anyone?");
`triage` records an outcome when SMS or keypad was not used; `purge` applies
the retention periods now (the worker also runs it every hour).

None of them needs the pseudonymisation key: records already hold only the
keyed hash, so reporting works without the secret that could link it back.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

import redis

from callrouter import clock
from callrouter.callbacks.store import CallbackStore
from callrouter.calls.labels import LANGUAGES, Labels
from callrouter.calls.outcomes import TriageDesk
from callrouter.calls.purge import purge_expired_now
from callrouter.calls.reader import CallReader
from callrouter.calls.render import FORMATS, duration_text, render
from callrouter.calls.reporting import build_report, period_bounds, sla_by_caller
from callrouter.calls.store import CallStore
from callrouter.calls.triage import TriageRejected, resolve
from callrouter.cli.common import (
    UsageError,
    add_config_arg,
    cli_redis,
    config_dir_default,
    guard,
    load_generation_or_explain,
    table,
)
from callrouter.console.cli import log_cli_view


def add_redis_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        default=None,
        help="Redis holding the call log (default: $REDIS_URL)",
    )


def desk_for(conn: redis.Redis) -> TriageDesk:
    """Triage by hand: no pseudonymisation key needed (nothing is pseudonymised here)."""
    return TriageDesk(CallStore(conn, None), CallbackStore(conn))


def _date(raw: str, flag: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise UsageError(
            f"{flag} {raw!r} is not a date; write YYYY-MM-DD, e.g. 2026-10-01"
        ) from None


# --------------------------------------------------------------------------- report


def _lang(raw: str) -> str:
    if raw not in LANGUAGES:
        raise UsageError(f"--lang {raw!r}: use one of {', '.join(LANGUAGES)}")
    return raw


def cmd_report(args: argparse.Namespace) -> int:
    generation = load_generation_or_explain(args.config or config_dir_default())
    config = generation.config
    first = _date(args.first, "--from")
    end = (
        _date(args.to, "--to")
        if args.to
        else clock.now().astimezone(config.timezone).date() + dt.timedelta(days=1)
    )
    if end <= first:
        raise UsageError(
            f"--to {end} must be after --from {first} (--to is exclusive: "
            "--from 2026-10-01 --to 2026-11-01 is October)"
        )
    if args.format not in FORMATS:
        raise UsageError(f"--format {args.format!r}: use one of {', '.join(FORMATS)}")
    codes = generation.triage
    labels = Labels.of(config, codes, _lang(args.lang))
    start, stop = period_bounds(first, end, config.timezone)
    conn = cli_redis(args.redis_url)
    if args.rebuild:
        rebuilt = CallStore(conn, None).rebuild_rows(start, stop)
        print(f"report rows rebuilt from the call log: {rebuilt}", file=sys.stderr)
    log_cli_view(
        conn,
        "report" if args.format == "table" and not args.plot else "report." + args.format,
        action="view" if args.format == "table" and not args.plot else "export",
        period=f"{start.isoformat()}/{stop.isoformat()}",
    )
    sla, sla_minutes = sla_by_caller(config, generation.callbacks)
    report = build_report(
        CallReader(conn).report_rows(start, stop),
        start=start,
        end=stop,
        tz=config.timezone,
        callback_sla=sla,
        sla_minutes=sla_minutes,
        codes=codes,
    )
    sys.stdout.write(render(report, args.format, labels))
    if args.plot:
        # matplotlib takes a second to import: only `--plot` pays for it.
        from callrouter.calls.plot import plot

        path = plot(report, labels, args.plot)
        print(f"plot written to {path}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- calls

COLUMN_CHARS = {"type": 14, "reach": 20, "by": 10, "triage": 12}
"""Widest text per column, so `calls` stays under 120 characters."""


def _cut(text: str, column: str) -> str:
    width = COLUMN_CHARS[column]
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_calls(args: argparse.Namespace) -> int:
    generation = load_generation_or_explain(args.config or config_dir_default())
    config = generation.config
    if args.last < 1:
        raise UsageError("--last must be at least 1")
    labels = Labels.of(config, generation.triage, _lang(args.lang))
    tz = config.timezone
    conn = cli_redis(args.redis_url)
    records = CallReader(conn).recent(args.last)
    log_cli_view(
        conn,
        "calls",
        subjects=[r.call_id for r in records],
        callers=dict.fromkeys(r.caller_ref for r in records if r.caller_ref),
    )
    rows = []
    for r in records:
        started = "?"
        if r.started_at is not None:
            local = r.started_at.astimezone(tz)
            started = f"{labels.weekday(local.weekday())} {local:%d-%m %H:%M}"
        done = r.ended_at is not None
        rows.append(
            [
                r.ref or "-",
                started,
                r.caller_masked or (labels.t("calls.anonymous") if not r.caller_ref else "-"),
                _cut(labels.value("caller_type", r.caller_type or ""), "type"),
                labels.t("calls.done" if done else "calls.open"),
                _cut(labels.t(f"reach.{r.reach.value}"), "reach") if done else "-",
                duration_text(r.time_to_person),
                _cut(labels.value("member", r.answered_by), "by") if r.answered_by else "-",
                _cut(labels.value("outcome", r.outcome.code), "triage") if r.outcome else "-",
            ]
        )
    print(labels.t("calls.header", count=len(rows), tz=tz.key))
    columns = ("ref", "start", "caller", "type", "status", "reach", "to_person", "by", "triage")
    print(table([labels.t(f"calls.{c}") for c in columns], rows))
    return 0


# --------------------------------------------------------------------------- triage


def cmd_triage(args: argparse.Namespace) -> int:
    codes = load_generation_or_explain(args.config or config_dir_default()).triage
    parsed = resolve(args.call, " ".join(args.code), codes)
    if isinstance(parsed, TriageRejected):
        raise UsageError(parsed.reply)
    desk = desk_for(cli_redis(args.redis_url))
    call_sid = desk.resolve(args.call)
    if call_sid is None:
        raise UsageError(
            f"no call {args.call!r} in the call log: use the ref shown by "
            "`callrouter calls`, a CallSid or a callback id"
        )
    desk.store.report_outcome(call_sid, parsed.code, clock.now(), by=args.by, via="cli")
    print(f"call {args.call}: triage outcome {parsed.code} ({codes.label(parsed.code)}) recorded")
    return 0


# --------------------------------------------------------------------------- purge


def cmd_purge(args: argparse.Namespace) -> int:
    generation = load_generation_or_explain(args.config or config_dir_default())
    config = generation.config
    policy = generation.records
    summary = purge_expired_now(
        cli_redis(args.redis_url), generation, clock.now(), dry_run=args.dry_run
    )
    verb = "would delete" if args.dry_run else "deleted"
    print(
        f"call log: {verb} {summary.records.entries} entries written before "
        f"{summary.records.cutoff.astimezone(config.timezone):%Y-%m-%d %H:%M} "
        f"(retention {policy.retention_days} days)"
    )
    print(
        f"calls without an end event recorded as stale: {summary.stale}"
        + (" (not in a dry run)" if args.dry_run else "")
    )
    keep = generation.callbacks.keep_raw_numbers_seconds
    print(
        f"raw callback numbers {'to delete' if args.dry_run else 'deleted'}: "
        f"{summary.callback_numbers} "
        f"(finished requests older than callbacks.keep_raw_numbers = {keep // 86400} days)"
    )
    return 0


# --------------------------------------------------------------------------- registration


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report", help="calls, reach, waiting times, callbacks and triage per period"
    )
    add_config_arg(p)
    add_redis_arg(p)
    p.add_argument(
        "--from",
        dest="first",
        required=True,
        metavar="DATE",
        help="first day (local), e.g. 2026-10-01",
    )
    p.add_argument(
        "--to",
        dest="to",
        metavar="DATE",
        help="day after the last day (exclusive), e.g. 2026-11-01 (default: tomorrow)",
    )
    p.add_argument("--format", default="table", help="table (default), csv or json")
    p.add_argument("--plot", metavar="PNG", help="also write a picture for the report")
    p.add_argument("--lang", default="nl", help="nl (default) or en")
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="first recompute the period's report rows from the call log "
        "(records written before rows were kept, or imported)",
    )
    p.set_defaults(func=guard(cmd_report))

    p = sub.add_parser("calls", help="the most recent calls, masked, for on-call staff")
    add_config_arg(p)
    add_redis_arg(p)
    p.add_argument("--last", type=int, default=20, metavar="N", help="how many (default 20)")
    p.add_argument("--lang", default="nl", help="nl (default) or en")
    p.set_defaults(func=guard(cmd_calls))

    p = sub.add_parser("triage", help="record the triage outcome of a call or callback")
    add_config_arg(p)
    add_redis_arg(p)
    p.add_argument(
        "call", metavar="CALL", help="ref from `callrouter calls`, CallSid or callback id"
    )
    p.add_argument(
        "code",
        metavar="CODE",
        nargs="+",
        help="outcome code, alias, label or keypad digit (config/triage.yaml)",
    )
    p.add_argument("--by", default="cli", help="who reports it (member id)")
    p.set_defaults(func=guard(cmd_triage))

    p = sub.add_parser("purge", help="delete call data past its retention period (records.yaml)")
    add_config_arg(p)
    add_redis_arg(p)
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    p.set_defaults(func=guard(cmd_purge))
