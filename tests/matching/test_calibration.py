import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from lateral.matching.calibration import Calibration, CalibrationError, expected_calibration_error, plot_reliability

SCORES = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
GENUINE = np.array([0, 0, 1, 0, 1, 1], bool)
PROBES = np.array([-1.0, 0.5, 1.5, 2.5, 3.5, 4.5, 9.0])


def test_isotonic_calibration_matches_scikit_learn_and_the_hand_worked_fit(tmp_path):
    """Pool-adjacent-violators on labels 0 0 1 0 1 1 pools (1, 0) into 0.5: the step values are
    0 0 .5 .5 1 1; between knots the fit interpolates linearly, beyond them it clips."""
    reference = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(SCORES, GENUINE.astype(float))
    calibration = Calibration.fit("sift", SCORES, GENUINE)
    np.testing.assert_allclose(calibration(PROBES), reference.predict(PROBES))
    np.testing.assert_allclose(calibration(PROBES), [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0])
    calibration.save(tmp_path / "sift.json")
    np.testing.assert_allclose(Calibration.load(tmp_path / "sift.json")(PROBES), reference.predict(PROBES))


def test_calibration_needs_both_kinds_of_pair_and_an_intact_file(tmp_path):
    with pytest.raises(CalibrationError, match="genuine and impostor"):
        Calibration.fit("sift", SCORES, np.ones(6, bool))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(CalibrationError, match="bad.json is damaged"):
        Calibration.load(tmp_path / "bad.json")


def test_expected_calibration_error_on_a_hand_computed_case(tmp_path):
    """Ten bins: [0.05] gap 0.05; [0.15, 0.12] mean 0.135 against 1/2, gap 0.365; [0.95, 0.9] mean 0.925
    against 1, gap 0.075. ECE = (1 * 0.05 + 2 * 0.365 + 2 * 0.075) / 5 = 0.186."""
    probabilities = [0.05, 0.15, 0.12, 0.95, 0.9]
    genuine = [0, 1, 0, 1, 1]
    assert expected_calibration_error(probabilities, genuine) == pytest.approx(0.186)
    assert expected_calibration_error([1.0, 0.0], [1, 0]) == pytest.approx(0.0)  # 1.0 falls in the last bin
    plot_reliability(tmp_path / "reliability.png", probabilities, genuine, "sift")
    assert (tmp_path / "reliability.png").stat().st_size > 0


def test_the_score_that_reaches_a_probability_inverts_the_interpolation():
    """Knots 0, 0.5, 1 with probabilities 0, 0, 1: P = 2s - 1 above 0.5, so P 0.5 needs s 0.75 and P 0.2 s 0.6;
    P 0 is reached by every score; P above 1 by none."""
    calibration = Calibration("cosine", (0.0, 0.5, 1.0), (0.0, 0.0, 1.0))
    assert calibration.score_at(0.5) == pytest.approx(0.75)
    assert calibration.score_at(0.2) == pytest.approx(0.6)
    assert calibration.score_at(0.0) == -np.inf and calibration.score_at(1.01) == np.inf
    assert calibration(calibration.score_at(0.5)) == pytest.approx(0.5)
