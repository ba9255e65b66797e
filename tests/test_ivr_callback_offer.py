"""The callback offer's table, walked: no caller can get stuck in it."""

from __future__ import annotations

import itertools

from ivr.callback_offer import (
    END_STEPS,
    MAX_TRIES,
    TABLE,
    Input,
    Offer,
    Step,
    advance,
    confirm_input,
    offer_input,
)

MOST_INPUTS = 2 * MAX_TRIES + 2
"""Offer (asked twice), typing (twice), the confirmation: then queued or put through."""


def longest_path(start: Offer) -> int:
    """The most inputs any path from `start` takes to an end step; fails on a loop."""
    memo: dict[Offer, int] = {}
    on_path: set[Offer] = set()

    def walk(offer: Offer) -> int:
        if offer.step in END_STEPS:
            return 0
        if offer in memo:
            return memo[offer]
        assert offer not in on_path, f"the caller can loop: {offer}"
        on_path.add(offer)
        worst = 1 + max(walk(advance(offer, event)) for event in Input)
        on_path.discard(offer)
        memo[offer] = worst
        return worst

    return walk(start)


def test_the_table_is_total() -> None:
    assert set(TABLE) == set(itertools.product(Step, Input))


def test_every_path_from_the_offer_ends_queued_put_through_or_hung_up() -> None:
    assert longest_path(Offer(Step.OFFER)) <= MOST_INPUTS
    assert longest_path(Offer(Step.SPOOLED)) == 1


def test_end_steps_stay_put_whatever_happens() -> None:
    for step, event in itertools.product(END_STEPS, Input):
        assert advance(Offer(step), event) == Offer(step)


def test_silence_twice_at_the_offer_puts_the_caller_through() -> None:
    once = advance(Offer(Step.OFFER), Input.SILENCE)
    assert once == Offer(Step.OFFER, 1)
    assert advance(once, Input.SILENCE).step is Step.PUT_THROUGH


def test_a_refused_number_twice_puts_the_caller_through() -> None:
    typing = advance(Offer(Step.OFFER), Input.OTHER)
    again = advance(typing, Input.NUMBER_REFUSED)
    assert again == Offer(Step.ENTER, 1)
    assert advance(again, Input.NUMBER_REFUSED).step is Step.PUT_THROUGH


def test_keys_mean_what_the_prompts_say() -> None:
    assert offer_input("1", own_number_usable=True) is Input.OWN
    assert offer_input("1", own_number_usable=False) is Input.INVALID
    assert [offer_input(d, True) for d in ("2", "3", "", "7")] == [
        Input.OTHER,
        Input.NOW,
        Input.SILENCE,
        Input.INVALID,
    ]
    assert [confirm_input(d) for d in ("1", "2", "", "#")] == [
        Input.YES,
        Input.NO,
        Input.SILENCE,
        Input.INVALID,
    ]
