"""The IoM head against NumPy: hard codes are arg-maxes, soft codes tend to them as T grows."""

import keras
import numpy as np
import pytest

from lateral.models.iom import (
    HardCodes, IoMProjection, KeyedPermutation, build_codes_head, build_codes_model, soft_codes,
)
from lateral.models.permutation import keyed_permutation
from lateral.runs import codes_head

RNG = np.random.default_rng(4)
EMBEDDINGS = RNG.normal(size=(5, 12)).astype(np.float32)


def numpy_logits(projection, embeddings):
    """The projection without hidden layers is one affine map: x W + b, viewed as [n, m, q]."""
    kernel, bias = projection.get_weights()
    return (embeddings @ kernel + bias).reshape(len(embeddings), projection.m, projection.q)


def test_hard_codes_are_each_groups_argmax():
    projection = IoMProjection(m=6, q=4, hidden_layers=0)
    codes = HardCodes()(projection(EMBEDDINGS)).numpy()
    np.testing.assert_array_equal(codes, numpy_logits(projection, EMBEDDINGS).argmax(axis=-1))
    assert codes.dtype == np.int32 and codes.min() >= 0 and codes.max() <= 3


@pytest.mark.parametrize("temperature", [1.0, 10.0])
def test_soft_codes_are_the_expected_index(temperature):
    logits = RNG.normal(size=(3, 5, 8)).astype(np.float32)
    weights = np.exp(temperature * logits - (temperature * logits).max(-1, keepdims=True))
    expected = (weights / weights.sum(-1, keepdims=True) * np.arange(8)).sum(-1)
    np.testing.assert_allclose(soft_codes(logits, temperature).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_soft_codes_approach_hard_codes_as_temperature_grows():
    logits = RNG.normal(size=(20, 16, 8)).astype(np.float32)
    hard = logits.argmax(-1)
    gaps = [np.abs(soft_codes(logits, t).numpy() - hard).mean() for t in (1.0, 10.0, 100.0, 1000.0)]
    assert all(later < earlier for earlier, later in zip(gaps, gaps[1:]))
    # Only near-ties (two logits within ~1/T) keep a soft code between levels.
    assert gaps[-1] < 0.02
    assert np.mean(np.round(soft_codes(logits, 1000.0).numpy()) == hard) > 0.98


def test_keyed_permutation_is_a_keyed_permutation_and_identity_without_key():
    np.testing.assert_array_equal(KeyedPermutation(None)(EMBEDDINGS).numpy(), EMBEDDINGS)
    permuted = KeyedPermutation(7)(EMBEDDINGS).numpy()
    # The fixed vector of key 7, size 12 (tests/models/test_permutation.py).
    np.testing.assert_array_equal(permuted, EMBEDDINGS[:, [5, 4, 2, 7, 11, 3, 10, 0, 8, 9, 1, 6]])
    assert not np.array_equal(permuted, KeyedPermutation(8)(EMBEDDINGS).numpy())
    legacy = KeyedPermutation(7, "numpy-pcg64-v1")(EMBEDDINGS).numpy()
    np.testing.assert_array_equal(legacy, EMBEDDINGS[:, np.random.default_rng(7).permutation(12)])


def test_a_model_saved_before_the_algorithm_was_recorded_keeps_the_legacy_permutation():
    config = KeyedPermutation(7).get_config()
    assert config["algorithm"] == "hmac-sha256-fisher-yates"
    del config["algorithm"]
    layer = KeyedPermutation.from_config(config)
    assert layer.algorithm == "numpy-pcg64-v1"
    np.testing.assert_array_equal(layer(EMBEDDINGS).numpy(), EMBEDDINGS[:, np.random.default_rng(7).permutation(12)])


def test_codes_model_round_trips_through_keras_save(tmp_path):
    pixels = keras.Input((8, 16, 3))
    embedding = keras.Model(pixels, keras.layers.Dense(12)(keras.layers.Flatten()(pixels)))
    projection = IoMProjection(m=6, q=4, hidden_layers=2)
    model = build_codes_model(embedding, projection, key=3)
    images = RNG.uniform(0, 255, size=(4, 8, 16, 3)).astype(np.float32)
    codes = model(images).numpy()
    model.save(tmp_path / "codes.keras")
    loaded = keras.models.load_model(tmp_path / "codes.keras")
    np.testing.assert_array_equal(loaded(images).numpy(), codes)
    assert loaded.get_layer("permutation").key == 3


@pytest.mark.parametrize("algorithm", ["hmac-sha256-fisher-yates", "numpy-pcg64-v1"])
def test_the_codes_head_is_the_argmax_of_the_keyed_embedding_projected(algorithm):
    projection = IoMProjection(m=6, q=4, hidden_layers=0)
    head = build_codes_head(12, projection, key=9, algorithm=algorithm)
    order = keyed_permutation(9, 12, algorithm)
    expected = numpy_logits(projection, EMBEDDINGS[:, order]).argmax(axis=-1)
    np.testing.assert_array_equal(head(EMBEDDINGS).numpy(), expected)


def test_a_saved_codes_models_head_gives_the_models_own_codes():
    """``lateral.runs.codes_head`` rebuilds the head under the saved key and algorithm: the same codes as the model."""
    pixels = keras.Input((8, 16, 3))
    embedding = keras.Model(pixels, keras.layers.Dense(12)(keras.layers.Flatten()(pixels)))
    model = build_codes_model(embedding, IoMProjection(m=6, q=4, hidden_layers=1), key=5)
    model.get_layer("permutation").algorithm = "numpy-pcg64-v1"  # as a model saved before the algorithm was named
    model.get_layer("permutation").build((None, 12))
    images = RNG.uniform(0, 255, size=(4, 8, 16, 3)).astype(np.float32)
    np.testing.assert_array_equal(codes_head(model)(embedding(images)).numpy(), model(images).numpy())
