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

``--leave_one_out --sizes 10,50,100``: each individual in turn never enrolled and every other one enrolled and
calibrating, pooled over the individuals (``lateral.evaluation.open_set.leave_one_fish_out``): with Nyala's 119
animals, galleries of up to 118 real animals, no synthetic distractor among them.
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from matching_dev import global_features, list_photos  # noqa: E402  (bench/ is the script's folder)
from open_set import add_sizes_option, gallery_sizes, print_figures, print_pooled, verdict_summary  # noqa: E402

from lateral.evaluation.open_set import evaluate_open_set, leave_one_fish_out  # noqa: E402
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
    add_sizes_option(parser)
    parser.add_argument("--leave_one_out", action="store_true",
                        help="each individual in turn never enrolled, every other one enrolled and calibrating "
                             "(pooled): galleries of real animals up to one fewer than the set")
    args = parser.parse_args()
    sizes = gallery_sizes(parser, args)
    started = time.perf_counter()
    paths, fish, sessions, flanks = list_photos(args.dataset, args.photos, args.fs48_every)
    features = global_features(paths, Path(args.cache) / args.dataset)
    allowed = comparable(fish, flanks, sessions, True)
    print(f"{args.dataset}: {len(paths)} photos of {np.unique(fish).size} individuals; frozen ImageNet "
          f"EfficientNet-Lite0 (cosine); same flank, across {'sightings' if args.dataset == 'nyala' else 'cameras'}")
    similarity = cosine_similarity(features, features)
    if args.leave_one_out:
        met = print_pooled("cosine (frozen ImageNet)", leave_one_fish_out(similarity, fish, allowed, sizes=sizes))
        print(f"\n{verdict_summary(met)}; {time.perf_counter() - started:.0f} s")
        return
    figures = evaluate_open_set(similarity, fish, allowed, sizes=sizes, bootstrap_rounds=args.bootstrap,
                                seed=args.seed)
    met = print_figures("cosine (frozen ImageNet)", figures)
    if args.plot:
        open_set_figure({"cosine": {"open_set": figures}}).savefig(
            Path(args.plot) / f"open_set_{args.dataset}.png", dpi=100, bbox_inches="tight")
    print(f"\n{verdict_summary(met)}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
