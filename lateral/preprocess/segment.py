"""Green-screen segmentation: find the fish as the largest object inside the green.

Protocol of the original project: the photo is converted to HSV, green is the
background, and the fish is the largest non-background object inside it.
Runs on a reduced copy of the photo (long side ``work_size``) for speed.

A fixed HSV band cannot tell a greenish-yellow fish, or a faint translucent
fin tinting the tent, from the tent. So the band only seeds a model of this
photo's own tent colour: the chromaticity (each channel over the sum of the
three, blind to brightness: shading, folds, vignette) of the band's pixels,
averaged locally so that a colour cast changing across the photo is
followed. A pixel is tent when its chromaticity lies within
``TENT_DISTANCE`` typical deviations of the tent's around it (chroma keying
against a measured background, as in Smith & Blinn 1996, "Blue screen
matting"; chromaticity as in Gevers & Smeulders 1999).
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
# A pixel is tent within this many typical tent deviations (the median
# distance of the tent's pixels from their local mean chromaticity)...
TENT_DISTANCE = 3.0
# ... with the deviation taken at least this large (chromaticity units).
MIN_TENT_DEVIATION = 0.002
# Band pixels this far (chromaticity) from the band's median colour do not
# enter the tent's model: a greenish fish inside the band is not tent.
SEED_DISTANCE = 0.08
# JPEG's halved colour resolution and the lens spread an object's colour
# about this many work pixels into the tent around it.
FRINGE = 3
# The tent's mean colour is followed over this share of the photo's long side (Gaussian sigma).
TENT_SMOOTHING = 0.15
# The tent model is fitted on every STATS_STEP-th pixel each way, its mean
# colour computed at MODEL_STEP work pixels per value (it is smooth).
STATS_STEP = 2
MODEL_STEP = 8
# Medians of the tent's colour and deviation are taken over about this many of its pixels.
MEDIAN_SAMPLES = 4096


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


def chromaticity(image_bgr):
    """Each BGR channel over the sum of the three (float32): unchanged by a change of brightness."""
    values = image_bgr.astype(np.float32)
    values += 1.0  # no division by zero on black
    total = cv2.transform(values, np.ones((1, 3), np.float32))
    return cv2.divide(values, cv2.merge([total] * 3))


def tent_mask(image_bgr, band):
    """Pixels of the tent's own colour (uint8 0/255), seeded by the HSV ``band`` mask.

    The seed is the band shrunk by two pixels (no mixed edge pixels), less
    its pixels far from the band's median colour. The tent's local mean
    chromaticity is a normalised convolution of the seed (computed coarse,
    the cast being smooth); the typical deviation is the seed's median
    distance from it, measured after one refinement of the seed. The model
    is fitted on every STATS_STEP-th pixel each way; every pixel is then
    classified.
    """
    colour = chromaticity(cv2.medianBlur(image_bgr, 3))  # sensor and JPEG noise; keeps edges
    sample = (slice(None, None, STATS_STEP),) * 2
    sampled = np.ascontiguousarray(colour[sample])
    seed = (cv2.erode(band, np.ones((5, 5), np.uint8)) > 0)[sample]
    if not seed.any():
        return np.zeros_like(band)
    median = _thinned_median(sampled[seed])
    seed &= _squared_distance(sampled, (*(float(value) for value in median), 0.0)) < SEED_DISTANCE**2
    if not seed.any():
        return np.zeros_like(band)
    for _ in range(2):
        squared = _squared_distance(sampled, _local_mean(sampled, seed, sampled.shape[:2]))
        deviation = max(float(np.sqrt(_thinned_median(squared[seed]))), MIN_TENT_DEVIATION)
        seed &= squared < (TENT_DISTANCE * deviation) ** 2
    squared = _squared_distance(colour, _local_mean(sampled, seed, colour.shape[:2]))
    return np.where(squared < (TENT_DISTANCE * deviation) ** 2, np.uint8(255), np.uint8(0))


def _thinned_median(values):
    """Median along the first axis of at most about MEDIAN_SAMPLES evenly spaced rows of ``values``."""
    return np.median(values[:: max(1, len(values) // MEDIAN_SAMPLES)], axis=0)


def _squared_distance(colour, reference):
    """Squared Euclidean distance of each pixel's colour from ``reference`` (a cv2 scalar or an image)."""
    difference = cv2.subtract(colour, reference)
    return cv2.transform(cv2.multiply(difference, difference), np.ones((1, 3), np.float32))


def _local_mean(colour, seed, shape):
    """Mean of ``colour`` over ``seed`` pixels around each pixel (Gaussian weights), computed coarse,
    returned at ``shape`` (height, width)."""
    height, width = seed.shape
    step = max(1, MODEL_STEP // STATS_STEP)
    coarse = (max(1, width // step), max(1, height // step))
    weights = cv2.resize(seed.astype(np.float32), coarse, interpolation=cv2.INTER_AREA)
    sums = cv2.resize(colour * seed[..., None], coarse, interpolation=cv2.INTER_AREA)
    sigma = TENT_SMOOTHING * max(coarse)
    mean = cv2.GaussianBlur(sums, (0, 0), sigma) / np.maximum(cv2.GaussianBlur(weights, (0, 0), sigma), 1e-6)[..., None]
    return cv2.resize(mean, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def segment_fish(image_bgr, cfg):
    """Return the fish's Segmentation or raise PhotoRejected with the reason."""
    height, width = image_bgr.shape[:2]
    scale = min(1.0, cfg.work_size / max(height, width))
    work = image_bgr
    if scale < 1.0:
        work = cv2.resize(image_bgr, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    band = green_mask(work, cfg.green_hue, cfg.green_min_saturation, cfg.green_min_value)
    green_fraction = float(np.count_nonzero(band)) / band.size
    if green_fraction < cfg.min_green_fraction:
        raise PhotoRejected(
            "no_green_screen",
            f"{green_fraction:.0%} of the photo is tent green; at least {cfg.min_green_fraction:.0%} expected",
        )
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    # Off the tent's colour, less the fringe where the fish's colour spreads
    # into the tent; the band's own objects keep their outline as it is.
    fringe = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * FRINGE + 1,) * 2)
    off_tent = cv2.erode(cv2.bitwise_not(tent_mask(work, band)), fringe)
    objects = cv2.morphologyEx(cv2.bitwise_or(cv2.bitwise_not(band), off_tent), cv2.MORPH_OPEN, kernel)
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
