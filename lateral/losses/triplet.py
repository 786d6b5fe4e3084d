"""Triplet losses with online mining, and the mining helpers the other pair losses share.

``semihard_triplet_loss`` and ``batch_hard_triplet`` reproduce tensorflow-addons 0.23's
``triplet_semihard_loss`` (Schroff et al. 2015, arXiv 1503.03832) and
``triplet_hard_loss`` (Hermans et al. 2017, arXiv 1703.07737) op for op, including
their fallbacks, so models trained with tfa keep their numbers. tfa itself no longer
imports on TensorFlow 2.16+. One deliberate difference: a batch without any positive
pair gives a semi-hard loss of 0 instead of tfa's 0/0 = NaN.
"""

import tensorflow as tf

from lateral.losses.distances import DISTANCES
from lateral.losses.registry import register_loss


def identity_masks(labels):
    """Boolean [n, n] masks (positive, negative): same label but not itself / other label."""
    same = tf.equal(labels[:, None], labels[None, :])
    indices = tf.range(tf.shape(labels)[0])
    positive = tf.logical_and(same, indices[:, None] != indices[None, :])
    return positive, tf.logical_not(same)


def masked_maximum(data, mask, axis=-1):
    """Largest entry of ``data`` where ``mask``, kept as a size-1 ``axis``; ``data``'s smallest if the mask is empty.

    This is tfa's ``_masked_maximum``: shifting by the minimum makes masked-out zeros lose.
    ``data`` broadcasts against ``mask``.
    """
    smallest = tf.reduce_min(data, axis, keepdims=True)
    return tf.reduce_max((data - smallest) * tf.cast(mask, data.dtype), axis, keepdims=True) + smallest


def masked_minimum(data, mask, axis=-1):
    """Smallest entry of ``data`` where ``mask``; ``data``'s largest if the mask is empty (tfa's ``_masked_minimum``)."""
    largest = tf.reduce_max(data, axis, keepdims=True)
    return tf.reduce_min((data - largest) * tf.cast(mask, data.dtype), axis, keepdims=True) + largest


@register_loss("semihard_triplet_loss")
def semihard_triplet_loss(labels, embeddings, margin=1.0, distance_metric="L2"):
    """Mean over positive pairs (a, p) of relu(d(a,p) - d(a,n) + margin), n semi-hard.

    n is the closest negative farther from a than p; when no negative is farther,
    tfa takes the farthest negative of a instead.
    """
    distances = DISTANCES.get(distance_metric)(embeddings)
    positive, negative = identity_masks(labels)
    # [anchor, positive, negative]: negatives farther from the anchor than the positive
    farther_negatives = tf.logical_and(negative[:, None, :], distances[:, None, :] > distances[:, :, None])
    semihard_negative = masked_minimum(distances[:, None, :], farther_negatives)[..., 0]
    farthest_negative = masked_maximum(distances, negative)
    chosen_negative = tf.where(tf.reduce_any(farther_negatives, axis=-1), semihard_negative, farthest_negative)
    positive = tf.cast(positive, tf.float32)
    losses = tf.maximum((margin + distances - chosen_negative) * positive, 0.0)
    return tf.math.divide_no_nan(tf.reduce_sum(losses), tf.reduce_sum(positive))


@register_loss("batch_hard_triplet")
def batch_hard_triplet(labels, embeddings, margin=1.0, soft=False, distance_metric="L2"):
    """Mean over anchors of relu(hardest d(a,p) - hardest d(a,n) + margin), or its softplus if ``soft``.

    As in tfa, every anchor counts: one without positives takes its smallest distance
    (0 for L2) as d(a,p), one without negatives its largest as d(a,n).
    """
    distances = DISTANCES.get(distance_metric)(embeddings)
    positive, negative = identity_masks(labels)
    gap = masked_maximum(distances, positive) - masked_minimum(distances, negative)
    losses = tf.math.softplus(gap) if soft else tf.maximum(gap + margin, 0.0)
    return tf.reduce_mean(losses)


@register_loss("batch_all_triplet_loss")
def batch_all_triplet_loss(labels, embeddings, margin=1.0, distance_metric="L2"):
    """Mean of relu(d(a,p) - d(a,n) + margin) over the valid triplets whose loss is positive.

    The usual "batch all" form (Hermans et al. 2017, sec. 2): averaging only the
    active triplets keeps the loss from fading as easy triplets pile up. 0 if none is active.
    """
    distances = DISTANCES.get(distance_metric)(embeddings)
    positive, negative = identity_masks(labels)
    valid = tf.cast(tf.logical_and(positive[:, :, None], negative[:, None, :]), tf.float32)
    losses = tf.maximum(distances[:, :, None] - distances[:, None, :] + margin, 0.0) * valid
    active = tf.reduce_sum(tf.cast(losses > 0.0, tf.float32))
    return tf.math.divide_no_nan(tf.reduce_sum(losses), active)
