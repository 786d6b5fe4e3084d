"""Match measures by name (used by validation, evaluation and the gallery): every measure maps two sets of templates to a score matrix (higher = more alike)."""

import dataclasses

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


@_register("hamming", "codes")
def hamming_similarity(a, b):
    """Share of positions with equal codes (the IoM match score)."""
    a, b = np.asarray(a), np.asarray(b)
    equal = np.zeros((len(a), len(b)))
    for position in range(a.shape[1]):  # one [n, k] comparison per code: memory stays n x k
        equal += a[:, position, None] == b[None, :, position]
    return equal / a.shape[1]


@_register("jaccard", "codes")
def jaccard_similarity(a, b):
    """Templates as sets of (position, code): |A & B| / |A | B| = e / (2m - e) for e equal positions."""
    equal = hamming_similarity(a, b) * np.asarray(a).shape[1]
    return equal / (2 * np.asarray(a).shape[1] - equal)


@_register("cosine", "embeddings")
def cosine_similarity(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T


@_register("euclidean", "embeddings")
def negative_euclidean_distance(a, b):
    """Minus the Euclidean distance between L2-normalised embeddings (so higher is more alike)."""
    return -np.sqrt(np.maximum(2.0 - 2.0 * cosine_similarity(a, b), 0.0))
