"""`callrouter access-log`: the NEN 7513 access log, exported and verified.

    callrouter access-log --from 2026-12-01 --to 2027-01-01      # a period (--to exclusive)
    callrouter access-log --caller 3f2a9c0d1e4b5a6f              # one caller's "who looked?"
    callrouter access-log --verify                               # is the chain intact?

Also `log_cli_view`, which the other commands that show call data (`calls`,
`report`, `callbacks list`) call so a look from the shell is logged like one
from the console: who (the OS user), from where (this host), what.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import io
import json
import socket
import sys
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import redis

from callrouter import clock
from callrouter.cli.common import (
    UsageError,
    add_config_arg,
    cli_redis,
    config_dir_default,
    guard,
    load_or_explain,
)
from callrouter.console.access_log import Access, AccessLog, Entry, Via
from callrouter.settings import cli_settings

COLUMNS = ("at", "who", "via", "action", "what", "where", "period", "subjects", "callers")


def _log(conn: redis.Redis) -> AccessLog:
    secret = cli_settings().secret
    if not secret:
        raise UsageError(
            "CALLROUTER_SECRET is not set: the access log (NEN 7513) is keyed from it, "
            "and every look at call data must be logged; use the service's secret"
        )
    return AccessLog.for_secret(conn, secret)


def log_cli_view(
    conn: redis.Redis,
    what: str,
    *,
    action: str = "view",
    subjects: Iterable[str] = (),
    callers: Iterable[str] = (),
    period: str = "",
) -> None:
    """Record that the person at this shell is about to see `what` (before printing it)."""
    _log(conn).record(
        Access(
            who=getpass.getuser(),
            via=Via.CLI,
            action=action,
            what=what,
            where=socket.gethostname(),
            subjects=tuple(subjects),
            callers=tuple(callers),
            period=period,
        ),
        clock.now(),
    )


def _day(raw: str | None, flag: str, tz: ZoneInfo) -> dt.datetime | None:
    """Local midnight (the config's timezone) of a YYYY-MM-DD date."""
    if raw is None:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"{flag} {raw!r} is not a date; write YYYY-MM-DD") from None
    return dt.datetime.combine(day, dt.time(), tzinfo=tz)


def _row(e: Entry) -> dict[str, str]:
    a = e.access
    return {
        "at": e.at.isoformat(),
        "who": a.who,
        "via": a.via.value,
        "action": a.action,
        "what": a.what,
        "where": a.where,
        "period": a.period,
        "subjects": " ".join(a.subjects),
        "callers": " ".join(a.callers),
    }


def cmd_access_log(args: argparse.Namespace) -> int:
    log = _log(cli_redis(args.redis_url))
    if args.verify:
        verdict = log.verify()
        if verdict.ok:
            print(f"access log intact: {verdict.checked} entries, chain verified")
            return 0
        print(f"ACCESS LOG TAMPERED: {verdict.problem} ({verdict.checked} entries verified before)")
        return 1
    tz = load_or_explain(args.config or config_dir_default()).timezone
    start, end = _day(args.first, "--from", tz), _day(args.to, "--to", tz)
    if start and end and end <= start:
        raise UsageError("--to must be after --from (--to is exclusive)")
    found = log.about_caller(args.caller) if args.caller else list(log.entries(start, end))
    if args.caller and (start or end):
        found = [e for e in found if (not start or e.at >= start) and (not end or e.at < end)]
    rows = [_row(e) for e in found]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
    print(f"{len(rows)} access(es)", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "access-log", help="who looked at call data (NEN 7513): export for a period or a caller"
    )
    p.add_argument("--from", dest="first", metavar="DATE", help="first day, e.g. 2026-12-01")
    p.add_argument("--to", metavar="DATE", help="day after the last day (exclusive)")
    p.add_argument("--caller", metavar="PSEUDONYM", help="only looks at this caller's data")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--verify", action="store_true", help="check the hash chain for tampering")
    p.add_argument("--redis-url", metavar="URL", default=None, help="default: $REDIS_URL")
    add_config_arg(p)
    p.set_defaults(func=guard(cmd_access_log))
