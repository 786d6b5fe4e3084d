"""test_iom.py --verify's calibration section: each calibration's ECE, and the fused score's, on the evaluated
pairs (held-out ECE when the calibrations were fitted on other fish), against ECEs worked by hand."""

import numpy as np

from lateral.evaluation.local_verification import calibration_reliability
from lateral.matching.calibration import Calibration


def test_each_calibration_and_the_fused_score_get_their_ece_on_these_pairs(tmp_path):
    """Photos 0 and 1 of fish a, photo 2 of fish b. Both calibrations are linear (cosine: P = score; inliers:
    P = inliers / 10), so the probabilities are read off by hand; ECE over 10 equal-width bins, one pair per bin:
    - cosine, every verification pair: 0.8 (genuine), 0.3, 0.1 (impostors): (0.2 + 0.3 + 0.1) / 3 = 0.2;
    - inliers, the verified pairs (0, 1), (1, 0), (2, 0): 0.8, 0.6 (genuine), 0.2: (0.2 + 0.4 + 0.2) / 3;
    - fused there, the mean of the two: 0.8, 0.7, 0.25: (0.2 + 0.3 + 0.25) / 3 = 0.25."""
    similarity = np.array([[1.0, 0.8, 0.3], [0.8, 1.0, 0.1], [0.3, 0.1, 1.0]])
    local = np.full((3, 3), np.nan)
    local[0, 1], local[1, 0], local[2, 0] = 8, 6, 2
    first, second, genuine = np.array([0, 0, 1]), np.array([1, 2, 2]), np.array([True, False, False])
    calibrations = [Calibration("run_cosine", (0.0, 1.0), (0.0, 1.0)), Calibration("run_sift", (0.0, 10.0), (0.0, 1.0))]
    text = calibration_reliability(calibrations, ("c.json", "s.json"), similarity, local, ["a", "a", "b"], first,
                                   second, genuine, tmp_path, "on these pairs")
    lines = text.splitlines()
    assert lines[0] == "| calibration | pairs | ECE (on these pairs) |"
    assert lines[2:] == ["| run_cosine (c.json) | 3 | 0.2000 |", "| run_sift (s.json) | 3 | 0.2667 |",
                         "| fused (run_cosine + run_sift) | 3 | 0.2500 |"]
    for name in ("run_cosine", "run_sift", "fused"):
        assert (tmp_path / f"reliability_{name}.png").stat().st_size > 0
