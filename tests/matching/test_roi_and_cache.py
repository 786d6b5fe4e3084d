import json

import cv2
import numpy as np
import pytest

from lateral.matching import cache as cache_module
from lateral.matching.cache import FeatureCache
from lateral.matching.roi import recut_roi
from lateral.registry import UnknownNameError


def _photo():
    rows, columns = np.mgrid[0:120, 0:200]
    return np.dstack([columns, rows, (rows + columns) % 256]).astype(np.uint8)


def test_recut_roi_cuts_the_quadrilateral_at_the_matching_resolution_and_undoes_a_mirror():
    photo = _photo()
    corners = [[40, 20], [160, 20], [160, 80], [40, 80]]  # a 120 x 60 rectangle
    roi = recut_roi(photo, corners, long_side=120)
    assert roi.shape == (60, 120, 3)
    np.testing.assert_allclose(roi.astype(int), photo[20:80, 40:160].astype(int), atol=1)
    mirrored = recut_roi(photo, [[160, 20], [40, 20], [40, 80], [160, 80]], long_side=120)
    np.testing.assert_allclose(mirrored[:, 1:].astype(int), photo[20:80, 40:160][:, ::-1][:, :-1].astype(int), atol=1)
    assert recut_roi(photo, corners, long_side=240).shape == (120, 240, 3)


def test_the_feature_cache_computes_each_photo_once_and_misses_when_the_roi_changes(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    photo = cv2.GaussianBlur(rng.uniform(0, 255, (120, 160, 3)).astype(np.uint8), (0, 0), 1.5)
    path = tmp_path / "fish.png"
    cv2.imwrite(str(path), photo)
    computed = []
    real = cache_module.photo_features
    monkeypatch.setattr(cache_module, "photo_features", lambda *args: computed.append(args) or real(*args))
    cache = FeatureCache(tmp_path / "features", "sift", long_side=160)
    first = cache.features(path)
    again = cache.features(path)
    assert len(computed) == 1 and first.points.shape[0] > 10
    np.testing.assert_array_equal(first.descriptors, again.descriptors)
    # The ROI's size in pixels (the points' frame: match lines are drawn in its fractions) is kept too: 160 x 120.
    assert first.roi_size == again.roi_size == (160, 120)
    assert cache.features(path, [[0, 0], [80, 0], [80, 60], [0, 60]]).roi_size == (160, 120)
    assert len(computed) == 2
    with pytest.raises(UnknownNameError, match="known: orb, sift"):
        FeatureCache(tmp_path / "features", "surf")


def test_the_manifests_corners_cut_again_give_the_prepared_roi(prepared_synthetic):
    """prepare_data.py's own ROI image, and the ROI cut again from the photo by the manifest's corners (resized
    to the same size), show the same pixels; another photo's ROI does not."""
    from lateral.data.prepare import roi_corners

    corners = roi_corners(prepared_synthetic)
    records = [json.loads(line) for line in (prepared_synthetic / "manifest.jsonl").read_text().splitlines()]
    ok = [record for record in records if record["status"] == "ok"]
    assert sorted(corners) == sorted(record["source"] for record in ok)
    differences = []
    for record, other in zip(ok[:3], ok[-3:]):
        stored = cv2.imread(str(prepared_synthetic / record["roi_image"])).astype(float)
        photo = cv2.imread(str(prepared_synthetic.parent / "raw" / record["source"]))
        again = recut_roi(photo, corners[record["source"]], long_side=256)
        again = cv2.resize(again, stored.shape[1::-1], interpolation=cv2.INTER_AREA).astype(float)
        elsewhere = cv2.resize(recut_roi(cv2.imread(str(prepared_synthetic.parent / "raw" / other["source"])),
                                         corners[other["source"]], long_side=256), stored.shape[1::-1],
                               interpolation=cv2.INTER_AREA).astype(float)
        differences.append((np.abs(again - stored).mean(), np.abs(elsewhere - stored).mean()))
    assert all(same < 6 and same < other / 3 for same, other in differences), differences
