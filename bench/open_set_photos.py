"""Open-set identification on real photos with the training-free model: FNIR at FPIR 0.01 and 0.1 and the realised
FPIR of the gallery's formula threshold (lateral.fpir), for the frozen ImageNet EfficientNet-Lite0 features (the
``--model imagenet`` path a biologist has on day one).

    python bench/open_set_photos.py --dataset nyala --photos ../shared/datasets/nyala-train
    python bench/open_set_photos.py --dataset fs48 --photos ../shared/datasets/fs48-train

Every individual of the set is unseen by the model, so all of them take part: half (seed 0) are enrolled with
half their photos, the others are never enrolled (lateral.evaluation.open_set, the code ``test_iom.py`` runs).
Protocol as ``bench/matching_dev.py``: same flank, across sightings (nyala) or across cameras (FS48, every
``--fs48_every``-th photo of each fish and camera); whole photos at 224 px. There are no distractors: the
largest gallery is every enrolled individual. Features are cached under ``--cache`` (outside the repository).
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from matching_dev import global_features, list_photos  # noqa: E402  (bench/ is the script's folder)
from open_set import print_figures  # noqa: E402

from lateral.evaluation.open_set import GALLERY_SIZES, evaluate_open_set  # noqa: E402
from lateral.evaluation.plots import open_set_figure  # noqa: E402
from lateral.evaluation.protocol import comparable  # noqa: E402
from lateral.measures import cosine_similarity  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=["nyala", "fs48"], required=True)
    parser.add_argument("--photos", required=True, help="the data set's folder of per-individual folders")
    parser.add_argument("--fs48_every", type=int, default=10, help="FS48: keep every k-th frame per fish and camera")
    parser.add_argument("--cache", default="/tmp/lateral-matching-cache", help="feature cache (outside the repo)")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0, help="which individuals are enrolled")
    parser.add_argument("--plot", default=None, help="write open_set_<dataset>.png into this folder")
    args = parser.parse_args()
    started = time.perf_counter()
    paths, fish, sessions, flanks = list_photos(args.dataset, args.photos, args.fs48_every)
    features = global_features(paths, Path(args.cache) / args.dataset)
    allowed = comparable(fish, flanks, sessions, True)
    print(f"{args.dataset}: {len(paths)} photos of {np.unique(fish).size} individuals; frozen ImageNet "
          f"EfficientNet-Lite0 (cosine); same flank, across {'sightings' if args.dataset == 'nyala' else 'cameras'}")
    figures = evaluate_open_set(cosine_similarity(features, features), fish, allowed, sizes=GALLERY_SIZES,
                                bootstrap_rounds=args.bootstrap, seed=args.seed)
    met = print_figures("cosine (frozen ImageNet)", figures)
    if args.plot:
        open_set_figure({"cosine": {"open_set": figures}}).savefig(
            Path(args.plot) / f"open_set_{args.dataset}.png", dpi=100, bbox_inches="tight")
    print(f"\nrealised FPIR within a factor of 2 of the target: {sum(met)} of {len(met)} rows; "
          f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
