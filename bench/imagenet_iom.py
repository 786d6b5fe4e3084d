"""Training-free IoM (``gallery enroll --model imagenet``): rank-1 of the Hamming similarity of random IoM codes
of the frozen ImageNet features against the features' own cosine, for several m (groups) and q (projections per
group), so that the gallery's m and q keep the cosine's ranking (docs/matching.md).

    python bench/imagenet_iom.py --nyala ../shared/datasets/nyala-train --fs48 ../shared/datasets/fs48-train

Protocol of ``bench/matching_dev.py`` (same flank, across sightings or cameras; FS48 every 10th photo), every
answerable photo a query; its feature cache (``--cache``) is reused. One draw of the projections (seed 0, the
gallery's). Runtime: about 2 minutes once the features are cached.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from matching_dev import global_features, list_photos, query_hits  # noqa: E402

from lateral.evaluation.protocol import comparable  # noqa: E402
from lateral.measures import cosine_similarity  # noqa: E402

GROUPS, PROJECTIONS = (128, 256, 512, 1024), (2, 4, 8, 16)


def random_iom_codes(features, m, q, seed=0):
    """Jin et al. 2018's Gaussian random projection IoM: the arg-max of each group of q projections."""
    weights = np.random.default_rng(seed).standard_normal((features.shape[1], m * q))
    return np.argmax((features @ weights).reshape(len(features), m, q), axis=-1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nyala", required=True, help="the nyala-train folder")
    parser.add_argument("--fs48", required=True, help="the fs48-train folder")
    parser.add_argument("--cache", default="/tmp/lateral-matching-cache")
    args = parser.parse_args()
    print("| set | cosine | " + " | ".join(f"m {m}, q {q}" for m in GROUPS for q in PROJECTIONS) + " |")
    print("|---" * (2 + len(GROUPS) * len(PROJECTIONS)) + "|")
    for dataset, photos in (("nyala", args.nyala), ("fs48", args.fs48)):
        paths, fish, sessions, flanks = list_photos(dataset, photos, 10)
        features = global_features(paths, Path(args.cache) / dataset).astype(np.float64)
        allowed = comparable(fish, flanks, sessions, cross_session=True)
        queries = np.flatnonzero((allowed & (fish[:, None] == fish[None])).any(axis=1))

        def rank1(scores):
            return np.mean(list(query_hits(scores, fish, allowed, queries).values()))

        row = [f"{rank1(cosine_similarity(features, features)):.3f}"]
        for m in GROUPS:
            for q in PROJECTIONS:
                codes = random_iom_codes(features, m, q)
                hamming = sum(np.equal.outer(codes[:, g], codes[:, g]) for g in range(m)) / m
                row.append(f"{rank1(hamming):.3f}")
        print(f"| {dataset} ({queries.size} queries) | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
