"""Keyed permutations of the embedding's entries (cancellable templates), by named, version-independent algorithms.

A template made under a key must stay reproducible for as long as the
gallery holding it lives, so the permutation a key gives is fixed by a
written specification, not by a library's random stream:

``hmac-sha256-fisher-yates`` (the current algorithm; ``PERMUTATION_ALGORITHM``)
    Secret: the key, a Python integer, as its decimal ASCII digits (with a
    leading ``-`` if negative): key 7 gives ``b"7"``. Byte stream: the
    concatenation of ``HMAC-SHA-256(secret, b"lateral-permutation" ||
    counter)`` for counter = 0, 1, 2, ... as a 4-byte big-endian unsigned
    integer, read as successive 8-byte big-endian unsigned integers (four per
    HMAC block). Shuffle (Durstenfeld's Fisher-Yates, Knuth TAOCP vol. 2,
    3.4.2 algorithm P): start from ``[0, 1, ..., n-1]``; for i = n-1 down to 1,
    draw the next integer x of the stream, redraw while
    ``x >= 2**64 - (2**64 mod (i + 1))`` (rejection sampling: no modulo
    bias), take ``j = x mod (i + 1)`` and swap entries i and j. Entry k of the
    result is the embedding index that goes to position k.

``numpy-pcg64-v1`` (legacy; ``LEGACY_ALGORITHM``)
    ``numpy.random.default_rng(key).permutation(n)``: what lateral used
    before the algorithm was named. NumPy does not promise to keep that
    stream across versions; it is kept only so that galleries and models
    made with it (gallery format version 1, models saved without an
    ``algorithm``) keep their templates while today's NumPy reproduces it.

The identity (key None) is the same under every algorithm.
"""

import hashlib
import hmac

import numpy as np

from lateral.registry import Registry

PERMUTATIONS = Registry("permutation algorithm")
PERMUTATION_ALGORITHM = "hmac-sha256-fisher-yates"
LEGACY_ALGORITHM = "numpy-pcg64-v1"
_DOMAIN = b"lateral-permutation"
_TWO_64 = 2**64


def _hmac_integers(key):
    """The unbounded stream of 8-byte big-endian integers of the specification above."""
    secret = str(int(key)).encode("ascii")
    counter = 0
    while True:
        block = hmac.new(secret, _DOMAIN + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        for start in range(0, len(block), 8):
            yield int.from_bytes(block[start:start + 8], "big")
        counter += 1


@PERMUTATIONS.register(PERMUTATION_ALGORITHM)
def hmac_fisher_yates(key, size):
    order = list(range(size))
    stream = _hmac_integers(key)
    for i in range(size - 1, 0, -1):
        bound = i + 1
        limit = _TWO_64 - _TWO_64 % bound
        draw = next(stream)
        while draw >= limit:
            draw = next(stream)
        j = draw % bound
        order[i], order[j] = order[j], order[i]
    return np.array(order, np.int64)


@PERMUTATIONS.register(LEGACY_ALGORITHM)
def numpy_pcg64(key, size):
    return np.random.default_rng(key).permutation(size).astype(np.int64)


def keyed_permutation(key, size, algorithm=PERMUTATION_ALGORITHM):
    """The order [size] that ``key`` gives under ``algorithm`` (the identity for key None)."""
    permute = PERMUTATIONS.get(algorithm)
    return np.arange(size, dtype=np.int64) if key is None else permute(key, size)
