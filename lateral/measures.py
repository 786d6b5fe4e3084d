"""Match measures by name (used by validation, evaluation and the gallery): every measure maps two sets of templates to a score matrix (higher = more alike).

The one NumPy implementation of each measure lives here. Two other forms
compute the same numbers for other jobs: ``CosineIndex`` (below) and
``lateral.gallery.packing.HammingIndex`` score one query against stored
templates normalised or packed once (the gallery's 1:N search; tests check
them against the measures here), and ``lateral.losses.distances`` holds the
differentiable TensorFlow distances the losses train with.
"""

import dataclasses
import math

import numpy as np

from lateral.registry import Registry

MEASURES = Registry("measure")


@dataclasses.dataclass(frozen=True)
class Measure:
    representation: str  # "codes" (IoM templates) or "embeddings" (float vectors)
    scores: object  # (a [n, d], b [k, d]) -> [n, k]


def _register(name, representation):
    def add(function):
        MEASURES.register(name)(Measure(representation, function))
        return function

    return add


def _one_hot(codes, levels):
    """Codes [n, m] as float32 one-hot rows [n, m * levels]: equal codes become matching ones."""
    rows = np.zeros((len(codes), codes.shape[1] * levels), np.float32)
    rows[np.arange(len(codes))[:, None], np.arange(codes.shape[1]) * levels + codes] = 1.0
    return rows


@_register("hamming", "codes")
def hamming_similarity(a, b, block=2048):
    """Share of positions with equal codes (the IoM match score).

    Counted as a product of one-hot rows, so BLAS does the work: about twice
    as fast as comparing code by code in NumPy (bench/evaluate.py). Rows of
    ``a`` go in blocks to bound the one-hot copy's memory.
    """
    a, b = np.asarray(a), np.asarray(b)
    levels = int(max(a.max(initial=0), b.max(initial=0))) + 1
    b_rows = _one_hot(b, levels)
    scores = np.empty((len(a), len(b)), np.float32)
    for start in range(0, len(a), block):
        scores[start : start + block] = _one_hot(a[start : start + block], levels) @ b_rows.T
    return scores / a.shape[1]


@_register("lut_hamming", "codes")
def lut_hamming_similarity(a, b):
    """Share of equal bits once each code is written in binary: the original deep-IoM evaluation's
    LUT binarisation (code c in 0..q-1 as ceil(log2 q) bits, most significant first, the table of
    ``bin_lut_loss``). q is taken as the largest code present plus one, which is the model's q
    whenever its top level occurs anywhere in ``a`` or ``b``."""
    a, b = np.asarray(a), np.asarray(b)
    levels = int(max(a.max(initial=0), b.max(initial=0))) + 1
    bits = max(1, math.ceil(math.log2(levels)))
    shifts = np.arange(bits - 1, -1, -1)
    a_bits, b_bits = (((codes[..., None] >> shifts) & 1).reshape(len(codes), -1).astype(np.float32) for codes in (a, b))
    equal = a_bits @ b_bits.T + (1.0 - a_bits) @ (1.0 - b_bits).T
    return equal / a_bits.shape[1]


@_register("jaccard", "codes")
def jaccard_similarity(a, b):
    """Templates as sets of (position, code): |A & B| / |A | B| = e / (2m - e) for e equal positions."""
    equal = hamming_similarity(a, b) * np.asarray(a).shape[1]
    return equal / (2 * np.asarray(a).shape[1] - equal)


def unit_rows(vectors):
    """Each row divided by its L2 norm (a zero row stays zero), in the rows' own dtype."""
    vectors = np.asarray(vectors)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


@_register("cosine", "embeddings")
def cosine_similarity(a, b):
    return unit_rows(np.asarray(a, np.float64)) @ unit_rows(np.asarray(b, np.float64)).T


class CosineIndex:
    """``cosine_similarity`` of one query at a time against fixed templates, normalised once.

    float32 as the gallery stores them, so a query costs one matrix-vector product (bench/search.py).
    """

    def __init__(self, templates):
        self.unit = unit_rows(np.asarray(templates, np.float32))

    def scores(self, query):
        """Cosine of ``query`` [d] with every template: float32 [n]."""
        return self.unit @ unit_rows(np.asarray(query, np.float32)[None])[0]


@_register("euclidean", "embeddings")
def negative_euclidean_distance(a, b):
    """Minus the Euclidean distance between L2-normalised embeddings (so higher is more alike)."""
    return -np.sqrt(np.maximum(2.0 - 2.0 * cosine_similarity(a, b), 0.0))
