"""Open-set identification: FNIR at a fixed FPIR against the gallery size N, as NIST FRVT reports it.

Definitions (NIST FRVT Part 2: Identification, NISTIR 8271, 2019, section 3),
at rank 1 and threshold T:

- FPIR(N, T): the share of non-mated searches (the photo's fish is not in the
  gallery) whose best candidate scores at or above T;
- FNIR(N, T): the share of mated searches (the fish is in the gallery) whose
  mate is not the rank-1 candidate or scores below T. A tie between the mate
  and another fish counts as a miss (no optimistic tie-breaking).

The held-out fish are split (fixed seed) into enrolled fish, whose photos are
split into gallery templates and mated searches, and never-enrolled fish,
whose photos are the non-mated searches. A gallery of N fish is drawn
(``GALLERY_DRAWS`` seeded draws per N) from the enrolled fish, then, beyond
them, from distractor fish (photos of other individuals, e.g. synthetic
fish) that are only ever gallery templates. FNIR at FPIR f uses the threshold
at which the non-mated searches reach f (NIST's figure); the "formula"
threshold is ``lateral.fpir``'s, from the enrolled fish's impostor scores
only, and its realised FPIR on the never-enrolled fish checks it.
Intervals: 95% percentile bootstrap over fish (enrolled and never-enrolled
fish resampled with replacement; the galleries drawn stay fixed).
"""

import dataclasses

import numpy as np
from scipy.stats import beta

from lateral.evaluation.per_fish import fish_bootstrap_interval
from lateral.fpir import best_per_fish, threshold_at_fpir

GALLERY_SIZES = (10, 100, 1000)
FPIR_TARGETS = (0.01, 0.1)
GALLERY_DRAWS = 20
DISTRACTOR_PREFIX = "distractor:"
# Fewer held-out fish than this: one split's realised FPIR rests on a handful of never-enrolled fish and its
# threshold on a handful of calibrating ones, so the report adds the realised FPIR pooled over POOLED_SPLITS
# seeded splits (FS48's 8 fish: split 0 was the worst of ten, docs/open_set.md).
FEW_FISH = 20
POOLED_SPLITS = 10


def search_outcomes(best, search_fish, gallery_fish, columns):
    """Rank-1 outcomes of searches against the gallery of fish ``columns`` (indices into ``gallery_fish``).

    Returns (mated: bool [searches], top score, mate found at rank 1); a search is mated when its fish is
    among the gallery's (and has a comparable template), non-mated when its fish is in no part of it.
    """
    scores = best[:, columns]
    names = np.asarray(gallery_fish)[columns]
    is_mate = np.asarray(search_fish)[:, None] == names[None, :]
    mated = (is_mate & np.isfinite(scores)).any(axis=1)
    top = scores.max(axis=1) if scores.shape[1] else np.full(len(scores), -np.inf)
    mate_score = np.where(is_mate, scores, -np.inf).max(axis=1)
    best_other = np.where(is_mate, -np.inf, scores).max(axis=1)
    return mated, top, mated & (mate_score > best_other)


def fpir_at(non_mated_top, threshold, weights=None):
    """FPIR: the (weighted) share of non-mated searches whose top score is >= ``threshold``."""
    return float(np.average(np.asarray(non_mated_top) >= threshold, weights=weights))


def fnir_at(mated_top, hit, threshold, weights=None):
    """FNIR: the (weighted) share of mated searches whose mate is not at rank 1 with a score >= ``threshold``."""
    found = np.asarray(hit) & (np.asarray(mated_top) >= threshold)
    return float(np.average(~found, weights=weights))


def threshold_for_observed_fpir(non_mated_top, target, weights=None):
    """The lowest threshold whose FPIR on these non-mated searches is at most ``target`` (NIST's operating
    point): one of their top scores, or just above the highest when only that reaches the target."""
    top = np.asarray(non_mated_top, np.float64)
    weights = np.ones(top.size) if weights is None else np.asarray(weights, np.float64)
    candidates = np.append(np.unique(top), np.nextafter(top.max(), np.inf))
    order = np.argsort(top)
    cumulative = np.concatenate([[0.0], np.cumsum(weights[order])])
    at_or_above = cumulative[-1] - cumulative[np.searchsorted(top[order], candidates, side="left")]
    return float(candidates[np.flatnonzero(at_or_above / cumulative[-1] <= target)[0]])


@dataclasses.dataclass(frozen=True)
class OpenSetSplit:
    """Which photos are gallery templates and which are searches, by index into the evaluated photos."""

    enrolled_fish: np.ndarray
    never_enrolled_fish: np.ndarray
    gallery: np.ndarray  # photos of enrolled fish kept as templates
    mated: np.ndarray  # the other photos of enrolled fish
    non_mated: np.ndarray  # every photo of the never-enrolled fish


def split_fish(fish_ids, seed=0, enrolled_share=0.5, never_enrolled=None):
    """Half the fish (rounded up) enrolled, the rest never enrolled; an enrolled fish's photos split in half
    (rounded up, at least one) into templates and searches. Seeded: the same split every run. ``never_enrolled``
    (fish names) chooses the never-enrolled fish instead of ``enrolled_share``: every other fish is enrolled."""
    fish_ids = np.asarray(fish_ids)
    rng = np.random.default_rng(seed)
    fish = rng.permutation(np.unique(fish_ids))
    if never_enrolled is None:
        enrolled = np.sort(fish[: int(np.ceil(enrolled_share * fish.size))])
    else:
        unknown = np.setdiff1d(never_enrolled, fish)
        if unknown.size:
            raise ValueError(f"never_enrolled names fish not evaluated: {', '.join(map(str, unknown))}")
        enrolled = np.setdiff1d(fish, never_enrolled)  # sorted
    never = np.setdiff1d(fish, enrolled)
    gallery, mated = [], []
    for name in enrolled:
        photos = rng.permutation(np.flatnonzero(fish_ids == name))
        keep = int(np.ceil(photos.size / 2))
        gallery.extend(photos[:keep])
        mated.extend(photos[keep:])
    return OpenSetSplit(enrolled, never, np.sort(np.asarray(gallery, int)), np.sort(np.asarray(mated, int)),
                        np.flatnonzero(np.isin(fish_ids, never)))


def _draw_galleries(enrolled, distractors, size, rng):
    """``GALLERY_DRAWS`` galleries of ``size`` fish (indices into enrolled + distractors), or None if too few."""
    total = enrolled.size + distractors.size
    if size > total:
        return None
    draws = []
    for _ in range(GALLERY_DRAWS):
        if size <= enrolled.size:
            draws.append(rng.choice(enrolled, size, replace=False))
        else:
            draws.append(np.concatenate([enrolled, rng.choice(distractors, size - enrolled.size, replace=False)]))
    return draws


def open_set_figures(search_best, search_fish, gallery_fish, enrolled_fish, calibration, sizes=GALLERY_SIZES,
                     targets=FPIR_TARGETS, bootstrap_rounds=200, seed=0):
    """FNIR at each target FPIR and the formula threshold's realised FPIR, per gallery size, as a JSON-ready dict.

    ``search_best`` [searches, gallery fish]: each search's best score per gallery fish (``best_per_fish``);
    ``gallery_fish`` names its columns, enrolled fish and distractors; ``enrolled_fish`` are the ones with
    searches; searches of other fish are the non-mated ones. ``calibration``: the impostor scores behind the
    formula threshold (none of the non-mated searches' fish among them).
    """
    gallery_fish, search_fish = np.asarray(gallery_fish), np.asarray(search_fish)
    is_enrolled = np.isin(gallery_fish, enrolled_fish)
    enrolled, distractors = np.flatnonzero(is_enrolled), np.flatnonzero(~is_enrolled)
    rng = np.random.default_rng(seed)
    figures = {}
    for size in sizes:
        if not np.asarray(calibration).size:  # one enrolled fish: no impostor of another enrolled fish to calibrate on
            figures[str(size)] = {"note": "no calibration scores: the figures need at least 2 enrolled fish "
                                          "(3 or more held-out fish)"}
            continue
        galleries = _draw_galleries(enrolled, distractors, size, rng)
        if galleries is None:
            figures[str(size)] = {"note": f"only {len(gallery_fish)} fish to draw a gallery from (add distractors)"}
            continue
        outcomes = [search_outcomes(search_best, search_fish, gallery_fish, columns) for columns in galleries]
        figures[str(size)] = _figures_at_size(outcomes, search_fish, enrolled_fish, calibration, size, targets,
                                              bootstrap_rounds, seed)
    return figures


def _figures_at_size(outcomes, search_fish, enrolled_fish, calibration, size, targets, rounds, seed):
    mated_fish, mated_top, hits, non_mated_fish, non_mated_top = [], [], [], [], []
    non_mated = ~np.isin(search_fish, enrolled_fish)  # only never-enrolled fish: none is in the calibration
    for mated, top, hit in outcomes:
        mated_fish.append(search_fish[mated]), mated_top.append(top[mated]), hits.append(hit[mated])
        non_mated_fish.append(search_fish[non_mated]), non_mated_top.append(top[non_mated])
    mated_fish, mated_top, hits, non_mated_fish, non_mated_top = (
        np.concatenate(parts) for parts in (mated_fish, mated_top, hits, non_mated_fish, non_mated_top))
    result = {"gallery_draws": len(outcomes), "mated_searches": round(mated_top.size / len(outcomes)),
              "non_mated_searches": round(non_mated_top.size / len(outcomes))}  # per gallery
    if not mated_top.size or not non_mated_top.size:
        return {**result, "note": "no mated or no non-mated search"}
    formula = {target: threshold_at_fpir(calibration, target, size) for target in targets}

    def rates(mated_weights, non_mated_weights):
        out = {}
        for target in targets:
            threshold = threshold_for_observed_fpir(non_mated_top, target, non_mated_weights)
            out[f"fnir_at_fpir_{target:g}"] = fnir_at(mated_top, hits, threshold, mated_weights)
            out[f"threshold_at_fpir_{target:g}"] = threshold
            formula_threshold = formula[target][0]
            out[f"realised_fpir_{target:g}"] = fpir_at(non_mated_top, formula_threshold, non_mated_weights)
            out[f"formula_fnir_{target:g}"] = fnir_at(mated_top, hits, formula_threshold, mated_weights)
        return out

    result.update(rates(None, None))
    for target in targets:
        result[f"formula_threshold_{target:g}"], result[f"formula_how_{target:g}"] = formula[target]
    samples = _bootstrap(rates, mated_fish, non_mated_fish, rounds, seed)
    for key, values in samples.items():
        if not key.startswith("threshold"):
            result[f"{key}_95"] = [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]
    return result


def _bootstrap(rates, mated_fish, non_mated_fish, rounds, seed):
    """{figure: its values over bootstrap rounds}, resampling the enrolled and the never-enrolled fish."""
    rng = np.random.default_rng(seed)
    mated_names, mated_index = np.unique(mated_fish, return_inverse=True)
    other_names, other_index = np.unique(non_mated_fish, return_inverse=True)
    samples = {}
    for _ in range(rounds):
        mated_draws = np.bincount(rng.integers(0, mated_names.size, mated_names.size), minlength=mated_names.size)
        other_draws = np.bincount(rng.integers(0, other_names.size, other_names.size), minlength=other_names.size)
        for key, value in rates(mated_draws[mated_index], other_draws[other_index]).items():
            samples.setdefault(key, []).append(value)
    return samples


def evaluate_open_set(similarity, fish_ids, allowed, distractor_similarity=None, distractor_fish=None,
                      distractor_allowed=None, sizes=GALLERY_SIZES, bootstrap_rounds=200, seed=0,
                      enrolled_share=0.5, never_enrolled=None):
    """The open-set figures of one measure on the evaluated photos ([n, n] ``similarity`` and ``allowed``),
    with optional distractor fish ([n, k] scores against their k photos, ``distractor_fish`` [k]);
    ``enrolled_share`` of the fish (rounded up) enrolled and calibrating, the others never enrolled (or the fish
    named by ``never_enrolled`` never enrolled, every other fish enrolled: ``leave_one_fish_out``)."""
    fish_ids = np.asarray(fish_ids)
    split = split_fish(fish_ids, seed, enrolled_share, never_enrolled)
    searches = np.concatenate([split.gallery, split.mated, split.non_mated])
    names, best = best_per_fish(similarity[np.ix_(searches, split.gallery)], fish_ids[split.gallery],
                                np.asarray(allowed)[np.ix_(searches, split.gallery)])
    search_fish = fish_ids[searches]
    # Calibration: every photo of an enrolled fish against the other enrolled fish's templates.
    of_enrolled = np.isin(search_fish, split.enrolled_fish)
    calibration = best[of_enrolled][search_fish[of_enrolled][:, None] != names[None, :]]
    calibration = calibration[np.isfinite(calibration)]
    if distractor_similarity is not None:
        extra_names, extra_best = best_per_fish(np.asarray(distractor_similarity)[searches], distractor_fish,
                                                np.asarray(distractor_allowed)[searches])
        names = np.concatenate([names.astype(object), [DISTRACTOR_PREFIX + str(name) for name in extra_names]])
        best = np.concatenate([best, extra_best], axis=1)
    as_search = np.arange(searches.size) >= split.gallery.size  # the gallery's own photos are not searches
    sizes = sorted({*sizes, int(split.enrolled_fish.size)})  # and a gallery of every enrolled fish
    figures = open_set_figures(best[as_search], search_fish[as_search], names, split.enrolled_fish, calibration,
                               sizes, bootstrap_rounds=bootstrap_rounds, seed=seed)
    return {"enrolled_fish": int(split.enrolled_fish.size), "never_enrolled_fish": int(split.never_enrolled_fish.size),
            "distractor_fish": int(len(names) - split.enrolled_fish.size), "gallery_templates": int(split.gallery.size),
            "calibration_scores": int(calibration.size), "seed": seed, "enrolled_share": enrolled_share,
            "by_gallery_size": figures}


def pooled_realised_fpir(per_split, targets=FPIR_TARGETS):
    """The formula threshold's realised FPIR over several splits' figures (``evaluate_open_set`` results of one
    measure): {N: {target: {"pooled": the splits' false positives over their non-mated searches, "per_split":
    each split's realised FPIR, "per_split_searches": each split's non-mated searches, "non_mated_searches":
    all splits' (per gallery draw)}}}, JSON-ready."""
    pooled = {}
    for figures in per_split:
        for size, row in figures["by_gallery_size"].items():
            if "note" in row:
                continue
            for target in targets:
                entry = pooled.setdefault(size, {}).setdefault(
                    f"{target:g}", {"false_positives": 0.0, "per_split": [], "per_split_searches": [],
                                    "non_mated_searches": 0})
                rate = row[f"realised_fpir_{target:g}"]
                entry["per_split"].append(rate)
                entry["per_split_searches"].append(row["non_mated_searches"])
                entry["false_positives"] += rate * row["non_mated_searches"]
                entry["non_mated_searches"] += row["non_mated_searches"]
    for by_target in pooled.values():
        for entry in by_target.values():
            entry["pooled"] = entry.pop("false_positives") / entry["non_mated_searches"]
    return pooled


def pooled_interval(entry, rounds=1000, seed=0):
    """95% bootstrap interval of a ``pooled_realised_fpir`` entry, resampling its splits with replacement (a split
    drawn k times counts its searches k times). Leaving one fish out, a split is a never-enrolled fish: the
    interval resamples fish. Seeded splits share fish, so resampling them only approximates a fish bootstrap."""
    searches = np.asarray(entry["per_split_searches"], np.int64)
    values = np.repeat(np.asarray(entry["per_split"], np.float64), searches)
    return fish_bootstrap_interval(values, np.repeat(np.arange(searches.size), searches), rounds, seed)


def realised_fpir_interval(realised, searches, bootstrap=None):
    """A realised FPIR's 95% interval: the wider of its fish bootstrap's (``bootstrap``) and the exact binomial
    (Clopper-Pearson) interval of its false positives among ``searches`` non-mated searches. The bootstrap holds
    the fish's clustering but shrinks to [0, 0] when no search was a false positive; the binomial interval says
    what that many searches can tell (0 of 300: up to 0.012)."""
    false_positives = realised * searches
    low = beta.ppf(0.025, false_positives, searches - false_positives + 1) if false_positives > 0 else 0.0
    high = beta.ppf(0.975, false_positives + 1, searches - false_positives) if false_positives < searches else 1.0
    if bootstrap is not None:
        low, high = min(low, bootstrap[0]), max(high, bootstrap[1])
    return [float(low), float(high)]


def factor_of_two_verdict(target, realised, interval=None):
    """Whether a realised FPIR meets the target within a factor of 2: "within x2" (target/2 <= realised <= 2
    target); else, with its 95% ``interval``, "x2 inside the noise" when the interval reaches that band (the
    searches cannot tell the miss from chance); else "below" or "above" (a miss beyond the noise)."""
    low_end, high_end = target / 2, 2 * target
    if low_end <= realised <= high_end:
        return "within x2"
    if interval is not None and interval[0] <= high_end and interval[1] >= low_end:
        return "x2 inside the noise"
    return "below" if realised < low_end else "above"


def row_verdict(row, target):
    """(95% interval, ``factor_of_two_verdict``) of a gallery size's realised FPIR at ``target`` (e.g. "0.01") in
    ``evaluate_open_set``'s figures; the interval is ``realised_fpir_interval``'s."""
    realised = row[f"realised_fpir_{target}"]
    interval = realised_fpir_interval(realised, row["non_mated_searches"], row.get(f"realised_fpir_{target}_95"))
    return interval, factor_of_two_verdict(float(target), realised, interval)


def pooled_verdict(entry, target):
    """(95% interval, ``factor_of_two_verdict``) of a ``pooled_realised_fpir`` entry at ``target``: the splits
    resampled (``pooled_interval``), or the exact binomial interval where wider."""
    interval = realised_fpir_interval(entry["pooled"], entry["non_mated_searches"], pooled_interval(entry))
    return interval, factor_of_two_verdict(float(target), entry["pooled"], interval)


def leave_one_fish_out(similarity, fish_ids, allowed, distractor_similarity=None, distractor_fish=None,
                       distractor_allowed=None, sizes=GALLERY_SIZES, bootstrap_rounds=0):
    """``evaluate_open_set`` once per fish with that fish never enrolled and every other fish enrolled and
    calibrating (split seed: the fish's place in sorted order): the closest a held-out test comes to a gallery
    calibrated on all its model's held-out fish. Pool the results with ``pooled_realised_fpir``."""
    return [evaluate_open_set(similarity, fish_ids, allowed, distractor_similarity, distractor_fish,
                              distractor_allowed, sizes, bootstrap_rounds, seed, never_enrolled=[fish])
            for seed, fish in enumerate(np.unique(np.asarray(fish_ids)))]


def evaluate_open_set_and_splits(similarity, fish_ids, allowed, distractor_similarity=None, distractor_fish=None,
                                 distractor_allowed=None, bootstrap_rounds=200, enrolled_share=0.5):
    """``evaluate_open_set``'s figures on split 0; with fewer than FEW_FISH held-out fish also the realised FPIR
    pooled over POOLED_SPLITS seeded splits (``pooled_over_splits``; the other splits without intervals) and
    pooled over leaving each fish out in turn (``pooled_leaving_one_out``: the gallery's own case, below)."""
    def split(seed, rounds):
        return evaluate_open_set(similarity, fish_ids, allowed, distractor_similarity, distractor_fish,
                                 distractor_allowed, bootstrap_rounds=rounds, seed=seed, enrolled_share=enrolled_share)

    figures = split(0, bootstrap_rounds)
    if np.unique(np.asarray(fish_ids)).size < FEW_FISH:
        figures["pooled_over_splits"] = pooled_realised_fpir(
            [figures, *(split(seed, 0) for seed in range(1, POOLED_SPLITS))])
        figures["pooled_leaving_one_out"] = pooled_realised_fpir(leave_one_fish_out(
            similarity, fish_ids, allowed, distractor_similarity, distractor_fish, distractor_allowed))
    return figures
