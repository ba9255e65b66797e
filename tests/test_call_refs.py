"""Call refs as a keyed permutation (`callrouter.calls.refs`), without Redis."""

from __future__ import annotations

from callrouter.calls.refs import REF_DIGITS, ref_of

KEY = b"k" * 32


def test_distinct_sequence_numbers_get_distinct_eight_digit_refs() -> None:
    refs = [ref_of(n, KEY) for n in range(60_000)]
    assert len(set(refs)) == len(refs)
    assert {len(r) for r in refs} == {REF_DIGITS} and all(r[0] != "0" for r in refs)


def test_the_permutation_wraps_only_after_ninety_million_calls() -> None:
    assert ref_of(90_000_000 + 7, KEY) == ref_of(7, KEY)
    assert ref_of(89_999_999, KEY) != ref_of(0, KEY)


def test_without_the_key_the_refs_are_other_ones() -> None:
    """Another installation (or a guess at the key) gives unrelated refs."""
    mine = [ref_of(n, KEY) for n in range(1_000)]
    other = [ref_of(n, b"x" * 32) for n in range(1_000)]
    assert sum(a == b for a, b in zip(mine, other, strict=True)) == 0


def test_the_refs_of_consecutive_calls_are_spread_over_the_whole_space() -> None:
    refs = sorted(int(ref_of(n, KEY)) for n in range(1_000))
    low, high = 10_000_000, 99_999_999
    for decile in range(10):  # about 100 refs in each tenth of the space
        start = low + decile * (high - low) // 10
        inside = sum(start <= r < start + (high - low) // 10 for r in refs)
        assert 60 < inside < 140
