"""The review page of a gallery made with --verify draws the verified matches between the new photo's ROI and the
candidate's: checked on a pre-cropped photo and a copy of it shifted by a known translation."""

import re

import cv2
import numpy as np

from lateral.gallery import commands
from lateral.gallery.review.app import create_app
from lateral.gallery.review.workspace import ReviewWorkspace
from lateral.gallery.search import given_thresholds
from tests.gallery.test_verification import calibrated_run

SIZE = (400, 200)  # width, height: the tiny model's 2:1 ROI, so the photos pass as cropped flanks
SHIFT = np.array([12.0, 8.0])  # px: the new photo is the enrolled one moved right and down
ROI_LONG_SIDE = 320  # the matching resolution the gallery records


def textured_photo(seed):
    """Random blobs of every size: a pattern SIFT finds many distinct keypoints in."""
    rng = np.random.default_rng(seed)
    photo = np.full((SIZE[1], SIZE[0], 3), 128, np.uint8)
    for _ in range(300):
        centre = tuple(int(v) for v in rng.integers(0, SIZE))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.circle(photo, centre, int(rng.integers(2, 12)), colour, -1)
    return photo


def test_the_compare_view_draws_the_verified_matches_of_a_known_shift(iom_run, tmp_path):
    run = calibrated_run(iom_run, tmp_path)
    enrolled = textured_photo(0)
    shifted = cv2.warpAffine(enrolled, np.float32([[1, 0, SHIFT[0]], [0, 1, SHIFT[1]]]), SIZE,
                             borderMode=cv2.BORDER_REPLICATE)
    (tmp_path / "known").mkdir()
    (tmp_path / "new").mkdir()
    cv2.imwrite(str(tmp_path / "known" / "a.png"), enrolled)
    cv2.imwrite(str(tmp_path / "new" / "b.png"), shifted)
    gallery_path = tmp_path / "pond.lgal"
    commands.enroll(gallery_path, tmp_path / "known" / "a.png", model=run, fish="F1", session="s1", mode="cropped",
                    verify="sift")
    workspace = ReviewWorkspace(gallery_path, [tmp_path / "new"], given_thresholds(0.9, 0.4), mode="cropped")
    client = create_app(workspace, token="t").test_client()
    row = client.get("/api/queue").get_json()["rows"][0]
    lines = np.array(client.get(f"/api/photo/{row['id']}").get_json()["compare"]["lines"])
    assert len(lines) >= 10
    # A point (x, y) of the new photo is the enrolled photo's (x, y) - SHIFT: in ROI fractions, end = start - SHIFT / SIZE
    # (each whole photo is its ROI): every line within RANSAC's 6 px at the matching resolution, most within 1.
    pixels = ROI_LONG_SIDE / max(SIZE)
    error = np.linalg.norm((lines[:, 0] - SHIFT / SIZE - lines[:, 1]) * np.array(SIZE) * pixels, axis=1)
    assert error.max() < 6.0 and np.median(error) < 1.0
    html = client.get(f"/photo/{row['id']}").get_data(as_text=True)
    assert f'aria-label="{len(lines)} matched points"' in html
    drawn = re.findall(r'<line x1="([^"]+)" y1="([^"]+)" x2="([^"]+)" y2="([^"]+)"/>', html)
    ratio = workspace.thumbs.input_size[0] / workspace.thumbs.input_size[1]
    np.testing.assert_allclose(np.float64(drawn), np.column_stack([lines[:, 0, 0], lines[:, 0, 1] * ratio,
                                                                   1 + lines[:, 1, 0], lines[:, 1, 1] * ratio]))
