"""Verification and identification figures from match scores (higher score = more alike).

Verification follows the biometric convention: a pair is accepted when its
score is at least the threshold; FAR is the share of impostor pairs accepted,
FRR the share of genuine pairs rejected. Weights (one per pair) let the
bootstrap resample fish instead of pairs.
"""

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def _weights(scores, weights):
    return np.ones(len(scores)) if weights is None else np.asarray(weights, np.float64)


def error_rates(genuine, impostor, genuine_weights=None, impostor_weights=None):
    """(thresholds ascending, FAR, FRR) at every distinct score, then at +inf (accept nothing)."""
    genuine, impostor = np.asarray(genuine, np.float64), np.asarray(impostor, np.float64)
    genuine_weights, impostor_weights = _weights(genuine, genuine_weights), _weights(impostor, impostor_weights)
    thresholds = np.append(np.unique(np.concatenate([genuine, impostor])), np.inf)

    def share_below(scores, weights):
        order = np.argsort(scores)
        cumulative = np.concatenate([[0.0], np.cumsum(weights[order])])
        return cumulative[np.searchsorted(scores[order], thresholds, side="left")] / weights.sum()

    return thresholds, 1.0 - share_below(impostor, impostor_weights), share_below(genuine, genuine_weights)


def equal_error_rate(genuine, impostor, genuine_weights=None, impostor_weights=None):
    """(EER, threshold): at the threshold where FAR and FRR are closest, their mean.

    Scores are discrete, so FAR and FRR rarely meet exactly; this is the usual
    convention (as in bob.measure). Perfectly separated scores give EER 0 at the
    lowest genuine score.
    """
    thresholds, far, frr = error_rates(genuine, impostor, genuine_weights, impostor_weights)
    index = int(np.argmin(np.abs(far - frr)))
    return float((far[index] + frr[index]) / 2), float(thresholds[index])


def area_under_roc(genuine, impostor, genuine_weights=None, impostor_weights=None):
    labels = np.concatenate([np.ones(len(genuine)), np.zeros(len(impostor))])
    weights = np.concatenate([_weights(genuine, genuine_weights), _weights(impostor, impostor_weights)])
    return float(roc_auc_score(labels, np.concatenate([genuine, impostor]), sample_weight=weights))


def roc_points(genuine, impostor):
    """(FAR, TAR, thresholds) of the ROC curve (scikit-learn's)."""
    labels = np.concatenate([np.ones(len(genuine)), np.zeros(len(impostor))])
    far, tar, thresholds = roc_curve(labels, np.concatenate([genuine, impostor]))
    return far, tar, thresholds


def tar_at_far(genuine, impostor, target_far):
    """(TAR, threshold) at the lowest threshold whose FAR does not exceed ``target_far``."""
    thresholds, far, frr = error_rates(genuine, impostor)
    allowed = np.flatnonzero(far <= target_far)
    if allowed.size == 0:  # every threshold accepts too many impostors: accept nothing
        return 0.0, float("inf")
    index = allowed[0]
    return float(1.0 - frr[index]), float(thresholds[index])


def d_prime(genuine, impostor):
    """Decidability index: |mean_g - mean_i| / sqrt((var_g + var_i) / 2) (Daugman)."""
    spread = np.sqrt((np.var(genuine) + np.var(impostor)) / 2)
    return float(abs(np.mean(genuine) - np.mean(impostor)) / spread) if spread > 0 else float("inf")


def best_accuracy(scores, is_genuine):
    """(accuracy, threshold) of the threshold that classifies the most pairs right.

    The threshold sits midway between the best score to accept from and the
    next lower score, so a held-out pair on either score is judged as intended.
    """
    scores, is_genuine = np.asarray(scores, np.float64), np.asarray(is_genuine, bool)
    candidates = np.unique(scores)
    # Accept at score >= t: accuracy = (genuine >= t) + (impostor < t).
    order = np.argsort(scores)
    sorted_scores, sorted_genuine = scores[order], is_genuine[order]
    genuine_below = np.concatenate([[0], np.cumsum(sorted_genuine)])
    impostor_below = np.concatenate([[0], np.cumsum(~sorted_genuine)])
    positions = np.searchsorted(sorted_scores, candidates, side="left")
    correct = (genuine_below[-1] - genuine_below[positions]) + impostor_below[positions]
    best = int(np.argmax(correct))
    threshold = candidates[best] if best == 0 else (candidates[best] + candidates[best - 1]) / 2
    return float(correct[best] / scores.size), float(threshold)


def cross_validated_accuracy(scores, is_genuine, folds=10, seed=0):
    """The LFW protocol: pick the threshold on nine folds, measure accuracy on the tenth.

    Returns (mean accuracy, its standard deviation, mean threshold).
    """
    scores, is_genuine = np.asarray(scores, np.float64), np.asarray(is_genuine, bool)
    assignment = np.random.default_rng(seed).permutation(scores.size) % folds
    accuracies, thresholds = [], []
    for fold in range(folds):
        held_out = assignment == fold
        if not held_out.any():
            continue
        _, threshold = best_accuracy(scores[~held_out], is_genuine[~held_out])
        accuracies.append(np.mean((scores[held_out] >= threshold) == is_genuine[held_out]))
        thresholds.append(threshold)
    return float(np.mean(accuracies)), float(np.std(accuracies)), float(np.mean(thresholds))


def query_rankings(similarity, labels, allowed):
    """Each query's answers, best first: (query, its allowed images in ranked order, which of them are of
    its class). Queries with no allowed image of their own class are skipped; ties keep gallery order
    (a stable sort on the negated score: no optimistic tie-breaking)."""
    similarity = np.asarray(similarity, np.float64)
    labels = np.asarray(labels)
    allowed = np.asarray(allowed, bool) & ~np.eye(len(labels), dtype=bool)
    for query in range(len(labels)):
        candidates = np.flatnonzero(allowed[query])
        relevant = labels[candidates] == labels[query]
        if not relevant.any():
            continue
        order = np.argsort(-similarity[query, candidates], kind="stable")
        yield query, candidates[order], relevant[order]


def average_precision(ranked_relevant):
    """Mean of the precision at each relevant answer of one ranked list."""
    hit_positions = np.flatnonzero(ranked_relevant) + 1
    return float(np.mean(np.arange(1, hit_positions.size + 1) / hit_positions))


def cmc_and_map(similarity, labels, allowed, max_rank=10):
    """CMC (rank 1..max_rank) and mean average precision, each image a query against the others.

    ``allowed[i, j]`` says whether image j may answer query i (the protocol's
    exclusions; the diagonal is always excluded). Queries with no allowed
    image of their own class are skipped; returns (cmc, mAP, queries used).
    """
    hits_at_rank = np.zeros(max_rank)
    average_precisions = []
    for _, _, ranking in query_rankings(similarity, labels, allowed):
        first_hit = int(np.argmax(ranking))
        if first_hit < max_rank:
            hits_at_rank[first_hit:] += 1
        average_precisions.append(average_precision(ranking))
    queries = len(average_precisions)
    if not queries:
        return np.full(max_rank, np.nan), float("nan"), 0
    return hits_at_rank / queries, float(np.mean(average_precisions)), queries
