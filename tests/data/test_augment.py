"""Seeded augmentation: the same seed gives the same draws, in the pipeline at any start and thread order."""

import numpy as np
import pytest
import tensorflow as tf

from lateral.config import AugmentConfig
from lateral.data.augment import build_augmentation
from lateral.data.pipeline import training_dataset
from lateral.data.records import RoiSet
from lateral.data.sampler import balanced_index_batches

RNG = np.random.default_rng(0)
IMAGE = RNG.uniform(30, 225, (24, 48, 3)).astype(np.float32)
ONLY = dict(random_crop=False, saturation=False, brightness=False)


def seed(a, b):
    return tf.constant([a, b], tf.int64)


def test_the_same_seed_gives_the_same_image_and_other_seeds_other_images():
    augment = build_augmentation(AugmentConfig(hue=True, flip_horizontal=True, random_erasing=0.5))
    first = augment(IMAGE, seed(7, 3)).numpy()
    np.testing.assert_array_equal(augment(IMAGE, seed(7, 3)).numpy(), first)
    others = [augment(IMAGE, seed(7, n)).numpy() for n in range(4, 12)]
    assert all(not np.array_equal(first, other) for other in others)


def test_brightness_adds_one_offset_within_its_delta_to_every_pixel():
    """tf.image.random_brightness's contract: image + one uniform draw in [-delta, delta] (x 255 here)."""
    augment = build_augmentation(AugmentConfig(**{**ONLY, "brightness": True}, brightness_delta=0.1))
    offsets = []
    for n in range(40):
        shift = augment(IMAGE, seed(1, n)).numpy() - IMAGE  # IMAGE is 30..225: no pixel reaches a clip
        assert np.ptp(shift) < 1e-3
        offsets.append(shift.mean())
    assert max(abs(offset) for offset in offsets) <= 25.5 + 1e-3
    assert min(offsets) < -10 and max(offsets) > 10  # the draws spread over the range


def test_random_erasing_erases_one_box_of_the_configured_area_and_ratio_with_its_probability():
    """Fishial's settings: p = 0.358, area 5-40% of the image, height/width ratio 0.05-6.1 (before clipping)."""
    image = np.full((64, 64, 3), 100.0, np.float32)
    augment = build_augmentation(AugmentConfig(**ONLY, random_erasing=0.358))
    erased = 0
    trials = 400
    for n in range(trials):
        zero = augment(image, seed(5, n)).numpy()[:, :, 0] == 0
        if not zero.any():
            continue
        erased += 1
        rows, columns = np.flatnonzero(zero.any(axis=1)), np.flatnonzero(zero.any(axis=0))
        height, width = rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1
        assert zero.sum() == height * width  # one solid box
        clipped = height == 64 or width == 64
        if not clipped:
            assert 0.05 * 64 * 64 * 0.8 <= height * width <= 0.4 * 64 * 64 * 1.2
            assert 0.05 * 0.6 <= height / width <= 6.1 * 1.6
    # Binomial(400, 0.358): mean 143, sd 9.6; five sd either side.
    assert 95 <= erased <= 191


def test_batch_s_is_the_same_whether_a_pipeline_starts_at_zero_or_at_s():
    images = [tf.io.encode_png(RNG.integers(0, 255, (30, 60, 3), dtype=np.uint8)).numpy() for _ in range(12)]
    names = np.array([f"fish{i}" for i in np.repeat(np.arange(4), 3)])
    roi_set = RoiSet(images=np.array(images, dtype=object), labels=np.repeat(np.arange(4), 3), fish_ids=names,
                     sessions=names, sources=names, flanks=names, label_map={f"fish{i}": i for i in range(4)})
    augment = build_augmentation(AugmentConfig(hue=True, random_erasing=0.5))

    def batches(start, count):
        indices = balanced_index_batches(roi_set.labels, 2, 3, seed=3, start_step=start)
        dataset = training_dataset(roi_set, indices, (16, 32), augment, seed=11, start_step=start)
        return [images.numpy() for images, _ in dataset.take(count)]

    from_zero = batches(0, 5)
    np.testing.assert_array_equal(batches(0, 5)[4], from_zero[4])  # the parallel map draws the same again
    np.testing.assert_array_equal(batches(3, 2)[0], from_zero[3])
    np.testing.assert_array_equal(batches(3, 2)[1], from_zero[4])
    assert not np.array_equal(from_zero[3], from_zero[4])


@pytest.mark.parametrize("name", ["random_crop", "flip_horizontal", "flip_vertical", "saturation", "hue", "brightness",
                                  "random_erasing"])
def test_every_seeded_op_repeats_with_its_seed(name):
    settings = {**ONLY, name: 1.0 if name == "random_erasing" else True}
    augment = build_augmentation(AugmentConfig(**settings))
    draws = [augment(IMAGE, seed(2, n)).numpy() for n in range(6)]
    for n, draw in enumerate(draws):
        np.testing.assert_array_equal(augment(IMAGE, seed(2, n)).numpy(), draw)
    assert len({draw.tobytes() for draw in draws}) > 1
