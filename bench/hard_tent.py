"""Segmentation robustness: acceptance and ROI IoU on normal and on hard synthetic tent photos.

    python bench/hard_tent.py [--photos 96] [--size 640x480] [--seed 0]

The normal set is the generator's default; the hard set has greenish-yellow
fish near the tent's green, faint translucent dorsal fins (opacity
synthetic.FAINT_FIN) and small fish (body length synthetic.SMALL_FISH of the
width), all at once. Prints, per set, the share of photos accepted, the
rejection reasons, the mean ROI IoU against the ground truth (accepted photos)
and the share of accepted photos whose ROI IoU is below 0.5 (a wrong ROI).
"""

import argparse
import collections
import tempfile
from pathlib import Path

import cv2
import numpy as np

from lateral import synthetic
from lateral.config import PreprocessConfig
from lateral.preprocess.photo import process_tent_photo
from lateral.preprocess.rejection import PhotoRejected

SETS = {
    "normal": dict(make={}, photo={}),
    "hard": dict(
        make=dict(palette="greenish", fin_opacity=synthetic.FAINT_FIN), photo=dict(body_share=synthetic.SMALL_FISH)
    ),
}


def polygon_iou(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    intersection, _ = cv2.intersectConvexConvex(a, b)
    return intersection / (cv2.contourArea(a) + cv2.contourArea(b) - intersection)


def measure(options, photos, size, seed, scratch):
    reasons, ious = collections.Counter(), []
    for index in range(photos):
        fish = synthetic.make_fish(synthetic.individual_seed(seed, index), **options["make"])
        image, truth = synthetic.render_photo(fish, synthetic.photo_rng(seed, index, 1, 0), size, **options["photo"])
        path = Path(scratch) / f"photo_{index}.png"  # lossless: the generator's JPEG artefacts stay as they are
        cv2.imwrite(str(path), image)
        try:
            _, measurements = process_tent_photo(path, PreprocessConfig(), (64, 128))
        except PhotoRejected as rejection:
            reasons[rejection.reason] += 1
            continue
        ious.append(polygon_iou(measurements["roi"], truth["roi"]))
    return reasons, np.array(ious)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=96, help="photos per set (one per fish)")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    size = tuple(int(side) for side in args.size.split("x"))
    with tempfile.TemporaryDirectory() as scratch:
        for name, options in SETS.items():
            reasons, ious = measure(options, args.photos, size, args.seed, scratch)
            rejected = ", ".join(f"{reason} {count}" for reason, count in reasons.most_common()) or "none"
            print(
                f"{name:6s} {len(ious)}/{args.photos} accepted ({len(ious) / args.photos:.1%}); "
                f"mean ROI IoU {ious.mean():.3f}, below 0.5: {np.count_nonzero(ious < 0.5)}; rejected: {rejected}"
            )


if __name__ == "__main__":
    main()
