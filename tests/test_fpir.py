"""The threshold for a target FPIR at gallery size N (lateral.fpir) against hand-computed cases."""

import numpy as np
import pytest

from lateral.fpir import threshold_at_fpir

# 20,000 evenly spaced scores in (0, 1): their empirical CDF is the uniform one to within 1/20,000.
UNIFORM = (np.arange(20_000) + 0.5) / 20_000


@pytest.mark.parametrize("fpir, n_fish", [(0.01, 1), (0.1, 1), (0.01, 10), (0.1, 10), (0.1, 100)])
def test_uniform_impostor_scores_give_the_root_of_one_minus_fpir(fpir, n_fish):
    """Uniform scores: F(t) = t, so 1 - t^N = FPIR gives t = (1 - FPIR)^(1/N)."""
    threshold, how = threshold_at_fpir(UNIFORM, fpir, n_fish)
    assert how == "empirical"
    assert threshold == pytest.approx((1 - fpir) ** (1 / n_fish), abs=2 / UNIFORM.size)


def test_exponential_tail_beyond_the_data_follows_the_formula():
    """Unit exponential scores: P(X >= t) = exp(-t), so t = -ln(1 - (1 - FPIR)^(1/N)); N = 1,000 at FPIR
    0.01 asks for P = 1.0e-5, beyond 20,000 scores, so the fitted tail answers (within 2%)."""
    exponential = -np.log1p(-UNIFORM)
    for n_fish in (100, 1000):
        threshold, how = threshold_at_fpir(exponential, 0.01, n_fish)
        assert how == "tail fit"
        assert threshold == pytest.approx(-np.log(1 - 0.99 ** (1 / n_fish)), rel=0.02)


def test_ties_at_the_threshold_count_as_accepted():
    """Scores 0..99 repeated 10 times (1,000); FPIR 0.1 at N = 1 allows 100 scores >= t: t = 90 leaves
    exactly 100 (90..99, ten each), t = 89 would leave 110."""
    scores = np.repeat(np.arange(100.0), 10)
    assert threshold_at_fpir(scores, 0.1, 1) == (90.0, "empirical")


def test_threshold_rises_with_the_gallery_size():
    rng = np.random.default_rng(0)
    scores = rng.beta(5, 8, 5000)
    thresholds = [threshold_at_fpir(scores, 0.01, n)[0] for n in (1, 10, 100, 1000, 10_000)]
    assert all(later > earlier for earlier, later in zip(thresholds, thresholds[1:]))
