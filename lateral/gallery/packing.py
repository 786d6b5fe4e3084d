"""IoM templates packed to ``m * ceil(log2 q)`` bits, and their 1:N search by counting equal codes.

A template is ``m`` integer codes in ``0..q-1``. It is stored as
``b = ceil(log2 q)`` bit planes: plane ``j`` holds bit ``j`` of every code,
``m`` bits packed into bytes. Two codes are equal exactly when no plane
differs at their position, so the positions where two templates differ are
``OR_j (plane_j(a) XOR plane_j(b))``, and the IoM Hamming similarity is
``m - popcount`` of that mask. With the planes held as 64-bit words this is a
few word operations per template (NumPy's ``bitwise_count`` is the popcount).
The scores are those of ``lateral.measures``' "hamming", computed on the form
the gallery stores (tests/test_measures.py checks the two agree).
"""

import numpy as np


def bits_per_code(q):
    """Bits needed for codes 0..q-1 (log2 q for a power of two)."""
    if q < 2:
        raise ValueError(f"q must be at least 2, got {q}")
    return (q - 1).bit_length()


def packed_shape(m, q):
    """Shape of one packed template: (bit planes, bytes per plane)."""
    return bits_per_code(q), -(-m // 8)


def pack_codes(codes, q):
    """int codes [n, m] in 0..q-1 -> uint8 bit planes [n, bits, ceil(m / 8)]."""
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be [n, m], got shape {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() >= q):
        raise ValueError(f"codes must lie in 0..{q - 1}, found {codes.min()}..{codes.max()}")
    shifts = np.arange(bits_per_code(q), dtype=np.int64)
    planes = ((codes.astype(np.int64)[:, None, :] >> shifts[None, :, None]) & 1).astype(np.uint8)
    return np.packbits(planes, axis=-1)


def unpack_codes(packed, m):
    """uint8 bit planes [n, bits, bytes] -> int32 codes [n, m] (the inverse of ``pack_codes``)."""
    packed = np.asarray(packed, np.uint8)
    planes = np.unpackbits(packed, axis=-1, count=m).astype(np.int32)
    shifts = np.arange(packed.shape[1], dtype=np.int32)
    return (planes << shifts[None, :, None]).sum(axis=1).astype(np.int32)


def _as_words(packed):
    """uint8 planes [n, bits, bytes] -> uint64 [bits, n, words], zero-padded (padding bits are equal, so never count)."""
    packed = np.asarray(packed, np.uint8)
    n, bits, width = packed.shape
    words = -(-width // 8)
    padded = np.zeros((bits, n, words * 8), np.uint8)
    padded[:, :, :width] = packed.transpose(1, 0, 2)
    return padded.view(np.uint64)


class HammingIndex:
    """Packed templates held as 64-bit words for 1:N search."""

    def __init__(self, packed, m):
        self.m = m
        self.words = np.ascontiguousarray(_as_words(packed))  # [bits, n, words]

    def __len__(self):
        return self.words.shape[1]

    @property
    def nbytes(self):
        return self.words.nbytes

    def mismatches(self, query_packed, block=65536):
        """Number of unequal codes between one packed query [bits, bytes] and every template: uint [n].

        Works through the templates in blocks so the temporaries stay in cache.
        """
        query = _as_words(np.asarray(query_packed, np.uint8)[None])[:, 0, :]  # [bits, words]
        bits, count, words = self.words.shape
        out = np.empty(count, np.uint8 if self.m < 256 else np.uint32)
        differ = np.empty((min(block, count), words), np.uint64)
        scratch = np.empty_like(differ)
        for start in range(0, count, block):
            stop = min(start + block, count)
            rows = stop - start
            np.bitwise_xor(self.words[0, start:stop], query[0], out=differ[:rows])
            for plane in range(1, bits):
                np.bitwise_xor(self.words[plane, start:stop], query[plane], out=scratch[:rows])
                np.bitwise_or(differ[:rows], scratch[:rows], out=differ[:rows])
            counts = np.bitwise_count(differ[:rows])
            out[start:stop] = counts[:, 0] if words == 1 else counts.sum(axis=1)
        return out

    def equal_counts(self, query_packed):
        """Number of equal codes between one packed query [bits, bytes] and every template: int [n]."""
        return self.m - self.mismatches(query_packed).astype(np.int64)

    def similarities(self, query_packed):
        """IoM Hamming similarity (share of equal codes) to every template: float32 [n]."""
        return self.equal_counts(query_packed).astype(np.float32) / self.m

    def top_k(self, query_packed, k):
        """(indices, equal counts) of the ``k`` most similar templates, best first (ties: lower index first).

        Mismatch counts are small integers, so the k-th best is found from
        their histogram instead of a partial sort of all n scores.
        """
        mismatches = self.mismatches(query_packed)
        k = min(k, len(mismatches))
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        cutoff = int(np.searchsorted(np.cumsum(np.bincount(mismatches, minlength=self.m + 1)), k))
        candidates = np.flatnonzero(mismatches <= cutoff)
        chosen = candidates[np.argsort(mismatches[candidates], kind="stable")[:k]]
        return chosen, self.m - mismatches[chosen].astype(np.int64)
