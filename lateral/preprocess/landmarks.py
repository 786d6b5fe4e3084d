"""Landmarks of a fish in the normalised pose (head left, dorsal up).

EP, the eye: the darkest compact blob in the upper head region.
UP, the dorsal fin's beginning: walking forward from the fin's peak along the
top outline, where the fin's steep leading edge meets the gently sloping back.
BP, the belly point: the lowest point of the body outline before the tail.
"""

import dataclasses

import cv2
import numpy as np

from lateral.preprocess.pose import column_profiles
from lateral.preprocess.rejection import PhotoRejected

# Fractions of the body length (snout to caudal peduncle).
EYE_SEARCH = (0.02, 0.2)
EYE_RADIUS = 0.03
# A blob at least this fraction as dark (centre minus surround) as the darkest is an eye candidate.
EYE_STRENGTH = 0.6
FIN_SEARCH_END = 0.85
# Slopes of the top outline (rows per column): a fin's leading edge is steeper
# than STEEP, the back in front of it flatter than GENTLE.
STEEP = 0.8
GENTLE = 0.35


@dataclasses.dataclass(frozen=True)
class Landmarks:
    eye: tuple[float, float]
    dorsal_fin_start: tuple[float, float]
    belly: tuple[float, float]
    body_length: float


def find_landmarks(mask, gray):
    columns, top, bottom = column_profiles(mask)
    if columns.size < 20:
        raise PhotoRejected("landmarks_not_found", "the fish is too narrow to measure")
    depth = bottom - top + 1
    total = columns.size
    # The caudal peduncle is the narrowest point of the rear part; behind it
    # is tail fin (when the segmentation kept it at all).
    rear = slice(int(0.6 * total), total - max(1, int(0.02 * total)))
    body_end = rear.start + int(np.argmin(depth[rear]))
    body_length = float(body_end)

    eye = _find_eye(mask, gray, columns, top, bottom, body_length)
    fin_index = _find_fin_start(top, eye[0] - columns[0], body_end, body_length)
    belly_index = _lowest_point(bottom[: body_end + 1])
    return Landmarks(
        eye=eye,
        dorsal_fin_start=(float(columns[fin_index]), float(top[fin_index])),
        belly=(float(columns[belly_index]), float(bottom[belly_index])),
        body_length=body_length,
    )


def _find_eye(mask, gray, columns, top, bottom, body_length):
    radius = max(1.0, EYE_RADIUS * body_length)
    first = int(columns[0] + EYE_SEARCH[0] * body_length)
    last = int(columns[0] + EYE_SEARCH[1] * body_length) + 1
    # Grey levels blurred over fish pixels only (the green outside does not count).
    pad = int(4 * radius)
    x0, x1 = max(first - pad, 0), min(last + pad, mask.shape[1])
    window = gray[:, x0:x1].astype(np.float32)
    inside = (mask[:, x0:x1] > 0).astype(np.float32)
    centre = _masked_blur(window, inside, 0.35 * radius)
    # Darker than every point of a ring around it: an eye, not the edge
    # between a dark back and a pale belly (darker than only one side).
    ring_radius = max(2, round(0.8 * radius))
    ring = np.zeros((2 * ring_radius + 1,) * 2, np.uint8)
    cv2.circle(ring, (ring_radius, ring_radius), ring_radius, 1, thickness=max(1, round(0.25 * radius)))
    response = centre - cv2.erode(centre, ring)
    # The outline's edge pixels mix fish and green; the eye sits well inside.
    inner = cv2.distanceTransform(mask[:, x0:x1], cv2.DIST_L2, 3) >= radius
    rows = np.arange(mask.shape[0])[:, None]
    mid_line = np.interp(np.arange(x0, x1), columns, (top + bottom) / 2)[None, :]
    candidates = inner & (rows <= mid_line)
    candidates[:, : first - x0] = False
    candidates[:, last - x0 :] = False
    if not candidates.any():
        raise PhotoRejected("landmarks_not_found", "no room for an eye in the head region")
    # Spots can be as dark as the eye; the eye is the foremost strong dark
    # blob, so take the most anterior local minimum among the strong ones.
    response = np.where(candidates, response, np.inf)
    strongest = response.min()
    kernel = np.ones((2 * round(radius) + 1,) * 2, np.uint8)
    local_minima = (response <= -cv2.dilate(-np.where(np.isfinite(response), response, 1e9).astype(np.float32), kernel))
    strong = local_minima & (response <= EYE_STRENGTH * strongest) & np.isfinite(response)
    rows, cols = np.nonzero(strong)
    if cols.size == 0:
        row, column = np.unravel_index(np.argmin(response), response.shape)
    else:
        foremost = np.argmin(cols)
        row, column = rows[foremost], cols[foremost]
    return float(column + x0), float(row)


def _masked_blur(image, weights, sigma):
    """Gaussian blur of ``image`` over the pixels where ``weights`` is 1 (normalised convolution)."""
    blurred = cv2.GaussianBlur(image * weights, (0, 0), sigma)
    return blurred / np.maximum(cv2.GaussianBlur(weights, (0, 0), sigma), 1e-3)


def _find_fin_start(top, eye_offset, body_end, body_length):
    top = np.convolve(np.pad(top, 2, mode="edge"), np.ones(5) / 5, mode="valid")
    search_start = int(eye_offset + 0.1 * body_length)
    search_end = int(FIN_SEARCH_END * body_length)
    if search_end - search_start < 5:
        raise PhotoRejected("landmarks_not_found", "the body is too short to hold a dorsal fin")
    peak = search_start + int(np.argmin(top[search_start:search_end]))
    step = max(2, round(0.01 * body_length))
    seen_steep = False
    for x in range(peak, search_start + step - 1, -1):
        slope = (top[x - step] - top[x]) / step
        if slope > STEEP:
            seen_steep = True
        elif seen_steep and slope < GENTLE:
            return x
    raise PhotoRejected("landmarks_not_found", "no dorsal fin found on the top outline")


def _lowest_point(bottom):
    lowest = np.flatnonzero(bottom >= bottom.max() - 0.5)
    return int(lowest[lowest.size // 2])
