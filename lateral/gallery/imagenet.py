"""A gallery before any training (``enroll --model imagenet``, docs/matching.md): its templates, checks and
shipped calibrations. No TensorFlow here: a wrong model is refused before it loads.

The templates are training-free IoM codes (``lateral.models.iom.RandomIoMProjection``) of the frozen ImageNet
EfficientNet-Lite0 features (``lateral.models.pretrained``), keyed by the gallery's permutation as a trained
run's are. The header's model ``path`` is ``imagenet``. Decisions rest on the calibration shipped with the
package (``lateral/matching/calibrations/``, fitted by ``bench/default_calibration.py`` on development fish):
no run folder is needed.
"""

import hashlib

from lateral.config import DEFAULT_INPUT_SIZE
from lateral.gallery.store import GalleryError
from lateral.matching.calibration import SHIPPED_FOLDER, shipped_path

IMAGENET = "imagenet"
# m groups of q Gaussian projections: Hamming rank-1 as high as cosine's on nyala and FS48 (bench/imagenet_iom.py,
# docs/matching.md).
IMAGENET_M, IMAGENET_Q = 512, 8
# The ROI is cut in the default preprocessing's shape (1:2), 224 px high, then resized to the features' 224 x 224
# (as `lateral evaluate --model imagenet` resizes a run's ROIs): every row is kept, and a pre-cropped photo ends as
# bench/matching_dev.py's development photos did, resized whole to 224 x 224.
ROI_SIZE = (224, 224 * DEFAULT_INPUT_SIZE[1] // DEFAULT_INPUT_SIZE[0])
PROJECTION_SEED = 0  # public: the key enters through the keyed permutation
# What the header records in place of a run's weights fingerprint: the templates' recipe, hashed.
FINGERPRINT = hashlib.sha256(f"imagenet EfficientNet-Lite0 random IoM m {IMAGENET_M} q {IMAGENET_Q} roi {ROI_SIZE} "
                             f"seed {PROJECTION_SEED}".encode()).hexdigest()
OPEN_SET_FILE = SHIPPED_FOLDER / "imagenet_open_set.npz"  # impostor best scores for --fpir
SHIPPED_ORIGIN = (f"the calibration shipped with lateral for --model imagenet ({OPEN_SET_FILE.name}: development "
                  "fish of nyala and FS48, bench/default_calibration.py)")


def is_imagenet(model):
    return model is not None and str(model) == IMAGENET


def check_model(recorded_path, model, path):
    """Refuse ``--model`` when it is not the kind of model the gallery ``path`` was built with (imagenet or a
    run folder): their templates cannot be compared."""
    if model is None or is_imagenet(model) == is_imagenet(recorded_path):
        return
    if is_imagenet(model):
        raise GalleryError(f"{path} was built with the trained model {recorded_path}, not --model imagenet; "
                           "templates of different networks cannot be compared")
    raise GalleryError(f"{path} was built with --model imagenet, not {model}; templates of different networks "
                       "cannot be compared")


def calibration_paths(measure, matcher):
    """The shipped calibrations of the global score ``measure`` and of ``matcher``'s inlier count."""
    return tuple(shipped_path(f"{IMAGENET}_{score}") for score in (measure, matcher))
