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
(other flank, same session or camera): each query is re-ranked alone against
only the images it may be compared with, so an excluded image (a same-camera
shot of the same fish, say) can never bridge it to a match through the
neighbour sets. ``rerank_queries_alone`` is the same for queries against one
gallery, the gallery tool's case (new photos against stored templates).
"""

import numpy as np
from scipy import sparse

DEFAULT_K1, DEFAULT_K2, DEFAULT_LAMBDA = 20, 6, 0.3  # the paper's settings


def _nearest(top, count):
    """Sparse [n, n] 0/1: j is among the ``count`` first of row i's ranking (``top`` [n, >= count])."""
    n = len(top)
    rows = np.repeat(np.arange(n), count)
    return sparse.csr_matrix((np.ones(rows.size), (rows, top[:, :count].ravel())), shape=(n, n))


def _reciprocal(top, k):
    nearest = _nearest(top, k + 1)
    return nearest.multiply(nearest.T).tocsr()


def _rerank_from_rankings(top, pair_distance, query_gallery, k1, k2, lambda_value):
    """d* [queries, gallery] of the images 0..n-1, queries first, from each image's ``top`` ranking
    [n, >= max(k1 + 1, k2)] and ``pair_distance(rows, columns)``, the original distance of pairs.

    Every set is sparse (a row holds a few times k1 images), so this costs O(n k1 k2), not O(n^2).
    """
    n, queries = len(top), len(query_gallery)
    reciprocal = _reciprocal(top, k1)
    half = _reciprocal(top, int(np.around(k1 / 2)))
    half_sizes = np.asarray(half.sum(axis=1)).ravel()
    shared = (reciprocal @ half.T).multiply(reciprocal).tocoo()  # [p, q] = |R(p, k1) and R(q, k1/2)|, q in R(p, k1)
    keep = shared.data > 2.0 / 3.0 * half_sizes[shared.col]
    expands = sparse.csr_matrix((np.ones(keep.sum()), (shared.row[keep], shared.col[keep])), shape=(n, n))
    expanded = (reciprocal + expands @ half).tocoo()
    weights = sparse.csr_matrix((np.exp(-pair_distance(expanded.row, expanded.col)), (expanded.row, expanded.col)),
                                shape=(n, n))
    weights = sparse.diags(1.0 / np.asarray(weights.sum(axis=1)).ravel()) @ weights
    if k2 > 1:
        weights = (_nearest(top, k2) @ weights / k2).tocsr()
    gallery_weights = weights[queries:]
    jaccard = np.empty_like(query_gallery)
    for query in range(queries):
        row = weights[query]
        columns, values = row.indices, row.data
        smaller = np.minimum(gallery_weights[:, columns].toarray(), values[None, :]).sum(axis=1)
        # Every row sums to 1, so the sum of maxima is 2 minus the sum of minima.
        jaccard[query] = 1.0 - smaller / (2.0 - smaller)
    return (1.0 - lambda_value) * jaccard + lambda_value * query_gallery


def _widths(n, k1, k2):
    k1, k2 = min(k1, n - 1), min(k2, n)
    return k1, k2, max(k1 + 1, k2)


def k_reciprocal_rerank(query_gallery, query_query, gallery_gallery, k1=DEFAULT_K1, k2=DEFAULT_K2,
                        lambda_value=DEFAULT_LAMBDA):
    """Re-ranked distances d* [queries, gallery] from the three blocks of original distances."""
    query_gallery = np.asarray(query_gallery, np.float64)
    distances = np.block([[np.asarray(query_query, np.float64), query_gallery],
                          [query_gallery.T, np.asarray(gallery_gallery, np.float64)]])
    k1, k2, width = _widths(len(distances), k1, k2)
    top = np.argsort(distances, axis=1, kind="stable")[:, :width]
    return _rerank_from_rankings(top, lambda rows, columns: distances[rows, columns], query_gallery, k1, k2,
                                 lambda_value)


def rerank_queries_alone(query_gallery, gallery_gallery, query_self=None, k1=DEFAULT_K1, k2=DEFAULT_K2,
                         lambda_value=DEFAULT_LAMBDA):
    """d* [queries, gallery], each query re-ranked alone against the gallery (no query sees another):
    row i equals ``k_reciprocal_rerank(query_gallery[i:i+1], [[query_self[i]]], gallery_gallery)``.

    The gallery's own rankings are sorted once; a query only enters them, at the place its
    distances give it (ahead of ties, as the query comes first in the stable sort). This is the
    call for the gallery tool: new photos against the stored templates. ``query_self``: each
    query's distance to itself (default 0).
    """
    query_gallery = np.atleast_2d(np.asarray(query_gallery, np.float64))
    block = np.asarray(gallery_gallery, np.float64)
    query_self = np.zeros(len(query_gallery)) if query_self is None else np.asarray(query_self, np.float64)
    gallery_size = len(block)
    k1, k2, width = _widths(gallery_size + 1, k1, k2)
    gallery_top = np.argsort(block, axis=1, kind="stable")[:, :width]
    gallery_top_distances = np.take_along_axis(block, gallery_top, axis=1)
    shifted = gallery_top + 1  # joint indices: the query is 0, gallery image j is j + 1
    columns = np.arange(width)[None, :]
    reranked = np.empty_like(query_gallery)
    for query, to_query in enumerate(query_gallery):
        joint_query = np.concatenate([[query_self[query]], to_query])
        position = (gallery_top_distances < to_query[:, None]).sum(axis=1)[:, None]
        top = np.empty((gallery_size + 1, width), np.int64)
        top[0] = np.argsort(joint_query, kind="stable")[:width]
        top[1:] = np.where(columns < position, shifted, np.where(columns == position, 0, np.roll(shifted, 1, axis=1)))

        def pair_distance(rows, cols, joint_query=joint_query):
            inner = block[np.maximum(rows - 1, 0), np.maximum(cols - 1, 0)]
            return np.where(rows == 0, joint_query[cols], np.where(cols == 0, joint_query[rows], inner))

        reranked[query] = _rerank_from_rankings(top, pair_distance, to_query[None, :], k1, k2, lambda_value)[0]
    return reranked


def rerank_per_query(distances, allowed, k1=DEFAULT_K1, k2=DEFAULT_K2, lambda_value=DEFAULT_LAMBDA):
    """[n, n] re-ranked distances of n images among themselves; row i re-ranked alone against only
    the images ``allowed[i]`` marks (others, and the diagonal, are +inf). Queries with the same
    allowed images (one camera and flank, say) share one ``rerank_queries_alone`` call."""
    distances = np.asarray(distances, np.float64)
    allowed = np.asarray(allowed, bool) & ~np.eye(len(distances), dtype=bool)
    reranked = np.full(distances.shape, np.inf)
    galleries = {}
    for query in range(len(distances)):
        galleries.setdefault(allowed[query].tobytes(), []).append(query)
    for members in galleries.values():
        gallery = np.flatnonzero(allowed[members[0]])
        if gallery.size == 0:
            continue
        reranked[np.ix_(members, gallery)] = rerank_queries_alone(
            distances[np.ix_(members, gallery)], distances[np.ix_(gallery, gallery)],
            distances[members, members], k1, k2, lambda_value)
    return reranked
