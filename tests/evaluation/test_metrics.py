"""Metrics against hand-worked cases and scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from lateral.evaluation.metrics import (
    area_under_roc,
    best_accuracy,
    cmc_and_map,
    cross_validated_accuracy,
    d_prime,
    equal_error_rate,
    tar_at_far,
)


def test_perfectly_separated_scores_have_zero_eer_at_the_lowest_genuine_score():
    assert equal_error_rate([0.8, 0.9], [0.1, 0.2]) == (0.0, 0.8)


def test_eer_on_interleaved_scores():
    """genuine 0.3 0.6 0.9, impostor 0.1 0.4 0.7: at t = 0.6 one genuine (0.3) is rejected
    and one impostor (0.7) accepted, so FAR = FRR = 1/3."""
    eer, threshold = equal_error_rate([0.3, 0.6, 0.9], [0.1, 0.4, 0.7])
    assert eer == pytest.approx(1 / 3) and threshold == 0.6


def test_eer_with_tied_scores():
    """genuine 0.5 0.5, impostor 0.5 0.1. At t = 0.5 (accept >= 0.5): FRR 0, FAR 1/2;
    above 0.5: FRR 1, FAR 0; at 0.1: FRR 0, FAR 1. Closest at 0.5: EER = (1/2 + 0) / 2."""
    assert equal_error_rate([0.5, 0.5], [0.5, 0.1]) == (0.25, 0.5)


def test_eer_of_identical_distributions_is_one_half():
    scores = np.linspace(0, 1, 101)
    eer, _ = equal_error_rate(scores, scores)
    assert eer == pytest.approx(0.5, abs=0.01)


def test_weights_count_pairs_several_times():
    """Weighting the impostor 0.7 twice equals listing it twice."""
    weighted = equal_error_rate([0.3, 0.6, 0.9], [0.1, 0.4, 0.7], impostor_weights=[1, 1, 2])
    assert weighted == equal_error_rate([0.3, 0.6, 0.9], [0.1, 0.4, 0.7, 0.7])


def test_auc_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    genuine = rng.integers(0, 10, 50) / 10
    impostor = rng.integers(0, 7, 80) / 10
    expected = roc_auc_score(np.r_[np.ones(50), np.zeros(80)], np.r_[genuine, impostor])
    assert area_under_roc(genuine, impostor) == pytest.approx(expected)


def test_tar_at_far():
    """Impostors 0.1..1.0 (ten). Candidate thresholds are all scores: at 0.9 two impostors
    pass (FAR 0.2), at 0.95 one (FAR 0.1): the lowest allowed threshold is 0.95, where
    genuine 0.95, 1.0, 1.2 pass: TAR 3/4. When no threshold is strict enough, nothing is accepted."""
    impostor = np.arange(1, 11) / 10
    assert tar_at_far([0.5, 0.95, 1.0, 1.2], impostor, 0.1) == (0.75, 0.95)
    assert tar_at_far([0.5], [0.9], 0.0) == (0.0, np.inf)


def test_d_prime():
    """means 2 and 0, variances 1 and 1: d' = 2 / 1."""
    genuine, impostor = np.array([1.0, 3.0]), np.array([-1.0, 1.0])
    assert d_prime(genuine, impostor) == pytest.approx(2.0)


def test_best_accuracy_and_its_cross_validated_version():
    scores = np.array([0.1, 0.2, 0.35, 0.4, 0.45, 0.7, 0.8, 0.9])
    genuine = np.array([0, 0, 1, 0, 0, 1, 1, 1], bool)
    # Accepting from 0.7 misclassifies only 0.35 (7/8); from 0.35, the impostors 0.4 and 0.45 (6/8).
    # The threshold is placed midway between 0.45 and 0.7.
    assert best_accuracy(scores, genuine) == (7 / 8, pytest.approx(0.575))
    separated = np.r_[np.linspace(0, 0.4, 50), np.linspace(0.6, 1, 50)]
    mean, spread, threshold = cross_validated_accuracy(separated, np.r_[np.zeros(50), np.ones(50)].astype(bool))
    assert mean == 1.0 and spread == 0.0 and 0.4 < threshold <= 0.6


def test_cmc_and_map_on_a_hand_worked_ranking():
    """Three images of fish A (0, 1, 2) and one of B (3).

    Query 0 ranks 3, 1, 2: first hit at rank 2; hits at positions 2, 3: AP = (1/2 + 2/3) / 2.
    Query 1 ranks 0, 2, 3: rank 1; AP = (1 + 1) / 2 = 1.
    Query 2 ranks 3, 0, 1: rank 2; AP = (1/2 + 2/3) / 2.
    Query 3 has no other B: skipped.
    """
    similarity = np.array([
        [0, .5, .4, .9],
        [.9, 0, .8, .1],
        [.5, .4, 0, .9],
        [.1, .1, .1, 0],
    ])
    labels = np.array(["A", "A", "A", "B"])
    cmc, mean_ap, queries = cmc_and_map(similarity, labels, np.ones((4, 4), bool), max_rank=3)
    assert queries == 3
    np.testing.assert_allclose(cmc, [1 / 3, 1.0, 1.0])
    assert mean_ap == pytest.approx(((1 / 2 + 2 / 3) / 2 * 2 + 1) / 3)


def test_cmc_respects_the_exclusions():
    """The ranking of test_cmc_and_map_on_a_hand_worked_ranking, with exclusions that change the answer.

    Query 0 may not see image 3 (B, its top impostor): it now ranks 1, 2: rank 1, AP 1. Queries 1 and 2
    are as before (rank 1 with AP 1; rank 2 with AP 7/12): CMC@1 2/3 (1/3 without the exclusion),
    mAP (1 + 1 + 7/12) / 3. Query 1 may then not see images 0 and 2 either, the only other A's: it is
    skipped, leaving queries 0 and 2: CMC@1 1/2, mAP (1 + 7/12) / 2.
    """
    similarity = np.array([
        [0, .5, .4, .9],
        [.9, 0, .8, .1],
        [.5, .4, 0, .9],
        [.1, .1, .1, 0],
    ])
    labels = np.array(["A", "A", "A", "B"])
    allowed = np.ones((4, 4), bool)
    allowed[0, 3] = False
    cmc, mean_ap, queries = cmc_and_map(similarity, labels, allowed, max_rank=2)
    assert queries == 3
    np.testing.assert_allclose(cmc, [2 / 3, 1.0])
    assert mean_ap == pytest.approx((1 + 1 + 7 / 12) / 3)
    allowed[1, [0, 2]] = False
    cmc, mean_ap, queries = cmc_and_map(similarity, labels, allowed, max_rank=2)
    assert queries == 2
    np.testing.assert_allclose(cmc, [1 / 2, 1.0])
    assert mean_ap == pytest.approx((1 + 7 / 12) / 2)


def test_bootstrap_pair_weights_count_drawn_fish():
    """Images of fish A, A, B. A drawn twice, B once: the genuine pair (A, A) counts 2,
    each impostor pair (A, B) counts 2 x 1; with B not drawn, the impostor pairs vanish."""
    from lateral.evaluation.verification import pair_weights

    fish_index = np.array([0, 0, 1])
    first, second = np.array([0, 0, 1]), np.array([1, 2, 2])
    np.testing.assert_array_equal(pair_weights(fish_index, first, second, np.array([2, 1])), [2, 2, 2])
    np.testing.assert_array_equal(pair_weights(fish_index, first, second, np.array([2, 0])), [2, 0, 0])
