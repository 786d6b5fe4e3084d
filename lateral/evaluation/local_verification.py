"""``test_iom.py --verify``: the global measure's shortlist verified by local matching, and fused.

Each query's top ``budget`` candidates by the global measure are matched by the
local matcher (lateral/matching); the global score and the inlier count are
mapped to P(same fish) by the run's calibrations (``<run>/calibration/``), and
the fused score is their mean where verified, the global probability elsewhere.
``fit_calibration`` fits those calibrations instead, on the test set's pairs:
point it at fish the model was not trained on (docs/matching.md).
"""

import dataclasses
from pathlib import Path

import cv2
import numpy as np

from lateral.data.prepare import roi_corners
from lateral.evaluation.protocol import EvaluationError
from lateral.matching.cache import FeatureCache, image_features
from lateral.matching.calibration import (Calibration, CalibrationError, expected_calibration_error,
                                          pair_calibration_paths, plot_reliability, shipped_path)
from lateral.matching.fusion import DEFAULT_BUDGET, fuse, shortlist, verify_shortlist
from lateral.matching.local_features import MATCHERS
from lateral.matching.roi import DEFAULT_LONG_SIDE
from lateral.matching.verify import local_score
from lateral.preprocess.rejection import PhotoRejected


@dataclasses.dataclass(frozen=True)
class VerifyOptions:
    matcher: str
    budget: object = DEFAULT_BUDGET  # int, or None for every allowed candidate
    photos: object = None  # the photo folder prepare_data.py read: ROIs re-cut from it; None: the stored ROIs
    long_side: int = DEFAULT_LONG_SIDE
    fit_calibration: bool = False

    def describe(self):
        budget = "every candidate" if self.budget is None else f"the top {self.budget}"
        source = f"ROIs re-cut from {self.photos}" if self.photos else "the stored ROIs"
        return f"{self.matcher} verification of {budget} at {self.long_side} px on {source}"


def check_calibrations(run_folder, model, measure, options):
    """The two calibrations' paths, ``<model>_<measure>`` and ``<model>_<matcher>`` (the matcher's depends on
    the model's shortlist); a CalibrationError before any work when they are missing (or, when fitting,
    already there: a fitted calibration is never overwritten unasked). A run without its own calibrations of the
    frozen ImageNet features uses the package's (bench/default_calibration.py), when it ships that pair."""
    paths = pair_calibration_paths(run_folder, model, measure, options.matcher)
    shipped = tuple(shipped_path(path.stem) for path in paths)
    if not options.fit_calibration and not any(path.exists() for path in paths) and all(
            path.exists() for path in shipped):
        return shipped
    for path in paths:
        if options.fit_calibration and path.exists():
            raise CalibrationError(f"{path} exists; delete it to fit the calibration again")
        if not options.fit_calibration and not path.exists():
            raise CalibrationError(f"{path} not found: fit it first with test_iom.py --verify {options.matcher} "
                                   "--fit_calibration on fish the model was not trained on")
    return paths


def local_features(roi_set, test_dataset, options):
    """Each image's local features: re-cut from its photo by the manifest's ROI (``options.photos``, cached in
    ``<test_dataset>/local_features``), or from the stored ROI image."""
    MATCHERS.get(options.matcher)
    if options.photos is None:
        return [image_features(cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR), None,
                               options.matcher, options.long_side) for encoded in roi_set.images]
    corners = roi_corners(test_dataset)
    cache = FeatureCache(Path(test_dataset) / "local_features", options.matcher, options.long_side)
    features = []
    for source in roi_set.sources:
        photo = Path(options.photos) / source
        try:
            features.append(cache.features(photo, corners[source]))
        except (PhotoRejected, OSError) as error:
            raise EvaluationError(f"{photo}: {error}; --photos must be the folder prepare_data.py read for "
                                  f"{test_dataset}") from None
    return features


def verified_inliers(similarity, allowed, features, options):
    """Inlier counts [n, n] of each query's shortlist by ``similarity`` (NaN outside it)."""
    norm = MATCHERS.get(options.matcher).norm
    return verify_shortlist(shortlist(similarity, allowed, options.budget),
                            lambda i, j: local_score(features[i], features[j], norm), same_images=True)


def fit_calibrations(similarity, local, fish_ids, first, second, genuine, paths, out_dir):
    """Fit and save both calibrations (the global one on every verification pair, the local one on the
    verified pairs: the only ones it is applied to); returns them and ``calibration_reliability``'s Markdown
    (in-sample: on the pairs they were fitted on)."""
    verified = ~np.isnan(local)
    same_fish = np.asarray(fish_ids)[:, None] == np.asarray(fish_ids)[None, :]
    global_path, local_path = paths
    fitted = [Calibration.fit(global_path.stem, similarity[first, second], genuine),
              Calibration.fit(local_path.stem, local[verified], same_fish[verified])]
    for calibration, path in zip(fitted, paths):
        calibration.save(path)
    return fitted, calibration_reliability(fitted, paths, similarity, local, fish_ids, first, second, genuine,
                                           out_dir, "on its own pairs")


def calibration_reliability(calibrations, paths, similarity, local, fish_ids, first, second, genuine, out_dir,
                            pairs_are):
    """Markdown with the ECE of each calibration, and of the fused score, on this test set's pairs (the global one
    on every verification pair, the local one and the fused score on the verified pairs); writes a reliability plot
    of each to ``out_dir``. Evaluated on fish the calibrations were not fitted on, this is their held-out ECE."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    verified = ~np.isnan(local)
    same_fish = np.asarray(fish_ids)[:, None] == np.asarray(fish_ids)[None, :]
    global_calibration, local_calibration = calibrations
    fused = fuse(global_calibration(similarity[verified]), local_calibration(local[verified]))
    rows = [(global_calibration.score, paths[0], global_calibration(similarity[first, second]), genuine),
            (local_calibration.score, paths[1], local_calibration(local[verified]), same_fish[verified]),
            (f"fused ({global_calibration.score} + {local_calibration.score})", None, fused, same_fish[verified])]
    lines = [f"| calibration | pairs | ECE ({pairs_are}) |", "|---|---|---|"]
    for index, (name, path, probabilities, labels) in enumerate(rows):
        plot_name = "fused" if path is None else calibrations[index].score
        plot_reliability(Path(out_dir) / f"reliability_{plot_name}.png", probabilities, labels, name)
        where = "" if path is None else f" ({path})"
        lines.append(f"| {name}{where} | {labels.size} | {expected_calibration_error(probabilities, labels):.4f} |")
    return "\n".join(lines)
