"""How long callers wait, estimated from the configured texts and timeouts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from callrouter.cli import main
from callrouter.config import generation
from callrouter.routing.coverage import prove
from callrouter.routing.paths import CallerPath
from callrouter.routing.plan import CallerFacts
from ivr.estimate import estimate, estimator, seconds, until_option
from tests.helpers import ams, copy_config, sample_generation

FIRST_DAY = dt.date(2026, 4, 27)


def test_speech_takes_the_documented_time_per_language() -> None:
    assert seconds("Een moment.", "nl") == pytest.approx(11 / 14 + 0.25)
    assert seconds("One moment.", "en") == pytest.approx(11 / 15 + 0.25)
    assert seconds("Bel 112.", "nl") == pytest.approx((8 - 3 + 2 + 3 * 4) / 14 + 0.25)  # "1 1 2"


def test_a_prompt_caller_answers_after_the_sentence_naming_their_key() -> None:
    text = "Voor uzelf: druk 1. Voor een ander: 2."

    assert until_option(text, "1", "nl") == pytest.approx(seconds("Voor uzelf: druk 1.", "nl"))
    assert until_option(text, "2", "nl") == pytest.approx(seconds(text, "nl"))
    assert until_option(text, None, "nl") == pytest.approx(seconds(text, "nl"))


def test_the_sample_meets_20_s_for_a_prompt_caller_and_30_s_for_a_silent_one() -> None:
    sample = sample_generation()
    config = sample.config

    report = prove(config, FIRST_DAY, 366, *estimator(config, sample.menus))

    worst = {w.path: w for w in report.paths}
    assert report.ok and not report.path_gaps
    assert worst[CallerPath.PROMPT].first_ring <= 20
    assert worst[CallerPath.SILENT].first_ring <= 30
    overflow = config.overflow
    assert overflow is not None
    # every phone unanswered: legs, offer, final line, overflow, referral, all bounded
    assert all(w.last_step < overflow.after + 4 * 60 for w in worst.values())


def test_without_an_overflow_line_every_path_still_ends_at_the_referral(tmp_path: Path) -> None:
    overflow = (
        "overflow:\n  line: achtervang\n"
        '  windows: [kantoortijd, avond, weekend_dag, nacht]   # leave out for "always"\n'
        "  after: 180\n  attempts: 1\n  timeout: 30\n"
    )
    found = generation.load(copy_config(tmp_path, {"routing.yaml": [(overflow, "")]}))
    config = found.config
    assert config.overflow is None

    report = prove(config, FIRST_DAY, 30, *estimator(config, found.menus))

    assert not report.path_gaps and len(report.paths) == len(CallerPath)


def test_the_phone_prints_the_estimate_the_proof_makes_for_the_same_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sample = sample_generation()
    walked = estimate(
        sample.config,
        sample.menus,
        {},
        ams(2026, 4, 29, 3, 0),
        CallerFacts("resident", "18+"),
        CallerPath.PROMPT,
        offers=False,  # in-process without Redis: no callback offer
    )

    main(["phone", "--from", "+31612345678", "--at", "2026-04-29T03:00", "--digits", "1,2"])

    out = capsys.readouterr().out
    printed = out.rstrip().splitlines()[-1]
    assert walked.first_ring is not None
    assert f"first ring after {walked.first_ring:.1f} s" in printed
    assert f"the call ended after {walked.last_step:.1f} s" in printed


def test_check_prints_the_worst_case_per_caller_path(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--from", "2026-04-27", "--days", "30"])

    out = capsys.readouterr().out
    assert code == 0
    assert "answers promptly: first ring after " in out
    assert "silent: first ring after " in out
    assert "blocked number: first ring after " in out
