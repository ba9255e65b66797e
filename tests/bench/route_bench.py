"""How fast is a routing decision, and how fast is `check`?

Run:  .venv/bin/python bench/route_bench.py [--config DIR] [--quick]

Measures, in one run (see bench/README.md for how to read the figures):
  1. baseline: one zoneinfo conversion + one `holidays` lookup per call;
  2. route() on the sample config (random moments over 2024-2030, random callers);
  3. route() on generated configs with 10 / 100 / 1,000 extra rules;
  4. route() with moments spread over 1 / 5 / 20 years: first use of a year
     (holiday computation) vs the memoised steady state;
  5. `check` = build(read_documents(dir)) + prove(config, first, 366):
     parse / validate / coverage proof, and peak memory (tracemalloc).
Not part of the test suite; stdlib + the project's own dependencies only.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import yaml
from _common import median_seconds, ms, rate, table, us

from callrouter.config.files import build, read_documents
from callrouter.config.yaml_marks import MarkedDoc, parse_text
from callrouter.routing.calendar import Calendar
from callrouter.routing.coverage import prove
from callrouter.routing.model import Config
from callrouter.routing.plan import CallerFacts, route

SAMPLE = Path(__file__).resolve().parent.parent / "config"
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
YEARS = 7  # section 1-3 moments: 2024-01-01 .. 2030-12-31
CHECK_FIRST = dt.date(2026, 1, 1)
RULE_COUNTS = (10, 100, 1000)
SPANS = (1, 5, 20)


# ----------------------------------------------------------------------------- inputs


def load_dir(directory: Path) -> Config:
    config, problems = build(read_documents(directory))
    if config is None:
        sys.exit(f"config in {directory} does not validate:\n" + "\n".join(map(str, problems)))
    return config


def random_moments(rng: random.Random, n: int, start: dt.datetime, years: int) -> list[dt.datetime]:
    """Uniformly random instants (UTC) in [start, start + years)."""
    end = start.replace(year=start.year + years)
    span = int((end - start).total_seconds())
    return [start + dt.timedelta(seconds=rng.randrange(span)) for _ in range(n)]


def random_facts(
    rng: random.Random, config: Config, n: int, region_known: bool | None = None
) -> list[CallerFacts]:
    """Random caller facts; each field may also be unknown (None), as when a
    caller does not answer the menu or calls from a mobile (no area code)."""
    callers = [c.id for c in config.caller_types] + [None]
    ages = [a.id for a in config.age_groups] + [None]
    regions: list[str | None] = [r.id for r in config.regions]
    if region_known is None:
        regions.append(None)
    elif not region_known:
        regions = [None]
    return [
        CallerFacts(rng.choice(callers), rng.choice(ages), rng.choice(regions)) for _ in range(n)
    ]


def generated_rules(
    config: Config, sample_rules: list[dict[str, Any]], n: int
) -> list[dict[str, Any]]:
    """`n` narrow rules (one region, one or two caller types, one window, one
    age group, holiday yes/no) placed before the sample's own rules.

    Every rule names a region, so a caller whose region is unknown is tested
    against all `n` before reaching the sample's broad rules: the worst case.
    Order keeps validation happy: all single-caller rules come before the
    two-caller ones, and no earlier rule's sets contain a later rule's, so none
    is shadowed; legs and final are copied from the sample's rules.
    """
    regions = [r.id for r in config.regions]
    callers = [c.id for c in config.caller_types]
    windows = [w.name for w in config.windows]
    ages = [a.id for a in config.age_groups]
    caller_sets = [[c] for c in callers] + [list(p) for p in itertools.combinations(callers, 2)]
    cells = itertools.product(caller_sets, regions, windows, ages, (False, True))
    out = []
    for i, (caller, region, window, age, holiday) in enumerate(itertools.islice(cells, n)):
        template = sample_rules[i % len(sample_rules)]
        out.append(
            {
                "name": f"gen_{i:04d}",
                "when": {
                    "region": region,
                    "caller": caller,
                    "window": window,
                    "age": age,
                    "holiday": holiday,
                },
                "legs": template["legs"],
                "final": template["final"],
            }
        )
    if len(out) < n:
        sys.exit(f"the sample's vocabulary allows {len(out)} distinct generated rules, not {n}")
    return out


def write_generated(sample: Path, target: Path, config: Config, n: int) -> Path:
    """Copy the sample config into `target`, with `n` generated rules ahead of
    the sample's rules in the file that holds `rules:`."""
    target.mkdir(parents=True)
    files = sorted(sample.glob("*.yaml")) + sorted(sample.glob("*.yml"))
    for path in files:
        data = parse_text(path.read_text(encoding="utf-8"), str(path), MarkedDoc()) or {}
        if "rules" not in data:
            shutil.copyfile(path, target / path.name)
            continue
        # The project's loader keeps times such as "17:00" as text; safe_dump
        # then quotes them, so the rewritten file reads back the same.
        data["rules"] = generated_rules(config, data["rules"], n) + data["rules"]
        (target / path.name).write_text(
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=200), encoding="utf-8"
        )
    return target


def rules_tried(config: Config, moments: list[dt.datetime], facts: list[CallerFacts]) -> float:
    """Mean number of rules tested before the decision (all + 1 on fallback)."""
    index = {r.name: i + 1 for i, r in enumerate(config.rules)}
    fall = len(config.rules) + 1
    return statistics.fmean(
        index.get(route(m, f, config).rule or "", fall) for m, f in zip(moments, facts, strict=True)
    )


# ----------------------------------------------------------------------------- sections


def time_routes(
    config: Config, moments: list[dt.datetime], facts: list[CallerFacts], repeat: int
) -> float:
    """Median seconds per decision over the whole list (after one warm-up pass)."""
    pairs = list(zip(moments, facts, strict=True))
    run = partial(route_all, config, pairs)
    run()  # warm: every year's holidays memoised, caches hot
    return median_seconds(run, repeat) / len(pairs)


def route_all(config: Config, pairs: list[tuple[dt.datetime, CallerFacts]]) -> None:
    for moment, f in pairs:
        route(moment, f, config)


def time_baseline(moments: list[dt.datetime], repeat: int) -> float:
    tz = ZoneInfo("Europe/Amsterdam")
    years = range(EPOCH.year - 1, EPOCH.year + YEARS + 1)
    nl = holidays.country_holidays("NL", years=years)  # built once, outside the timing

    def run() -> None:
        for moment in moments:
            nl.get(moment.astimezone(tz).date())

    run()
    return median_seconds(run, repeat) / len(moments)


def section_span(
    config: Config, rng: random.Random, n: int, repeat: int
) -> tuple[list[list[object]], float]:
    rows: list[list[object]] = []
    # What one year's holidays cost to compute (a fresh Calendar each time).
    per_year = statistics.median(
        _timed(lambda y=y: Calendar(config.holidays, config.closures).holidays_in(y))
        for y in range(2025, 2025 + 10)
    )
    for years in SPANS:
        moments = random_moments(rng, n, dt.datetime(2025, 1, 1, tzinfo=dt.UTC), years)
        facts = random_facts(rng, config, n)
        pairs = list(zip(moments, facts, strict=True))
        local = [m.astimezone(config.timezone).date() for m in moments]
        # Years the calendar memoises: each call's year, and the year of its day before.
        computed = len({d.year for d in local} | {(d - dt.timedelta(days=1)).year for d in local})
        cold, warm, firsts = [], [], []
        for _ in range(repeat):
            fresh = dataclasses.replace(config)  # new Config: its calendar memo starts empty
            cold.append(median_seconds(partial(route_all, fresh, pairs), 1))
            warm.append(median_seconds(partial(route_all, fresh, pairs), 1))
            # The first decision in each new year, on yet another fresh config.
            probe = dataclasses.replace(config)
            seen: set[int] = set()
            for moment, f in sorted(pairs, key=lambda p: p[0]):
                year = moment.astimezone(config.timezone).year
                if year not in seen:
                    seen.add(year)
                    firsts.append(_timed(partial(route, moment, f, probe)))
        c, w = statistics.median(cold), statistics.median(warm)
        first = statistics.median(firsts)
        rows.append(
            [
                f"{years} year{'s' if years > 1 else ''}",
                computed,
                rate(n, c),
                rate(n, w),
                us(w / n),
                us(first),
                f"{first / (w / n):,.1f}x",
                f"{computed * per_year / c:.1%}",
            ]
        )
    return rows, per_year


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_check(directory: Path, repeat: int) -> tuple[float, float, float, Config]:
    """Median seconds of read_documents, build, prove(first, 366)."""
    reads, builds, proofs = [], [], []
    config: Config | None = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        doc = read_documents(directory)
        t1 = time.perf_counter()
        config, problems = build(doc)
        t2 = time.perf_counter()
        if config is None:
            sys.exit(f"{directory} does not validate:\n" + "\n".join(map(str, problems[:10])))
        prove(config, CHECK_FIRST, 366)
        t3 = time.perf_counter()
        reads.append(t1 - t0)
        builds.append(t2 - t1)
        proofs.append(t3 - t2)
    assert config is not None
    return statistics.median(reads), statistics.median(builds), statistics.median(proofs), config


def peak_check_memory(directory: Path) -> tuple[int, Any]:
    tracemalloc.start()
    try:
        config, _ = build(read_documents(directory))
        assert config is not None
        report = prove(config, CHECK_FIRST, 366)
        return tracemalloc.get_traced_memory()[1], report
    finally:
        tracemalloc.stop()


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=SAMPLE, help="sample config directory")
    parser.add_argument("--quick", action="store_true", help="fewer decisions and repetitions")
    args = parser.parse_args()
    n, repeat = (2_000, 3) if args.quick else (20_000, 5)
    began = time.perf_counter()
    rng = random.Random(20261123)

    print(
        f"route_bench: Python {platform.python_version()} ({platform.machine()}), "
        f"holidays {getattr(holidays, '__version__', '?')}, config {args.config}"
    )
    print(
        f"median of {repeat} runs; GC paused while timing; moments uniform over "
        f"{EPOCH.year}-{EPOCH.year + YEARS - 1} (UTC instants)"
    )

    sample = load_dir(args.config)
    moments = random_moments(rng, n, EPOCH, YEARS)
    facts = random_facts(rng, sample, n)

    # 1 + 2 --------------------------------------------------------------------------
    base = time_baseline(moments, repeat)
    per = time_routes(sample, moments, facts, repeat)
    table(
        f"1-2. One decision, sample config ({len(sample.rules)} rules), {n:,} random calls",
        ["", "decisions/s", "per decision", "x baseline"],
        [
            ["baseline: astimezone + holidays .get", rate(1, base), us(base), "1.0"],
            ["route() (steady state)", rate(1, per), us(per), f"{per / base:,.1f}"],
            ["  rules tried per call (mean)", f"{rules_tried(sample, moments, facts):.1f}", "", ""],
        ],
    )

    # 3 ------------------------------------------------------------------------------
    rows: list[list[object]] = []
    dirs: dict[int, Path] = {}
    with tempfile.TemporaryDirectory(prefix="route_bench_") as tmp:
        unknown = random_facts(rng, sample, n, region_known=False)
        small, big = max(n // 4, 500), max(n // 10, 200)  # calls per pass, to bound run time
        for count in (0, *RULE_COUNTS):
            if count:
                target = Path(tmp) / f"rules_{count}"
                dirs[count] = write_generated(args.config, target, sample, count)
                config = load_dir(dirs[count])
            else:
                config = sample
            m = moments[: small if count < 1000 else big]
            f_any = facts[: len(m)]
            f_unk = unknown[: len(m)]
            t_any = time_routes(config, m, f_any, repeat)
            t_unk = time_routes(config, m, f_unk, repeat)
            rows.append(
                [
                    f"{len(config.rules):,} rules"
                    + (" (sample)" if not count else f" (+{count:,})"),
                    rate(1, t_any),
                    us(t_any),
                    f"{rules_tried(config, m, f_any):,.0f}",
                    rate(1, t_unk),
                    us(t_unk),
                    f"{rules_tried(config, m, f_unk):,.0f}",
                ]
            )
        table(
            f"3. Cost vs number of rules (generated, ahead of the sample's {len(sample.rules)})",
            [
                "config",
                "random: dec/s",
                "per dec",
                "tried",
                "region unknown: dec/s",
                "per dec",
                "tried",
            ],
            rows,
            "random = random callers (region unknown 1 in 4); region unknown = every generated"
            "\nrule names a region, so these calls test all of them first (worst case)."
            "\n'tried' = mean rules tested before the match.",
        )

        # 4 --------------------------------------------------------------------------
        span_n = max(n // 4, 500)
        span_rows, per_year = section_span(sample, rng, span_n, repeat)
        table(
            f"4. Cost vs span of years (sample config, {span_n:,} calls from 2025 on)",
            [
                "span",
                "years memoised",
                "cold dec/s",
                "warm dec/s",
                "warm per dec",
                "first call of a year",
                "vs warm",
                "holidays share of cold",
            ],
            span_rows,
            "cold = fresh config: each year's holidays computed on first use (a call on 1 Jan"
            f"\nalso needs 31 Dec); warm = the same calls again, memoised. One year's holidays"
            f"\ncomputed alone: {us(per_year)} (median of 10 years); holidays share of cold ="
            "\nyears memoised x that / cold pass time.",
        )

        # 5 --------------------------------------------------------------------------
        rows = []
        check_repeat = 3 if not args.quick else 1
        for label, directory in [("sample", args.config)] + [
            (f"+{c} rules", d) for c, d in dirs.items()
        ]:
            read, validate, proof, config = time_check(directory, check_repeat)
            rows.append(
                [
                    f"{label} ({len(config.rules)} rules)",
                    ms(read),
                    ms(validate),
                    ms(read + validate),
                    ms(proof),
                    ms(read + validate + proof),
                ]
            )
        table(
            f"5. check = build(read_documents(dir)) + prove(config, {CHECK_FIRST}, 366)",
            ["config", "parse YAML", "validate", "load+validate", "coverage proof", "check total"],
            rows,
        )
        peak_rows = []
        for label, directory in (("sample", args.config), ("+1000 rules", dirs[1000])):
            peak, report = peak_check_memory(directory)
            peak_rows.append(
                [
                    label,
                    f"{peak / 2**20:,.1f} MiB",
                    report.day_groups,
                    f"{report.evaluations:,}",
                    len(report.unused_rules),
                    len(report.gaps) + len(report.rota_gaps),
                ]
            )
        table(
            "   peak memory of one check (tracemalloc, Python allocations only)",
            ["config", "peak", "day groups", "evaluations", "unused rules", "gaps"],
            peak_rows,
            "unused rules: the sample's vocabulary (4 windows x 9 callers x 2 ages x 3 regions"
            "\nx holiday) has fewer reachable situations than 1,000 narrow rules, so many"
            "\ngenerated rules are valid (not shadowed) but can never be the first match.",
        )

    print(f"\ntotal bench time {time.perf_counter() - began:,.1f} s")


if __name__ == "__main__":
    main()
