"""The lateral skin ROI of the original protocol, and cutting it from the photo.

Horizontally from the eye (EP) to the dorsal fin's beginning (UP); vertically
from ``top + h/20`` to ``top + h/2``, where ``top`` is the top body outline at
UP and ``h`` the vertical distance from there down to the belly point (BP).
"""

import cv2
import numpy as np

from lateral.preprocess.rejection import PhotoRejected


def roi_rectangle(landmarks):
    """(left, top, right, bottom) of the ROI in normalised-pose pixels."""
    left, right = landmarks.eye[0], landmarks.dorsal_fin_start[0]
    outline_top = landmarks.dorsal_fin_start[1]
    depth = landmarks.belly[1] - outline_top
    if right - left < 0.1 * landmarks.body_length or depth < 0.05 * landmarks.body_length:
        raise PhotoRejected(
            "landmarks_implausible",
            f"eye to dorsal fin {right - left:.0f} px, body depth {depth:.0f} px "
            f"for a body {landmarks.body_length:.0f} px long",
        )
    return left, outline_top + depth / 20, right, outline_top + depth / 2


def rectangle_corners(rectangle):
    """Corners top-left, top-right, bottom-right, bottom-left."""
    left, top, right, bottom = rectangle
    return np.array([[left, top], [right, top], [right, bottom], [left, bottom]], np.float64)


def cut_roi(photo, source_to_normalised, rectangle, pixels_per_source_pixel, output_size):
    """Cut the ROI at the photo's full resolution, then resize to ``output_size`` (h, w).

    ``source_to_normalised`` maps source pixels to normalised-pose pixels, which
    are ``pixels_per_source_pixel`` times smaller than source pixels. Returns
    the resized ROI and the smaller of it and the full-resolution cut: the one
    to judge the photo's focus on (enlarging a small fish's ROI blurs it, the
    camera did not).
    """
    left, top, right, bottom = rectangle
    to_roi = source_to_normalised.copy()
    to_roi[:, 2] -= (left, top)
    to_roi /= pixels_per_source_pixel
    full_size = (max(1, round((right - left) / pixels_per_source_pixel)), max(1, round((bottom - top) / pixels_per_source_pixel)))
    crop = cv2.warpAffine(photo, to_roi, full_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    height, width = output_size
    shrinking = width < full_size[0] and height < full_size[1]
    roi = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return roi, (roi if width * height <= full_size[0] * full_size[1] else crop)
