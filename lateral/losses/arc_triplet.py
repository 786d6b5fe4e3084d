"""Arc triplet losses on IoM codes, from the deep index-of-max hashing work (Dong et al.).

With theta the angle between two code vectors and m the arc margin, each anchor
contributes a negative term and a positive term (e^a / (e^a + e^b) written as sigmoid(a - b)):

    negative(theta_n) = e^cos(theta_n + m) / (e^cos(theta_n + m) + e^sin(theta_n))
    positive(theta_p) = e^sin(theta_p + m) / (e^sin(theta_p + m) + e^cos(theta_p))

Both fall as the negative moves away and the positive moves closer. Anchors without a
positive or a negative contribute nothing. The definition and reference values are in
shared/reference/iom_reference.md.
"""

import tensorflow as tf

from lateral.losses.distances import angle, angles_from_cosines
from lateral.losses.registry import register_loss
from lateral.losses.triplet import identity_masks, masked_maximum, masked_minimum


def negative_term(angles, arc_margin):
    return tf.sigmoid(tf.cos(angles + arc_margin) - tf.sin(angles))


def positive_term(angles, arc_margin):
    return tf.sigmoid(tf.sin(angles + arc_margin) - tf.cos(angles))


def legacy_angle(codes):
    """The research code's "angle": arccos of x_i.x_j / |x_j|^2, not of the cosine.

    Its norm product multiplied a 1-D norm vector by its transpose, which is itself,
    so column j was divided by |x_j|^2. The values in iom_reference.npz follow it.
    """
    squared_norms = tf.reduce_sum(tf.square(codes), axis=1)
    return angles_from_cosines(tf.math.divide_no_nan(tf.matmul(codes, codes, transpose_b=True), squared_norms))


def _mean_where(values, mask):
    mask = tf.cast(mask, tf.float32)
    return tf.math.divide_no_nan(tf.reduce_sum(values * mask), tf.reduce_sum(mask))


@register_loss("batch_hard_arc_triplet_loss")
def batch_hard_arc_triplet_loss(labels, codes, arc_margin=0.2, scale=32.0, minimize_dist=True, legacy_cosine=False):
    """scale * sum over anchors of negative(tn) + positive(tp), plus mean(tp) if ``minimize_dist``.

    tp is the anchor's largest angle to a positive, tn its smallest to a negative.
    ``legacy_cosine`` swaps the angle for the research code's (see ``legacy_angle``).
    """
    angles = (legacy_angle if legacy_cosine else angle)(codes)
    positive, negative = identity_masks(labels)
    has_positive = tf.reduce_any(positive, axis=1)
    hardest_positive = masked_maximum(angles, positive)[:, 0]
    hardest_negative = masked_minimum(angles, negative)[:, 0]
    terms = negative_term(hardest_negative, arc_margin) + positive_term(hardest_positive, arc_margin)
    valid = tf.logical_and(has_positive, tf.reduce_any(negative, axis=1))
    loss = scale * tf.reduce_sum(tf.where(valid, terms, 0.0))
    if minimize_dist:
        loss += _mean_where(hardest_positive, has_positive)
    return loss


@register_loss("batch_all_arc_triplet_loss")
def batch_all_arc_triplet_loss(labels, codes, arc_margin=0.2, scale=32.0, minimize_dist=True):
    """The batch-hard loss with each anchor's hardest pair replaced by the average over its pairs.

        scale * sum_a [mean_{n in N(a)} negative(theta_an) + mean_{p in P(a)} positive(theta_ap)]
        + (if minimize_dist) mean over anchors with a positive of mean_{p in P(a)} theta_ap

    summed over anchors a having both a positive and a negative, so ``scale`` means
    the same as in the batch-hard form.
    """
    angles = angle(codes)
    positive, negative = identity_masks(labels)
    positive_count = tf.reduce_sum(tf.cast(positive, tf.float32), axis=1)
    negative_count = tf.reduce_sum(tf.cast(negative, tf.float32), axis=1)

    def mean_over_pairs(values, mask, count):
        return tf.math.divide_no_nan(tf.reduce_sum(tf.where(mask, values, 0.0), axis=1), count)

    terms = mean_over_pairs(negative_term(angles, arc_margin), negative, negative_count) + mean_over_pairs(
        positive_term(angles, arc_margin), positive, positive_count
    )
    valid = tf.logical_and(positive_count > 0, negative_count > 0)
    loss = scale * tf.reduce_sum(tf.where(valid, terms, 0.0))
    if minimize_dist:
        loss += _mean_where(mean_over_pairs(angles, positive, positive_count), positive_count > 0)
    return loss
