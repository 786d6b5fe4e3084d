"""Local features by name: keypoint positions and descriptors of a contrast-normalised ROI.

``sift``: OpenCV SIFT (Lowe, "Distinctive image features from scale-invariant
keypoints", IJCV 2004) with RootSIFT descriptors (Arandjelović & Zisserman,
"Three things everyone should know to improve object retrieval", CVPR 2012:
L1-normalise, then take the element-wise square root, so that Euclidean
distance compares as the Hellinger kernel). ``orb``: OpenCV ORB (Rublee et
al., ICCV 2011), binary descriptors compared by Hamming distance; the fast one.
Both run on the grey ROI after CLAHE (Zuiderveld, "Contrast limited adaptive
histogram equalization", Graphics Gems IV, 1994), which evens out light
across the flank.
"""

import dataclasses

import cv2
import numpy as np

from lateral.registry import Registry

MATCHERS = Registry("matcher")
MAX_KEYPOINTS = 500  # per ROI: a pair costs one [500, 500] distance matrix (docs/matching.md: timings)


@dataclasses.dataclass(frozen=True)
class Features:
    points: np.ndarray  # float32 [n, 2], keypoint (x, y) in ROI pixels
    descriptors: np.ndarray  # [n, d]: float32 (sift) or uint8 bits (orb)
    roi_size: tuple = None  # (width, height) of the ROI the points lie in, when known


@dataclasses.dataclass(frozen=True)
class LocalMatcher:
    extract: object  # BGR ROI -> Features
    norm: int  # cv2.NORM_L2 or cv2.NORM_HAMMING, the descriptors' distance
    create: object  # () -> the OpenCV detector (tests check it exists in the installed OpenCV)


def normalise_contrast(roi_bgr, clip_limit=2.0, tiles=8):
    """Grey ROI with CLAHE applied."""
    grey = cv2.cvtColor(roi_bgr, cv2.COLOR_BGR2GRAY) if roi_bgr.ndim == 3 else roi_bgr
    return cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles)).apply(grey)


def root_sift(descriptors, eps=1e-7):
    """RootSIFT: each row L1-normalised, then square-rooted (Arandjelović & Zisserman 2012)."""
    descriptors = np.asarray(descriptors, np.float32)
    return np.sqrt(descriptors / (np.abs(descriptors).sum(axis=1, keepdims=True) + eps))


def _features(keypoints, descriptors, dtype, width):
    if descriptors is None or not keypoints:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, width), dtype))
    return Features(np.float32([keypoint.pt for keypoint in keypoints]), descriptors.astype(dtype))


def _sift():
    return cv2.SIFT_create(nfeatures=MAX_KEYPOINTS)


def _orb():
    return cv2.ORB_create(nfeatures=MAX_KEYPOINTS)


def _extract_sift(roi_bgr):
    keypoints, descriptors = _sift().detectAndCompute(normalise_contrast(roi_bgr), None)
    features = _features(keypoints, descriptors, np.float32, 128)
    return dataclasses.replace(features, descriptors=root_sift(features.descriptors))


def _extract_orb(roi_bgr):
    keypoints, descriptors = _orb().detectAndCompute(normalise_contrast(roi_bgr), None)
    return _features(keypoints, descriptors, np.uint8, 32)


MATCHERS.register("sift")(LocalMatcher(_extract_sift, cv2.NORM_L2, _sift))
MATCHERS.register("orb")(LocalMatcher(_extract_orb, cv2.NORM_HAMMING, _orb))
