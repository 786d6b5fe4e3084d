"""A gallery's local verification (docs/matching.md): each search's shortlist verified by local pattern geometry.

Chosen when the gallery is created (``enroll --verify sift``) and recorded in
its header (``verify``: the matcher, the shortlist's default size and the
matching resolution), like flip TTA: later commands follow the gallery, and
a different matcher is refused. Each photo's local features are computed
once, at enrolment, and kept beside the gallery in ``G.lgal.local_features/``
(one ``<sha256>.npz`` per photo, written atomically by the commands that hold
the gallery's lock). Unlike IoM templates, local features are not
cancellable: a new key does not change them; delete the folder to drop them.

A search's score for each template is the fused P(same fish): the global
score (Hamming or cosine) and, for its top ``shortlist`` comparable
templates, the inlier count, each mapped to a probability by the model's
isotonic calibrations (after ``recalibrate``, the gallery's own:
``lateral.gallery.recalibration``) and averaged (``lateral.matching.fusion``; WildFusion,
Čermák et al. 2024). A fish's score is its best template's.
"""

from pathlib import Path

import numpy as np

from lateral.gallery import imagenet
from lateral.gallery.store import GalleryError
from lateral.matching.cache import load_features, photo_features, save_features
from lateral.matching.calibration import Calibration, pair_calibration_paths
from lateral.matching.fusion import fuse_calibrated, shortlist, verify_shortlist
from lateral.matching.local_features import MATCHERS
from lateral.matching.roi import DEFAULT_LONG_SIDE
from lateral.matching.verify import local_score, verified_matches

VERIFY = "verify"  # the header's key
RUN_MODEL = "run"  # the calibrations of a run's own model: <run>/calibration/run_<score>.json (test_iom.py --verify)
DEFAULT_MATCHER = "sift"  # a new gallery verifies by it when its model has the calibrations (docs/matching.md)
DEFAULT_MEASURE = "hamming"  # identify's default global score
NO_VERIFICATION = "none"  # enroll --verify none: a new gallery stores no local features


def verification_record(matcher, shortlist_size):
    """What a new gallery records of its verification (``shortlist_size`` 0: every comparable template)."""
    MATCHERS.get(matcher)
    return {"matcher": matcher, "shortlist": int(shortlist_size), "long_side": DEFAULT_LONG_SIDE}


def model_calibration_paths(model_folder, measure, matcher):
    """The calibrations a verifying search of ``model_folder``'s templates fuses with: a run's own
    (``test_iom.py --verify --fit_calibration``), or for ``imagenet`` the shipped ones."""
    if imagenet.is_imagenet(model_folder):
        return imagenet.calibration_paths(measure, matcher)
    return pair_calibration_paths(model_folder, RUN_MODEL, measure, matcher)


def default_matcher(model_folder):
    """What a new gallery of ``model_folder`` verifies by when ``--verify`` is not given: DEFAULT_MATCHER when
    the model has the calibrations of the default measure and of it (the measured best path, docs/matching.md),
    else None (no verification: it could not be fused)."""
    paths = model_calibration_paths(model_folder, DEFAULT_MEASURE, DEFAULT_MATCHER)
    return DEFAULT_MATCHER if all(Path(path).exists() for path in paths) else None


def check_request(header, path, matcher=None, shortlist_size=None):
    """The gallery's verification record (with ``shortlist_size`` instead of its default, when given), or None;
    refuses a matcher the gallery was not made with, and --verify/--shortlist on a gallery made without."""
    record = header.get(VERIFY)
    if record is None:
        if matcher is not None or shortlist_size is not None:
            raise GalleryError(f"{path} was created without local verification; --verify and --shortlist apply only "
                               "when a gallery is created")
        return None
    if matcher is not None and matcher != record["matcher"]:
        raise GalleryError(f"{path} was created with --verify {record['matcher']}, not {matcher}: its local features "
                           f"are {record['matcher']}'s (leave out --verify to use them)")
    return record if shortlist_size is None else {**record, "shortlist": int(shortlist_size)}


def scored_measure(measure, record):
    """The name of the score a search decides on: ``hamming``, or fused, ``hamming+sift`` (as test_iom.py names
    it in its metrics and open-set calibration)."""
    return measure if record is None else f"{measure}+{record['matcher']}"


def sidecar_folder(gallery_path):
    gallery_path = Path(gallery_path)
    return gallery_path.with_name(gallery_path.name + ".local_features")


def model_calibrations(model_folder, measure, matcher):
    """The calibrations (global ``measure``, ``matcher``'s inliers) of ``model_folder``: a run's, or for
    ``imagenet`` the shipped ones."""
    return [Calibration.load(path) for path in model_calibration_paths(model_folder, measure, matcher)]


class LocalEvidence:
    """A verifying gallery's local features and calibrations: the fused P(same fish) of a search."""

    def __init__(self, gallery_path, record, calibrations=None, read_corners=None):
        """``calibrations`` (global, local), for ``fused_scores``: the model's (``model_calibrations``) or the
        gallery's own (``lateral.gallery.recalibration``)."""
        self.folder, self.record = sidecar_folder(gallery_path), record
        self.matcher = MATCHERS.get(record["matcher"])
        self.calibrations = calibrations
        self.read_corners = read_corners  # (source, mode) -> ROI corners: a photo whose features are not stored
        self._features = {}

    def photo_features(self, photo):
        """Features of an ``encoder.Photo`` (its ROI re-cut from the source photo at the matching resolution)."""
        return photo_features(photo.source, photo.roi_corners, self.record["matcher"], self.record["long_side"])

    def store(self, photos):
        """Compute and keep the features of ``photos`` not stored yet (the caller holds the gallery's lock)."""
        self.folder.mkdir(exist_ok=True)
        for photo in photos:
            file = self.folder / f"{photo.sha256}.npz"
            if not file.exists():
                save_features(file, self.photo_features(photo))

    def entry_features(self, entry):
        """A gallery entry's features: stored, or computed again from its source photo (not stored: only the
        commands holding the lock write)."""
        sha256 = entry["sha256"]
        if sha256 not in self._features:
            file = self.folder / f"{sha256}.npz"
            if file.exists():
                self._features[sha256] = load_features(file)
            else:
                corners = self.read_corners(entry["source"], entry["mode"])
                self._features[sha256] = photo_features(entry["source"], corners, self.record["matcher"],
                                                        self.record["long_side"])
        return self._features[sha256]

    def inliers(self, features, entry):
        """The local score (inlier count) of a photo's ``features`` against a gallery entry's."""
        return local_score(features, self.entry_features(entry), self.matcher.norm)

    def fused_scores(self, global_scores, comparable, features, entries):
        """float [templates]: P(same fish) of a query with local ``features`` against each template; the
        mean of the global and local probabilities on the ``shortlist`` best ``comparable`` templates by
        ``global_scores``, the global probability elsewhere."""
        chosen = shortlist(np.asarray(global_scores)[None], np.asarray(comparable)[None],
                           self.record["shortlist"] or None)[0]
        local = verify_shortlist(chosen[None], lambda _, index: self.inliers(features, entries[index]))[0]
        return fuse_calibrated(global_scores, local, self.calibrations)

    def search_scores(self, search, code, embedding, flank, features, leave_out=()):
        """``fused_scores`` of a query against a ``GallerySearch``'s gallery (its ``flank``'s templates but
        ``leave_out``)."""
        return self.fused_scores(search.template_scores(code, embedding), search.comparable(flank, leave_out),
                                 features, search.gallery.entries)

    def global_threshold(self, probability):
        """The global score that alone reaches ``probability``: how photos not in the gallery are grouped."""
        return self.calibrations[0].score_at(probability)

    def match_lines(self, features, entry):
        """[((x, y), (x, y))]: the verified matches between a query's ROI and an entry's, in fractions of each ROI."""
        other = self.entry_features(entry)
        points, other_points = verified_matches(features, other, self.matcher.norm)
        return [(tuple(a / np.asarray(features.roi_size)), tuple(b / np.asarray(other.roi_size)))
                for a, b in zip(points, other_points)]
