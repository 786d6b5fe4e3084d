"""Local features computed once per photo and kept in a folder of ``.npz`` files.

A file's name is a digest of what its features depend on: the photo's path,
size and modification time, the ROI's corners, the matcher and the matching
resolution; a change to any of them misses the cache instead of reading stale
features. Local features, unlike IoM templates, are not cancellable: they
describe the photo's pattern itself (docs/matching.md), so keeping them is the
caller's choice of folder.
"""

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np

from lateral.atomic_write import replacing
from lateral.matching.local_features import MATCHERS, Features
from lateral.matching.roi import DEFAULT_LONG_SIDE, full_frame, recut_roi
from lateral.preprocess.photo_io import read_colour_photo

MAX_PHOTO_PIXELS = 100_000_000


def image_features(image, corners, matcher, long_side=DEFAULT_LONG_SIDE):
    """``Features`` of the ROI ``corners`` of a BGR ``image`` (the whole image when None)."""
    roi = recut_roi(image, full_frame(image) if corners is None else corners, long_side)
    return dataclasses.replace(MATCHERS.get(matcher).extract(roi), roi_size=(roi.shape[1], roi.shape[0]))


def photo_features(path, corners, matcher, long_side=DEFAULT_LONG_SIDE):
    """``image_features`` of the photo at ``path``."""
    return image_features(read_colour_photo(path, 1, MAX_PHOTO_PIXELS), corners, matcher, long_side)


def load_features(file):
    """``Features`` from a file ``save_features`` wrote."""
    with np.load(file) as stored:
        size = tuple(int(side) for side in stored["roi_size"]) if "roi_size" in stored else None
        return Features(stored["points"], stored["descriptors"], size)


def save_features(file, features):
    """Write ``features`` to ``file`` atomically: a reader never sees half a file."""
    extra = {} if features.roi_size is None else {"roi_size": np.asarray(features.roi_size, np.int64)}
    with replacing(Path(file)) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, points=features.points, descriptors=features.descriptors, **extra)


class FeatureCache:
    """``features(path, corners)``: from ``folder`` when computed before, else computed and stored."""

    def __init__(self, folder, matcher, long_side=DEFAULT_LONG_SIDE):
        MATCHERS.get(matcher)  # an unknown name fails here, listing the known ones
        self.folder, self.matcher, self.long_side = Path(folder), matcher, long_side
        self.folder.mkdir(parents=True, exist_ok=True)

    def _file(self, path, corners):
        status = Path(path).stat()
        key = json.dumps([str(Path(path).resolve()), status.st_size, status.st_mtime_ns,
                          None if corners is None else np.asarray(corners, float).round(2).tolist(),
                          self.matcher, self.long_side])
        return self.folder / f"{hashlib.sha1(key.encode()).hexdigest()}.npz"

    def features(self, path, corners=None):
        file = self._file(path, corners)
        if file.exists():
            return load_features(file)
        features = photo_features(path, corners, self.matcher, self.long_side)
        save_features(file, features)
        return features
