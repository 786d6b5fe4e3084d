"""k-reciprocal re-ranking: a hand-worked case, a slow set-by-set reference of the paper's equations,
invariances, and the per-query protocol."""

import math

import numpy as np
import pytest

from lateral.evaluation.rerank import k_reciprocal_rerank, rerank_per_query, rerank_queries_alone


def test_hand_worked_line():
    """Query q and gallery a, b on a line at 0, 0.1 and 1; k1 = 1, k2 = 1, lambda = 0.3.

    N(., 1) (self and nearest): q -> {q, a}, a -> {a, q}, b -> {b, a}. So R(q) = {q, a},
    R(a) = {a, q}, R(b) = {b} (b is not in N(a)). k1/2 rounds to 0: R(x, 0) = {x}, which
    adds nothing. V_q = (1, e^-0.1, 0) / (1 + e^-0.1), V_a = (e^-0.1, 1, 0) / (1 + e^-0.1),
    V_b = (0, 0, 1). d_J(q, a) = 1 - (2 e^-0.1) / (1 + 1) = 1 - e^-0.1 = 0.0951626;
    d_J(q, b) = 1 (nothing shared). d*(q, a) = 0.7 * 0.0951626 + 0.3 * 0.1 = 0.0966138;
    d*(q, b) = 0.7 * 1 + 0.3 * 1 = 1.
    """
    got = k_reciprocal_rerank([[0.1, 1.0]], [[0.0]], [[0.0, 0.9], [0.9, 0.0]], k1=1, k2=1, lambda_value=0.3)
    assert 0.7 * (1 - math.exp(-0.1)) + 0.03 == pytest.approx(0.0966138, abs=1e-7)
    np.testing.assert_allclose(got, [[0.0966138, 1.0]], atol=1e-7)


def reference_rerank(d, queries, k1, k2, lam):
    """The paper's sets written out one image at a time with Python sets (slow, independent)."""
    n = len(d)

    def neighbours(p, k):  # N(p, k): the k + 1 nearest, p first
        return [int(j) for j in np.argsort(d[p], kind="stable")[: k + 1]]

    def reciprocal(p, k):
        return {g for g in neighbours(p, k) if p in neighbours(g, k)}

    half = int(np.around(k1 / 2))
    vectors = np.zeros((n, n))
    for p in range(n):
        base = reciprocal(p, k1)
        expanded = set(base)
        for q in base:
            candidate = reciprocal(q, half)
            if len(candidate & base) > 2 / 3 * len(candidate):
                expanded |= candidate
        for g in expanded:
            vectors[p, g] = math.exp(-d[p, g])
        vectors[p] /= vectors[p].sum()
    expanded_vectors = np.array([np.mean([vectors[g] for g in neighbours(p, k2 - 1)], axis=0) for p in range(n)])
    out = np.zeros((queries, n - queries))
    for p in range(queries):
        for g in range(queries, n):
            shared = sum(min(expanded_vectors[p, j], expanded_vectors[g, j]) for j in range(n))
            union = sum(max(expanded_vectors[p, j], expanded_vectors[g, j]) for j in range(n))
            out[p, g - queries] = (1 - lam) * (1 - shared / union) + lam * d[p, g]
    return out


def random_distances(n, seed):
    points = np.random.default_rng(seed).normal(size=(n, 4))
    points[n // 2:] += 0.3 * points[: n - n // 2]  # some structure: pairs of related points
    return np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))


@pytest.mark.parametrize("queries, gallery, k1, k2", [(2, 4, 2, 2), (4, 14, 4, 3), (3, 20, 6, 1)])
def test_matches_the_slow_reference(queries, gallery, k1, k2):
    d = random_distances(queries + gallery, seed=queries + gallery)
    got = k_reciprocal_rerank(d[:queries, queries:], d[:queries, :queries], d[queries:, queries:], k1, k2, 0.3)
    np.testing.assert_allclose(got, reference_rerank(d, queries, k1, k2, 0.3), atol=1e-12)


def test_gallery_order_does_not_matter_and_lambda_one_is_the_original():
    d = random_distances(16, seed=5)
    q_g, q_q, g_g = d[:3, 3:], d[:3, :3], d[3:, 3:]
    permutation = np.random.default_rng(0).permutation(13)
    got = k_reciprocal_rerank(q_g, q_q, g_g, 4, 3, 0.3)
    permuted = k_reciprocal_rerank(q_g[:, permutation], q_q, g_g[np.ix_(permutation, permutation)], 4, 3, 0.3)
    np.testing.assert_allclose(permuted, got[:, permutation], atol=1e-12)
    np.testing.assert_allclose(k_reciprocal_rerank(q_g, q_q, g_g, 4, 3, 1.0), q_g)


def test_per_query_reranking_sees_only_the_allowed_gallery():
    """Row i equals a re-ranking of query i against its allowed images alone; what it may not see
    (here: another image that would otherwise be a neighbour) cannot change it."""
    d = random_distances(10, seed=8)
    allowed = np.ones((10, 10), bool)
    allowed[0, [1, 2]] = False
    got = rerank_per_query(d, allowed, k1=3, k2=2, lambda_value=0.3)
    gallery = np.arange(3, 10)
    alone = k_reciprocal_rerank(d[0, gallery][None], [[0.0]], d[np.ix_(gallery, gallery)], 3, 2, 0.3)[0]
    np.testing.assert_allclose(got[0, gallery], alone)
    assert np.isinf(got[0, [0, 1, 2]]).all() and np.isinf(np.diag(got)).all()
    changed = d.copy()
    changed[1, :] = changed[:, 1] = 0.01  # image 1 moves next to everything: row 0 must not notice
    changed[1, 1] = 0.0
    np.testing.assert_allclose(rerank_per_query(changed, allowed, 3, 2, 0.3)[0], got[0])


def test_queries_sharing_a_gallery_match_one_query_reranking_even_with_ties():
    """Cross-camera: queries of one camera share their gallery (the other cameras), and re-use its
    rankings. Hamming distances of 6 ternary codes tie a lot, some at 0: every row must still equal
    the re-ranking of that query alone."""
    codes = np.random.default_rng(4).integers(0, 3, (24, 6))
    codes[5] = codes[17]  # identical templates in two cameras: distance 0
    d = (codes[:, None, :] != codes[None, :, :]).mean(-1)
    cameras = np.arange(24) % 3
    allowed = cameras[:, None] != cameras[None, :]
    got = rerank_per_query(d, allowed, k1=4, k2=3, lambda_value=0.3)
    for query in range(24):
        gallery = np.flatnonzero(allowed[query])
        alone = k_reciprocal_rerank(d[query, gallery][None], [[d[query, query]]], d[np.ix_(gallery, gallery)],
                                    4, 3, 0.3)[0]
        np.testing.assert_allclose(got[query, gallery], alone, atol=1e-12)


def test_matches_the_slow_reference_with_tied_distances():
    codes = np.random.default_rng(9).integers(0, 2, (14, 5))
    d = (codes[:, None, :] != codes[None, :, :]).mean(-1)
    got = k_reciprocal_rerank(d[:3, 3:], d[:3, :3], d[3:, 3:], 4, 3, 0.3)
    np.testing.assert_allclose(got, reference_rerank(d, 3, 4, 3, 0.3), atol=1e-12)


def test_queries_alone_against_one_gallery():
    d = random_distances(15, seed=2)
    got = rerank_queries_alone(d[:3, 3:], d[3:, 3:], k1=4, k2=3, lambda_value=0.3)
    for query in range(3):
        alone = k_reciprocal_rerank(d[query, 3:][None], [[0.0]], d[3:, 3:], 4, 3, 0.3)[0]
        np.testing.assert_allclose(got[query], alone, atol=1e-12)
