"""The quality gate: is this photo good enough to identify a fish from?"""

import cv2

from lateral.preprocess.rejection import PhotoRejected


def focus_measure(image_bgr):
    """Variance of the Laplacian (Pech-Pacheco et al. 2000): low for blurred photos."""
    gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def solidity(contour):
    hull_area = cv2.contourArea(cv2.convexHull(contour))
    return float(cv2.contourArea(contour) / hull_area) if hull_area > 0 else 0.0


def check_mask(mask_solidity, aspect, cfg):
    if mask_solidity < cfg.min_solidity:
        raise PhotoRejected(
            "bad_mask_solidity",
            f"fish outline solidity {mask_solidity:.2f} < {cfg.min_solidity}: ragged or merged with another object",
        )
    if not cfg.min_aspect <= aspect <= cfg.max_aspect:
        raise PhotoRejected(
            "bad_mask_aspect",
            f"fish length/height {aspect:.2f} outside [{cfg.min_aspect}, {cfg.max_aspect}]: not a fish lying flat",
        )


def check_focus(focus, cfg):
    if focus < cfg.min_focus:
        raise PhotoRejected("blurry", f"focus measure {focus:.1f} < {cfg.min_focus}")
