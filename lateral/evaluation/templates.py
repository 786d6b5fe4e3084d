"""Test images in, embeddings and IoM codes out."""

import sys
from pathlib import Path

import numpy as np

from lateral.data.pipeline import embed_roi_set
from lateral.data.records import DatasetError, RoiSet, load_roi_set, without_undecodable
from lateral.runs import Run, codes_head
from lateral.user_errors import printable

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def load_test_set(path):
    """TFRecords from prepare_data.py, or a folder of ROI images laid out one folder per fish.

    An image that cannot be decoded is named on stderr and left out."""
    path = Path(path)
    if path.is_dir() and not (path / "tfrecords").is_dir() and not list(path.glob("*.tfrecord")):
        roi_set = _roi_folder(path)
    else:
        roi_set = load_roi_set(path, "fish")
    roi_set, undecodable = without_undecodable(roi_set)
    for source in undecodable:
        print(f"skipped {printable(str(source))} in {path}: cannot be decoded as an image", file=sys.stderr)
    if not len(roi_set):
        raise DatasetError(f"none of the images in {path} can be decoded")
    return roi_set


def _roi_folder(root):
    files = sorted(p for p in root.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DatasetError(f"no ROI images found in {root} (expected {root}/<fish_id>/*.png or TFRecords)")
    fish_ids = np.array([p.parent.name for p in files])
    label_map = {fish: index for index, fish in enumerate(sorted(set(fish_ids)))}
    images = np.empty(len(files), object)
    images[:] = [p.read_bytes() for p in files]
    return RoiSet(images, np.array([label_map[f] for f in fish_ids], np.int64), fish_ids,
                  np.array([""] * len(files)), np.array([p.relative_to(root).as_posix() for p in files]),
                  np.array(["unknown"] * len(files)), label_map)


def compute_templates(run_folder, roi_set, batch_size=64, flip_tta=False, model="run"):
    """{"embeddings": float32 [n, d], "codes": int32 [n, m] or None} for every image of ``roi_set``.

    ``model``: ``run`` (the run folder's models) or ``imagenet`` (frozen ImageNet EfficientNet-Lite0
    features, ``lateral.models.pretrained``: no training, no codes; ``run_folder`` is not read).

    ``flip_tta``: each embedding is the mean of the embeddings of the image and of its left-right
    mirror (flip test-time augmentation; a mirrored flank shows the other flank's pose, so measure
    before adopting it), and the codes are made from that mean, as the gallery makes them.
    """
    if model == "imagenet":
        from lateral.models.pretrained import IMAGENET_INPUT_SIZE, imagenet_features_model

        embeddings = embed_roi_set(imagenet_features_model(), roi_set, IMAGENET_INPUT_SIZE, batch_size, flip_tta)
        return {"embeddings": embeddings.astype(np.float32), "codes": None}
    run = Run.load(run_folder)
    embeddings = embed_roi_set(run.embedding_model, roi_set, run.input_size, batch_size, flip_tta).astype(np.float32)
    codes = None
    if run.codes_model is not None:
        codes = codes_head(run.codes_model).predict(embeddings, batch_size=4096, verbose=0).astype(np.int32)
    return {"embeddings": embeddings, "codes": codes}
