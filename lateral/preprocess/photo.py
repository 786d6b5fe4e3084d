"""One photo in, one ROI and its measurements out (or the reason it was rejected)."""

import cv2
import numpy as np

from lateral.preprocess import pose, quality
from lateral.preprocess.landmarks import find_landmarks
from lateral.preprocess.photo_io import read_colour_photo
from lateral.preprocess.rejection import PhotoRejected
from lateral.preprocess.roi import cut_roi, rectangle_corners, roi_rectangle
from lateral.preprocess.segment import segment_fish


def process_tent_photo(path, cfg, output_size):
    """Segment, normalise the pose, find landmarks, gate quality, cut the ROI.

    Returns ``(roi_bgr, measurements)``; raises PhotoRejected, with the quality
    measures taken so far in ``error.quality``.
    """
    measures = {}
    try:
        photo = read_colour_photo(path, cfg.min_image_side, cfg.max_image_pixels)
        segmentation = segment_fish(photo, cfg)
        measures["green_fraction"] = round(segmentation.green_fraction, 4)
        measures["solidity"] = round(quality.solidity(segmentation.contour), 4)
        work_gray = cv2.cvtColor(segmentation.work_image, cv2.COLOR_BGR2GRAY)
        fish = pose.normalise_pose(segmentation.mask, work_gray)
        measures["aspect"] = round(fish.aspect, 3)
        quality.check_mask(measures["solidity"], fish.aspect, cfg)
        landmarks = find_landmarks(fish.mask, fish.gray)
        rectangle = roi_rectangle(landmarks)
        scale = segmentation.scale
        source_to_normalised = fish.to_normalised * np.array([[scale, scale, 1.0], [scale, scale, 1.0]])
        roi, focus_view = cut_roi(photo, source_to_normalised, rectangle, scale, output_size)
        measures["focus"] = round(quality.focus_measure(focus_view), 2)
        quality.check_focus(measures["focus"], cfg)
    except PhotoRejected as rejection:
        rejection.quality = measures
        raise
    to_source = pose.invert(source_to_normalised)

    def in_source(points):
        return [[round(x, 2), round(y, 2)] for x, y in pose.apply(to_source, points)]

    turned = fish.angle + (180.0 if fish.upside_down else 0.0)
    return roi, {
        "roi": in_source(rectangle_corners(rectangle)),
        "eye": in_source([landmarks.eye])[0],
        "dorsal_fin_start": in_source([landmarks.dorsal_fin_start])[0],
        "belly": in_source([landmarks.belly])[0],
        "angle": round((turned + 180.0) % 360.0 - 180.0, 2),
        "flipped": fish.flipped,
        "flank": "right" if fish.flipped else "left",
        "quality": measures,
    }


def process_cropped_photo(path, cfg, output_size):
    """Pre-cropped mode: the photo is already the fish; resize it as it is."""
    measures = {}
    try:
        photo = read_colour_photo(path, cfg.min_image_side, cfg.max_image_pixels)
        height, width = output_size
        roi = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
        measures["focus"] = round(quality.focus_measure(roi), 2)
        quality.check_focus(measures["focus"], cfg)
    except PhotoRejected as rejection:
        rejection.quality = measures
        raise
    return roi, {
        "roi": _full_frame(photo),
        "eye": None,
        "dorsal_fin_start": None,
        "belly": None,
        "angle": 0.0,
        "flipped": False,
        "flank": "unknown",
        "quality": measures,
    }


def _full_frame(photo):
    height, width = photo.shape[:2]
    return [[0, 0], [width, 0], [width, height], [0, height]]
