"""The triage keypad's table, walked: asked twice at most, never confirms a lost outcome."""

from __future__ import annotations

import itertools

from ivr.keypad import END_STEPS, MAX_TRIES, TABLE, Input, Keypad, Step, advance


def test_the_table_is_total() -> None:
    assert set(TABLE) == set(itertools.product(Step, Input))


def test_every_path_ends_within_max_tries() -> None:
    for path in itertools.product(Input, repeat=MAX_TRIES):
        pad = Keypad(Step.ASK)
        for event in path:
            pad = advance(pad, event)
        assert pad.step in END_STEPS, path


def test_a_failed_store_is_never_confirmed() -> None:
    assert advance(Keypad(Step.ASK), Input.STORE_FAILED).step is Step.FAILED
    assert advance(Keypad(Step.FAILED), Input.VALID).step is Step.FAILED


def test_two_wrong_keys_end_with_the_sms_hint() -> None:
    once = advance(Keypad(Step.ASK), Input.INVALID)
    assert once == Keypad(Step.ASK, 1)
    assert advance(once, Input.SILENCE).step is Step.BY_SMS
