"""The accept threshold that keeps a 1:N search's false-positive identification rate (FPIR) at a target.

NIST FRVT Part 2: Identification (Grother, Ngan, Hanaoka, NISTIR 8271, 2019),
section 3: a non-mated search (its fish is not in the gallery) is a false
positive when any candidate scores at or above the threshold T, so at gallery
size N, FPIR(N, T) = P(max over the N fish's scores >= T). If a fish's best
score against a search it does not belong to is drawn from one distribution
with CDF F (F(t) = P(score < t)), independently across fish, then
FPIR(N, T) = 1 - F(T)^N, and the threshold for a target FPIR is the
smallest T with F(T) >= (1 - FPIR)^(1/N). It rises with N.

F is the empirical distribution of calibration scores (each a fish's best
score against a photo of another fish: ``test_iom.py`` stores them). When the
target lies beyond the data (fewer than ``MIN_EXCEEDANCES`` calibration
scores at or above T, e.g. N = 1,000 at FPIR 0.01 needs about 10^5 scores),
the tail above the data's 90% quantile is a generalised Pareto distribution
fitted by maximum likelihood, the peaks-over-threshold method of extreme
value theory (Pickands 1975; Coles, An Introduction to Statistical Modeling
of Extreme Values, 2001, ch. 4); lattice scores (Hamming: k/m) are spread
over their cells first, and a score is accepted only if its whole cell lies
above the fitted threshold (so the threshold errs on the safe side). Independence across fish ignores that some
photos score high against every fish; by Jensen's inequality that makes the
formula's FPIR an upper bound of the real one when the photos differ
(bench/open_set.py measures how far).
"""

import json
import math
import zipfile
from pathlib import Path

import numpy as np
from scipy.stats import genpareto

from lateral.atomic_write import replacing
from lateral.user_errors import UserError

# test_iom.py writes it into its report folder (by default <run folder>/evaluation/); the gallery reads it there.
CALIBRATION_FILE = "open_set_calibration.npz"

MIN_EXCEEDANCES = 10  # fewer calibration scores at or above the threshold: the fitted tail decides
TAIL_SHARE = 0.1  # the fitted tail: the top 10% of the calibration scores (at least MIN_TAIL_SCORES)
MIN_TAIL_SCORES = 30


def exceedance_per_fish(fpir, n_fish):
    """P(one fish's score >= T) that gives ``fpir`` over ``n_fish`` independent fish: 1 - (1 - fpir)^(1/N)."""
    if not 0.0 < fpir < 1.0:
        raise ValueError(f"FPIR must be between 0 and 1, not {fpir}")
    if n_fish < 1:
        raise ValueError(f"the gallery size must be at least 1, not {n_fish}")
    return -math.expm1(math.log1p(-fpir) / n_fish)


def threshold_at_fpir(scores, fpir, n_fish):
    """(threshold, how): the smallest T with 1 - F(T)^N <= ``fpir``, F the empirical CDF of ``scores``
    (``how`` "empirical"), or from the fitted tail where the data are too few (``how`` "tail fit"). A fitted
    threshold further above the highest score than the tail is wide is not trusted where the data allow at least
    one exceedance (a calibrated probability's few isotonic steps fit no smooth tail): the empirical rule answers
    with the exceedances there are (``how`` "empirical, few scores")."""
    scores = np.sort(np.asarray(scores, np.float64))
    if scores.size == 0:
        raise ValueError("no calibration scores")
    exceedance = exceedance_per_fish(fpir, n_fish)
    allowed = math.floor(exceedance * scores.size + 1e-9)  # calibration scores that may lie at or above T
    if allowed >= MIN_EXCEEDANCES:
        return _empirical_threshold(scores, allowed), "empirical"
    fitted = _tail_threshold(scores, exceedance)
    if allowed >= 1 and fitted > 2 * scores[-1] - scores[scores.size - _tail_size(scores.size)]:
        return _empirical_threshold(scores, allowed), "empirical, few scores"
    return fitted, "tail fit"


def _empirical_threshold(sorted_scores, allowed):
    """The smallest T with at most ``allowed`` (>= 1) scores at or above it (just above the highest when it is
    tied more than ``allowed`` times)."""
    below = sorted_scores[sorted_scores.size - allowed - 1]
    above = sorted_scores[sorted_scores > below]
    return float(above[0]) if above.size else float(np.nextafter(below, np.inf))


def _tail_size(size):
    return min(size, max(MIN_TAIL_SCORES, math.ceil(TAIL_SHARE * size)))


def best_per_fish(similarity, template_fish, allowed=None):
    """(fish names, [searches, fish] best score of each fish over its templates); a fish none of whose
    templates is ``allowed`` for a search scores -inf there."""
    similarity = np.asarray(similarity, np.float64)
    if allowed is not None:
        similarity = np.where(allowed, similarity, -np.inf)
    names, index = np.unique(np.asarray(template_fish), return_inverse=True)
    best = np.full((similarity.shape[0], names.size), -np.inf)
    for column in range(names.size):
        best[:, column] = similarity[:, index == column].max(axis=1)
    return names, best


def impostor_best_scores(similarity, fish_ids, allowed):
    """Each photo's best score against every other fish (over that fish's allowed photos): the calibration
    scores of ``lateral.fpir``. ``similarity`` is [photos, photos] of one set."""
    names, best = best_per_fish(similarity, fish_ids, allowed)
    other = np.asarray(fish_ids)[:, None] != names[None, :]
    values = best[other]
    return values[np.isfinite(values)]


def spread_ties(sorted_scores):
    """(scores, step): scores on a lattice (Hamming similarity is k/m) spread evenly over their cells
    [v - step/2, v + step/2], step the smallest gap between distinct scores, so a continuous tail fits them."""
    values, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    step = float(np.min(np.diff(values))) if values.size > 1 else 0.0
    rank_in_tie = np.arange(sorted_scores.size) - np.repeat(first, counts)
    return sorted_scores + step * ((rank_in_tie + 0.5) / np.repeat(counts, counts) - 0.5), step


def _tail_threshold(sorted_scores, exceedance):
    tail_size = _tail_size(sorted_scores.size)
    if tail_size < MIN_TAIL_SCORES:  # too few to fit a tail: accept nothing the data have seen
        return float(np.nextafter(sorted_scores[-1], np.inf))
    spread, step = spread_ties(sorted_scores)
    base = spread[spread.size - tail_size - 1] if tail_size < spread.size else spread[0] - step / 2
    shape, _, scale = genpareto.fit(np.maximum(spread[spread.size - tail_size:] - base, 0.0), floc=0.0)
    # P(X >= base + y) = (tail_size / size) * (1 - G(y)): solve for the target exceedance. A lattice score v
    # stands for its cell from v - step/2: it is accepted only if the whole cell lies above the fitted threshold.
    conditional = exceedance * sorted_scores.size / tail_size
    return float(base + genpareto.isf(conditional, shape, loc=0.0, scale=scale) + step / 2)


class CalibrationError(UserError):
    """The calibration file is missing, damaged or lacks a measure (the message names it)."""


def write_calibration(path, scores, about):
    """Save {measure: impostor scores} and ``about`` (a JSON-ready dict: data set, protocol) atomically."""
    with replacing(path) as temporary, open(temporary, "wb") as handle:
        np.savez_compressed(handle, about=np.array(json.dumps(about)),
                            **{f"scores_{name}": np.asarray(values, np.float32) for name, values in scores.items()})


def read_calibration(path, measure):
    """(impostor scores of ``measure``, about) from ``write_calibration``'s file."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            about = json.loads(str(stored["about"]))
            key = f"scores_{measure}"
            if key not in stored:
                held = ", ".join(name.removeprefix("scores_") for name in stored if name.startswith("scores_"))
                how = f"--verify {measure.partition('+')[2]}" if "+" in measure else f"--measure {measure}"
                raise CalibrationError(f"{path} holds no {measure} scores (it has {held or 'none'}); run test_iom.py "
                                       f"with {how}")
            return stored[key].astype(np.float64), about
    except FileNotFoundError:
        raise CalibrationError(f"no open-set calibration at {path}: run test_iom.py on held-out fish for this model "
                               "first (it writes the file), or give --threshold or --far") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise CalibrationError(f"{path} is damaged ({error}); run test_iom.py again to rewrite it") from None
