"""k-reciprocal re-ranking (Zhong et al. 2017, "Re-ranking Person Re-identification with k-reciprocal
Encoding", CVPR, arXiv 1701.08398), on any distance matrix.

Over the probe and gallery together (n images, distance d, each image its own
nearest neighbour):

- N(p, k): the k + 1 nearest images of p (p included), by a stable sort of d;
- R(p, k) = {g in N(p, k) : p in N(g, k)}, the k-reciprocal neighbours (eq. 4);
- R*(p, k) = R(p, k) with R(q, k/2) added for every q in R(p, k) that shares more
  than 2/3 of R(q, k/2) with R(p, k) (eq. 6; "more than", as in the authors' code,
  zhunzhong07/person-re-ranking; k/2 rounded half to even, as NumPy's around);
- V_p,g = exp(-d(p, g)) on R*(p, k1), else 0, each row normalised to sum 1 (eq. 7,
  normalised as in the authors' code);
- local query expansion: V_p becomes the mean of V_g over g in N(p, k2 - 1), i.e.
  p's k2 nearest images including p (eq. 11);
- d_J(p, g) = 1 - sum_j min(V_p,j, V_g,j) / sum_j max(V_p,j, V_g,j) (eq. 10);
- d*(p, g) = (1 - lambda) d_J(p, g) + lambda d(p, g) (eq. 12).

Unlike the authors' code, d is used as given (no squaring, no division by each
row's maximum): the measures here are bounded distances already (1 - cosine
in [0, 2], the share of unequal IoM codes in [0, 1]).

``rerank_per_query`` serves evaluation protocols that exclude images per query
(other flank, same session or camera): each query is re-ranked against only
the images it may be compared with, so an excluded image (a same-camera shot
of the same fish, say) can never bridge it to a match through the neighbour
sets. The gallery tool can call it with one query against its stored templates.
"""

import numpy as np
from scipy import sparse

DEFAULT_K1, DEFAULT_K2, DEFAULT_LAMBDA = 20, 6, 0.3  # the paper's settings


def _nearest(order, count):
    """Sparse [n, n] 0/1: j is among the ``count`` first of row i's ranking."""
    n = len(order)
    columns = order[:, :count]
    rows = np.repeat(np.arange(n), columns.shape[1])
    return sparse.csr_matrix((np.ones(rows.size), (rows, columns.ravel())), shape=(n, n))


def _reciprocal(order, k):
    nearest = _nearest(order, k + 1)
    return nearest.multiply(nearest.T).tocsr()


def k_reciprocal_rerank(query_gallery, query_query, gallery_gallery, k1=DEFAULT_K1, k2=DEFAULT_K2,
                        lambda_value=DEFAULT_LAMBDA):
    """Re-ranked distances d* [queries, gallery] from the three blocks of original distances.

    The neighbour sets are sparse (at most k1 + 1 per row), so the set algebra
    runs as sparse products in about O(n^2 log n) for the sort, not O(n^3).
    """
    query_gallery = np.asarray(query_gallery, np.float64)
    distances = np.block([[np.asarray(query_query, np.float64), query_gallery],
                          [query_gallery.T, np.asarray(gallery_gallery, np.float64)]])
    n, queries = len(distances), len(query_gallery)
    k1, k2 = min(k1, n - 1), min(k2, n)
    order = np.argsort(distances, axis=1, kind="stable")
    reciprocal = _reciprocal(order, k1)
    half = _reciprocal(order, int(np.around(k1 / 2)))
    shared = (reciprocal @ half.T).toarray()  # [p, q] = |R(p, k1) and R(q, k1/2)|
    expands = reciprocal.multiply(shared > 2.0 / 3.0 * np.asarray(half.sum(axis=1)).ravel()[None, :])
    expanded = (reciprocal + expands @ half).toarray() > 0
    weights = np.where(expanded, np.exp(-distances), 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    if k2 > 1:
        weights = _nearest(order, k2) @ weights / k2
    jaccard = np.empty_like(query_gallery)
    gallery_weights = weights[queries:]
    for query in range(queries):
        smaller = np.minimum(weights[query], gallery_weights).sum(axis=1)
        larger = np.maximum(weights[query], gallery_weights).sum(axis=1)
        jaccard[query] = 1.0 - smaller / larger
    return (1.0 - lambda_value) * jaccard + lambda_value * query_gallery


def rerank_per_query(distances, allowed, k1=DEFAULT_K1, k2=DEFAULT_K2, lambda_value=DEFAULT_LAMBDA):
    """[n, n] re-ranked distances of n images among themselves; row i re-ranked against only the
    images ``allowed[i]`` marks (others, and the diagonal, are +inf)."""
    distances = np.asarray(distances, np.float64)
    allowed = np.asarray(allowed, bool) & ~np.eye(len(distances), dtype=bool)
    reranked = np.full(distances.shape, np.inf)
    for query in range(len(distances)):
        gallery = np.flatnonzero(allowed[query])
        if gallery.size == 0:
            continue
        reranked[query, gallery] = k_reciprocal_rerank(
            distances[query, gallery][None, :], distances[query, query][None, None],
            distances[np.ix_(gallery, gallery)], k1, k2, lambda_value,
        )[0]
    return reranked
