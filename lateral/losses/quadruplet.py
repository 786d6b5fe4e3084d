"""Quadruplet loss, batch-hard form (Chen et al. 2017, "Beyond triplet loss", arXiv 1704.01719, eq. 3).

The triplet term pulls positives inside negatives; the second term also keeps the
anchor-positive distance below the distance between two other identities, which
tightens every class against the batch's absolute distance scale.
"""

import tensorflow as tf

from lateral.losses.distances import DISTANCES
from lateral.losses.registry import register_loss
from lateral.losses.triplet import identity_masks, masked_maximum, masked_minimum


@register_loss("quadruplet_loss")
def quadruplet_loss(labels, embeddings, triplet_margin=1.0, pair_margin=0.5, distance_metric="L2"):
    """mean over anchors of relu(d_ap - d_an + triplet_margin) + relu(d_ap - d_n1n2 + pair_margin).

    For anchor a: d_ap its largest distance to a positive, d_an its smallest to a
    negative, d_n1n2 the smallest distance between two samples n1, n2 of different
    labels, both unlike a's. The mean runs over anchors with a positive and a negative;
    the second term is 0 for an anchor when the batch holds fewer than three identities.
    """
    distances = DISTANCES.get(distance_metric)(embeddings)
    positive, negative = identity_masks(labels)
    hardest_positive = masked_maximum(distances, positive)[:, 0]
    hardest_negative = masked_minimum(distances, negative)[:, 0]
    # [anchor, n1, n2]: n1 and n2 both unlike the anchor and unlike each other
    negative_pairs = negative[:, :, None] & negative[:, None, :] & negative[None, :, :]
    closest_negative_pair = tf.reshape(masked_minimum(distances[None], negative_pairs, axis=[1, 2]), [-1])

    triplet_terms = tf.nn.relu(hardest_positive - hardest_negative + triplet_margin)
    pair_terms = tf.where(
        tf.reduce_any(negative_pairs, axis=[1, 2]),
        tf.nn.relu(hardest_positive - closest_negative_pair + pair_margin),
        0.0,
    )
    anchors = tf.logical_and(tf.reduce_any(positive, axis=1), tf.reduce_any(negative, axis=1))
    total = tf.reduce_sum(tf.where(anchors, triplet_terms + pair_terms, 0.0))
    return tf.math.divide_no_nan(total, tf.reduce_sum(tf.cast(anchors, tf.float32)))
