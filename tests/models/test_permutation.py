"""The keyed permutation's algorithms against fixed vectors and a re-implementation written from the specification."""

import hashlib
import hmac
import struct

import numpy as np
import pytest


from lateral.models.permutation import LEGACY_ALGORITHM, PERMUTATION_ALGORITHM, keyed_permutation
from lateral.registry import UnknownNameError


def specified_permutation(key, size):
    """The ``hmac-sha256-fisher-yates`` specification, written again with struct and a word queue."""
    secret, words, counter = str(key).encode("ascii"), [], 0
    order = list(range(size))
    for i in reversed(range(1, size)):
        while True:
            if not words:
                block = hmac.new(secret, b"lateral-permutation" + struct.pack(">I", counter), hashlib.sha256).digest()
                words, counter = list(struct.unpack(">4Q", block)), counter + 1
            word = words.pop(0)
            if word < 2**64 - 2**64 % (i + 1):
                break
        j = word % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


# Fixed vectors: if one of these changes, every template enrolled under a key stops matching.
VECTORS = [
    (7, 12, [5, 4, 2, 7, 11, 3, 10, 0, 8, 9, 1, 6]),
    (2**127 + 12345, 16, [13, 11, 4, 6, 2, 15, 12, 5, 7, 0, 10, 14, 3, 1, 8, 9]),
]


@pytest.mark.parametrize("key, size, expected", VECTORS)
def test_fixed_vectors(key, size, expected):
    assert keyed_permutation(key, size).tolist() == expected
    assert specified_permutation(key, size) == expected


@pytest.mark.parametrize("key, size", [(0, 1), (1, 2), (-3, 5), (42, 128), (2**200 + 1, 512)])
def test_matches_the_specification(key, size):
    order = keyed_permutation(key, size, PERMUTATION_ALGORITHM)
    assert order.tolist() == specified_permutation(key, size)
    assert sorted(order.tolist()) == list(range(size))


def test_two_entries_by_hand():
    # n = 2: one step, i = 1, j = (first 8 bytes of HMAC(b"7", domain || 0x00000000)) mod 2; 2^64 is even: no rejection.
    first = int.from_bytes(hmac.new(b"7", b"lateral-permutation\0\0\0\0", hashlib.sha256).digest()[:8], "big")
    assert keyed_permutation(7, 2).tolist() == ([1, 0] if first % 2 == 0 else [0, 1])


def test_legacy_algorithm_is_numpys_stream_and_identity_without_key():
    assert keyed_permutation(7, 12, LEGACY_ALGORITHM).tolist() == [4, 6, 10, 0, 1, 3, 8, 7, 2, 5, 9, 11]
    for algorithm in (PERMUTATION_ALGORITHM, LEGACY_ALGORITHM):
        assert keyed_permutation(None, 5, algorithm).tolist() == [0, 1, 2, 3, 4]


def test_an_unknown_algorithm_is_named():
    with pytest.raises(UnknownNameError, match="unknown permutation algorithm 'sha1'; known: hmac-sha256-fisher-yates, "
                                       "numpy-pcg64-v1"):
        keyed_permutation(1, 4, "sha1")
