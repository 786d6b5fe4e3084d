"""Heads: ArcFace logits against reference values and analytic angles; Keras serialisation."""

import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from lateral.models.heads import HEADS, ArcHead, NormHead, arcface_logits

REFERENCE = np.load(Path(__file__).resolve().parents[3] / "shared" / "reference" / "iom_reference.npz")
RTOL = 1e-5  # float32


def reference_case(case):
    margin, scale = (float(p) for p in REFERENCE[f"arcface{case}_params"])
    inputs = [REFERENCE[f"arcface{case}_{key}"] for key in ("embeddings", "weights", "labels")]
    return inputs, margin, scale, REFERENCE[f"arcface{case}_expected"]


@pytest.mark.parametrize("case", range(int(REFERENCE["n_arcface"])))
def test_arcface_logits_match_the_reference(case):
    """Logits are scale * cosines, so float32 rounding of the cosines is scaled too: atol = scale * 1e-6."""
    (embeddings, weights, labels), margin, scale, expected = reference_case(case)
    got = arcface_logits(embeddings, weights, labels, margin, scale)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=scale * 1e-6)


def test_arcface_logits_at_known_angles():
    """Class weights along x and y; the embedding at angle theta from x, labelled class 0.

    theta = pi/3: true class s cos(pi/3 + m), other class s cos(pi/2 - pi/3) = s sin(pi/3).
    theta = pi:   theta + m passes pi, so the true class falls back to s (cos(pi) - m sin m)
                  = -s (1 + m sin m), and the other class gets s cos(pi/2) = 0.
    """
    margin, scale = 0.5, 64.0
    weights = np.eye(2, dtype=np.float32)
    embeddings = np.array([[math.cos(math.pi / 3), math.sin(math.pi / 3)], [-1.0, 0.0]], np.float32)
    expected = scale * np.array(
        [[math.cos(math.pi / 3 + margin), math.sin(math.pi / 3)], [-1 - margin * math.sin(margin), 0.0]]
    )
    got = arcface_logits(embeddings, weights, np.array([0, 0]), margin, scale)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=scale * 1e-6)


def test_arc_head_uses_its_weights_like_arcface_logits():
    (embeddings, weights, labels), margin, scale, expected = reference_case(0)
    head = ArcHead(weights.shape[1], margin=margin, logist_scale=scale)
    head([embeddings, labels])
    head.class_weights.assign(weights)
    np.testing.assert_allclose(head([embeddings, labels]), expected, rtol=RTOL, atol=scale * 1e-6)


def test_norm_head_is_a_dense_layer():
    embeddings = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    head = NormHead(5)
    logits = head([embeddings, np.zeros(3, np.int32)])
    kernel, bias = head.get_weights()
    np.testing.assert_allclose(logits, embeddings @ kernel + bias, rtol=RTOL, atol=1e-6)


def test_heads_are_registered():
    assert HEADS.get("ArcHead") is ArcHead and HEADS.get("NormHead") is NormHead


EMBEDDINGS = np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32)
LABELS = np.array([0, 2, 1, 2], np.int32)


def call(head):
    return head([EMBEDDINGS, LABELS])


@pytest.mark.parametrize("head", [ArcHead(3, margin=0.3, logist_scale=30), NormHead(3)], ids=["ArcHead", "NormHead"])
def test_config_round_trip(head):
    logits = call(head)
    clone = type(head).from_config(head.get_config())
    call(clone)
    clone.set_weights(head.get_weights())
    assert clone.get_config() == head.get_config()
    np.testing.assert_allclose(call(clone), logits, rtol=RTOL)


def small_model():
    embeddings = keras.Input((6,), name="embeddings")
    labels = keras.Input((), dtype="int32", name="labels")
    features = keras.layers.Dense(6)(embeddings)
    arc_logits = ArcHead(3, margin=0.3, logist_scale=30)([features, labels])
    return keras.Model([embeddings, labels], [arc_logits, NormHead(3)([features, labels])])


def test_saved_model_loads_with_the_same_outputs(tmp_path):
    model = small_model()
    path = tmp_path / "heads.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    for before, after in zip(model([EMBEDDINGS, LABELS]), loaded([EMBEDDINGS, LABELS])):
        np.testing.assert_allclose(after, before, rtol=RTOL)


def test_heads_stay_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = small_model()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.layers[2].compute_dtype == "float16"  # the Dense before the heads
    for logits in model([EMBEDDINGS, LABELS]):
        assert logits.dtype == tf.float32 and np.all(np.isfinite(logits))
