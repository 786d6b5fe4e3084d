"""Pooling of the backbone's map (GeM, average) and the backbone's gradient scale, against NumPy formulas."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from lateral.models.embedding import build_embedding_model
from lateral.models.gradient_scale import GradientScale
from lateral.models.pooling import GEM_EPSILON, GeneralisedMeanPooling, build_pooling
from lateral.registry import UnknownNameError


def test_gem_is_the_generalised_mean_of_each_channel():
    rng = np.random.default_rng(0)
    features = rng.uniform(-0.5, 3.0, (2, 4, 5, 3)).astype("float32")  # negatives are clipped to eps
    layer = GeneralisedMeanPooling(initial_p=3.0)
    expected = np.mean(np.maximum(features, GEM_EPSILON) ** 3.0, axis=(1, 2)) ** (1 / 3.0)
    np.testing.assert_allclose(layer(features).numpy(), expected, rtol=1e-5)


def test_gem_with_p_one_is_the_average_and_large_p_nears_the_maximum():
    features = np.random.default_rng(1).uniform(0.1, 2.0, (1, 3, 3, 2)).astype("float32")
    np.testing.assert_allclose(GeneralisedMeanPooling(initial_p=1.0)(features).numpy(),
                               features.mean(axis=(1, 2)), rtol=1e-5)
    near_max = GeneralisedMeanPooling(initial_p=60.0)(features).numpy()
    np.testing.assert_allclose(near_max, features.max(axis=(1, 2)), rtol=0.05)


def test_gem_p_is_learned():
    layer = GeneralisedMeanPooling()
    features = tf.constant(np.random.default_rng(2).uniform(0.1, 2.0, (2, 3, 3, 4)).astype("float32"))
    with tf.GradientTape() as tape:
        output = tf.reduce_sum(layer(features))
    (gradient,) = tape.gradient(output, [layer.p])
    assert layer.p in layer.trainable_weights and float(gradient) != 0.0


def test_pooling_names_come_from_one_registry():
    assert isinstance(build_pooling("avg"), keras.layers.GlobalAveragePooling2D)
    with pytest.raises(UnknownNameError, match="flatten"):
        build_pooling("max_pool")


def test_gradient_scale_is_the_identity_forward_and_scales_the_gradient():
    x = tf.constant([[1.0, -2.0, 3.0]])
    weights = tf.constant([[0.5, 2.0, -1.0]])
    layer = GradientScale(0.1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * weights)
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), 0.1 * weights.numpy(), rtol=1e-6)


@pytest.mark.parametrize("pooling", ["avg", "gem"])
def test_pooled_embedding_model_saves_and_loads(tmp_path, pooling):
    model = build_embedding_model((32, 32), "MobileNetV2", 8, width=0.35, dropout=0.0, pooling=pooling,
                                  backbone_lr_scale=0.1)
    # pooled: the Dense layer sees one vector of the backbone's channels, whatever the map's size
    assert model.get_layer("output_dense").kernel.shape[0] == model.get_layer("output_bn_in").gamma.shape[0]
    images = np.random.default_rng(3).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    path = tmp_path / "model.keras"
    model.save(path)
    np.testing.assert_allclose(keras.models.load_model(path)(images).numpy(), model(images).numpy(), atol=1e-5)
