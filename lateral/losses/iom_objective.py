"""The stage-two objective: the config's metric loss on soft IoM codes plus the regularisers.

Weights follow the original deep-IoM training: code balance 0.5, quantisation
0.5, binarisation LUT 0.001 (each switchable and re-weightable in the config).
Everything here reads the config's IoM section (``config.iom``, an ``IomConfig``).
"""

import tensorflow as tf

from lateral.losses.registry import LOSSES
from lateral.losses.regularisers import SMOOTH_BITS, bit_table
from lateral.models.iom import soft_codes


def _arc(iom):
    return dict(arc_margin=iom.triplet_margin, scale=iom.arc_scale, minimize_dist=iom.minimize_dist)


def _margin(iom):
    return dict(margin=iom.triplet_margin)


# How each metric loss reads the IoM section (``triplet_margin`` is the margin of all of them).
MAIN_LOSS_PARAMETERS = {
    "batch_hard_arc_triplet_loss": _arc,
    "batch_all_arc_triplet_loss": _arc,
    "batch_hard_triplet": _margin,
    "batch_all_triplet_loss": _margin,
    "semihard_triplet_loss": _margin,
    "quadruplet_loss": lambda iom: dict(triplet_margin=iom.triplet_margin),
}


def term_settings(iom):
    """The IoM keys each term of the objective scales with (a non-finite term's message names them)."""
    main = ("triplet_margin", "arc_scale") if MAIN_LOSS_PARAMETERS[iom.metric_loss] is _arc else ("triplet_margin",)
    return {iom.metric_loss: main, "quantisation_loss": ("quantisation_weight",),
            "code_balance_loss": ("code_balance_weight",), "bin_lut_loss": ("bin_lut_weight",)}


def smooth_bit_logits(logits, temperature, q, activation):
    """Expected binary word of each code under the soft arg-max, as the logits ``bin_lut_loss`` takes."""
    _, zero_level = SMOOTH_BITS[activation]
    table = bit_table(q, zero_level)  # [q, bits]
    expected = tf.einsum("nmq,qb->nmb", tf.nn.softmax(temperature * logits, axis=-1), table)
    if activation == "tanh":
        bit_logits = tf.atanh(tf.clip_by_value(expected, -1 + 1e-6, 1 - 1e-6))
    else:
        expected = tf.clip_by_value(expected, 1e-6, 1 - 1e-6)
        bit_logits = tf.math.log(expected / (1 - expected))
    return tf.reshape(bit_logits, [tf.shape(logits)[0], -1])


def build_iom_objective(iom):
    """``objective(labels, logits [n, m, q]) -> (total, {term: value})`` of the IoM section ``iom``.

    ``iom.metric_loss`` is a key of ``MAIN_LOSS_PARAMETERS`` (the section checks it when it is made).
    """
    main_loss = LOSSES.get(iom.metric_loss)
    main_parameters = MAIN_LOSS_PARAMETERS[iom.metric_loss](iom)

    def objective(labels, logits):
        codes = soft_codes(logits, iom.inverse_temperature)
        terms = {iom.metric_loss: main_loss(labels, codes, **main_parameters)}
        if iom.quantisation_loss:
            terms["quantisation_loss"] = iom.quantisation_weight * LOSSES.get("quantisation_loss")(labels, codes)
        if iom.code_balance_loss:
            terms["code_balance_loss"] = iom.code_balance_weight * LOSSES.get("code_balance_loss")(
                labels, codes, q=iom.q
            )
        if iom.bin_lut_loss != "none":
            bit_logits = smooth_bit_logits(logits, iom.inverse_temperature, iom.q, iom.bin_lut_loss)
            terms["bin_lut_loss"] = iom.bin_lut_weight * LOSSES.get("bin_lut_loss")(
                labels, bit_logits, q=iom.q, activation=iom.bin_lut_loss
            )
        return tf.add_n(list(terms.values())), terms

    return objective
