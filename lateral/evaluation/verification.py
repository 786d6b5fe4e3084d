"""All figures of one measure: verification, its bootstrap intervals, and identification."""

import numpy as np

from lateral.evaluation import metrics

FAR_TARGETS = (1e-1, 1e-2, 1e-3)  # metrics.json also serves the gallery's accept and review thresholds


def pair_weights(fish_index, first, second, draws):
    """Bootstrap weight of each pair: how often its fish were drawn (a fish drawn k times counts k
    times; an impostor pair of fish drawn k and l times counts k * l times)."""
    a, b = fish_index[first], fish_index[second]
    return np.where(a == b, draws[a], draws[a] * draws[b]).astype(np.float64)


def bootstrap_intervals(scores, genuine, fish_ids, first, second, rounds=200, seed=0):
    """95% intervals of EER and AUC, resampling fish (not pairs) with replacement."""
    fish, fish_index = np.unique(fish_ids, return_inverse=True)
    rng = np.random.default_rng(seed)
    eers, aucs = [], []
    for _ in range(rounds):
        draws = np.bincount(rng.integers(0, fish.size, fish.size), minlength=fish.size)
        weights = pair_weights(fish_index, first, second, draws)
        genuine_weights, impostor_weights = weights[genuine], weights[~genuine]
        if genuine_weights.sum() == 0 or impostor_weights.sum() == 0:
            continue
        keep_genuine, keep_impostor = genuine_weights > 0, impostor_weights > 0
        genuine_scores, impostor_scores = scores[genuine][keep_genuine], scores[~genuine][keep_impostor]
        eers.append(metrics.equal_error_rate(genuine_scores, impostor_scores, genuine_weights[keep_genuine],
                                             impostor_weights[keep_impostor])[0])
        aucs.append(metrics.area_under_roc(genuine_scores, impostor_scores, genuine_weights[keep_genuine],
                                           impostor_weights[keep_impostor]))
    interval = lambda values: [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))] if values else None  # noqa: E731
    return {"eer_95": interval(eers), "auc_95": interval(aucs), "bootstrap_rounds": len(eers)}


def evaluate_measure(similarity, fish_ids, allowed, first, second, genuine, bootstrap_rounds=200,
                     identification_scores=None):
    """The figures of one score matrix under one protocol, as a JSON-ready dict.

    ``identification_scores`` (default: ``similarity``) rank the gallery for CMC and mAP,
    e.g. re-ranked scores; verification always uses ``similarity``.
    """
    fish_ids = np.asarray(fish_ids)
    scores = similarity[first, second]
    genuine_scores, impostor_scores = scores[genuine], scores[~genuine]
    if genuine_scores.size == 0 or impostor_scores.size == 0:
        raise ValueError("the protocol leaves no genuine or no impostor pair: more fish or sessions are needed")
    eer, eer_threshold = metrics.equal_error_rate(genuine_scores, impostor_scores)
    accuracy, accuracy_spread, accuracy_threshold = metrics.cross_validated_accuracy(scores, genuine)
    ranking = similarity if identification_scores is None else identification_scores
    cmc, mean_ap, queries = metrics.cmc_and_map(ranking, fish_ids, allowed)
    figures = {
        "genuine_pairs": int(genuine_scores.size),
        "impostor_pairs": int(impostor_scores.size),
        "eer": eer,
        "eer_threshold": eer_threshold,
        "auc": metrics.area_under_roc(genuine_scores, impostor_scores),
        "accuracy": accuracy,
        "accuracy_std": accuracy_spread,
        "accuracy_threshold": accuracy_threshold,
        "d_prime": metrics.d_prime(genuine_scores, impostor_scores),
        "rank1": float(cmc[0]),
        "rank5": float(cmc[4]),
        "rank10": float(cmc[9]),
        "map": mean_ap,
        "queries": queries,
        "cmc": [float(value) for value in cmc],
    }
    for target in FAR_TARGETS:
        tar, threshold = metrics.tar_at_far(genuine_scores, impostor_scores, target)
        figures[f"tar_at_far_{target:g}"] = tar
        figures[f"threshold_at_far_{target:g}"] = threshold
    figures.update(bootstrap_intervals(scores, genuine, fish_ids, first, second, bootstrap_rounds))
    return figures
