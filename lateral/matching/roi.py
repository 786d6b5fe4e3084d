"""The ROI cut again from the source photo, at the resolution local matching needs.

The manifest of ``prepare_data.py`` holds each ROI as its four corners in the
source photo (top-left, top-right, bottom-right, bottom-left of the
pose-normalised rectangle; a flipped fish's corners come mirrored, so the cut
is mirrored back). A pre-cropped photo's corners are the whole frame.
"""

import cv2
import numpy as np

DEFAULT_LONG_SIDE = 320  # px: the nyala stripes and guppy spots need more than the embedding's 128 px


def full_frame(photo):
    """The corners of the whole photo (a pre-cropped photo's ROI)."""
    height, width = photo.shape[:2]
    return [[0, 0], [width, 0], [width, height], [0, height]]


def recut_roi(photo, corners, long_side=DEFAULT_LONG_SIDE):
    """The quadrilateral ``corners`` of ``photo`` as an upright image whose longer side is ``long_side`` px.

    The ROI's own aspect (its top edge's length against its left edge's) is
    kept; the affine map takes three corners to the output's corners.
    """
    corners = np.asarray(corners, np.float64)
    top_left, top_right, _, bottom_left = corners
    width, height = np.linalg.norm(top_right - top_left), np.linalg.norm(bottom_left - top_left)
    scale = long_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    target = np.array([[0, 0], [size[0], 0], [0, size[1]]], np.float32)
    transform = cv2.getAffineTransform(np.float32([top_left, top_right, bottom_left]), target)
    shrinking = scale < 1
    if shrinking:  # blur first, as INTER_AREA would: warpAffine samples, it does not average
        photo = cv2.GaussianBlur(photo, (0, 0), sigmaX=0.5 / scale)
    return cv2.warpAffine(photo, transform, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
