"""Triplet losses against tensorflow-addons 0.23's outputs, a NumPy loop and analytic batches."""

import itertools
from pathlib import Path

import numpy as np
import pytest

from lateral.losses import LOSSES

REFERENCE = np.load(Path(__file__).resolve().parents[3] / "shared" / "reference" / "tfa_triplet_reference.npz")
RTOL = 1e-5  # float32

semihard = LOSSES.get("semihard_triplet_loss")
batch_hard = LOSSES.get("batch_hard_triplet")
batch_all = LOSSES.get("batch_all_triplet_loss")


@pytest.mark.parametrize("case", range(int(REFERENCE["n_cases"])))
def test_matches_tensorflow_addons(case):
    """expected = [semihard L2, hard L2 (soft), semihard angular, hard squared-L2 (soft)]."""
    labels, embeddings = REFERENCE[f"case{case}_labels"], REFERENCE[f"case{case}_embeddings"]
    margin, soft = (float(p) for p in REFERENCE[f"case{case}_params"])
    got = [
        semihard(labels, embeddings, margin=margin),
        batch_hard(labels, embeddings, margin=margin, soft=bool(soft)),
        semihard(labels, embeddings, margin=margin, distance_metric="angular"),
        batch_hard(labels, embeddings, margin=margin, soft=bool(soft), distance_metric="squared-L2"),
    ]
    np.testing.assert_allclose(got, REFERENCE[f"case{case}_expected"], rtol=RTOL)


def batch_all_loop(labels, embeddings, margin):
    x = embeddings.astype(np.float64)
    losses = []
    for a, p, n in itertools.product(range(len(x)), repeat=3):
        if a != p and labels[a] == labels[p] and labels[a] != labels[n]:
            losses.append(max(np.linalg.norm(x[a] - x[p]) - np.linalg.norm(x[a] - x[n]) + margin, 0.0))
    active = [value for value in losses if value > 0]
    return sum(active) / len(active) if active else 0.0


@pytest.mark.parametrize("seed, margin", [(0, 0.2), (1, 1.0), (2, 5.0)])
def test_batch_all_matches_a_loop_over_triplets(seed, margin):
    rng = np.random.default_rng(seed)
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3])  # identity 3 is alone: no triplet as anchor
    embeddings = rng.normal(size=(len(labels), 6)).astype(np.float32)
    np.testing.assert_allclose(
        batch_all(labels, embeddings, margin=margin), batch_all_loop(labels, embeddings, margin), rtol=RTOL
    )


def test_separated_identities_cost_nothing():
    """Each identity sits within 0.1 of its own point and 10 away from the other: every
    positive is closer than every negative, so with margin 0 no triplet is violated."""
    labels = np.array([0, 0, 1, 1])
    embeddings = np.array([[0, 0], [0, 0.1], [10, 0], [10, 0.1]], np.float32)
    for loss in (semihard, batch_hard, batch_all):
        assert loss(labels, embeddings, margin=0.0) == 0.0


def test_identical_embeddings_cost_the_margin():
    """All distances are 0, so every triplet costs relu(0 - 0 + margin) = margin: semi-hard
    finds no negative farther than 0 and falls back to the farthest (0), and the soft
    hard loss is softplus(0) = log 2."""
    labels = np.array([0, 0, 1, 1, 2, 2])
    embeddings = np.ones((6, 3), np.float32)
    for loss in (semihard, batch_hard, batch_all):
        np.testing.assert_allclose(loss(labels, embeddings, margin=0.3), 0.3, rtol=RTOL)
    np.testing.assert_allclose(batch_hard(labels, embeddings, soft=True), np.log(2), rtol=RTOL)


def test_semihard_without_positive_pairs_is_zero_not_nan():
    """tfa divides by the number of positive pairs and returns NaN here; we return 0."""
    assert semihard(np.array([0, 1, 2]), np.eye(3, dtype=np.float32)) == 0.0
