"""IoM code regularisers against the research code's outputs, NumPy re-statements and analytic cases."""

import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from lateral.losses import LOSSES

REFERENCE = np.load(Path(__file__).resolve().parents[3] / "shared" / "reference" / "iom_reference.npz")
RTOL = 1e-5  # float32

code_balance = LOSSES.get("code_balance_loss")
quantisation = LOSSES.get("quantisation_loss")
bin_lut = LOSSES.get("bin_lut_loss")


def no_labels(codes):
    return np.zeros(len(codes), np.int32)


@pytest.mark.parametrize("case", range(int(REFERENCE["n_codes"])))
def test_balance_and_quantisation_match_the_research_code(case):
    codes, q = REFERENCE[f"codes{case}_codes"], int(REFERENCE[f"codes{case}_q"])
    got = [code_balance(no_labels(codes), codes, q=q), quantisation(no_labels(codes), codes)]
    np.testing.assert_allclose(got, REFERENCE[f"codes{case}_expected"], rtol=RTOL)


def gradient(loss, codes, **params):
    codes = tf.constant(codes, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(codes)
        value = loss(no_labels(codes), codes, **params)
    return tape.gradient(value, codes).numpy()


CODES = np.random.default_rng(0).uniform(0, 3, size=(5, 6))


def test_quantisation_gradient_pulls_codes_to_the_nearest_level():
    """d/dx_ij of mean_i sum_j (round(x_ij) - x_ij)^2, round held constant, is -2 (round(x_ij) - x_ij) / n."""
    expected = -2 * (np.round(CODES) - CODES) / len(CODES)
    np.testing.assert_allclose(gradient(quantisation, CODES), expected, rtol=RTOL, atol=1e-7)


def test_balance_gradient_is_the_straight_through_one():
    """Straight-through, round(x) has slope 1, so sum_i |r_i|, r_i = mean_j(round(x_ij) - (q-1)/2),
    gives sign(r_i) / m. The histogram share p_v takes the slope of mean_e max(0, 1 - |x_e - v|),
    -sign(x_e - v) / N within 1 of v (N = n m), and S(p) = -sum log p + sum p log p has
    dS/dp_v = -1/p_v + log p_v + 1."""
    q, (n, m) = 4, CODES.shape
    rounded = np.round(CODES)
    row_means = (rounded - (q - 1) / 2).mean(axis=1)
    shares = np.array([(rounded == v).mean() for v in range(q)]) + 1e-8
    d_shares = -1 / shares + np.log(shares) + 1
    expected = np.repeat(np.sign(row_means)[:, None] / m, m, axis=1)
    for v in range(q):
        near = np.abs(CODES - v) < 1
        expected += d_shares[v] * np.where(near, -np.sign(CODES - v), 0.0) / (n * m)
    np.testing.assert_allclose(gradient(code_balance, CODES, q=q), expected, rtol=1e-4, atol=1e-6)


def bin_lut_loop(logits, q, activation):
    """Mean over samples and codes of the squared distance from the code's smooth bits to
    the nearest of the q binary words, bit by bit."""
    bits = max(1, math.ceil(math.log2(q)))
    smooth = {"tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z))}[activation]
    zero = {"tanh": -1.0, "sigmoid": 0.0}[activation]
    words = [[1.0 if (c >> (bits - 1 - k)) & 1 else zero for k in range(bits)] for c in range(q)]
    distances = []
    for row in logits.astype(np.float64):
        for start in range(0, len(row), bits):
            smooth_bits = smooth(row[start : start + bits])
            distances.append(min(sum((s - w) ** 2 for s, w in zip(smooth_bits, word)) for word in words))
    return np.mean(distances)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("q", [2, 4, 5, 8])
def test_bin_lut_matches_a_loop(q, activation):
    """q = 5 needs 3 bits, of which only the words 0..4 are valid."""
    bits = max(1, math.ceil(math.log2(q)))
    logits = np.random.default_rng(q).normal(scale=2.0, size=(6, 4 * bits)).astype(np.float32)
    np.testing.assert_allclose(
        bin_lut(no_labels(logits), logits, q=q, activation=activation), bin_lut_loop(logits, q, activation), rtol=RTOL
    )


@pytest.mark.parametrize("activation, per_bit", [("tanh", 1.0), ("sigmoid", 0.25)])
def test_bin_lut_of_zero_logits(activation, per_bit):
    """tanh(0) = 0 is 1 from both -1 and 1, squared 1; sigmoid(0) = 1/2 is 1/2 from 0 and 1,
    squared 1/4. Every word is equally far, so the loss is bits * that: 3 bits for q = 8."""
    logits = np.zeros((4, 6), np.float32)
    np.testing.assert_allclose(bin_lut(no_labels(logits), logits, q=8, activation=activation), 3 * per_bit, rtol=RTOL)


def test_bin_lut_of_saturated_valid_words_is_near_zero():
    """Logits of +-20 on the bits of code 5 = 101: tanh(20) = 1 - 8e-18, so the loss is ~0."""
    logits = np.array([[20.0, -20.0, 20.0]], np.float32)
    assert bin_lut(no_labels(logits), logits, q=8) < 1e-12


def test_bin_lut_rejects_bad_arguments():
    logits = np.zeros((2, 5), np.float32)
    with pytest.raises(ValueError, match="multiple of 2 bits"):
        bin_lut(no_labels(logits), logits, q=4)
    with pytest.raises(ValueError, match="sigmoid, tanh"):
        bin_lut(no_labels(logits), logits, q=2, activation="relu")


def test_code_balance_stays_finite_when_rounding_leaves_an_empty_level_a_hair_below_zero(monkeypatch):
    """The straight-through share of an empty level is soft + (0 - soft); a graph that sums ``soft`` in two
    orders can leave -1e-7 there (seen as a NaN in a stage-two run). The loss must then equal its value at 0."""
    import lateral.losses.regularisers as regularisers

    codes = np.random.default_rng(0).uniform(3.2, 4.6, (32, 16)).astype(np.float32)  # levels 0-2 and 6-7 empty
    exact = float(code_balance(no_labels(codes), codes, q=8))
    original = regularisers.straight_through
    monkeypatch.setattr(regularisers, "straight_through", lambda hard, soft: original(hard, soft) - 1e-7)
    assert float(code_balance(no_labels(codes), codes, q=8)) == pytest.approx(exact, rel=1e-4)
