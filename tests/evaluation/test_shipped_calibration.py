"""The default calibration shipped with the package (bench/default_calibration.py fits it): used for the frozen
ImageNet features and SIFT when the run folder has no calibrations of its own, never for anything else."""

import json

import numpy as np
import pytest

from lateral.evaluation.local_verification import VerifyOptions, check_calibrations
from lateral.matching.calibration import (Calibration, CalibrationError, calibration_path, pair_calibration_paths,
                                          shipped_path)


@pytest.mark.parametrize("score", ["imagenet_cosine", "imagenet_sift"])
def test_each_shipped_calibration_is_a_non_decreasing_probability_curve(score):
    stored = json.loads(shipped_path(score).read_text())
    knots, probabilities = np.array(stored["knots"]), np.array(stored["probabilities"])
    assert stored["score"] == score and len(knots) == len(probabilities) >= 2
    assert np.all(np.diff(knots) > 0) and np.all(np.diff(probabilities) >= 0)
    assert probabilities.min() >= 0 and probabilities.max() <= 1


def test_frozen_features_without_their_own_calibrations_use_the_shipped_ones(tmp_path):
    sift = VerifyOptions("sift")
    assert check_calibrations(tmp_path, "imagenet", "cosine", sift) == (shipped_path("imagenet_cosine"),
                                                                          shipped_path("imagenet_sift"))
    for score in ("imagenet_cosine", "imagenet_sift"):  # the run's own calibrations come first
        Calibration(score, (0.0, 1.0), (0.0, 1.0)).save(calibration_path(tmp_path, score))
    assert check_calibrations(tmp_path, "imagenet", "cosine", sift) == pair_calibration_paths(
        tmp_path, "imagenet", "cosine", "sift")
    # Nothing is shipped for a trained run's scores or for another matcher: those must be fitted.
    for model, measure, options in (("run", "hamming", sift), ("imagenet", "cosine", VerifyOptions("orb"))):
        with pytest.raises(CalibrationError, match="fit it first"):
            check_calibrations(tmp_path / "empty", model, measure, options)
