"""Pose normalisation: rotate the fish to horizontal, then to head left, dorsal up.

The rotation comes from the ellipse with the same second moments as the fish
mask (less sensitive to ragged fin edges than a least-squares fit to the
contour). A fish whose dorsal fin points down is turned by 180 degrees (a
rotation: the visible flank is unchanged); a fish whose head then points right
is mirrored, and the photo shows its right flank.
"""

import dataclasses
import math

import cv2
import numpy as np

CANVAS_MARGIN = 4


@dataclasses.dataclass(frozen=True)
class NormalisedFish:
    to_normalised: np.ndarray  # 2x3 affine, work pixels -> normalised canvas pixels
    mask: np.ndarray  # uint8 0/255, head left, dorsal up
    gray: np.ndarray  # grey levels of the photo in the same pose
    angle: float  # degrees the major axis was rotated by to become horizontal
    upside_down: bool  # the dorsal side faced down before normalising
    flipped: bool  # mirrored to put the head left: the right flank is shown
    aspect: float  # major / minor axis of the equivalent ellipse


def column_profiles(mask):
    """Per column with fish pixels: x, the topmost and the bottommost fish row."""
    present = mask > 0
    columns = np.flatnonzero(present.any(axis=0))
    top = present[:, columns].argmax(axis=0)
    bottom = mask.shape[0] - 1 - present[::-1, columns].argmax(axis=0)
    return columns, top.astype(np.float64), bottom.astype(np.float64)


def normalise_pose(mask, work_gray):
    _, _, aspect = _equivalent_ellipse(cv2.moments(mask, binaryImage=True))
    # The axis from moments weighted by the distance to the outline: the
    # thick body sets it, thin fins (a translucent tail the mask may or may
    # not hold) hardly move it.
    depth = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    centre, axis_angle, _ = _equivalent_ellipse(cv2.moments(depth * depth))

    # getRotationMatrix2D turns counter-clockwise on screen (y down) for a
    # positive angle; the major axis lies at +axis_angle clockwise on screen.
    rotation = cv2.getRotationMatrix2D(centre, axis_angle, 1.0)
    rotation = _fit_canvas(rotation, mask)
    canvas = _canvas_size(rotation, mask)
    upright = cv2.warpAffine(mask, rotation, canvas, flags=cv2.INTER_NEAREST)
    upside_down = not dorsal_side_is_up(upright)
    if upside_down:
        rotation = _compose(_turn_half(canvas), rotation)
        upright = cv2.rotate(upright, cv2.ROTATE_180)
    flipped = not head_is_left(upright)
    if flipped:
        rotation = _compose(_mirror(canvas), rotation)
        upright = cv2.flip(upright, 1)
    gray = cv2.warpAffine(work_gray, rotation, canvas, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return NormalisedFish(rotation, upright, gray, axis_angle, upside_down, flipped, aspect)


def _equivalent_ellipse(moments):
    """Centre, major axis angle (degrees, clockwise on screen) and aspect of the ellipse with these moments."""
    centre = (moments["m10"] / moments["m00"], moments["m01"] / moments["m00"])
    mu20, mu02, mu11 = (moments[k] / moments["m00"] for k in ("mu20", "mu02", "mu11"))
    axis_angle = 0.5 * math.degrees(math.atan2(2 * mu11, mu20 - mu02))
    spread = math.hypot((mu20 - mu02) / 2, mu11)
    major, minor = (mu20 + mu02) / 2 + spread, max((mu20 + mu02) / 2 - spread, 1e-9)
    return centre, axis_angle, math.sqrt(major / minor)


def dorsal_side_is_up(mask):
    """The dorsal fin stands out from the body's outline; the belly is smooth.

    Over the middle of the fish, compare how far each side's outline peaks
    beyond its typical distance from the long axis (the mask's centre row,
    the mask being rotated to horizontal).
    """
    columns, top, bottom = column_profiles(mask)
    start, stop = int(0.2 * columns.size), int(0.8 * columns.size)
    axis_row = np.nonzero(mask)[0].mean()
    upper = axis_row - top[start:stop]
    lower = bottom[start:stop] - axis_row
    upper_bump = upper.max() - np.median(upper)
    lower_bump = lower.max() - np.median(lower)
    return upper_bump >= lower_bump


def head_is_left(mask):
    """The tail end narrows to the caudal peduncle; the head end stays deep."""
    columns, top, bottom = column_profiles(mask)
    depth = bottom - top + 1
    length = columns.size
    near, far = int(0.1 * length), max(int(0.4 * length), int(0.1 * length) + 1)
    left_narrowest = depth[near:far].min()
    right_narrowest = depth[length - far : length - near].min()
    return left_narrowest >= right_narrowest


def _fit_canvas(rotation, mask):
    """Shift the rotation so the whole rotated fish lands inside a tight canvas."""
    points = cv2.findNonZero(mask).reshape(-1, 2).astype(np.float64)
    moved = points @ rotation[:, :2].T + rotation[:, 2]
    shifted = rotation.copy()
    shifted[:, 2] += CANVAS_MARGIN - moved.min(axis=0)
    return shifted


def _canvas_size(rotation, mask):
    points = cv2.findNonZero(mask).reshape(-1, 2).astype(np.float64)
    moved = points @ rotation[:, :2].T + rotation[:, 2]
    width, height = np.ceil(moved.max(axis=0)).astype(int) + 1 + CANVAS_MARGIN
    return int(width), int(height)


def _turn_half(canvas):
    width, height = canvas
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, -1.0, height - 1.0]])


def _mirror(canvas):
    width, _ = canvas
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])


def _compose(outer, inner):
    """The affine map ``outer(inner(p))``."""
    return outer @ np.vstack([inner, [0.0, 0.0, 1.0]])


def invert(affine):
    return cv2.invertAffineTransform(affine)


def apply(affine, points):
    points = np.asarray(points, np.float64).reshape(-1, 2)
    return points @ affine[:, :2].T + affine[:, 2]
