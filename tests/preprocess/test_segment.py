"""The tent colour model on a drawn scene: a shaded, colour-cast tent, a faint fin's tint and a greenish disc."""

import cv2
import numpy as np

from lateral.config import PreprocessConfig
from lateral.preprocess.segment import FRINGE, green_mask, tent_mask

CONFIG = PreprocessConfig()
WIDTH, HEIGHT = 320, 240
FAINT_CENTRE, GREENISH_CENTRE, RADIUS = (80, 120), (220, 120), 25


def scene():
    """Tent green (OpenCV hue 60) shaded from value 110 to 200 across, warmer to the right (log gain of
    red over blue -0.08..0.08), grey grain; a brown tint of 25% opacity (a faint fin) and a greenish-yellow
    disc (hue 37, inside the default HSV band)."""
    rng = np.random.default_rng(0)
    x = np.linspace(-0.5, 0.5, WIDTH, dtype=np.float32)[None, :]
    hsv = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    hsv[..., 0], hsv[..., 1] = 60, 150
    hsv[..., 2] = np.round(155 + 90 * x).astype(np.uint8)
    tent = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR).astype(np.float32)
    warmth = 0.16 * x
    tent[..., 0] *= np.exp(-warmth)
    tent[..., 2] *= np.exp(warmth)
    rows, columns = np.mgrid[:HEIGHT, :WIDTH]
    faint = np.hypot(columns - FAINT_CENTRE[0], rows - FAINT_CENTRE[1]) <= RADIUS
    tent[faint] = 0.75 * tent[faint] + 0.25 * np.array([50, 90, 120], np.float32)
    greenish = np.hypot(columns - GREENISH_CENTRE[0], rows - GREENISH_CENTRE[1]) <= RADIUS
    tent[greenish] = cv2.cvtColor(np.uint8([[[37, 120, 150]]]), cv2.COLOR_HSV2BGR)[0, 0]
    tent += rng.normal(0, 3, (HEIGHT, WIDTH, 1)).astype(np.float32)
    return np.clip(np.round(tent), 0, 255).astype(np.uint8), faint, greenish


def test_tent_model_keeps_faint_tints_and_greenish_objects_off_the_tent():
    image, faint, greenish = scene()
    band = green_mask(image, CONFIG.green_hue, CONFIG.green_min_saturation, CONFIG.green_min_value)
    # The HSV band alone takes both for tent: the case the tent model is for.
    assert band[faint].mean() / 255 > 0.95 and band[greenish].mean() / 255 > 0.95
    tent = tent_mask(image, band) > 0
    inner = cv2.erode((faint | greenish).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert tent[inner & faint].mean() < 0.05 and tent[inner & greenish].mean() < 0.05
    away = cv2.dilate((faint | greenish).astype(np.uint8), np.ones((17, 17), np.uint8)) == 0
    # Shading and the cast across the photo stay tent: but for scattered noisy pixels, which
    # do not survive the shrinking by the colour fringe that the segmentation applies.
    assert tent[away].mean() > 0.97
    fringe = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * FRINGE + 1,) * 2)
    assert not cv2.erode(np.uint8(~tent), fringe)[away].any()
