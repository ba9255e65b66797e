"""`callrouter check | route | oncall | calendar`: prove and explain the routing.

These commands only read the config directory; they never need Redis or
Twilio, so an admin can run them on a laptop before a change goes live.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import holidays as holidays_lib

from callrouter import clock
from callrouter.cli.common import (
    UsageError,
    add_config_arg,
    config_dir_default,
    explain_problems,
    guard,
    load_or_explain,
    parse_moment,
    table,
)
from callrouter.config.generation import PROOF_DAYS, Verdict, judge
from callrouter.routing import numbers
from callrouter.routing.calendar import all_categories
from callrouter.routing.callers import recognise
from callrouter.routing.coverage import MINUTES_PER_DAY, CoverageReport, breakpoints
from callrouter.routing.model import WEEKDAYS, Config
from callrouter.routing.plan import CallerFacts, RoutePlan, route
from callrouter.routing.rota import on_call
from callrouter.routing.windows import resolve_window


def _age_group(raw: str | None, config: Config) -> str | None:
    if raw is None:
        return None
    if any(a.id == raw for a in config.age_groups):
        return raw
    if raw.isdigit():
        years = int(raw)
        for group in config.age_groups:
            if group.min_age <= years and (group.max_age is None or years <= group.max_age):
                return group.id
    known = ", ".join(a.id for a in config.age_groups)
    raise UsageError(f"--age {raw!r} is not an age group; use one of {known} or an age in years")


def _check_ref(value: str | None, known: list[str], flag: str) -> None:
    if value is not None and value not in known:
        raise UsageError(f"{flag} {value!r} is unknown; use one of: {', '.join(known)}")


# --------------------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    """Validate every section exactly as serve and the worker load it, and prove
    coverage in the same run whenever the routing sections allow it."""
    directory = args.dir or args.config or config_dir_default()
    if not Path(directory).is_dir():
        raise UsageError(f"config directory {directory!r} does not exist")
    if args.days < 1:
        raise UsageError(f"--days {args.days} must be 1 or more")
    try:
        first = dt.date.fromisoformat(args.first_day) if args.first_day else clock.now().date()
    except ValueError:
        raise UsageError(f"--from {args.first_day!r} is not a date; write YYYY-MM-DD") from None
    verdict = judge(Path(directory), today=first, days=args.days)
    for warning in verdict.warnings:
        print(f"WARNING  {warning}")
    if verdict.problems:
        explain_problems(directory, verdict.problems)
    report = verdict.coverage
    if report is not None:
        _print_coverage(report, verdict)
    elif verdict.problems:
        print("coverage proof not run: the routing sections have problems (above)")
    if verdict.generation is not None and report is not None and report.ok:
        print(
            "OK: every caller reaches a person or a callback at every moment, every path "
            "ends at a person, the overflow line, a callback or the spoken referral, "
            "and every rota role used has someone on call"
        )
        return 0
    found = (report.gaps, report.rota_gaps, report.unused_rules, report.path_gaps) if report else ()
    total = len(verdict.problems) + sum(len(f) for f in found)
    print(f"FAILED: {total} problem(s); this config must not go live", file=sys.stderr)
    return 1


def _print_coverage(report: CoverageReport, verdict: Verdict) -> None:
    if verdict.generation is not None:
        config = verdict.generation.config
        print(
            f"configuration is valid: generation {verdict.generation.id}"
            f" ({len(config.rules)} rules, {len(config.teams)} teams,"
            f" {len(config.windows)} windows)"
        )
    last = report.first_day + dt.timedelta(days=report.days - 1)
    print(f"coverage proof {report.first_day} .. {last}: {report.day_groups} distinct kinds of day")
    for gap in report.gaps:
        print(f"GAP  {gap}")
    for gap in report.rota_gaps:
        print(f"GAP  {gap}")
    if report.paths:
        print("time from pickup, estimated (README: How long until the first ring):")
    for worst in report.paths:
        print(f"  {worst}")
    for gap in report.path_gaps:
        print(f"GAP  {gap}")
    for rule in report.unused_rules:
        print(
            f"UNUSED  {rule.source}: rule {rule.name!r} never matches in this period. "
            f"Fix: remove it or move it above the rules that take its calls"
        )


# --------------------------------------------------------------------------- route


def explain(plan: RoutePlan) -> str:
    """Human-readable decision. Staff and line numbers are configuration, not
    caller data, so they are shown in full."""
    facts = plan.facts
    lines = [
        *plan.reasons,
        f"caller: {facts.caller_type}, age {facts.age_group}, region {facts.region or 'unknown'}",
    ]
    for i, leg in enumerate(plan.legs, 1):
        who = ", ".join(f"{t.name} {t.number}" for t in leg.targets) or "(nobody)"
        what = f"{leg.team}/{leg.role}" if leg.team else f"line {leg.line}"
        lines.append(
            f"  leg {i}: {leg.kind.value:<8} {what:<24} ring {leg.timeout:>3}s -> {who}"
            + (f"  [{leg.note}]" if leg.note else "")
        )
    final = plan.final
    steps = (["offer a callback"] if final.callback else []) + (
        [f"dial line {final.line} {final.number}"] if final.line else []
    )
    lines.append("  then: " + (" and ".join(steps) or "nothing"))
    return "\n".join(lines)


def cmd_route(args: argparse.Namespace) -> int:
    config = load_or_explain(args.config or config_dir_default())
    moment = parse_moment(args.at, config.timezone)
    _check_ref(args.caller, [c.id for c in config.caller_types], "--caller")
    _check_ref(args.region, [r.id for r in config.regions], "--region")
    facts = CallerFacts(args.caller, _age_group(args.age, config), args.region)
    notes = []
    if args.from_number:
        try:
            numbers.normalise(args.from_number)
        except numbers.NumberError as exc:
            raise UsageError(f"--from: {exc}") from None
        seen = recognise(args.from_number, config)
        if seen.blocked:
            notes.append("this number is on the block list (see ivr.yaml for what it hears)")
        if seen.known:
            notes.append(f"known number: {seen.known.name} ({seen.known.caller_type})")
        facts = CallerFacts(
            facts.caller_type or seen.facts.caller_type,
            facts.age_group,
            facts.region or seen.facts.region,
        )
    plan = route(moment, facts, config)
    if args.json:
        out: dict[str, Any] = plan.to_dict()
        out["notes"] = notes
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print("\n".join(notes + [explain(plan)]))
    return 0


# --------------------------------------------------------------------------- oncall


def cmd_oncall(args: argparse.Namespace) -> int:
    config = load_or_explain(args.config or config_dir_default())
    moment = parse_moment(args.at, config.timezone)
    rows: list[list[str]] = []
    if args.week:
        days = [moment.date() + dt.timedelta(days=i) for i in range(7)]
        header = ["team", "role"] + [f"{WEEKDAYS[d.weekday()]} {d:%d-%m}" for d in days]
        for team in config.teams:
            for role in team.roles:
                cells = []
                for d in days:
                    at = dt.datetime.combine(d, dt.time(12, 0), tzinfo=config.timezone)
                    member, _ = on_call(team, role, at)
                    cells.append(member.name.split(" (")[0] if member else "-- NOBODY --")
                rows.append([team.id, role.name, *cells])
        print("on call at 12:00 each day (handovers: see teams.yaml)")
    else:
        header = ["team", "role", "on call", "mobile", "why"]
        for team in config.teams:
            for role in team.roles:
                member, why = on_call(team, role, moment)
                rows.append(
                    [
                        team.id,
                        role.name,
                        member.name if member else "-- NOBODY --",
                        member.mobile if member else "",
                        why,
                    ]
                )
        print(f"on call at {moment:%A %Y-%m-%d %H:%M %Z}")
    print(table(header, rows))
    return 0


# --------------------------------------------------------------------------- calendar


def cmd_calendar(args: argparse.Namespace) -> int:
    config = load_or_explain(args.config or config_dir_default())
    cal = config.calendar
    first = dt.date(args.year, 1, 1)
    days = (dt.date(args.year + 1, 1, 1) - first).days
    rows = []
    for date, name in cal.special_days(first, days):
        info = cal.day(date)
        parts = []
        points = breakpoints(config, cal, date) + [MINUTES_PER_DAY]
        current: tuple[str | None, int] | None = None
        for start in points[:-1]:
            window = resolve_window(cal, config.windows, date, start).window
            if current is None or current[0] != window:
                if current is not None:
                    parts.append(f"{current[1] // 60:02d}:{current[1] % 60:02d} {current[0]}")
                current = (window, start)
        if current is not None:
            parts.append(f"{current[1] // 60:02d}:{current[1] % 60:02d} {current[0]}")
        kind = "holiday" if info.holiday else "closure"
        rows.append(
            [
                date.isoformat(),
                WEEKDAYS[date.weekday()],
                name,
                kind,
                WEEKDAYS[info.counts_as] if info.holiday else "-",
                ", ".join(parts),
            ]
        )
    print(
        f"effective holidays and closures {args.year} (country {config.holidays.country}, "
        f"categories {', '.join(config.holidays.categories)}; holidays count as "
        f"{WEEKDAYS[config.holidays.counts_as]})"
    )
    print(table(["date", "day", "name", "kind", "counts as", "windows from"], rows))
    effective = cal.holidays_in(args.year)
    skipped = sorted(
        f"{d.isoformat()} {name}"
        for d, name in library_days(config, args.year).items()
        if d not in effective
    )
    if skipped:
        print("not observed (normal days here): " + "; ".join(skipped))
    return 0


def library_days(config: Config, year: int) -> dict[dt.date, str]:
    """Every day the holidays library knows for the year, in any category, so
    the admin sees what the policy left out (Good Friday, 5 May off-lustrum)."""
    policy = config.holidays
    lib = holidays_lib.country_holidays(
        policy.country,
        subdiv=policy.subdivision,
        years=year,
        categories=all_categories(policy.country),
        language=policy.language,
    )
    return dict(lib.items())


# --------------------------------------------------------------------------- registration


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="validate the config and prove coverage for a year")
    p.add_argument("dir", nargs="?", help="config directory (default: ./config)")
    add_config_arg(p)
    p.add_argument(
        "--from", dest="first_day", metavar="DATE", help="first day of the proof (default: today)"
    )
    p.add_argument(
        "--days",
        type=int,
        default=PROOF_DAYS,
        help=f"length of the proof in days (default {PROOF_DAYS}, as a running service proves)",
    )
    p.set_defaults(func=guard(cmd_check))

    p = sub.add_parser("route", help="explain where a call would go")
    add_config_arg(p)
    p.add_argument("--at", help="local time, e.g. 2026-04-27T19:00 (default: now)")
    p.add_argument("--caller", help="caller type, e.g. resident, huisarts")
    p.add_argument("--age", help="age group (e.g. 18+) or age in years")
    p.add_argument("--region", help="region id")
    p.add_argument(
        "--from",
        dest="from_number",
        metavar="NUMBER",
        help="caller's number (directory, area code)",
    )
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=guard(cmd_route))

    p = sub.add_parser("oncall", help="who is on call per team and role")
    add_config_arg(p)
    p.add_argument("--at", help="local time (default: now)")
    p.add_argument("--week", action="store_true", help="the next 7 days")
    p.set_defaults(func=guard(cmd_oncall))

    p = sub.add_parser("calendar", help="effective holidays and closures of a year")
    add_config_arg(p)
    p.add_argument("--year", type=int, required=True)
    p.set_defaults(func=guard(cmd_calendar))
