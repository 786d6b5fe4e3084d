"""Test images in, embeddings and IoM codes out."""

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from lateral.data.pipeline import embed_roi_set, evaluation_dataset
from lateral.data.layout import printable
from lateral.data.records import DatasetError, RoiSet, load_roi_set, without_undecodable
from lateral.measures import unit_rows
from lateral.runs import Run

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


def compute_templates(run_folder, roi_set, batch_size=64, flip_tta=False):
    """{"embeddings": float32 [n, d], "codes": int32 [n, m] or None} for every image of ``roi_set``.

    ``flip_tta``: each embedding is the mean of the L2-normalised embeddings of the image and of
    its left-right mirror (flip test-time augmentation; a mirrored flank shows the other flank's
    pose, so measure before adopting it). Codes are computed from the image alone.
    """
    run = Run.load(run_folder)
    embedding_model, codes_model, input_size = run.embedding_model, run.codes_model, run.input_size
    codes = None
    if codes_model is not None:
        images = evaluation_dataset(roi_set, input_size, batch_size).map(lambda pixels, _: pixels)
        codes = codes_model.predict(images, verbose=0).astype(np.int32)
    if not flip_tta:
        return {"embeddings": embed_roi_set(embedding_model, roi_set, input_size, batch_size).astype(np.float32),
                "codes": codes}
    embeddings = []
    for images, _ in evaluation_dataset(roi_set, input_size, batch_size):
        views = [embedding_model(view, training=False).numpy() for view in (images, tf.image.flip_left_right(images))]
        embeddings.append(sum(unit_rows(view) for view in views) / 2)
    return {"embeddings": np.concatenate(embeddings).astype(np.float32), "codes": codes}
