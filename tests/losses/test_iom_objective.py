"""The stage-two objective against a NumPy re-statement of every term, from the same logits."""

import dataclasses
import math

import numpy as np
import pytest

from lateral.config import IomConfig
from lateral.losses.iom_objective import build_iom_objective, term_settings
from tests.losses.test_arc_triplet import arc_loop

LABELS = np.array([0, 0, 1, 1, 2, 2])


def logits(m, q, seed=0):
    return np.random.default_rng(seed).normal(size=(len(LABELS), m, q)).astype(np.float32)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def batch_hard_triplet_loop(labels, x, margin):
    """Hermans et al. 2017, batch hard with Euclidean distances: mean over anchors of
    max(0, hardest positive - hardest negative + margin)."""
    terms = []
    for a in range(len(x)):
        distances = np.linalg.norm(x - x[a], axis=1)
        positives = [distances[j] for j in range(len(x)) if j != a and labels[j] == labels[a]]
        negatives = [distances[j] for j in range(len(x)) if labels[j] != labels[a]]
        terms.append(max(0.0, max(positives) - min(negatives) + margin))
    return np.mean(terms)


def code_balance(codes, q):
    """sum_i |mean_j(round(x_ij) - (q-1)/2)| - sum_v log p_v + sum_v p_v log p_v, p the share of round(x) at v."""
    rounded = np.round(codes)
    centring = np.abs((rounded - (q - 1) / 2).mean(axis=1)).sum()
    shares = np.array([(np.round(np.clip(codes, 0, q - 1)) == v).mean() for v in range(q)]) + 1e-8
    return centring - np.log(shares).sum() + (shares * np.log(shares)).sum()


def bin_lut(probabilities, q, zero_level):
    """Mean over samples and codes of the squared distance from the expected binary word (the soft
    arg-max's expectation of each level's bits) to the nearest valid word."""
    bits = max(1, math.ceil(math.log2(q)))
    words = np.array([[1.0 if (c >> (bits - 1 - k)) & 1 else zero_level for k in range(bits)] for c in range(q)])
    expected = probabilities @ words  # [n, m, bits]
    return np.mean(((expected[:, :, None, :] - words) ** 2).sum(-1).min(-1))


def reference_terms(iom, batch):
    x = batch.astype(np.float64)
    probabilities = softmax(iom.inverse_temperature * x)
    codes = probabilities @ np.arange(iom.q)
    if iom.metric_loss == "batch_hard_arc_triplet_loss":
        main = arc_loop(LABELS, codes, iom.triplet_margin, iom.arc_scale, iom.minimize_dist, hardest=True)
    else:
        main = batch_hard_triplet_loop(LABELS, codes, iom.triplet_margin)
    terms = {iom.metric_loss: main}
    if iom.quantisation_loss:
        terms["quantisation_loss"] = iom.quantisation_weight * np.mean(((np.round(codes) - codes) ** 2).sum(1))
    if iom.code_balance_loss:
        terms["code_balance_loss"] = iom.code_balance_weight * code_balance(codes, iom.q)
    if iom.bin_lut_loss != "none":
        zero_level = {"tanh": -1.0, "sigmoid": 0.0}[iom.bin_lut_loss]
        terms["bin_lut_loss"] = iom.bin_lut_weight * bin_lut(probabilities, iom.q, zero_level)
    return terms


@pytest.mark.parametrize("iom", [
    IomConfig(m=6, q=4, bin_lut_loss="tanh"),
    IomConfig(m=6, q=4, inverse_temperature=2.0, metric_loss="batch_hard_triplet", triplet_margin=0.3, quantisation_loss=False, quantisation_weight=9.0),
    IomConfig(m=6, q=8, code_balance_loss=False, bin_lut_loss="sigmoid", bin_lut_weight=0.5),
    IomConfig(m=5, q=5, inverse_temperature=0.5, triplet_margin=0.4, arc_scale=4.0, minimize_dist=False, quantisation_weight=2.0,
              code_balance_weight=0.25, bin_lut_loss="tanh", bin_lut_weight=3.0),
])
def test_every_term_and_the_total_match_a_numpy_restatement(iom):
    batch = logits(iom.m, iom.q)
    total, terms = build_iom_objective(iom)(LABELS, batch)
    expected = reference_terms(iom, batch)
    assert set(terms) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(float(terms[name]), value, rtol=2e-4, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(float(total), sum(expected.values()), rtol=2e-4)


def test_term_settings_name_keys_of_the_section():
    keys = {field.name for field in dataclasses.fields(IomConfig)}
    for metric_loss in ["batch_hard_arc_triplet_loss", "quadruplet_loss"]:
        settings = term_settings(IomConfig(metric_loss=metric_loss))
        assert all(key in keys for names in settings.values() for key in names)
