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
    # Centre-surround response: negative where a blob is darker than its
    # surroundings, which a dark back along the outline is not.
    pad = int(4 * radius)
    x0, x1 = max(first - pad, 0), min(last + pad, mask.shape[1])
    window = gray[:, x0:x1].astype(np.float32)
    centre = cv2.GaussianBlur(window, (0, 0), 0.7 * radius)
    surround = cv2.GaussianBlur(window, (0, 0), 2.5 * radius)
    response = centre - surround
    inner = cv2.erode(mask[:, x0:x1], cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)), iterations=max(1, round(radius)))
    rows = np.arange(mask.shape[0])[:, None]
    mid_line = np.interp(np.arange(x0, x1), columns, (top + bottom) / 2)[None, :]
    candidates = (inner > 0) & (rows <= mid_line)
    candidates[:, : first - x0] = False
    candidates[:, last - x0 :] = False
    if not candidates.any():
        raise PhotoRejected("landmarks_not_found", "no room for an eye in the head region")
    response = np.where(candidates, response, np.inf)
    row, column = np.unravel_index(np.argmin(response), response.shape)
    return float(column + x0), float(row)


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
