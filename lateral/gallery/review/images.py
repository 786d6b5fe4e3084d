"""What the review page shows of a photo: its ROI and the source photo with the ROI and landmarks drawn, cached.

The gallery stores no pixels, so both are cut again from the recorded source
photo with the gallery's own preprocessing (the run's ``preprocess`` settings
and the photo's recorded mode), the ROI at a display size with the model's
aspect ratio. They are cached as files in ``G.lgal.thumbs/``, named by the
photo's SHA-256; a source photo that is gone or has changed since it was
recorded raises SourceMissing (the page says so; nothing is cut from another
file).
"""

import dataclasses
from pathlib import Path

import cv2
import numpy as np

from lateral.atomic_write import write_atomically
from lateral.gallery.encoder import file_sha256
from lateral.preprocess.photo import process_cropped_photo, process_tent_photo
from lateral.preprocess.photo_io import read_colour_photo
from lateral.preprocess.rejection import PhotoRejected

ROI_LONG_SIDE = 800  # pixels of the displayed ROI's longer side: sharp when zoomed to a screen's width
PHOTO_LONG_SIDE = 1100  # pixels of the displayed source photo's longer side
VIEWS = "v2"  # in the cached files' names: a change of what is drawn or of the sizes leaves old files unused
KINDS = {"roi": f".{VIEWS}.roi.png", "photo": f".{VIEWS}.photo.jpg"}
# BGR: an amber ROI outline, magenta landmarks, white labels outlined in black: legible on a green tent or a dark fish
ROI_COLOUR, LANDMARK_COLOUR, LABEL_COLOUR, OUTLINE_COLOUR = (60, 220, 255), (200, 40, 230), (255, 255, 255), (0, 0, 0)


class SourceMissing(Exception):
    """The recorded source photo of a template or queued photo is gone, changed or unreadable."""


def thumbs_folder(gallery_path):
    gallery_path = Path(gallery_path)
    return gallery_path.with_name(gallery_path.name + ".thumbs")


def display_size(input_size, long_side=ROI_LONG_SIDE):
    """(height, width) with the model input's aspect ratio and ``long_side`` pixels on its longer side."""
    height, width = input_size
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def cut_views(source, mode, preprocess, input_size):
    """(ROI PNG bytes, source photo JPEG bytes with the ROI outline and landmarks drawn) of one photo."""
    process = process_cropped_photo if mode == "cropped" else process_tent_photo
    # The same geometry at more pixels; the focus gate (measured at the model's size, passed at enrolment) is off.
    roi, measurements = process(source, dataclasses.replace(preprocess, min_focus=0.0), display_size(input_size))
    photo = read_colour_photo(source, preprocess.min_image_side, preprocess.max_image_pixels)
    scale = min(1.0, PHOTO_LONG_SIDE / max(photo.shape[:2]))
    if scale < 1.0:
        photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    thickness = max(2, round(max(photo.shape[:2]) / 300))
    corners = np.round(np.asarray(measurements["roi"], np.float64) * scale).astype(np.int32)
    cv2.polylines(photo, [corners], True, ROI_COLOUR, thickness, cv2.LINE_AA)
    for name in ("eye", "dorsal_fin_start", "belly"):
        if measurements[name] is not None:
            x, y = (round(value * scale) for value in measurements[name])
            cv2.circle(photo, (x, y), 3 * thickness, OUTLINE_COLOUR, thickness + 2, cv2.LINE_AA)
            cv2.circle(photo, (x, y), 3 * thickness, LANDMARK_COLOUR, thickness, cv2.LINE_AA)
            origin, size = (x + 4 * thickness, y - 2 * thickness), 0.28 * thickness
            for colour, weight in ((OUTLINE_COLOUR, thickness + 3), (LABEL_COLOUR, thickness)):
                cv2.putText(photo, name.replace("_", " "), origin, cv2.FONT_HERSHEY_SIMPLEX, size, colour, weight,
                            cv2.LINE_AA)
    return (cv2.imencode(".png", roi)[1].tobytes(),
            cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 88])[1].tobytes())


class ThumbnailCache:
    """ROI and annotated photo of each registered photo (by SHA-256), cut once and kept in ``folder``."""

    def __init__(self, folder, preprocess, input_size):
        self.folder, self.preprocess, self.input_size = Path(folder), preprocess, tuple(input_size)

    def path(self, sha256, kind):
        return self.folder / f"{sha256}{KINDS[kind]}"

    def get(self, sha256, source, mode, kind):
        """The cached bytes of ``kind`` ("roi" or "photo"), cut from ``source`` on first use."""
        cached = self.path(sha256, kind)
        if cached.is_file():
            return cached.read_bytes()
        if not Path(source).is_file():
            raise SourceMissing(f"source photo not found at {source} (moved or deleted?)")
        if file_sha256(source) != sha256:
            raise SourceMissing(f"the photo at {source} has changed since it was recorded")
        try:
            views = dict(zip(("roi", "photo"), cut_views(source, mode, self.preprocess, self.input_size)))
        except PhotoRejected as rejection:
            raise SourceMissing(f"{source} can no longer be read ({rejection.reason})") from None
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, data in views.items():
            write_atomically(self.path(sha256, name), data)
        return views[kind]
