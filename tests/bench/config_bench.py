"""Config generation cost: what a reload costs the watcher thread, and how fast
hostile files are refused (issue 8: a 50 MB file stalled calls ~19 s, an alias
bomb took 23 s and 3 GB).

Run from the project root: `.venv/bin/python tests/bench/config_bench.py` (~10 s).
Baseline: `yaml.safe_load` of the same texts with libyaml (the least parsing
the YAML can cost). Rows:
  parse + validate   every section into a Generation, no coverage proof
  + coverage proof   what LiveConfig and `check` do (366 days)
  5 MB file          refused before it is read (size limit)
  alias bomb         'billion laughs' (9^9 values) refused while sizing the tree
  peak memory        tracemalloc peak of refusing the bomb
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

import yaml
from _common import median_seconds, ms, table

from callrouter.config.generation import judge

SAMPLE = Path(__file__).resolve().parent.parent.parent / "config"
FIRST = dt.date(2026, 11, 23)
BOMB = "lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 9)}]\n" for i in range(1, 10)
)


def copy_sample(target: Path) -> Path:
    target.mkdir()
    for path in SAMPLE.glob("*.yaml"):
        (target / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return target


def main() -> None:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SAMPLE.glob("*.yaml"))]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    judge(SAMPLE, today=FIRST)  # warm up: imports, the holidays library's calendars
    baseline = median_seconds(lambda: [yaml.load(t, Loader=loader) for t in texts], 20)
    build = median_seconds(lambda: judge(SAMPLE, today=None), 10)
    proven = median_seconds(lambda: judge(SAMPLE, today=FIRST), 10)
    with tempfile.TemporaryDirectory() as tmp:
        big = copy_sample(Path(tmp) / "big")
        (big / "teams.yaml").write_text("# padding\n" * 500_000, encoding="utf-8")
        bomb = copy_sample(Path(tmp) / "bomb")
        (bomb / "bomb.yaml").write_text(BOMB, encoding="utf-8")
        assert judge(big, today=None).generation is None
        assert judge(bomb, today=None).generation is None
        sized = median_seconds(lambda: judge(big, today=None), 5)
        bombed = median_seconds(lambda: judge(bomb, today=None), 5)
        tracemalloc.start()
        judge(bomb, today=None)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    table(
        "config generation (sample config, 8 files)",
        ["what", "median", "x baseline"],
        [
            ["baseline: yaml load only", ms(baseline), "1.0"],
            ["parse + validate", ms(build), f"{build / baseline:.1f}"],
            ["+ coverage proof (366 d)", ms(proven), f"{proven / baseline:.1f}"],
            ["refuse a 5 MB file", ms(sized), f"{sized / baseline:.1f}"],
            ["refuse an alias bomb", ms(bombed), f"{bombed / baseline:.1f}"],
            ["peak memory, bomb", f"{peak / 1e6:.1f} MB", ""],
        ],
    )


if __name__ == "__main__":
    main()
