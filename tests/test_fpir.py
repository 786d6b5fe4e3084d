"""The threshold for a target FPIR at gallery size N (lateral.fpir) against hand-computed cases."""

import math

import numpy as np
import pytest
from scipy.stats import binom

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


@pytest.mark.parametrize("p", [0.3, 0.125])
@pytest.mark.parametrize("fpir, n_fish", [(0.01, 100), (0.01, 1000), (0.1, 1000)])
def test_lattice_scores_beyond_the_data_land_within_a_factor_of_two(p, fpir, n_fish):
    """Hamming-like scores k/64 with k ~ Binomial(64, p), as 20,000 evenly spaced quantiles. The exact FPIR of
    accepting from k is 1 - (1 - P(K >= k))^N (SciPy's binomial); the fitted tail's threshold must accept from
    the exact k or at most one step off, with an exact FPIR within a factor of 2 of the target."""
    scores = binom.ppf(UNIFORM, 64, p) / 64
    threshold, how = threshold_at_fpir(scores, fpir, n_fish)
    assert how == "tail fit"
    accepted_from = math.ceil(threshold * 64 - 1e-9)
    exact_fpir = lambda k: 1 - (1 - binom.sf(k - 1, 64, p)) ** n_fish  # noqa: E731
    exact = min(k for k in range(65) if exact_fpir(k) <= fpir)
    assert abs(accepted_from - exact) <= 1
    assert fpir / 2 <= exact_fpir(accepted_from) <= 2 * fpir


def test_a_few_clumped_levels_fit_no_tail_and_the_empirical_rule_answers():
    """Calibrated probabilities take a few isotonic steps (a fused score: 4,000 at 0.07, 100 at 0.12, 36 at 0.227,
    4 at 0.2478). The tail fitted to them runs off far beyond the data; where the data allow an exceedance the
    threshold is the empirical one: N = 10 at FPIR 0.01 allows floor(4,140 * (1 - 0.99^(1/10))) = 4 scores at
    or above T, so T = 0.2478 (its 4); N = 30 allows 1, so T lies just above 0.2478 (tied 4 times)."""
    scores = np.repeat([0.07, 0.12, 0.227, 0.2478], [4000, 100, 36, 4])
    assert math.floor(scores.size * (1 - 0.99 ** (1 / 10))) == 4 and math.floor(scores.size * (1 - 0.99 ** (1 / 30))) == 1
    assert threshold_at_fpir(scores, 0.01, 10) == (0.2478, "empirical, few scores")
    threshold, how = threshold_at_fpir(scores, 0.01, 30)
    assert how == "empirical, few scores" and threshold == np.nextafter(0.2478, 1.0)
