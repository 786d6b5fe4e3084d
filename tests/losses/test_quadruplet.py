"""Quadruplet loss against a NumPy loop over anchors and negative pairs."""

import itertools

import numpy as np
import pytest

from lateral.losses import LOSSES

RTOL = 1e-5  # float32
quadruplet = LOSSES.get("quadruplet_loss")


def quadruplet_loop(labels, embeddings, triplet_margin, pair_margin, squared):
    x = embeddings.astype(np.float64)

    def d(i, j):
        squared_distance = np.sum((x[i] - x[j]) ** 2)
        return squared_distance if squared else np.sqrt(squared_distance)

    n = range(len(x))
    terms = []
    for a in n:
        positives = [d(a, p) for p in n if p != a and labels[p] == labels[a]]
        negatives = [d(a, k) for k in n if labels[k] != labels[a]]
        if not positives or not negatives:
            continue
        pairs = [
            d(i, j)
            for i, j in itertools.product(n, n)
            if labels[i] != labels[a] and labels[j] != labels[a] and labels[i] != labels[j]
        ]
        term = max(max(positives) - min(negatives) + triplet_margin, 0.0)
        if pairs:
            term += max(max(positives) - min(pairs) + pair_margin, 0.0)
        terms.append(term)
    return np.mean(terms) if terms else 0.0


CASES = {
    "four identities, one alone": np.array([0, 0, 0, 1, 1, 2, 2, 3]),
    "two identities, no negative pair": np.array([0, 0, 0, 1, 1, 1]),
    "three identities": np.array([0, 1, 2, 0, 1, 2, 0, 1, 2]),
}


@pytest.mark.parametrize("metric", ["L2", "squared-L2"])
@pytest.mark.parametrize("case", CASES)
def test_matches_a_loop(case, metric):
    labels = CASES[case]
    embeddings = np.random.default_rng(len(labels)).normal(size=(len(labels), 5)).astype(np.float32)
    margins = dict(triplet_margin=1.0, pair_margin=0.5)
    expected = quadruplet_loop(labels, embeddings, squared=metric == "squared-L2", **margins)
    np.testing.assert_allclose(quadruplet(labels, embeddings, distance_metric=metric, **margins), expected, rtol=RTOL)


def test_separated_identities_cost_nothing():
    """Three identities, each within 0.1 of its point and about 10 from the others: with
    d_ap = 0.1 and d_an, d_n1n2 >= 10, both hinges relu(0.1 - 10 + margin) are 0."""
    labels = np.array([0, 0, 1, 1, 2, 2])
    embeddings = np.array([[0, 0], [0, 0.1], [10, 0], [10, 0.1], [0, 10], [0.1, 10]], np.float32)
    assert quadruplet(labels, embeddings, triplet_margin=1.0, pair_margin=0.5) == 0.0
