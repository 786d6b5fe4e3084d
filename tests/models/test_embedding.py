"""The embedding model's options: BNNeck, colour constancy (NumPy references), and hue jitter."""

import colorsys
import math

import keras
import numpy as np
import pytest

from lateral.config import AugmentConfig
from lateral.data.augment import build_augmentation
from lateral.models.colour_constancy import ColourConstancy
from lateral.models.embedding import build_embedding_model
from lateral.models.heads import ArcHead


def tiny_model(**options):
    return build_embedding_model((32, 32), "MobileNetV2", 8, width=0.35, dropout=0.0, **options)


def numpy_arcface(embeddings, weights, labels, margin, scale):
    """ArcFace (Deng et al. 2019) written out: s cos(theta_j), and s cos(theta_y + m) for the true class."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    cosines = unit @ (weights / np.linalg.norm(weights, axis=0, keepdims=True))
    rows = np.arange(len(labels))
    theta = np.arccos(np.clip(cosines[rows, labels], -1, 1))
    logits = cosines.copy()
    logits[rows, labels] = np.where(theta + margin < math.pi, np.cos(theta + margin),
                                    cosines[rows, labels] - margin * math.sin(margin))
    return scale * logits


def test_bnneck_normalises_without_shift_and_feeds_the_head():
    """In training, the neck's output is gamma (x - batch mean) / sqrt(batch variance + eps), x being
    output_dense's features, with no beta; ArcHead's logits on it match the NumPy ArcFace."""
    model = tiny_model(bnneck=True)
    neck = model.get_layer("bnneck")
    assert not neck.center and [w.name for w in neck.weights] == ["gamma", "moving_mean", "moving_variance"]
    assert "output_bn_out" not in [layer.name for layer in model.layers]
    neck.gamma.assign(np.linspace(0.5, 2.0, 8).astype(np.float32))
    pixels = np.random.default_rng(0).uniform(0, 255, (6, 32, 32, 3)).astype(np.float32)
    before = keras.Model(model.input, model.get_layer("output_dense").output)(pixels, training=True).numpy()
    expected = np.linspace(0.5, 2.0, 8) * (before - before.mean(0)) / np.sqrt(before.var(0) + neck.epsilon)
    after = model(pixels, training=True).numpy()
    np.testing.assert_allclose(after, expected, rtol=1e-3, atol=1e-3)
    head = ArcHead(3, margin=0.3, logist_scale=3.0)
    labels = np.array([0, 1, 2, 0, 1, 2])
    logits = head([after, labels]).numpy()
    np.testing.assert_allclose(logits, numpy_arcface(after, head.class_weights.numpy(), labels, 0.3, 3.0),
                               rtol=1e-5, atol=1e-5)


def test_without_bnneck_the_output_batchnorm_keeps_its_shift():
    assert tiny_model().get_layer("output_bn_out").center


def grey_image():
    """A random image under a colour cast: channels scaled by 0.9, 0.6 and 0.3 (no clipping)."""
    return np.random.default_rng(1).uniform(20, 250, (2, 8, 8, 3)) * np.array([0.9, 0.6, 0.3])


@pytest.mark.parametrize("mode, p", [("grey_world", 1.0), ("shades_of_grey", 6.0)])
def test_colour_constancy_against_numpy(mode, p):
    """e_c = (mean I_c^p)^(1/p) per image and channel; out = I_c mean(e) / e_c (Finlayson & Trezzi 2004)."""
    images = grey_image()
    estimate = np.mean((images / 255) ** p, axis=(1, 2), keepdims=True) ** (1 / p)
    expected = np.clip(images * estimate.mean(-1, keepdims=True) / estimate, 0, 255)
    got = ColourConstancy(mode)(images.astype(np.float32)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


def test_grey_world_equalises_the_channel_means_and_none_is_identity():
    images = grey_image().astype(np.float32)
    means = ColourConstancy("grey_world")(images).numpy().mean(axis=(1, 2))
    np.testing.assert_allclose(means, means.mean(-1, keepdims=True) * np.ones(3), rtol=1e-4)
    np.testing.assert_array_equal(ColourConstancy("none")(images).numpy(), images)


def test_colour_constancy_travels_with_a_saved_model(tmp_path):
    """Saved and loaded (the full embedding model carrying it is checked in tests/training)."""
    pixels = keras.Input((8, 8, 3))
    model = keras.Model(pixels, ColourConstancy("shades_of_grey")(pixels))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    images = grey_image().astype(np.float32)
    assert loaded.layers[-1].mode == "shades_of_grey"
    np.testing.assert_allclose(loaded(images), model(images), rtol=1e-6)


def test_hue_jitter_rotates_the_hue_within_its_delta():
    """A saturated colour keeps its saturation and value; its hue (colorsys) moves by at most hue_delta."""
    augment = build_augmentation(AugmentConfig(random_crop=False, saturation=False, brightness=False, hue=True,
                                               hue_delta=0.1))
    colour = np.array([200.0, 60.0, 30.0])
    hue, saturation, value = colorsys.rgb_to_hsv(*(colour / 255))
    shifts = []
    for _ in range(20):
        out = augment(np.tile(colour, (4, 4, 1)).astype(np.float32)).numpy()[0, 0] / 255
        h, s, v = colorsys.rgb_to_hsv(*out)
        assert s == pytest.approx(saturation, abs=0.01) and v == pytest.approx(value, abs=0.01)
        shifts.append((h - hue + 0.5) % 1.0 - 0.5)
    assert max(abs(shift) for shift in shifts) <= 0.1 + 1e-3 and np.ptp(shifts) > 0.02
