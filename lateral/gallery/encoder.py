"""Photos in, gallery templates out, with a trained stage-two run (or the frozen ImageNet features) and the
gallery's permutation key.

The run folder (``checkpoints/<sub_name>`` of ``train_twostage.py``) gives the
network (``iom_codes.keras``), the preprocessing settings and the input size
(``config.yaml``). The saved codes model is taken apart into the stage-one
embedding network and the IoM projection, and put together again with the
gallery's key and permutation algorithm, so one trained network serves any
number of keys.

A photo is read the way ``prepare_data.py`` reads it: a green-tent photo is
segmented and its lateral ROI cut (flank known), a photo without a green
screen is taken as already cropped (flank "unknown") if it has a flank's
shape, else rejected with the reason. ``mode`` forces either.
"""

import dataclasses
import hashlib
from pathlib import Path

import cv2
import numpy as np

from lateral.config import config_from_keys
from lateral.data.pipeline import embed_roi_set
from lateral.data.records import RoiSet
from lateral.gallery.imagenet import (FINGERPRINT, IMAGENET, IMAGENET_M, IMAGENET_Q, PROJECTION_SEED, ROI_SIZE,
                                     is_imagenet)
from lateral.gallery.schema import PHOTO_MODES
from lateral.gallery.store import GalleryError
from lateral.models.iom import RandomIoMProjection, build_codes_head
from lateral.models.permutation import PERMUTATION_ALGORITHM
from lateral.models.pretrained import IMAGENET_INPUT_SIZE, imagenet_features_model
from lateral.preprocess.photo import process_cropped_photo, process_tent_photo
from lateral.preprocess.rejection import PhotoRejected
from lateral.runs import CODES_MODEL, CONFIG_SNAPSHOT, Run, codes_model_parts

# Auto mode: a photo without a tent counts as a cropped flank if its width:height is within these factors of the ROI's
# (for a 2:1 ROI: 1.5:1 to 4:1; a 4:3 camera frame is not a cropped fish, a long thin crop is).
CROPPED_ASPECT_RANGE = (0.75, 2.0)


@dataclasses.dataclass(frozen=True)
class Photo:
    """One readable photo: where it is, its content hash, and its ROI (PNG bytes)."""

    source: str
    sha256: str
    roi_png: bytes
    flank: str
    mode: str
    roi_corners: object = None  # the ROI's corners in the source photo (local matching re-cuts it)


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class TemplateEncoder:
    def __init__(self, run_folder, seed=None, permutation=PERMUTATION_ALGORITHM, batch_size=64, flip_tta=False):
        """``run_folder``: a stage-two run, or ``imagenet`` (``lateral.gallery.imagenet``: frozen ImageNet
        features, training-free IoM, the default preprocessing)."""
        self.batch_size, self.flip_tta = batch_size, flip_tta
        if is_imagenet(run_folder):
            self.run_folder, self.fingerprint = IMAGENET, FINGERPRINT
            self.config = config_from_keys(IMAGENET)  # the default preprocessing and session pattern
            self.input_size = ROI_SIZE  # the ROI cut from the photo; the features resize it
            self.embedding_model = imagenet_features_model()
            self.features_size = IMAGENET_INPUT_SIZE
            projection = RandomIoMProjection(IMAGENET_M, IMAGENET_Q, PROJECTION_SEED, name="random_iom")
        else:
            projection = self._load_run(Path(run_folder))
            self.features_size = self.input_size
        self.m, self.q = projection.m, projection.q
        self.embedding_size = int(self.embedding_model.output_shape[-1])
        self.keyed_head = build_codes_head(self.embedding_size, projection, seed, permutation)

    def _load_run(self, run_folder):
        """Read a stage-two run folder; returns its IoM projection."""
        if not (run_folder / CODES_MODEL).is_file():
            raise GalleryError(f"{run_folder} is not a stage-two run: no {CODES_MODEL} in it (train_twostage.py makes "
                               "one)")
        run = Run.load(run_folder)
        if run.config is None:
            raise GalleryError(f"{run_folder / CONFIG_SNAPSHOT}: not found (the run's preprocessing settings)")
        self.config, self.run_folder = run.config, run_folder
        # The network inside the codes model makes the gallery's codes, and its fingerprint is what a gallery records.
        self.embedding_model, projection = codes_model_parts(run.codes_model)
        self.input_size = tuple(self.embedding_model.input_shape[1:3])
        self.fingerprint = run.codes_fingerprint
        return projection

    def model_record(self):
        """What a gallery records of this model (and checks on every later use)."""
        path = IMAGENET if self.run_folder == IMAGENET else str(self.run_folder.resolve())
        return {"path": path, "fingerprint": self.fingerprint, "m": self.m, "q": self.q,
                "embedding_size": self.embedding_size, "input_size": list(self.features_size),
                "flip_tta": self.flip_tta}

    def read_photo(self, path, mode="auto"):
        """One photo to its ROI; raises PhotoRejected (the reason says why)."""
        if mode not in PHOTO_MODES:
            raise GalleryError(f"photo mode {mode!r}: not one of {', '.join(PHOTO_MODES)}")
        path = Path(path)
        preprocess = self.config.preprocess
        used = "cropped" if mode == "cropped" else "tent"
        if mode != "cropped":
            try:
                roi, measurements = process_tent_photo(path, preprocess, self.input_size)
            except PhotoRejected as rejection:
                if mode == "tent" or rejection.reason != "no_green_screen":
                    raise
                used = "cropped"
        if used == "cropped":
            roi, measurements = process_cropped_photo(path, preprocess, self.input_size)
            if mode == "auto":
                self._check_cropped_shape(path, measurements["roi"])
        encoded = cv2.imencode(".png", roi)[1].tobytes()
        return Photo(str(path.resolve()), file_sha256(path), encoded, measurements["flank"], used, measurements["roi"])

    def _check_cropped_shape(self, path, corners):
        """In ``auto`` mode a photo without a green tent counts as a cropped flank only if it has a flank's shape.

        Its width:height must lie within ``CROPPED_ASPECT_RANGE`` times the
        model's ROI width:height; any other photo (a 4:3 camera frame, a
        portrait) is rejected with its reason instead of being searched and
        called a new fish. ``--mode cropped`` takes it all the same. Only the
        shape is checked: a cropped-shaped photo of anything passes.
        """
        width, height = corners[2]
        expected = self.input_size[1] / self.input_size[0]
        low, high = CROPPED_ASPECT_RANGE
        if not low <= (width / height) / expected <= high:
            raise PhotoRejected("no_green_screen", f"no green tent found, and its shape ({width}x{height}) is not that "
                                                   f"of a cropped flank (width:height about {expected:g}); give "
                                                   "--mode cropped to take it as one")

    def read_photos(self, paths, mode="auto"):
        """(photos, rejected): every readable photo, and (path, reason, detail) for the others."""
        photos, rejected = [], []
        for path in paths:
            try:
                photos.append(self.read_photo(path, mode))
            except PhotoRejected as rejection:
                rejected.append((str(path), rejection.reason, rejection.detail))
        return photos, rejected

    def encode(self, photos):
        """(codes int32 [n, m], embeddings float32 [n, d]) of ``photos``."""
        if not photos:
            return np.zeros((0, self.m), np.int32), np.zeros((0, self.embedding_size), np.float32)
        count = len(photos)
        images = np.empty(count, object)
        images[:] = [photo.roi_png for photo in photos]
        blank = np.array([""] * count)
        roi_set = RoiSet(images, np.zeros(count, np.int64), blank, blank, blank, blank, {})
        embeddings = embed_roi_set(self.embedding_model, roi_set, self.features_size, self.batch_size,
                                   self.flip_tta)
        codes = np.concatenate([self.keyed_head(embeddings[start:start + 4096], training=False).numpy()
                                for start in range(0, count, 4096)])
        return codes.astype(np.int32), embeddings.astype(np.float32)
