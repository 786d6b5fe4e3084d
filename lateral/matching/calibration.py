"""A score mapped to P(same fish) by isotonic regression, its reliability (ECE, a reliability diagram),
and its JSON file in a run folder.

Isotonic regression (Zadrozny & Elkan, KDD 2002) fits the non-decreasing step
function closest to the genuine (1) / impostor (0) labels of calibration pairs,
here scikit-learn's ``IsotonicRegression(increasing=True, out_of_bounds="clip")``,
as WildFusion calibrates each matcher (Čermák et al. 2024). Its fitted knots
are stored and applied by linear interpolation, as scikit-learn applies them,
so a loaded calibration needs no scikit-learn. ECE is the expected calibration
error of Guo et al. ("On calibration of modern neural networks", ICML 2017,
eq. 3): over equal-width bins of the predicted probability, the share of pairs
in each bin times the gap between its mean prediction and its share of
genuine pairs, summed.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

from lateral.atomic_write import write_atomically
from lateral.user_errors import UserError

ECE_BINS = 10
# Package data: calibrations of the frozen ImageNet features and their SIFT verification, fitted on development
# data by bench/default_calibration.py (docs/matching.md), for a model no run calibration exists for.
SHIPPED_FOLDER = Path(__file__).parent / "calibrations"


class CalibrationError(UserError):
    """A calibration file is missing or damaged, or the pairs cannot be calibrated; the message names it."""


@dataclasses.dataclass(frozen=True)
class Calibration:
    score: str  # what it calibrates, e.g. "cosine" or "sift"
    knots: tuple  # increasing scores
    probabilities: tuple  # P(same fish) at each knot, non-decreasing

    @classmethod
    def fit(cls, score, values, genuine):
        """Fitted on pair scores ``values`` and their labels ``genuine`` (both kinds needed)."""
        from sklearn.isotonic import IsotonicRegression

        values, genuine = np.asarray(values, np.float64), np.asarray(genuine, bool)
        if not genuine.any() or genuine.all():
            raise CalibrationError(f"calibrating {score!r} needs genuine and impostor pairs; got "
                                   f"{int(genuine.sum())} genuine of {genuine.size}")
        regression = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        regression.fit(values, genuine.astype(np.float64))
        return cls(score, tuple(regression.X_thresholds_.tolist()), tuple(regression.y_thresholds_.tolist()))

    def __call__(self, values):
        """P(same fish) of each score; beyond the knots, the end knots' probabilities."""
        return np.interp(np.asarray(values, np.float64), self.knots, self.probabilities)

    def score_at(self, probability):
        """The smallest score mapped to at least ``probability`` (inverting the interpolation); infinity if none."""
        knots, probabilities = np.asarray(self.knots), np.asarray(self.probabilities)
        reached = np.flatnonzero(probabilities >= probability)
        if not reached.size:
            return float("inf")
        first = reached[0]
        if first == 0:
            return float("-inf")  # every score, below the first knot too (clipped to its probability)
        low, high = probabilities[first - 1], probabilities[first]
        return float(knots[first - 1] + (probability - low) / (high - low) * (knots[first] - knots[first - 1]))

    def as_dict(self):
        """JSON-ready: its file's content (``save``), or a part of another file's."""
        return {"score": self.score, "knots": list(self.knots), "probabilities": list(self.probabilities)}

    def save(self, path):
        write_atomically(path, json.dumps(self.as_dict(), indent=1) + "\n")

    @classmethod
    def from_dict(cls, stored, where):
        """``as_dict``'s inverse; a CalibrationError naming ``where`` (a file) when ``stored`` is damaged."""
        try:
            calibration = cls(str(stored["score"]), tuple(map(float, stored["knots"])),
                              tuple(map(float, stored["probabilities"])))
        except (ValueError, KeyError, TypeError) as error:
            raise CalibrationError(f"calibration file {where} is damaged ({type(error).__name__}: {error})") from None
        if not calibration.knots or len(calibration.knots) != len(calibration.probabilities):
            raise CalibrationError(f"calibration file {where} is damaged (knots and probabilities differ in length)")
        return calibration

    @classmethod
    def load(cls, path):
        try:
            stored = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise CalibrationError(f"no calibration file {path}") from None
        except (OSError, ValueError) as error:
            raise CalibrationError(f"calibration file {path} is damaged ({type(error).__name__}: {error})") from None
        return cls.from_dict(stored, path)


def calibration_path(run_folder, score):
    """Where a run folder keeps the calibration of ``score``."""
    return Path(run_folder) / "calibration" / f"{score}.json"


def shipped_path(score):
    """Where the package keeps its default calibration of ``score`` (e.g. ``imagenet_sift``)."""
    return SHIPPED_FOLDER / f"{score}.json"


def pair_calibration_paths(run_folder, model, measure, matcher):
    """The two calibrations fusion needs, ``<model>_<measure>`` and ``<model>_<matcher>`` (the matcher's depends on
    the model's shortlist), as a run folder keeps them."""
    return tuple(calibration_path(run_folder, f"{model}_{score}") for score in (measure, matcher))


def _bins(probabilities, bins):
    return np.minimum((np.asarray(probabilities, np.float64) * bins).astype(int), bins - 1)


def expected_calibration_error(probabilities, genuine, bins=ECE_BINS):
    """ECE (Guo et al. 2017, eq. 3) over ``bins`` equal-width bins of [0, 1] (1.0 falls in the last)."""
    probabilities, genuine = np.asarray(probabilities, np.float64), np.asarray(genuine, np.float64)
    index = _bins(probabilities, bins)
    counts = np.bincount(index, minlength=bins)
    gaps = np.abs(np.bincount(index, probabilities, bins) - np.bincount(index, genuine, bins))
    return float(gaps.sum() / counts.sum())


def plot_reliability(path, probabilities, genuine, title, bins=ECE_BINS):
    """A reliability diagram: each bin's share of genuine pairs against its mean prediction, with the ECE."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probabilities, genuine = np.asarray(probabilities, np.float64), np.asarray(genuine, np.float64)
    index = _bins(probabilities, bins)
    counts = np.bincount(index, minlength=bins)
    filled = counts > 0
    predicted = np.bincount(index, probabilities, bins)[filled] / counts[filled]
    observed = np.bincount(index, genuine, bins)[filled] / counts[filled]
    figure, axis = plt.subplots(figsize=(4.5, 4))
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    axis.plot(predicted, observed, marker="o", label="calibrated score")
    axis.set(xlabel="predicted P(same fish)", ylabel="share of genuine pairs", xlim=(0, 1), ylim=(0, 1),
             title=f"{title}: ECE {expected_calibration_error(probabilities, genuine, bins):.3f}")
    axis.legend(fontsize=8)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
