"""`callrouter callbacks [list|claim ID --by MEMBER|release ID|cancel ID|sweep]`.

The queue as the coordinator on duty sees it: age, SLA left, status, who
claimed it; and the same claim / release / cancel that staff do by SMS, for
when a phone is flat. Numbers are shown masked only. ID may be the request
id, a unique prefix of it, or the claim code.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from callrouter import clock
from callrouter.callbacks import recovery, service
from callrouter.callbacks.jobs import JOBS
from callrouter.callbacks.lifecycle import TERMINAL
from callrouter.callbacks.requests import CancelReason, Request
from callrouter.callbacks.service import CallbackContext
from callrouter.callbacks.staff import member_by_id
from callrouter.cli.common import (
    UsageError,
    cli_services,
    guard,
    table,
)
from callrouter.console.cli import log_cli_view
from callrouter.routing.model import Config
from callrouter.settings import cli_settings


def _context(args: argparse.Namespace) -> tuple[CallbackContext, Config]:
    ctx = cli_services(args.config, args.redis_url, JOBS).callback_context()
    return ctx, ctx.config


def _resolve(ctx: CallbackContext, ref: str) -> str:
    rid = ctx.store.resolve(ref)
    if rid is None:
        raise UsageError(
            f"no callback {ref!r} (give its id, a unique id prefix, or its claim code)"
        )
    return rid


def _duration(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 3600:
        return f"{sign}{s // 60}m"
    return f"{sign}{s // 3600}h{(s % 3600) // 60:02d}m"


def _row(req: Request, config: Config, now: Any) -> list[str]:
    left = int((req.deadline - now).total_seconds())
    sla = (
        "done"
        if req.state in TERMINAL
        else (f"{_duration(left)} left" if left >= 0 else f"{_duration(-left)} LATE")
    )
    member = member_by_id(config, req.claimed_by) if req.claimed_by else None
    return [
        req.id,
        req.code or "-",
        req.state.value,
        str(req.priority),
        _duration(int((now - req.created_at).total_seconds())),
        sla,
        req.caller_type,
        req.region or "-",
        member.name if member else (req.claimed_by or "-"),
        str(req.attempts),
        req.number_masked,
    ]


def cmd_list(args: argparse.Namespace) -> int:
    ctx, config = _context(args)
    now = clock.now()
    found = ctx.store.recent(args.limit) if args.all else ctx.store.active()
    log_cli_view(
        ctx.conn,
        "callbacks",
        subjects=[r.id for r in found],
        callers=dict.fromkeys(ctx.store.pseudonym(r.id) for r in found),
    )
    found.sort(key=lambda r: (r.state in TERMINAL, r.priority, r.deadline))
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "code": r.code,
                        "state": r.state.value,
                        "priority": r.priority,
                        "age_seconds": int((now - r.created_at).total_seconds()),
                        "sla_left_seconds": int((r.deadline - now).total_seconds()),
                        "caller_type": r.caller_type,
                        "region": r.region,
                        "claimed_by": r.claimed_by,
                        "attempts": r.attempts,
                        "number": r.number_masked,
                    }
                    for r in found
                ],
                indent=2,
            )
        )
        return 0
    if not found:
        print("no open callback requests" if not args.all else "no callback requests")
        return 0
    header = [
        "ID",
        "CODE",
        "STATE",
        "PRIO",
        "AGE",
        "SLA",
        "CALLER",
        "REGION",
        "CLAIMED BY",
        "TRIES",
        "NUMBER",
    ]
    print(table(header, [_row(r, config, now) for r in found]))
    return 0


def cmd_claim(args: argparse.Namespace) -> int:
    ctx, config = _context(args)
    member = member_by_id(config, args.by)
    if member is None:
        raise UsageError(f"--by {args.by!r} is not a staff member id of any team")
    rid = _resolve(ctx, args.id)
    result = service.claim(ctx, rid, member.id, clock.now(), via="cli")
    if result.won:
        print(f"claimed {rid} for {member.name}; they are being called to connect the caller")
        return 0
    holder = member_by_id(config, result.holder or "") if result.holder else None
    state = result.request.state.value if result.request else "gone"
    print(
        f"not claimed: {rid} is {state}" + (f", held by {holder.name}" if holder else ""),
        file=sys.stderr,
    )
    return 1


def _simple(args: argparse.Namespace, action: str) -> int:
    ctx, _config = _context(args)
    rid = _resolve(ctx, args.id)
    by = args.by or cli_settings().operator
    now = clock.now()
    t = (
        service.release(ctx, rid, now, by=by)
        if action == "release"
        else service.cancel(ctx, rid, now, by=by, reason=CancelReason(args.reason))
    )
    if t.ok:
        print(
            f"{action}d {rid}: {t.before.value if t.before else '?'} -> "
            f"{t.after.value if t.after else '?'}"
        )
        return 0
    print(f"cannot {action} {rid}: it is {t.before.value if t.before else 'gone'}", file=sys.stderr)
    return 1


def cmd_release(args: argparse.Namespace) -> int:
    return _simple(args, "release")


def cmd_cancel(args: argparse.Namespace) -> int:
    return _simple(args, "cancel")


def cmd_sweep(args: argparse.Namespace) -> int:
    ctx, _config = _context(args)
    summary = recovery.sweep(ctx, clock.now())
    print(
        f"sweep: {summary['revived']} job(s) re-created, {summary['purged']} raw number(s) purged, "
        f"{summary['forgotten']} finished request(s) deleted"
    )
    return 0


def _common(parser: argparse.ArgumentParser, default: Any) -> None:
    """--config and --redis-url, accepted before or after the action."""
    parser.add_argument(
        "--config",
        metavar="DIR",
        default=default,
        help="config directory (default: $CALLROUTER_CONFIG_DIR or ./config)",
    )
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        default=default,
        help="Redis of the queue (default: $REDIS_URL)",
    )


def register(sub: Any) -> None:
    p = sub.add_parser("callbacks", help="the callback queue: list, claim, release, cancel")
    _common(p, None)
    p.set_defaults(func=guard(cmd_list), all=False, json=False, limit=50)
    actions = p.add_subparsers(dest="action", metavar="ACTION")

    q = actions.add_parser("list", help="open requests (default), most urgent first")
    _common(q, argparse.SUPPRESS)
    q.add_argument("--all", action="store_true", help="also finished requests (latest first)")
    q.add_argument("--limit", type=int, default=50, help="with --all: how many (default 50)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=guard(cmd_list))

    q = actions.add_parser(
        "claim", help="claim a request for a staff member (then they are called)"
    )
    _common(q, argparse.SUPPRESS)
    q.add_argument("id", help="request id, id prefix or claim code")
    q.add_argument("--by", required=True, metavar="MEMBER", help="staff member id, e.g. anna")
    q.set_defaults(func=guard(cmd_claim))

    for name, helptext, func in (
        ("release", "hand a claimed request back to the queue", cmd_release),
        ("cancel", "close a request without calling back", cmd_cancel),
    ):
        q = actions.add_parser(name, help=helptext)
        _common(q, argparse.SUPPRESS)
        q.add_argument("id", help="request id, id prefix or claim code")
        q.add_argument("--by", default=None, help="who does this (for the audit trail)")
        if name == "cancel":
            q.add_argument(
                "--reason",
                default=CancelReason.ADMIN.value,
                choices=[r.value for r in CancelReason],
                help="why, as a code for the audit trail (default: admin)",
            )
        q.set_defaults(func=guard(func))

    q = actions.add_parser(
        "sweep", help="run the safety net now (revive stuck requests, purge numbers)"
    )
    _common(q, argparse.SUPPRESS)
    q.set_defaults(func=guard(cmd_sweep))
