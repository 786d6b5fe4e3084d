"""Two ROIs' local features in, one score out: matches that survive the ratio test, the mutual check and
geometric verification under a similarity transform of small rotation and scale change (the ROIs are
pose-normalised already: a large rotation or zoom is a chance fit).

The score is the number of RANSAC inliers (as HotSpotter and WildFusion's local matchers count them).
"""

import dataclasses

import cv2
import numpy as np

RATIO = 0.8  # Lowe's ratio test (Lowe 2004, sec. 7.1)
MIN_MATCHES = 4  # fewer tentative matches than this: no model is fitted, the score is 0


@dataclasses.dataclass(frozen=True)
class Geometry:
    """The constrained model: RANSAC reprojection threshold (ROI px), largest rotation (degrees) and
    largest scale change (a factor, either way)."""

    threshold: float = 6.0
    max_rotation: float = 20.0
    max_scale: float = 1.5


def _dissimilarities(descriptors_a, descriptors_b, norm):
    """[n, k], ordered as the distances: squared Euclidean (``cv2.NORM_L2``) or, for packed binary
    descriptors, Hamming (``cv2.NORM_HAMMING``). One matrix product either way, then in-place sums: OpenCV's
    brute-force matcher returns a Python object per match, and each temporary [500, 500] array costs as much as
    the product (bench/verify_gallery.py)."""
    if norm == cv2.NORM_HAMMING:
        descriptors_a, descriptors_b = (np.unpackbits(np.asarray(d, np.uint8), axis=1).astype(np.float32)
                                        for d in (descriptors_a, descriptors_b))
    a, b = np.asarray(descriptors_a, np.float32), np.asarray(descriptors_b, np.float32)
    dissimilarities = a @ b.T
    dissimilarities *= -2
    dissimilarities += np.einsum("ij,ij->i", a, a)[:, None]
    dissimilarities += np.einsum("ij,ij->i", b, b)[None, :]
    return dissimilarities


def tentative_matches(descriptors_a, descriptors_b, norm, ratio=RATIO):
    """[k, 2] index pairs (i in a, j in b): j is i's nearest neighbour by the ratio test and i is j's nearest
    neighbour (the mutual check)."""
    if len(descriptors_a) < 1 or len(descriptors_b) < 2:
        return np.zeros((0, 2), np.int64)
    dissimilarities = _dissimilarities(descriptors_a, descriptors_b, norm)
    rows = np.arange(len(dissimilarities))
    nearest = dissimilarities.argmin(axis=1)
    # The two smallest per row: the smallest, then (with it masked) the next; a tie gives the same value twice,
    # as a sort would.
    first = dissimilarities[rows, nearest]
    dissimilarities[rows, nearest] = np.inf
    two_nearest = np.maximum(np.stack([first, dissimilarities.min(axis=1)], axis=1), 0)
    dissimilarities[rows, nearest] = first
    if norm == cv2.NORM_L2:
        two_nearest = np.sqrt(two_nearest)
    candidates = np.flatnonzero(two_nearest[:, 0] < ratio * two_nearest[:, 1])
    # The mutual check, on the columns the unambiguous rows chose only.
    columns, column_of = np.unique(nearest[candidates], return_inverse=True)
    mutual = dissimilarities[:, columns].argmin(axis=0)[column_of] == candidates
    keep = candidates[mutual]
    return np.stack([keep, nearest[keep]], axis=1).astype(np.int64)


def inlier_mask(points_a, points_b, geometry=Geometry(), seed=0):
    """bool [k]: the RANSAC inliers of a similarity transform (cv2.estimateAffinePartial2D) taking ``points_a`` to
    ``points_b``; none when the fit fails or rotates or scales beyond ``geometry``'s limits."""
    none = np.zeros(len(points_a), bool)
    if len(points_a) < MIN_MATCHES:
        return none
    cv2.setRNGSeed(seed)  # RANSAC draws from OpenCV's generator: the same pair always scores the same
    transform, inliers = cv2.estimateAffinePartial2D(np.float32(points_a), np.float32(points_b), method=cv2.RANSAC,
                                                     ransacReprojThreshold=geometry.threshold, maxIters=2000,
                                                     confidence=0.995)
    if transform is None:
        return none
    scale = float(np.hypot(transform[0, 0], transform[1, 0]))
    rotation = float(np.degrees(np.arctan2(transform[1, 0], transform[0, 0])))
    if abs(rotation) > geometry.max_rotation or not 1 / geometry.max_scale <= scale <= geometry.max_scale:
        return none
    return inliers.ravel().astype(bool)


def inlier_count(points_a, points_b, geometry=Geometry(), seed=0):
    """How many of ``inlier_mask``: 0 when the fit fails or rotates or scales beyond ``geometry``'s limits."""
    return int(inlier_mask(points_a, points_b, geometry, seed).sum())


def verified_matches(features_a, features_b, norm, geometry=Geometry()):
    """(points in a [k, 2], points in b [k, 2]) of the verified matches of two ROIs' ``Features``."""
    pairs = tentative_matches(features_a.descriptors, features_b.descriptors, norm)
    points_a, points_b = features_a.points[pairs[:, 0]], features_b.points[pairs[:, 1]]
    inliers = inlier_mask(points_a, points_b, geometry)
    return points_a[inliers], points_b[inliers]


def local_score(features_a, features_b, norm, geometry=Geometry()):
    """The verified inlier count of two ROIs' ``Features``."""
    return len(verified_matches(features_a, features_b, norm, geometry)[0])
