"""Call refs: eight digits staff can say, key in and text, that do not count up.

Staff hear a call's ref in the whisper ("Gespreksnummer 4 8 2 1 3 0 9 7")
and send it back by SMS ("T 48213097 advies"), in the console or on the CLI,
so a ref is digits only. It must not be a counter: with sequential refs a
curious staff member could walk the calls of colleagues (issue 9). A random
draw would need a collision check in Redis on the incoming call's path;
instead the shared sequence number of the call (`CallStore` takes them in
blocks) goes through a keyed permutation of the 90,000,000 eight-digit
numbers. A permutation never repeats a ref while the sequence does not
wrap (90 million calls), and without the key the neighbours of one's own
refs say nothing about anyone else's.

The permutation is a Feistel network over Z_9000 x Z_10000 with alternating
moduli (the structure of NIST FF1, whose halves differ in size too), with a
keyed BLAKE2b as round function. Ten rounds, as in FF1: far more than the
handful of refs one staff member ever sees would need.

Eight digits so a ref is never one of the 5- to 7-digit claim codes or a
9-digit one (`callbacks.limits.code_digits` refuses 8), and the two can be
told apart by length wherever staff type either. Pure: no Redis, no clock.
"""

from __future__ import annotations

import hashlib

REF_DIGITS = 8
"""Every ref has exactly this many digits (the first is never 0)."""
_LEFT, _RIGHT = 9_000, 10_000
"""The two halves of the domain: 9,000 x 10,000 = the 90,000,000 eight-digit numbers."""
_SMALLEST = 10 ** (REF_DIGITS - 1)
ROUNDS = 10
KEY_BYTES = 32


def ref_of(number: int, key: bytes) -> str:
    """The ref of the `number`-th call under `key`: distinct for distinct numbers
    below 90,000,000 (and repeating from there), eight digits."""
    left, right = divmod(number % (_LEFT * _RIGHT), _RIGHT)
    modulus_left, modulus_right = _LEFT, _RIGHT
    for round_ in range(ROUNDS):
        digest = hashlib.blake2b(f"{round_}:{right}".encode(), key=key[:64], digest_size=8).digest()
        left, right = right, (left + int.from_bytes(digest, "big")) % modulus_left
        modulus_left, modulus_right = modulus_right, modulus_left
    return str(_SMALLEST + left * _RIGHT + right)
