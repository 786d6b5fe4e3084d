"""Distance matrices against a slow NumPy computation from pairwise differences."""

import numpy as np
import pytest
import tensorflow as tf

from lateral.losses.distances import DISTANCES, euclidean
from lateral.registry import UnknownNameError

RNG = np.random.default_rng(0)
EMBEDDINGS = RNG.normal(size=(7, 5)).astype(np.float32)


def numpy_distances(x):
    x = x.astype(np.float64)
    n = len(x)
    squared = np.array([[np.sum((x[i] - x[j]) ** 2) for j in range(n)] for i in range(n)])
    cosine = np.array([[x[i] @ x[j] / np.linalg.norm(x[i]) / np.linalg.norm(x[j]) for j in range(n)] for i in range(n)])
    return {
        "squared-L2": squared,
        "L2": np.sqrt(squared),
        "angular": np.maximum(1 - cosine, 1e-16),
        "angle": np.arccos(np.clip(cosine, -1 + 1e-7, 1 - 1e-7)),
    }


@pytest.mark.parametrize("name", ["squared-L2", "L2", "angular", "angle"])
def test_matches_numpy_off_the_diagonal(name):
    expected = numpy_distances(EMBEDDINGS)[name]
    got = DISTANCES.get(name)(tf.constant(EMBEDDINGS)).numpy()
    off_diagonal = ~np.eye(len(EMBEDDINGS), dtype=bool)
    np.testing.assert_allclose(got[off_diagonal], expected[off_diagonal], rtol=1e-5, atol=1e-5)


def test_diagonals():
    """L2 distances to oneself are exactly 0. Angles are not: the clip keeps them at least
    arccos(float32(1 - 1e-7)) = 4.9e-4, and float32 rounding of |x|^2 / |x|^2 can put the
    cosine a few ulps lower still, so they stay under 1e-3."""
    x = tf.constant(EMBEDDINGS)
    assert np.all(np.diag(DISTANCES.get("L2")(x)) == 0)
    assert np.all(np.diag(DISTANCES.get("squared-L2")(x)) == 0)
    self_angles = np.diag(DISTANCES.get("angle")(x))
    assert np.all(self_angles >= np.arccos(np.float32(1 - 1e-7))) and np.all(self_angles < 1e-3)


def test_duplicate_points_have_zero_distance_and_a_finite_gradient():
    x = tf.constant(np.repeat(EMBEDDINGS[:2], 2, axis=0))
    with tf.GradientTape() as tape:
        tape.watch(x)
        distances = euclidean(x)
        total = tf.reduce_sum(distances)
    assert distances[0, 1] == 0
    assert np.all(np.isfinite(tape.gradient(total, x)))


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="angular"):
        DISTANCES.get("cosine")


def test_the_loss_cosine_agrees_with_the_scoring_measure():
    """The TensorFlow cosine the losses differentiate and the NumPy one evaluation scores with."""
    from lateral.losses.distances import cosine_similarity
    from lateral.measures import MEASURES

    expected = numpy_distances(EMBEDDINGS)["angular"]
    scoring = MEASURES.get("cosine").scores(EMBEDDINGS, EMBEDDINGS)
    training = cosine_similarity(tf.constant(EMBEDDINGS)).numpy()
    np.testing.assert_allclose(1 - scoring, expected, atol=1e-7)
    np.testing.assert_allclose(training, scoring, atol=1e-6)
