import numpy as np

from lateral.matching.fusion import fuse, shortlist, verify_shortlist


def test_fusion_averages_where_verified_and_keeps_the_global_probability_elsewhere():
    global_probability = np.array([[0.2, 0.6], [0.9, 0.4]])
    local_probability = np.array([[np.nan, 0.8], [0.1, np.nan]])
    np.testing.assert_allclose(fuse(global_probability, local_probability), [[0.2, 0.7], [0.5, 0.4]])


def test_the_shortlist_holds_each_querys_budget_best_allowed_candidates():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(6, 9))
    allowed = rng.random((6, 9)) < 0.6
    allowed[0] = False
    allowed[0, :2] = True  # fewer allowed candidates than the budget
    chosen = shortlist(scores, allowed, 3)
    assert not (chosen & ~allowed).any()
    np.testing.assert_array_equal(chosen.sum(axis=1), np.minimum(3, allowed.sum(axis=1)))
    for query in range(6):
        left_out = allowed[query] & ~chosen[query]
        if left_out.any():
            assert scores[query, chosen[query]].min() >= scores[query, left_out].max()
    assert (shortlist(scores, allowed, None) == allowed).all()


def test_verification_costs_at_most_the_budget_per_query():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(5, 5))
    allowed = ~np.eye(5, dtype=bool)
    chosen = shortlist(scores, allowed, 2)
    calls = []
    local = verify_shortlist(chosen, lambda i, j: calls.append((i, j)) or 10.0 * i + j)
    assert len(calls) == 10
    np.testing.assert_array_equal(~np.isnan(local), chosen)
    query, candidate = np.argwhere(chosen)[0]
    assert local[query, candidate] == 10.0 * query + candidate
    symmetric_calls = []
    verify_shortlist(chosen, lambda i, j: symmetric_calls.append((i, j)) or 0.0, same_images=True)
    assert len(symmetric_calls) == len({(min(i, j), max(i, j)) for i, j in np.argwhere(chosen)})
