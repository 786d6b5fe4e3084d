"""Verification and identification figures recomputed with NumPy and scikit-learn, for checking the package's."""

import numpy as np
from sklearn.metrics import roc_auc_score


def cosine(embeddings):
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    return unit @ unit.T


def hamming(codes):
    """Share of equal codes."""
    return (codes[:, None, :] == codes[None, :, :]).mean(-1)


def eer(genuine, impostor):
    """The threshold among the scores where FAR (impostors >= t) and FRR (genuine < t) are closest;
    EER = their mean there."""
    best = None
    for t in np.unique(np.r_[genuine, impostor]):
        far, frr = np.mean(impostor >= t), np.mean(genuine < t)
        if best is None or abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2)
    return best[1]


def figures(similarity, fish_ids, flanks, sessions=None):
    """EER, AUC (scikit-learn) and rank-1 (a loop over queries) under the same-flank, all-pairs protocol
    (cross-session when ``sessions`` is given)."""
    n = len(fish_ids)
    allowed = (flanks[:, None] == flanks[None, :]) & ~np.eye(n, dtype=bool)
    if sessions is not None:
        allowed &= sessions[:, None] != sessions[None, :]
    first, second = np.nonzero(np.triu(allowed, k=1))
    same = fish_ids[first] == fish_ids[second]
    scores = similarity[first, second]
    hits = queries = 0
    for query in range(n):
        candidates = np.flatnonzero(allowed[query])
        if not (fish_ids[candidates] == fish_ids[query]).any():
            continue
        queries += 1
        best = candidates[np.argmax(similarity[query, candidates])]  # first of a tie: gallery order
        hits += fish_ids[best] == fish_ids[query]
    return dict(eer=eer(scores[same], scores[~same]), auc=roc_auc_score(same, scores), rank1=hits / queries,
                genuine_pairs=int(same.sum()), impostor_pairs=int((~same).sum()), queries=queries)
