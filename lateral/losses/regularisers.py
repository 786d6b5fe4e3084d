"""Regularisers on IoM codes: balance, quantisation and binarisation.

``codes`` are [n, m] continuous index-of-max codes in [0, q-1] (m hashes, q levels);
``labels`` are accepted for the shared loss signature and not used. Definitions of the
first two, with reference values, are in shared/reference/iom_reference.md.

Rounding has no gradient. Where a term should still train the codes (the balance
loss) it goes through ``straight_through``: rounded values forward, the identity (or
a smooth stand-in) backward.
"""

import math

import tensorflow as tf

from lateral.losses.registry import register_loss


def straight_through(hard, soft):
    """``hard``'s value with ``soft``'s gradient."""
    return soft + tf.stop_gradient(hard - soft)


def code_histogram(codes, q):
    """Share of rounded codes at each level 0..q-1 [q], its gradient taken through a triangular kernel.

    max(0, 1 - |x - v|) spreads x over its two nearest levels and sums to 1 on [0, q-1],
    so it is a smooth stand-in for the one-hot of round(x).
    """
    codes = tf.clip_by_value(tf.reshape(codes, [-1]), 0.0, q - 1.0)
    hard = tf.reduce_mean(tf.one_hot(tf.cast(tf.round(codes), tf.int32), q), axis=0)
    levels = tf.range(q, dtype=tf.float32)
    soft = tf.reduce_mean(tf.nn.relu(1.0 - tf.abs(codes[:, None] - levels)), axis=0)
    return straight_through(hard, soft)


@register_loss("code_balance_loss")
def code_balance_loss(labels, codes, q):
    """sum_i |mean_j(round(x_ij) - (q-1)/2)| + (-sum_v log p_v - H(p)).

    The first part centres each sample's codes; the second, with p the histogram of
    round(x) over the q levels (+1e-8) and H(p) = -sum p log p, is smallest when the
    levels are used equally often.
    """
    rounded = straight_through(tf.round(codes), codes)
    centring = tf.reduce_sum(tf.abs(tf.reduce_mean(rounded - (q - 1) / 2, axis=1)))
    # The straight-through share is hard + (soft - soft): in a graph that computes ``soft`` twice with
    # different summation orders, an empty level can come out a hair below zero, whose log is NaN.
    shares = tf.maximum(code_histogram(codes, q), 0.0) + 1e-8
    log_shares = tf.math.log(shares)
    entropy = -tf.reduce_sum(shares * log_shares)
    return centring - tf.reduce_sum(log_shares) - entropy


@register_loss("quantisation_loss")
def quantisation_loss(labels, codes):
    """mean_i sum_j (round(x_ij) - x_ij)^2.

    round(x) is held constant: its derivative is 0 almost everywhere, so the gradient
    -2 (round(x) - x) pulls each code to its nearest level. (A straight-through round
    would cancel x and leave no gradient at all.)
    """
    return tf.reduce_mean(tf.reduce_sum(tf.square(tf.stop_gradient(tf.round(codes)) - codes), axis=1))


# activation -> (function, the value a 0 bit saturates to); a 1 bit saturates to 1
SMOOTH_BITS = {"tanh": (tf.tanh, -1.0), "sigmoid": (tf.sigmoid, 0.0)}


def bit_table(q, zero_level):
    """The look-up table [q, ceil(log2 q)]: row c is c in binary, most significant bit first."""
    bits = max(1, math.ceil(math.log2(q)))
    rows = [[1.0 if (code >> (bits - 1 - bit)) & 1 else zero_level for bit in range(bits)] for code in range(q)]
    return tf.constant(rows, tf.float32)


@register_loss("bin_lut_loss")
def bin_lut_loss(labels, bit_logits, q, activation="tanh"):
    """Push a smooth binary encoding of each code onto the binary word of some code value.

    ``bit_logits`` [n, m * b] hold, for each of the m codes, b = ceil(log2 q) logits;
    ``activation`` ("tanh" or "sigmoid") makes them smooth bits s in (-1, 1) or (0, 1).
    The LUT writes every code value c in 0..q-1 as b bits in {-1, 1} (tanh) or {0, 1}
    (sigmoid). The loss is

        mean over samples and codes of  min_c |s - LUT[c]|^2,

    the squared distance from the smooth bits to the nearest valid code word. For q a
    power of two every word is valid and this is the per-bit distance to saturation; for
    other q the words past q-1 are excluded. After the deep-IoM code, which encoded
    integer codes to bits through a LUT and penalised tanh/sigmoid outputs' distance
    from +-1 / {0, 1}.
    """
    if activation not in SMOOTH_BITS:
        raise ValueError(f"unknown activation {activation!r}; known: {', '.join(sorted(SMOOTH_BITS))}")
    smooth, zero_level = SMOOTH_BITS[activation]
    table = bit_table(q, zero_level)
    bits = table.shape[1]
    if bit_logits.shape[1] is not None and bit_logits.shape[1] % bits:
        raise ValueError(f"bit_logits width {bit_logits.shape[1]} is not a multiple of {bits} bits (q={q})")
    smooth_bits = tf.reshape(smooth(bit_logits), [tf.shape(bit_logits)[0], -1, 1, bits])
    squared_distances = tf.reduce_sum(tf.square(smooth_bits - table), axis=-1)  # [n, m, q]
    return tf.reduce_mean(tf.reduce_min(squared_distances, axis=-1))
