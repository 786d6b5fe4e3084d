"""Training-time augmentation of single ROI images (float32, 0..255, HxWx3).

The original project's recipe (random crop, horizontal flip, saturation and
brightness jitter) and Fishial's (TrivialAugment, vertical flip, random
erasing with scale (0.05, 0.4) and ratio (0.05, 6.1)), each switched on and
tuned in the config's ``augment`` section. Each op is registered under the
config key that switches it; they run in the order of ``ORDER``.

Every op but TrivialAugment is a stateless random op of its image and a seed
(a [2] integer tensor): the same image and seed give the same draws, in any
thread and in any run. The training pipeline seeds each image by the run's
seed and its place in the stream of batches, so the draws repeat when a run is
repeated or resumed, whatever order the parallel pipeline works in. Keras'
RandAugment (TrivialAugment) draws from its own seed generator instead.
"""

import math

import keras
import tensorflow as tf

from lateral.registry import Registry

AUGMENTATIONS = Registry("augmentation")
# Geometry first, then colour, then erasing (applied to the finished image, as
# torchvision's RandomErasing is applied after ToTensor in Fishial's recipe).
ORDER = ("random_crop", "flip_horizontal", "flip_vertical", "saturation", "hue", "brightness", "trivial_augment",
         "random_erasing")


@AUGMENTATIONS.register("random_crop")
def random_crop(cfg):
    """Enlarge by ``crop_margin`` and cut a random window of the original size back out."""

    def apply(image, seed):
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        scale = 1.0 + cfg.crop_margin
        larger = tf.image.resize(image, tf.cast(tf.cast([height, width], tf.float32) * scale, tf.int32))
        return tf.image.stateless_random_crop(larger, tf.stack([height, width, 3]), seed)

    return apply


@AUGMENTATIONS.register("flip_horizontal")
def flip_horizontal(cfg):
    return tf.image.stateless_random_flip_left_right


@AUGMENTATIONS.register("flip_vertical")
def flip_vertical(cfg):
    return tf.image.stateless_random_flip_up_down


@AUGMENTATIONS.register("saturation")
def saturation(cfg):
    lower, upper = cfg.saturation_range
    return lambda image, seed: tf.image.stateless_random_saturation(image, lower, upper, seed)


@AUGMENTATIONS.register("hue")
def hue(cfg):
    """Rotate the hue by a uniform draw in [-hue_delta, hue_delta] of a turn (a camera's colour cast)."""
    return lambda image, seed: tf.image.stateless_random_hue(image / 255.0, cfg.hue_delta, seed) * 255.0


@AUGMENTATIONS.register("brightness")
def brightness(cfg):
    delta = cfg.brightness_delta * 255.0
    return lambda image, seed: tf.clip_by_value(tf.image.stateless_random_brightness(image, delta, seed), 0.0, 255.0)


@AUGMENTATIONS.register("trivial_augment")
def trivial_augment(cfg):
    """TrivialAugment (Mueller & Hutter 2021): one randomly chosen op per image.

    Keras' RandAugment with ``num_ops=1`` is that, at a magnitude of ``trivial_augment_magnitude``.
    It draws from its own seed generator (seeded by the run's seed), not from ``seed``.
    """
    layer = keras.layers.RandAugment(value_range=(0, 255), num_ops=1, factor=cfg.trivial_augment_magnitude)
    return lambda image, seed: layer(image, training=True)


@AUGMENTATIONS.register("random_erasing")
def random_erasing(cfg):
    """Random erasing (Zhong et al. 2020) with probability, area scale and aspect ratio ranges.

    Keras' RandomErasing has no aspect-ratio range, which Fishial's recipe sets
    to (0.05, 6.1) for long thin occlusions like fins and weeds; hence this op.
    """
    low_scale, high_scale = cfg.erasing_scale
    log_ratio = (math.log(cfg.erasing_ratio[0]), math.log(cfg.erasing_ratio[1]))

    def apply(image, seed):
        # Five uniform draws: the area's scale, the log aspect ratio, the top, the left, and whether to erase.
        scale_draw, ratio_draw, top_draw, left_draw, erase_draw = tf.unstack(tf.random.stateless_uniform([5], seed))
        height = tf.cast(tf.shape(image)[0], tf.float32)
        width = tf.cast(tf.shape(image)[1], tf.float32)
        area = height * width * (low_scale + (high_scale - low_scale) * scale_draw)
        ratio = tf.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * ratio_draw)
        box_height = tf.clip_by_value(tf.round(tf.sqrt(area * ratio)), 1.0, height)
        box_width = tf.clip_by_value(tf.round(tf.sqrt(area / ratio)), 1.0, width)
        top = tf.floor(top_draw * (height - box_height + 1.0))
        left = tf.floor(left_draw * (width - box_width + 1.0))
        rows = tf.range(height)[:, None]
        columns = tf.range(width)[None, :]
        inside = (rows >= top) & (rows < top + box_height) & (columns >= left) & (columns < left + box_width)
        erase = inside & (erase_draw < cfg.random_erasing)
        return tf.where(erase[:, :, None], tf.zeros_like(image), image)

    return apply


def switched_on(cfg):
    """The names of the ops the augment section switches on, in ``ORDER``."""
    return [name for name in ORDER if getattr(cfg, name)]


def build_augmentation(cfg):
    """One function applying every op the config switches on, or None if none is."""
    ops = [AUGMENTATIONS.get(name)(cfg) for name in switched_on(cfg)]
    if not ops:
        return None

    def augment(image, seed=None):
        """``image`` augmented with the draws of ``seed`` ([2] integers); without one, with fresh draws."""
        if seed is None:
            seed = tf.random.uniform([2], maxval=tf.int32.max, dtype=tf.int32)
        for op, op_seed in zip(ops, tf.unstack(tf.random.experimental.stateless_split(seed, len(ops)))):
            image = op(image, op_seed)
        return tf.clip_by_value(image, 0.0, 255.0)

    return augment
