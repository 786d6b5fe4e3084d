"""The contract every registered loss keeps: signature, checks, float32, degenerate batches."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from lateral.losses import LOSSES

# one parameter set per registered loss; a new loss must be added here
PARAMS = {
    "semihard_triplet_loss": dict(margin=0.2),
    "batch_hard_triplet": dict(margin=0.2),
    "batch_all_triplet_loss": dict(margin=0.2),
    "batch_hard_arc_triplet_loss": dict(arc_margin=0.2, scale=32.0, minimize_dist=True),
    "batch_all_arc_triplet_loss": dict(arc_margin=0.2, scale=32.0, minimize_dist=True),
    "code_balance_loss": dict(q=4),
    "quantisation_loss": dict(),
    "bin_lut_loss": dict(q=4),
    "quadruplet_loss": dict(triplet_margin=0.2, pair_margin=0.1),
}
NAMES = sorted(PARAMS)
RTOL = {tf.float16: 1e-2, tf.float32: 1e-5}


def batch(size=8, dim=4, identities=3, seed=0):
    """Labels cycling through the identities and codes in [0, 3] (valid IoM codes for q=4)."""
    rng = np.random.default_rng(seed)
    return np.arange(size) % identities, rng.uniform(0, 3, size=(size, dim)).astype(np.float32)


def loss(name, labels, embeddings):
    return LOSSES.get(name)(labels, embeddings, **PARAMS[name])


def test_every_registered_loss_has_parameters_here():
    assert NAMES == LOSSES.names()


@pytest.mark.parametrize("name", NAMES)
def test_returns_a_float32_scalar(name):
    value = loss(name, *batch())
    assert value.dtype == tf.float32 and value.shape == () and np.isfinite(value)


DEGENERATE = {
    "all embeddings equal": ([0, 0, 1, 1, 2, 2], np.full((6, 4), 1.5, np.float32)),
    "all embeddings zero": ([0, 0, 1, 1, 2, 2], np.zeros((6, 4), np.float32)),
    "a single identity": ([7] * 6, batch(6)[1]),
    "a batch of two": ([0, 1], batch(2)[1]),
}


@pytest.mark.parametrize("case", DEGENERATE)
@pytest.mark.parametrize("name", NAMES)
def test_finite_loss_and_gradient_on_degenerate_batches(name, case):
    labels, embeddings = DEGENERATE[case]
    embeddings = tf.constant(embeddings)
    with tf.GradientTape() as tape:
        tape.watch(embeddings)
        value = loss(name, tf.constant(labels), embeddings)
    gradient = tape.gradient(value, embeddings)
    assert np.isfinite(value)
    assert gradient is not None and np.all(np.isfinite(gradient))


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("name", NAMES)
def test_float16_embeddings_under_mixed_precision_give_float32(name, mixed_float16):
    labels, embeddings = batch()
    value = loss(name, labels, tf.constant(embeddings, tf.float16))
    assert value.dtype == tf.float32 and np.isfinite(value)
    np.testing.assert_allclose(value, loss(name, labels, embeddings), rtol=RTOL[tf.float16])


@pytest.mark.parametrize("name", NAMES)
def test_traced_with_unknown_batch_size_matches_eager(name):
    """Keras fit traces losses with batch dimension None; the static checks must not need it."""
    labels, embeddings = batch()
    traced = tf.function(
        lambda labels, embeddings: loss(name, labels, embeddings),
        input_signature=[tf.TensorSpec([None], tf.int64), tf.TensorSpec([None, 4], tf.float32)],
    )
    np.testing.assert_allclose(traced(labels, embeddings), loss(name, labels, embeddings), rtol=RTOL[tf.float32])


@pytest.mark.parametrize(
    "labels, embeddings, message",
    [
        (np.zeros((4, 1)), np.zeros((4, 3)), "labels must have shape"),
        (np.zeros(4), np.zeros(4), "embeddings must have shape"),
        (np.zeros(3), np.zeros((4, 3)), "3 labels for 4 embeddings"),
    ],
)
def test_bad_shapes_raise_a_clear_error(labels, embeddings, message):
    with pytest.raises(ValueError, match=message):
        LOSSES.get("batch_hard_triplet")(labels, embeddings)


def test_batch_mismatch_is_caught_when_the_batch_size_is_unknown():
    traced = tf.function(
        lambda labels, embeddings: LOSSES.get("batch_hard_triplet")(labels, embeddings),
        input_signature=[tf.TensorSpec([None], tf.int64), tf.TensorSpec([None, 3], tf.float32)],
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="batch size"):
        traced(np.zeros(3, np.int64), np.zeros((4, 3), np.float32))
