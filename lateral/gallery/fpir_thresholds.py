"""Thresholds sized to the gallery: accept at a target FPIR for the number of fish a photo is searched against.

A fixed score threshold lets a fish that is not in the gallery be matched
more often as the gallery grows (over N fish, about 1 - (1 - FAR)^N of its
searches). Here the accept threshold is the one at which a new fish is
wrongly matched with probability ``fpir`` against the gallery's current N
fish (``lateral.fpir``: NIST FRVT's FPIR; the max over N fish of the
calibration impostor scores that ``test_iom.py`` stored with the model), and
the review threshold the one at ``review_fpir``; both are recomputed for each
search, so they rise as fish are added.
"""

import dataclasses
import functools
from pathlib import Path

import numpy as np

from lateral.fpir import CALIBRATION_FILE, read_calibration, threshold_at_fpir
from lateral.gallery.search import Thresholds
from lateral.gallery.store import GalleryError

DEFAULT_FPIR = 0.01
# Fewer held-out fish than this behind the calibration and the FPIR is a rough guide: FS48's 4 calibration fish
# let 40x the target through, 12 kept it (docs/open_set.md).
MIN_CALIBRATION_FISH = 10
EVALUATION_FOLDER = "evaluation"  # test_iom.py's default report folder inside the run folder


def default_review_fpir(fpir):
    """The review band's outer edge: ten times the accept FPIR, at most 0.5."""
    return min(10 * fpir, 0.5)


def calibration_path(model_folder):
    return Path(model_folder) / EVALUATION_FOLDER / CALIBRATION_FILE


@dataclasses.dataclass(frozen=True, eq=False)
class FpirThresholds:
    """``for_fish(n)`` gives the Thresholds for a search against ``n`` fish."""

    scores: np.ndarray  # the calibration impostor scores
    fpir: float
    review_fpir: float
    origin: str  # where the scores came from
    calibration_fish: object = None  # how many fish the scores came from (None: not recorded)

    @property
    def source(self):
        return (f"FPIR {self.fpir:g} (review band to FPIR {self.review_fpir:g}) for the fish searched, "
                f"from {self.origin}{few_fish_caution(self.calibration_fish)}")

    @functools.lru_cache(maxsize=64)
    def for_fish(self, n_fish):
        n_fish = max(int(n_fish), 1)
        accept, how = threshold_at_fpir(self.scores, self.fpir, n_fish)
        reject, _ = threshold_at_fpir(self.scores, self.review_fpir, n_fish)
        return Thresholds(accept, reject, f"FPIR {self.fpir:g} at N = {n_fish} fish: accept >= {accept:.4f}, "
                                          f"new < {reject:.4f} ({how}, {self.origin}"
                                          f"{few_fish_caution(self.calibration_fish, n_fish)})")


def fpir_thresholds(calibration, measure, fpir=DEFAULT_FPIR, review_fpir=None, origin=None):
    """FpirThresholds from the calibration file ``calibration`` (its ``measure`` scores); ``origin`` says where
    it comes from (default: its path)."""
    review_fpir = default_review_fpir(fpir) if review_fpir is None else review_fpir
    for flag, rate in (("--fpir", fpir), ("--review_fpir", review_fpir)):
        if not 0.0 < rate < 1.0:
            raise GalleryError(f"{flag} {rate:g} must be between 0 and 1")
    if review_fpir < fpir:
        raise GalleryError(f"--review_fpir {review_fpir:g} must not be below --fpir {fpir:g}")
    scores, about = read_calibration(calibration, measure)
    if not scores.size:
        raise GalleryError(f"{calibration} holds no {measure} impostor scores; run test_iom.py on more fish")
    return FpirThresholds(scores, fpir, review_fpir, origin or str(calibration), about.get("fish"))


def few_fish_caution(fish, gallery_fish=None):
    """A warning to show beside the thresholds when the calibration saw fewer than MIN_CALIBRATION_FISH fish; when
    the gallery searched holds at least that many, it says that `recalibrate` can refit on them."""
    if not (isinstance(fish, int) and fish < MIN_CALIBRATION_FISH):
        return ""
    if gallery_fish is not None and gallery_fish >= MIN_CALIBRATION_FISH:
        remedy = (f"the gallery holds {gallery_fish}: `lateral gallery recalibrate` refits it on those with two "
                  "photos of a flank")
    else:
        remedy = f"measure more held-out fish with test_iom.py: at least {MIN_CALIBRATION_FISH}"
    return f"; CAUTION: calibrated on only {fish} fish, so the FPIR is a rough guide ({remedy})"
