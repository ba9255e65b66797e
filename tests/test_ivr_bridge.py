"""The bridged call's table (staff side), walked: every path ends within two inputs."""

from __future__ import annotations

import itertools

from ivr.bridge import END_STEPS, TABLE, Input, Step, advance


def test_the_table_is_total() -> None:
    assert set(TABLE) == set(itertools.product(Step, Input))


def test_every_path_from_the_whisper_ends_within_two_dial_results() -> None:
    dial_results = (Input.TALKED, Input.TALKED_NO_TRIAGE, Input.MISSED, Input.MISSED_LAST)
    for first in Input:
        step = advance(Step.WHISPER, first)
        if step is Step.CONNECT:
            for result in (*dial_results, Input.STALE):
                assert advance(step, result) in END_STEPS
        else:
            assert step in END_STEPS


def test_only_1_connects_the_caller() -> None:
    assert [e for e in Input if advance(Step.WHISPER, e) is Step.CONNECT] == [Input.ACCEPT]


def test_keys_while_the_caller_rings_change_nothing() -> None:
    for event in (Input.ACCEPT, Input.OTHER_KEY, Input.SILENCE):
        assert advance(Step.CONNECT, event) is Step.CONNECT


def test_a_missed_caller_goes_back_to_the_queue_until_the_last_attempt() -> None:
    assert advance(Step.CONNECT, Input.MISSED) is Step.REQUEUED
    assert advance(Step.CONNECT, Input.MISSED_LAST) is Step.GIVEN_UP
