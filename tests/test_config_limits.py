"""Oversized files and YAML bombs are refused before they cost time or memory,
with file:line, never a traceback (issue 8: a 50 MB file stalled calls ~19 s,
an alias bomb took 23 s and 3 GB)."""

from __future__ import annotations

from pathlib import Path

from callrouter.config.generation import judge
from callrouter.config.yaml_marks import DEFAULT_LIMITS, Limits, MarkedDoc, parse_text
from tests.helpers import copy_config

BOMB = "lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 9)}]\n" for i in range(1, 10)
)
"""'Billion laughs': ten lines that expand to 9^9 values."""


def refusals(directory: Path, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    verdict = judge(directory, today=None, limits=limits)
    assert verdict.generation is None
    return [str(p) for p in verdict.problems]


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    config = copy_config(tmp_path)
    big = config / "teams.yaml"
    big.write_text("# padding\n" * 500_000, encoding="utf-8")  # 5 MB

    assert refusals(config) == [
        f"{big}:1: the file is 5,000,000 bytes, over the limit of 1,000,000 bytes for a"
        " config file."
        " Fix: a config file is a few kB: check that the right file was saved here"
    ]


def test_the_size_limit_is_configurable(tmp_path: Path) -> None:
    config = copy_config(tmp_path)

    size = (config / "records.yaml").stat().st_size

    found = refusals(config, Limits(max_file_bytes=size - 1))

    assert (
        f"{config / 'records.yaml'}:1: the file is {size:,} bytes, over the limit of"
        f" {size - 1:,} bytes for a config file."
        " Fix: a config file is a few kB: check that the right file was saved here"
    ) in found


def test_an_alias_bomb_is_refused_at_the_line_where_it_explodes(tmp_path: Path) -> None:
    config = copy_config(tmp_path)
    (config / "bomb.yaml").write_text(BOMB, encoding="utf-8")

    found = refusals(config)

    assert len(found) == 1
    assert found[0].startswith(f"{config / 'bomb.yaml'}:")
    assert (
        "the file expands to more than 200,000 values (YAML aliases repeating other aliases)"
        in (found[0])
    )


def test_aliases_within_the_limit_are_expanded_as_yaml_says() -> None:
    doc = MarkedDoc()

    data = parse_text("a: &x [1, 2]\nb: *x\n", "t.yaml", doc)

    assert data == {"a": [1, 2], "b": [1, 2]} and doc.problems == []


def test_nesting_beyond_the_depth_limit_is_refused() -> None:
    doc = MarkedDoc()

    assert parse_text("a: " + "[" * 100 + "]" * 100 + "\n", "deep.yaml", doc) is None
    assert [str(s) for s, _, _ in doc.problems] == ["deep.yaml:1"]
    assert "nested more than 64 levels deep" in doc.problems[0][1]
