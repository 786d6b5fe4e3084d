"""``test_iom.py``: how well does a trained run tell fish apart, and at what threshold?

Besides the closed-set figures it reports open-set identification (FNIR at a
fixed FPIR against the gallery size, ``lateral/evaluation/open_set.py``),
beyond the held-out fish with optional distractor fish, and writes every
measure's impostor scores (``lateral.fpir.CALIBRATION_FILE``), from which the
gallery sizes its accept threshold.

Test-time options (``EvaluationOptions``), each to be measured on the development split
before adoption: flip test-time augmentation of the embeddings, camera-aware
normalisation of the embeddings, and k-reciprocal re-ranking of the
identification ranking (rank-1, CMC, mAP, per-fish; verification figures stay
on the plain scores, as a pair has no gallery to re-rank against).
"""

import dataclasses
from pathlib import Path

import numpy as np

from lateral.data.records import DatasetError
from lateral.data.split import keep_fish
from lateral.evaluation.camera_norm import camera_normalise
from lateral.evaluation.local_verification import (calibration_reliability, check_calibrations, fit_calibrations,
                                                   local_features, verified_inliers)
from lateral.evaluation.open_set import evaluate_open_set_and_splits
from lateral.evaluation.per_fish import per_fish_markdown, per_fish_rank1
from lateral.evaluation.protocol import EvaluationError, comparable, require_both_kinds, verification_pairs
from lateral.evaluation.report import open_set_markdown, write_report
from lateral.evaluation.rerank import DEFAULT_K1, DEFAULT_K2, DEFAULT_LAMBDA, rerank_per_query
from lateral.evaluation.templates import compute_templates, load_test_set
from lateral.evaluation.verification import evaluate_measure
from lateral.fpir import CALIBRATION_FILE, impostor_best_scores, write_calibration
from lateral.matching.calibration import Calibration
from lateral.matching.fusion import fuse_calibrated
from lateral.measures import MEASURES
from lateral.runs import CODES_MODEL

DEFAULT_MEASURES = {"codes": ("hamming",), "embeddings": ("cosine",)}
# Each measure's score (higher = more alike) as the distance re-ranking works on.
RERANK_DISTANCES = {
    "cosine": lambda scores: 1.0 - scores,  # 1 - cosine, in [0, 2]
    "hamming": lambda scores: 1.0 - scores,  # share of unequal codes, in [0, 1]
    "jaccard": lambda scores: 1.0 - scores,  # Jaccard distance of the code sets, in [0, 1]
    "lut_hamming": lambda scores: 1.0 - scores,  # share of unequal LUT bits, in [0, 1]
    "euclidean": lambda scores: -scores,  # Euclidean distance of unit embeddings, in [0, 2]
}


@dataclasses.dataclass(frozen=True)
class EvaluationOptions:
    """The test-time options of ``evaluate_run`` (all off by default)."""

    flip_tta: bool = False  # embeddings: mean of the image's and its mirror's
    camera_norm: bool = False  # embeddings: remove each session's mean (lateral/evaluation/camera_norm.py)
    rerank: bool = False  # identification: k-reciprocal re-ranking (lateral/evaluation/rerank.py)
    rerank_k1: int = DEFAULT_K1
    rerank_k2: int = DEFAULT_K2
    rerank_lambda: float = DEFAULT_LAMBDA
    model: str = "run"  # or "imagenet": frozen ImageNet features instead of the run's models (no training)

    def describe(self):
        parts = ["frozen ImageNet features"] * (self.model == "imagenet")
        parts += ["flip TTA"] * self.flip_tta + ["camera normalisation"] * self.camera_norm
        if self.rerank:
            parts.append(f"k-reciprocal re-ranking (k1 {self.rerank_k1}, k2 {self.rerank_k2}, "
                         f"lambda {self.rerank_lambda:g})")
        return ", ".join(parts) or "none"


def _default_measure(run_folder, model):
    """The first default measure, known before the model loads: hamming for a stage-two run, else cosine."""
    codes = model == "run" and (Path(run_folder) / CODES_MODEL).is_file()
    return DEFAULT_MEASURES["codes" if codes else "embeddings"][0]


def keep_sessions(roi_set, sessions, test_dataset):
    """Only the images of ``sessions`` (cameras); an unknown session fails naming it."""
    known = sorted(set(roi_set.sessions.tolist()))
    unknown = [session for session in sessions if session not in known]
    if unknown:
        raise DatasetError(f"session {unknown[0]!r} is not in {test_dataset}; its sessions: {', '.join(known)}")
    return roi_set.subset(np.flatnonzero(np.isin(roi_set.sessions, list(sessions))))


def _distractors(run_folder, distractor_dataset, roi_set, compare_flanks, options):
    """(templates, fish ids, [n, k] may each photo be compared with each distractor photo) or Nones."""
    if distractor_dataset is None:
        return None, None, None
    distractor_set = load_test_set(distractor_dataset)  # other individuals, whatever their names
    templates = compute_templates(run_folder, distractor_set, flip_tta=options.flip_tta, model=options.model)
    allowed = np.ones((len(roi_set), len(distractor_set)), bool)
    if not compare_flanks:
        allowed = roi_set.flanks[:, None] == distractor_set.flanks[None, :]
    return templates, distractor_set.fish_ids, allowed


def evaluate_run(run_folder, test_dataset, out_dir, measures=None, cross_session=False, compare_flanks=False,
                 max_pairs=2_000_000, bootstrap_rounds=200, fish=(), sessions=(), options=EvaluationOptions(),
                 verify=None, distractors=None, open_set_share=0.5):
    """Evaluate ``run_folder``'s models on ``test_dataset`` (only ``fish`` and ``sessions``, if named);
    returns (Markdown report, {measure: figures}). ``verify`` (``VerifyOptions``): the first measure's
    shortlist is verified locally and the fused score evaluated too, as ``<measure>+<matcher>``
    (lateral/evaluation/local_verification.py). ``distractors``: a data set of other fish that fill open-set
    galleries beyond the test fish (for the global measures); ``open_set_share``: the share of the test fish enrolled
    (and calibrating) in the open-set figures."""
    if distractors is not None and options.camera_norm:
        raise EvaluationError("camera normalisation cannot be combined with distractors (they have no sessions)")
    roi_set = load_test_set(test_dataset)
    if fish:
        roi_set = keep_fish(roi_set, fish, keep=True)
    if sessions:
        roi_set = keep_sessions(roi_set, sessions, test_dataset)
    allowed = comparable(roi_set.fish_ids, roi_set.flanks, roi_set.sessions, cross_session, compare_flanks)
    first, second, genuine = verification_pairs(roi_set.fish_ids, allowed, max_pairs)
    require_both_kinds(genuine, roi_set.fish_ids, roi_set.sessions, cross_session, test_dataset)
    if verify is not None:
        global_score = (measures or [_default_measure(run_folder, options.model)])[0]
        calibration_files = check_calibrations(run_folder, options.model, global_score, verify)
    # After the checks: no model load.
    templates = compute_templates(run_folder, roi_set, flip_tta=options.flip_tta, model=options.model)
    if options.camera_norm:
        templates["embeddings"] = camera_normalise(templates["embeddings"], roi_set.sessions)
    distractor_templates, distractor_fish, distractor_allowed = _distractors(run_folder, distractors, roi_set,
                                                                             compare_flanks, options)
    if measures is None:  # hamming on IoM codes for a stage-two run, and cosine on embeddings always
        measures = [*(DEFAULT_MEASURES["codes"] if templates["codes"] is not None else ()), *DEFAULT_MEASURES["embeddings"]]
    results, scores, per_fish, similarities, calibration = {}, {}, {}, {}, {}
    for name in measures:
        measure = MEASURES.get(name)
        representation = templates[measure.representation]
        if representation is None:
            raise EvaluationError(f"measure {name!r} needs IoM codes, but {run_folder} holds a stage-one model only")
        similarities[name] = measure.scores(representation, representation)
    calibration_report = ""
    if verify is not None:
        local = verified_inliers(similarities[measures[0]], allowed, local_features(roi_set, test_dataset, verify),
                                 verify)
        if verify.fit_calibration:
            calibrations, calibration_report = fit_calibrations(similarities[measures[0]], local, roi_set.fish_ids,
                                                                first, second, genuine, calibration_files, out_dir)
        else:
            calibrations = [Calibration.load(path) for path in calibration_files]
            calibration_report = calibration_reliability(calibrations, calibration_files, similarities[measures[0]],
                                                         local, roi_set.fish_ids, first, second, genuine, out_dir,
                                                         "on these pairs")
        similarities[f"{measures[0]}+{verify.matcher}"] = fuse_calibrated(similarities[measures[0]], local, calibrations)
    for name, similarity in similarities.items():
        ranking_scores = similarity
        if options.rerank:
            distance = RERANK_DISTANCES[name.split("+")[0]]  # a fused score: 1 - probability, as 1 - cosine
            ranking_scores = -rerank_per_query(distance(np.asarray(similarity, np.float64)), allowed,
                                               options.rerank_k1, options.rerank_k2, options.rerank_lambda)
        results[name] = evaluate_measure(similarity, roi_set.fish_ids, allowed, first, second, genuine,
                                         bootstrap_rounds, identification_scores=ranking_scores)
        per_fish[name] = per_fish_rank1(ranking_scores, roi_set.fish_ids, allowed)
        results[name]["per_fish"] = {fish_id: row._asdict() for fish_id, row in per_fish[name].items()}
        distractor_scores = None
        if distractor_templates is not None and name in MEASURES.names():  # not the fused score
            measure = MEASURES.get(name)
            distractor_scores = measure.scores(templates[measure.representation],
                                               distractor_templates[measure.representation])
        results[name]["open_set"] = evaluate_open_set_and_splits(similarity, roi_set.fish_ids, allowed,
                                                                 distractor_scores, distractor_fish,
                                                                 distractor_allowed, bootstrap_rounds,
                                                                 open_set_share)
        calibration[name] = impostor_best_scores(similarity, roi_set.fish_ids, allowed)
        pair_scores = similarity[first, second]
        scores[name] = (pair_scores[genuine], pair_scores[~genuine])
    protocol = "cross-session" if cross_session else "all pairs"
    flanks = "flanks compared with each other" if compare_flanks else "same flank only"
    kept_sessions = f" (sessions {', '.join(sessions)})" if sessions else ""
    header = (f"# {Path(run_folder).name} on {test_dataset}\n\n{len(roi_set)} images of "
              f"{len(np.unique(roi_set.fish_ids))} fish{kept_sessions}; protocol: {protocol}, {flanks}; "
              f"{int(genuine.sum())} genuine and {int((~genuine).sum())} impostor pairs; "
              f"test-time options: {options.describe()}.")
    if verify is not None:
        origin = "fitted on these pairs (in-sample)" if verify.fit_calibration else \
            f"from {calibration_files[0].parent}"
        header += f" Local verification: {verify.describe()}; calibrations {origin}."
    sections = per_fish_markdown(per_fish) + "\n\n" + open_set_markdown(results)
    if calibration_report:
        sections += f"\n\n## Calibration\n\n{calibration_report}"
    table = write_report(Path(out_dir), header, results, scores, sections)
    write_calibration(Path(out_dir) / CALIBRATION_FILE, calibration,
                      {"run": str(run_folder), "test_dataset": str(test_dataset), "protocol": protocol,
                       "flanks": flanks, "images": len(roi_set), "fish": int(len(np.unique(roi_set.fish_ids)))})
    return f"{header}\n\n{table}", results
