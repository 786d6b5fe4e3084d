"""Green-screen segmentation: find the fish as the largest object inside the green.

Protocol of the original project: the photo is converted to HSV, green is the
background, and the fish is the largest non-background object inside it.
Runs on a reduced copy of the photo (long side ``work_size``) for speed.
"""

import dataclasses

import cv2
import numpy as np

from lateral.preprocess.rejection import PhotoRejected

# Components smaller than this fraction of the photo are specks, not objects.
SPECK_FRACTION = 0.001
# A non-green region touching the border along most of an edge is the tent's
# edge or the table, not a fish cut off by the frame.
EDGE_STRIP_SPAN = 0.9


@dataclasses.dataclass(frozen=True)
class Segmentation:
    scale: float  # work pixels per source pixel
    work_image: np.ndarray  # BGR photo at work scale
    mask: np.ndarray  # uint8 0/255 fish mask at work scale, holes filled
    contour: np.ndarray  # the fish's outer contour, work pixels
    green_fraction: float


def green_mask(image_bgr, hue_range, min_saturation, min_value):
    hsv = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2HSV)
    low = np.array([hue_range[0], min_saturation, min_value], np.uint8)
    high = np.array([hue_range[1], 255, 255], np.uint8)
    return cv2.inRange(hsv, low, high)


def segment_fish(image_bgr, cfg):
    """Return the fish's Segmentation or raise PhotoRejected with the reason."""
    height, width = image_bgr.shape[:2]
    scale = min(1.0, cfg.work_size / max(height, width))
    work = image_bgr
    if scale < 1.0:
        work = cv2.resize(image_bgr, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    background = green_mask(work, cfg.green_hue, cfg.green_min_saturation, cfg.green_min_value)
    green_fraction = float(np.count_nonzero(background)) / background.size
    if green_fraction < cfg.min_green_fraction:
        raise PhotoRejected(
            "no_green_screen",
            f"{green_fraction:.0%} of the photo is tent green; at least {cfg.min_green_fraction:.0%} expected",
        )
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    objects = cv2.morphologyEx(cv2.bitwise_not(background), cv2.MORPH_OPEN, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(objects, connectivity=8)
    fish_label = _choose_fish(stats[1:], work.shape[:2], cfg.min_fish_fraction) + 1
    component = np.where(labels == fish_label, np.uint8(255), np.uint8(0))
    contours, _ = cv2.findContours(component, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    mask = np.zeros_like(component)
    # Filling the outer contour closes holes: bright scales or green-tinged
    # spots inside the fish are fish, not background.
    cv2.drawContours(mask, [contour], -1, 255, thickness=cv2.FILLED)
    return Segmentation(scale, work, mask, contour, green_fraction)


def _choose_fish(stats, shape, min_fish_fraction):
    """Index (into stats) of the fish component; reject when there is none."""
    height, width = shape
    image_area = height * width
    left, top, box_width, box_height, area = (stats[:, i] for i in range(5))
    touches_border = (left == 0) | (top == 0) | (left + box_width >= width) | (top + box_height >= height)
    spans_edge = (box_width >= EDGE_STRIP_SPAN * width) | (box_height >= EDGE_STRIP_SPAN * height)
    big_enough = area >= SPECK_FRACTION * image_area
    inside = np.flatnonzero(~touches_border & big_enough)
    cut = np.flatnonzero(touches_border & ~spans_edge & (area >= min_fish_fraction * image_area))
    best_inside = inside[np.argmax(area[inside])] if inside.size else None
    if cut.size and (best_inside is None or area[cut].max() > area[best_inside]):
        raise PhotoRejected("fish_cut_by_border", "the largest object touches the photo's edge")
    if best_inside is None:
        raise PhotoRejected("no_fish", "nothing but specks inside the green background")
    fraction = area[best_inside] / image_area
    if fraction < min_fish_fraction:
        raise PhotoRejected(
            "fish_too_small", f"the largest object covers {fraction:.2%} of the photo; {min_fish_fraction:.2%} needed"
        )
    return best_inside
