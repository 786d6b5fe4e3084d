"""A gallery calibrated on its own labelled photos (``recalibrate``, docs/matching.md) instead of the model's data.

A gallery's photos are labelled by people (enrolled under known fish, or
confirmed): labelled pairs of the very fish, camera and site it decides on.
Each photo is searched against the others as ``identify`` would search a new
photo of that fish: same flank only, leaving out the photo itself and, where
sessions are recorded, the photos of its own session (a search is of a new
occasion); a verifying gallery verifies each search's shortlist of its
``shortlist`` best templates by the stored local features. Fitted on these,
with the model's own code:

- the isotonic P(same fish) of the global score (every compared pair once) and
  of the inlier count (the pairs each search verifies), as ``test_iom.py
  --fit_calibration`` fits a run's (``lateral.matching.calibration``);
- the open-set calibration scores behind the FPIR thresholds: each photo's
  best score against every other fish (``lateral.fpir.impostor_best_scores``,
  as ``test_iom.py`` stores them), of every score a search decides on; the
  fused scores there with the calibrations fitted on the other fold's fish
  (below), so that the impostor pairs are unseen by their calibration, as a
  new fish's are.

The reliability is reported cross-fitted over two folds of fish (fitted on the
pairs of one half of the fish, ECE on the other half's pairs), beside the
model's calibrations on the same pairs. The result is one file beside the
gallery, ``G.lgal.calibration.npz`` (``lateral.fpir``'s calibration format,
the fitted calibrations in its ``about``), recorded in the header
(``calibration``) and the decision log; identify and review decide on it
until ``recalibrate --reset``.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

from lateral.fpir import (CalibrationError as OpenSetError, best_per_fish, impostor_best_scores, read_calibration,
                          threshold_at_fpir)
from lateral.gallery import imagenet
from lateral.gallery.fpir_thresholds import DEFAULT_FPIR, MIN_CALIBRATION_FISH, calibration_path, fpir_thresholds
from lateral.gallery.packing import unpack_codes
from lateral.gallery.search import GallerySearch
from lateral.gallery.store import GalleryError
from lateral.gallery.verification import model_calibrations, scored_measure
from lateral.matching.calibration import Calibration, CalibrationError, expected_calibration_error
from lateral.matching.fusion import fuse, fuse_calibrated, shortlist, verify_shortlist

HEADER_KEY = "calibration"
FOLD_SEED = 0
CHECKED_FPIRS = (DEFAULT_FPIR, 10 * DEFAULT_FPIR)  # the accept and (by default) the review threshold's FPIR
MAX_FISH_LEFT_OUT = 50  # the check takes at most this many fish in turn (a seeded draw in a larger gallery)


def calibration_file(gallery_path):
    """Where a recalibrated gallery keeps its calibration: ``G.lgal.calibration.npz`` beside it."""
    gallery_path = Path(gallery_path)
    return gallery_path.with_name(gallery_path.name + ".calibration.npz")


def compared_pairs(gallery):
    """bool [photos, photos]: the templates a search of each photo compares: its flank's, but itself and the photos
    of its own session (when named)."""
    flanks = np.array([entry["flank"] for entry in gallery.entries])
    sessions = np.array([entry["session"] or "" for entry in gallery.entries])
    other_session = (sessions[:, None] != sessions[None, :]) | (sessions == "")[:, None]
    allowed = (flanks[:, None] == flanks[None, :]) & other_session
    np.fill_diagonal(allowed, False)
    return allowed


def calibrating_fish(fish_ids, allowed):
    """The fish with at least one genuine pair compared (two photos of one flank, not of one session)."""
    fish_ids = np.asarray(fish_ids)
    return np.unique(fish_ids[(allowed & (fish_ids[:, None] == fish_ids[None, :])).any(axis=1)])


def check_enough_fish(gallery, path):
    """``compared_pairs``, or a GalleryError when fewer than MIN_CALIBRATION_FISH fish have a genuine pair."""
    allowed = compared_pairs(gallery)
    count = calibrating_fish([entry["fish_id"] for entry in gallery.entries], allowed).size
    if count < MIN_CALIBRATION_FISH:
        raise GalleryError(f"{path} has {count} fish with at least 2 photos of one flank (not of one session); "
                           f"recalibrating needs at least {MIN_CALIBRATION_FISH} (enrol or confirm more photos; "
                           "nothing was changed)")
    return allowed


def global_scores(gallery, measure):
    """[photos, templates]: each photo's score against every template, as the gallery's search computes it."""
    search = GallerySearch(gallery, measure)
    codes = unpack_codes(gallery.codes, gallery.m)
    embeddings = gallery.embeddings if gallery.embeddings is not None else [None] * len(gallery)
    return np.stack([search.template_scores(code, embedding) for code, embedding in zip(codes, embeddings)]
                    ).astype(np.float64)


def shortlist_inliers(evidence, entries, similarity, allowed, done):
    """[photos, templates]: the inlier count of each search's shortlist (NaN elsewhere); ``done`` ({(i, j): count})
    keeps the pairs matched, for the next measure's shortlist."""
    def pair_score(i, j):
        if (i, j) not in done:
            done[i, j] = evidence.inliers(evidence.entry_features(entries[i]), entries[j])
        return done[i, j]

    return verify_shortlist(shortlist(similarity, allowed, evidence.record["shortlist"] or None), pair_score,
                            same_images=True)


@dataclasses.dataclass(frozen=True)
class Pairs:
    """Labelled pairs of a gallery's photos: ``values``, ``genuine`` of the global score (each compared pair once);
    ``inliers``, ``shortlisted`` (their global score), ``verified_genuine`` of the verified pairs (as searched)."""

    values: np.ndarray
    genuine: np.ndarray
    inliers: np.ndarray
    shortlisted: np.ndarray
    verified_genuine: np.ndarray


def labelled_pairs(fish_ids, allowed, similarity, local, among=None):
    """The ``Pairs`` of the photos ``among`` (bool [photos]; default all); ``local`` may be None."""
    fish_ids = np.asarray(fish_ids)
    inside = allowed if among is None else allowed & among[:, None] & among[None, :]
    same_fish = fish_ids[:, None] == fish_ids[None, :]
    upper = np.triu(inside, 1)
    verified = inside & ~np.isnan(local) if local is not None else np.zeros_like(inside)
    return Pairs(similarity[upper], same_fish[upper], np.nan_to_num(local)[verified] if local is not None
                 else np.zeros(0), similarity[verified], same_fish[verified])


def fit_pairs(pairs, measure, matcher=None):
    """{score: Calibration}: ``measure``'s on every pair, ``matcher``'s (if any) on the verified pairs."""
    fitted = {measure: Calibration.fit(measure, pairs.values, pairs.genuine)}
    if matcher is not None:
        fitted[matcher] = Calibration.fit(matcher, pairs.inliers, pairs.verified_genuine)
    return fitted


def fish_folds(fish_ids, allowed, seed=FOLD_SEED):
    """int [photos]: each photo's fold (0 or 1) by its fish; the fish with a genuine pair alternate in a seeded
    order, then the others, so each fold has about half of both."""
    fish_ids = np.asarray(fish_ids)
    rng = np.random.default_rng(seed)
    calibrating = calibrating_fish(fish_ids, allowed)
    others = np.setdiff1d(np.unique(fish_ids), calibrating)
    order = np.concatenate([rng.permutation(calibrating), rng.permutation(others)])
    fold = {name: position % 2 for position, name in enumerate(order)}
    return np.array([fold[name] for name in fish_ids])


def other_fold_fits(fish_ids, allowed, similarity, local, measure, matcher):
    """(folds, {fold: the calibrations fitted on the pairs of the other fold's fish}): each photo's fish's pairs
    unseen by the calibrations of its fold, as a new fish's are by the gallery's."""
    folds = fish_folds(fish_ids, allowed)
    return folds, {fold: fit_pairs(labelled_pairs(fish_ids, allowed, similarity, local, folds != fold), measure,
                                   matcher) for fold in (0, 1)}


def cross_fitted_ece(fish_ids, allowed, similarity, local, measure, matcher, model=None):
    """{score: (pairs, ECE of the calibrations fitted on the other fold's fish, ECE of ``model``'s calibrations
    ({score: Calibration}) or None)} over both folds' pairs, for ``measure``, ``matcher`` and ``fused`` (the mean
    of the two probabilities, on the verified pairs)."""
    folds, fits = other_fold_fits(fish_ids, allowed, similarity, local, measure, matcher)
    predicted = {score: {"own": [], "model": [], "genuine": []} for score in (measure, matcher, "fused")}
    for fold in (0, 1):
        held = labelled_pairs(fish_ids, allowed, similarity, local, folds == fold)
        for source, calibrations in (("own", fits[fold]), ("model", model)):
            if calibrations is not None:
                predicted[measure][source].append(calibrations[measure](held.values))
                predicted[matcher][source].append(calibrations[matcher](held.inliers))
                predicted["fused"][source].append(fuse(calibrations[measure](held.shortlisted),
                                                       calibrations[matcher](held.inliers)))
        for score, genuine in ((measure, held.genuine), (matcher, held.verified_genuine),
                               ("fused", held.verified_genuine)):
            predicted[score]["genuine"].append(genuine)
    rows = {}
    for score, parts in predicted.items():
        genuine = np.concatenate(parts["genuine"])
        own = expected_calibration_error(np.concatenate(parts["own"]), genuine)
        theirs = expected_calibration_error(np.concatenate(parts["model"]), genuine) if parts["model"] else None
        rows[score] = (int(genuine.size), own, theirs)
    return rows


def cross_fitted_fusion(fish_ids, allowed, similarity, local, measure, matcher):
    """[photos, templates]: each photo's fused scores with the calibrations fitted on the other fold's fish. The
    open-set impostor scores are taken from these: fused with calibrations fitted on the very pairs, an impostor
    pair scores lower than a new fish's would (a coarse isotonic step fitted on few fish maps, e.g., every pair
    with 9 inliers or more to 1 when only genuine pairs had that many; bench/recalibrate.py measured 10x the
    target FPIR with such in-sample scores on one nyala split)."""
    folds, fits = other_fold_fits(fish_ids, allowed, similarity, local, measure, matcher)
    fused = np.empty_like(similarity)
    for fold in (0, 1):
        rows = folds == fold
        fused[rows] = fuse_calibrated(similarity[rows], local[rows], (fits[fold][measure], fits[fold][matcher]))
    return fused


def fit_gallery(gallery, allowed, evidence=None):
    """(calibrations {score: Calibration}, impostor best scores {scored measure: array}, {measure: Pairs},
    {measure: (similarity, inliers or None)}) of ``gallery``'s photos (``allowed``: ``compared_pairs``). Measures:
    hamming, and cosine when the gallery stores embeddings. A verifying gallery's ``evidence`` (LocalEvidence)
    verifies each search's shortlist: the global scores' and the matcher's calibrations are fitted (the matcher's
    on hamming's shortlist, the default search's) and the fused scores' impostor scores computed cross-fitted
    (``cross_fitted_fusion``)."""
    fish_ids = np.array([entry["fish_id"] for entry in gallery.entries])
    matcher = None if evidence is None else evidence.record["matcher"]
    measures = ["hamming"] + (["cosine"] if gallery.embeddings is not None else [])
    calibrations, impostors, pairs, matrices, done = {}, {}, {}, {}, {}
    for measure in measures:
        similarity = global_scores(gallery, measure)
        impostors[measure] = impostor_best_scores(similarity, fish_ids, allowed)
        local = None if evidence is None else shortlist_inliers(evidence, gallery.entries, similarity, allowed, done)
        pairs[measure], matrices[measure] = labelled_pairs(fish_ids, allowed, similarity, local), (similarity, local)
        if evidence is None:
            continue
        calibrations.update(fit_pairs(pairs[measure], measure, None if matcher in calibrations else matcher))
        fused = cross_fitted_fusion(fish_ids, allowed, similarity, local, measure, matcher)
        impostors[scored_measure(measure, evidence.record)] = impostor_best_scores(fused, fish_ids, allowed)
        matrices[scored_measure(measure, evidence.record)] = (fused, None)
    return calibrations, impostors, pairs, matrices


def left_out_false_positives(similarity, fish_ids, allowed, fpirs=CHECKED_FPIRS, seed=FOLD_SEED):
    """{FPIR: (false positives, searches)} for each of ``fpirs``: each fish in turn (at most MAX_FISH_LEFT_OUT,
    drawn with ``seed`` beyond) taken for a new one. Its photos are searched against every other fish (each fish's
    best allowed photo), at the threshold ``lateral.fpir`` sets for that many fish from the other fish's own
    impostor best scores (each of their photos against each other fish but the one left out); a search whose best
    score reaches it is a false positive, a new fish wrongly matched."""
    fish_ids = np.asarray(fish_ids)
    names, best = best_per_fish(similarity, fish_ids, allowed)
    impostor = fish_ids[:, None] != names[None, :]
    columns = np.arange(names.size)
    if names.size > MAX_FISH_LEFT_OUT:
        columns = np.sort(np.random.default_rng(seed).choice(names.size, MAX_FISH_LEFT_OUT, replace=False))
    counts = {fpir: [0, 0] for fpir in fpirs}
    for column in columns:
        others, of_others = np.arange(names.size) != column, fish_ids != names[column]
        calibration = best[of_others][:, others][impostor[of_others][:, others]]
        calibration = calibration[np.isfinite(calibration)]
        against = best[~of_others][:, others]
        fish_searched = np.isfinite(against).sum(axis=1)  # the fish with a photo of the search's flank
        searched = fish_searched > 0
        if not calibration.size or not searched.any():
            continue
        top, sizes = against[searched].max(axis=1), fish_searched[searched]
        for fpir, count in counts.items():
            thresholds = {size: threshold_at_fpir(calibration, fpir, int(size))[0] for size in np.unique(sizes)}
            count[0] += int(np.sum(top >= np.array([thresholds[size] for size in sizes])))
            count[1] += int(searched.sum())
    return {fpir: tuple(count) for fpir, count in counts.items()}


def own_fpir_check(fish_ids, allowed, matrices):
    """{scored measure: {FPIR: (false positives, searches)}} of ``left_out_false_positives`` at CHECKED_FPIRS: how
    often the gallery's own fish, each taken in turn for a new fish, would be wrongly matched (at most
    MAX_FISH_LEFT_OUT of them)."""
    return {name: left_out_false_positives(similarity, fish_ids, allowed) for name, (similarity, _) in matrices.items()}


def recalibration(gallery, allowed, evidence=None, model=None):
    """(impostor scores, ``about`` for the calibration file, summary) of ``fit_gallery``; the summary holds the pair
    counts, the cross-fitted ECE beside the model's calibrations (``model``: a run folder or imagenet; default the
    gallery's) and the accept thresholds at the default FPIR from the gallery's and the model's impostor scores."""
    calibrations, impostors, pairs, matrices = fit_gallery(gallery, allowed, evidence)
    fish_ids = [entry["fish_id"] for entry in gallery.entries]
    fish = int(calibrating_fish(fish_ids, allowed).size)
    summary = {"fish": fish, "photos": len(gallery), "pairs": int(pairs["hamming"].values.size),
               "genuine": int(pairs["hamming"].genuine.sum()), "verified": int(pairs["hamming"].inliers.size),
               "ece": None, "thresholds": threshold_comparison(gallery, impostors, model),
               "fpir_check": own_fpir_check(fish_ids, allowed, matrices)}
    if evidence is not None:
        model_folder = Path(model) if model is not None else Path(gallery.header["model"]["path"])
        summary["ece"] = reliability(model_folder, evidence.record["matcher"], fish_ids, allowed, matrices["hamming"])
    about = {"fish": fish, "photos": len(gallery), "protocol": "the gallery's own photos, each searched against the "
             "others of its flank (not of its own session)",
             "calibrations": {score: calibration.as_dict() for score, calibration in calibrations.items()}}
    return impostors, about, summary


def reliability(model_folder, matcher, fish_ids, allowed, matrix):
    """``cross_fitted_ece`` of the Hamming score (``matrix``: its similarity and inliers), the matcher and their
    fusion, beside ``model_folder``'s calibrations (when it has them); None when a fold's pairs cannot be fitted."""
    try:
        theirs = dict(zip(("hamming", matcher), model_calibrations(model_folder, "hamming", matcher)))
    except CalibrationError:
        theirs = None
    try:
        return cross_fitted_ece(fish_ids, allowed, *matrix, "hamming", matcher, theirs)
    except CalibrationError:
        return None


def threshold_comparison(gallery, impostors, model=None):
    """The accept thresholds at DEFAULT_FPIR against the gallery's fish: {"fish": N, "fpir", "accept": {scored
    measure: (from the gallery's impostor scores, from the model's or None)}}."""
    n_fish = len(gallery.fish_ids())
    source, _ = model_open_set(gallery.header, model)
    accept = {}
    for name, scores in impostors.items():
        try:
            theirs = threshold_at_fpir(read_calibration(source, name)[0], DEFAULT_FPIR, n_fish)[0]
        except (OpenSetError, ValueError):  # the model has no such scores
            theirs = None
        accept[name] = (threshold_at_fpir(scores, DEFAULT_FPIR, n_fish)[0], theirs)
    return {"fish": n_fish, "fpir": DEFAULT_FPIR, "accept": accept}


def own_calibration(header, gallery_path):
    """The gallery's calibration file if it was recalibrated, else None (a record whose file is gone: an error)."""
    if HEADER_KEY not in header:
        return None
    file = calibration_file(gallery_path)
    if not file.is_file():
        raise GalleryError(f"{gallery_path} was recalibrated but {file} is missing: run `recalibrate` again, or "
                           "`recalibrate --reset` to decide on the model's calibration")
    return file


def search_calibrations(header, gallery_path, model_folder, measure, matcher):
    """The calibrations (global, local) a verifying gallery's search fuses: its own after ``recalibrate``, else the
    model's."""
    file = own_calibration(header, gallery_path)
    if file is None:
        return model_calibrations(model_folder, measure, matcher)
    _, about = read_calibration(file, f"{measure}+{matcher}")
    try:
        return [Calibration.from_dict(about["calibrations"][score], file) for score in (measure, matcher)]
    except (KeyError, TypeError):
        raise CalibrationError(f"{file} holds no {measure} and {matcher} calibrations; run `recalibrate` again") \
            from None


def own_origin(record, file):
    """The origin text of decisions on the gallery's own calibration."""
    return (f"the gallery's own calibration ({file.name}: {record.get('fish')} fish, {record.get('photos')} photos, "
            f"fitted {record.get('fitted')}; `recalibrate --reset` goes back to the model's)")


def open_set_source(header, gallery_path, model=None):
    """(impostor scores file, origin text or None) for the FPIR thresholds: the gallery's own after ``recalibrate``,
    else the model's run folder's (for ``imagenet``, the calibration shipped with lateral)."""
    file = own_calibration(header, gallery_path)
    if file is not None:
        return file, own_origin(header[HEADER_KEY], file)
    return model_open_set(header, model)


def model_open_set(header, model=None):
    """(impostor scores file, origin text or None) of the gallery's model: its run folder's, or for ``imagenet``
    the calibration shipped with lateral."""
    recorded = header["model"]["path"]
    if imagenet.is_imagenet(recorded):
        return imagenet.OPEN_SET_FILE, imagenet.SHIPPED_ORIGIN
    return calibration_path(model or recorded), None


def calibration_state(header, gallery_path):
    """What a long-running reader (the review page) compares to notice ``recalibrate`` or ``--reset`` done by another
    process: the header's record and the gallery's calibration file's time and size (None: the model's)."""
    record = header.get(HEADER_KEY)
    if record is None:
        return None
    file = calibration_file(gallery_path)
    stat = file.stat() if file.is_file() else None
    return json.dumps(record, sort_keys=True), None if stat is None else (stat.st_mtime_ns, stat.st_size)


@dataclasses.dataclass(frozen=True)
class GalleryFpir:
    """FPIR thresholds (``fpir_thresholds``) of ``measure``'s impostor scores in the calibration a gallery decides on
    (``open_set_source``: its own after ``recalibrate``, else the model's), for its header as it is at the time."""

    gallery_path: Path
    measure: str
    fpir: float = DEFAULT_FPIR
    review_fpir: float = None
    model: str = None

    def thresholds(self, header):
        calibration, origin = open_set_source(header, self.gallery_path, self.model)
        return fpir_thresholds(calibration, self.measure, self.fpir, self.review_fpir, origin)
