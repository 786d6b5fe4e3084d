"""Shortlist by the global score, verify the shortlist locally, fuse the calibrated probabilities.

WildFusion's scheme (Čermák et al., "WildFusion: Individual animal identification
with calibrated similarity fusion", ECCV 2024): each query's top ``budget``
candidates by the global score (cosine or Hamming) are verified by the local
matcher, so a query costs at most ``budget`` local matches; the fused score is
the mean of the two calibrated probabilities there, and the global
probability alone elsewhere.
"""

import numpy as np
from threadpoolctl import threadpool_limits

DEFAULT_BUDGET = 100  # candidates verified per query: the best measured on nyala, FS48 not worse (docs/matching.md)


def shortlist(global_scores, allowed, budget):
    """bool [queries, gallery]: each query's ``budget`` best allowed candidates by ``global_scores``
    (all allowed ones when ``budget`` is None or larger); ties keep gallery order."""
    global_scores, allowed = np.asarray(global_scores, np.float64), np.asarray(allowed, bool)
    chosen = np.zeros(allowed.shape, bool)
    for query in range(len(allowed)):
        candidates = np.flatnonzero(allowed[query])
        order = np.argsort(-global_scores[query, candidates], kind="stable")
        chosen[query, candidates[order[:budget]]] = True
    return chosen


def verify_shortlist(chosen, pair_score, same_images=False):
    """float [queries, gallery]: ``pair_score(i, j)`` where ``chosen``, NaN elsewhere. ``same_images``
    (queries and gallery one set): a pair chosen both ways is matched once, as (min, max)."""
    local = np.full(chosen.shape, np.nan)
    done = {}
    # A pair's descriptor distances are one [500, 500] product: on one BLAS thread it is as fast on an idle machine
    # and 5x faster on a loaded one than split across threads (bench/verify_gallery.py, docs/matching.md).
    with threadpool_limits(1, user_api="blas"):
        for query, candidate in zip(*np.nonzero(chosen)):
            key = (min(query, candidate), max(query, candidate)) if same_images else (query, candidate)
            if key not in done:
                done[key] = pair_score(*key)
            local[query, candidate] = done[key]
    return local


def fuse(global_probability, local_probability):
    """Mean of the two probabilities where the local one exists (not NaN), the global one elsewhere."""
    global_probability = np.asarray(global_probability, np.float64)
    local_probability = np.asarray(local_probability, np.float64)
    verified = ~np.isnan(local_probability)
    return np.where(verified, (global_probability + np.where(verified, local_probability, 0.0)) / 2,
                    global_probability)


def fuse_calibrated(global_scores, local_scores, calibrations):
    """``fuse`` of the two scores mapped to P(same fish) by ``calibrations`` (global, local); ``local_scores`` is
    NaN where not verified."""
    global_calibration, local_calibration = calibrations
    local_scores = np.asarray(local_scores, np.float64)
    verified = ~np.isnan(local_scores)
    return fuse(global_calibration(global_scores),
                np.where(verified, local_calibration(np.nan_to_num(local_scores)), np.nan))
