"""Pairwise distance matrices [n, n] between the rows of a float32 batch [n, d].

Registered under tensorflow-addons' ``distance_metric`` names ("L2", "squared-L2",
"angular") so a loss reproduces tfa exactly, plus "angle" for the arc losses.
"""

import tensorflow as tf

from lateral.registry import Registry

DISTANCES = Registry("distance")

# arccos' slope is infinite at +-1; clipping cosines this far inside keeps it finite.
COSINE_CLIP = 1e-7


@DISTANCES.register("squared-L2")
def squared_euclidean(embeddings):
    """|x_i - x_j|^2 as |x_i|^2 + |x_j|^2 - 2 x_i.x_j, floored at 0, diagonal exactly 0 (tfa's)."""
    squared_norms = tf.reduce_sum(tf.square(embeddings), axis=1, keepdims=True)
    squared = squared_norms + tf.transpose(squared_norms) - 2.0 * tf.matmul(embeddings, embeddings, transpose_b=True)
    squared = tf.maximum(squared, 0.0)
    return tf.linalg.set_diag(squared, tf.zeros_like(squared_norms[:, 0]))


@DISTANCES.register("L2")
def euclidean(embeddings):
    """|x_i - x_j|; a zero distance stays exactly 0 with a zero gradient (sqrt' is infinite at 0)."""
    squared = squared_euclidean(embeddings)
    nonzero = squared > 0.0
    return tf.where(nonzero, tf.sqrt(tf.where(nonzero, squared, 1.0)), 0.0)


def cosine_similarity(embeddings):
    """cos(x_i, x_j) as a TensorFlow op the losses differentiate through (lateral.measures.cosine_similarity is the
    NumPy scoring of evaluation and the gallery; tests/losses/test_distances.py checks the two agree)."""
    unit = tf.math.l2_normalize(embeddings, axis=1)
    return tf.matmul(unit, unit, transpose_b=True)


@DISTANCES.register("angular")
def angular(embeddings):
    """1 - cos(x_i, x_j), floored at 1e-16 as in tfa (so the diagonal is ~0, not exactly 0)."""
    return tf.maximum(1.0 - cosine_similarity(embeddings), 1e-16)


def angles_from_cosines(cosines):
    return tf.acos(tf.clip_by_value(cosines, -1.0 + COSINE_CLIP, 1.0 - COSINE_CLIP))


@DISTANCES.register("angle")
def angle(embeddings):
    """The angle between x_i and x_j in radians, arccos(clip(cos, -1 + 1e-7, 1 - 1e-7))."""
    return angles_from_cosines(cosine_similarity(embeddings))
