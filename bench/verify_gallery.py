"""Identify with local verification on synthetic galleries: milliseconds per photo, and how they grow with the
shortlist B and the gallery's size.

    python bench/verify_gallery.py                        # N = 100, 300, 1000 fish; B = 10, 30, 100
    python bench/verify_gallery.py --fish 1000 --budgets 100 --queries 10

What is timed is what ``identify`` does per photo on a verifying gallery beyond the global search: the query's
SIFT features (its ROI re-cut at 320 px from a 640 x 320 photo), the Hamming scores of every template (packed
codes, m = 96, q = 8: our IoM templates' size), the shortlist, the B local matches against the templates' stored
features (each template's ``.npz`` read from the sidecar folder, nothing kept between queries), and the fusion
(``lateral.gallery.verification.LocalEvidence``). Not timed: reading and segmenting the photo and the network's
forward pass (the same with or without verification; ``bench/search.py`` times the global search alone).

Synthetic data: each fish's pattern is a photo of random blobs (a pool of ``--patterns`` patterns, reused
across fish: a pair's cost depends on its keypoints, not on which fish it is), two templates per fish; each query
is a known fish's pattern moved by a few pixels, its code that fish's with 10 % of the entries changed, so that
its genuine templates are shortlisted (one genuine and B - 1 impostor matches). Runtime: a few minutes on 2 cores.
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from lateral.gallery.packing import pack_codes
from lateral.gallery.search import GallerySearch
from lateral.gallery.store import Gallery
from lateral.gallery.verification import LocalEvidence, model_calibrations, sidecar_folder, verification_record
from lateral.matching.cache import image_features, save_features
from lateral.matching.calibration import Calibration, pair_calibration_paths

M, Q = 96, 8
PHOTO_SIZE = (640, 320)  # width, height of a synthetic pre-cropped flank
TEMPLATES_PER_FISH = 2


def blob_photo(rng):
    photo = np.full((PHOTO_SIZE[1], PHOTO_SIZE[0], 3), 128, np.uint8)
    for _ in range(400):
        centre = tuple(int(v) for v in rng.integers(0, PHOTO_SIZE))
        cv2.circle(photo, centre, int(rng.integers(3, 18)), tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
    return photo


def shifted(photo, rng):
    dx, dy = rng.uniform(-8, 8, 2)
    return cv2.warpAffine(photo, np.float32([[1, 0, dx], [0, 1, dy]]), PHOTO_SIZE, borderMode=cv2.BORDER_REPLICATE)


def build_gallery(folder, n_fish, patterns, pattern_features, rng):
    """A verifying gallery of ``n_fish`` fish in memory, its templates' features in the sidecar folder."""
    model = {"path": str(folder), "fingerprint": "00", "m": M, "q": Q, "embedding_size": 2, "input_size": [32, 64]}
    gallery = Gallery.new(model, None, False)
    gallery.header["verify"] = verification_record("sift", 0)
    count = n_fish * TEMPLATES_PER_FISH
    fish_codes = rng.integers(0, Q, (n_fish, M))
    codes = np.repeat(fish_codes, TEMPLATES_PER_FISH, axis=0)
    entries = [{"fish_id": f"fish_{i // TEMPLATES_PER_FISH:04d}", "source": f"/synthetic/{i}.png",
                "sha256": f"{i:064x}", "session": "s1", "flank": "unknown", "mode": "cropped", "added": "-",
                "how": "enroll"} for i in range(count)]
    gallery.add(entries, pack_codes(codes, Q), None)
    sidecar = sidecar_folder(folder / "bench.lgal")
    sidecar.mkdir(parents=True, exist_ok=True)
    for i, entry in enumerate(entries):
        save_features(sidecar / f"{entry['sha256']}.npz", pattern_features[(i // TEMPLATES_PER_FISH) % len(patterns)])
    return gallery, fish_codes


def time_queries(folder, gallery, fish_codes, patterns, budget, queries, rng):
    """(ms of the query's features, ms of the verified search) per query, means."""
    evidence = LocalEvidence(folder / "bench.lgal", {**gallery.header["verify"], "shortlist": budget},
                             model_calibrations(folder, "hamming", gallery.header["verify"]["matcher"]))
    search = GallerySearch(gallery, "hamming")
    extract, verify = [], []
    for _ in range(queries):
        fish = int(rng.integers(len(fish_codes)))
        photo = shifted(patterns[fish % len(patterns)], rng)
        code = fish_codes[fish].copy()
        changed = rng.random(M) < 0.1
        code[changed] = rng.integers(0, Q, int(changed.sum()))
        evidence._features = {}  # nothing kept between queries: each reads its shortlist's files
        started = time.perf_counter()
        features = image_features(photo, None, "sift")
        extracted = time.perf_counter()
        scores = evidence.search_scores(search, code, None, "unknown", features)
        search.rank_fish(code, None, "unknown", 5, scores=scores)
        done = time.perf_counter()
        extract.append(1000 * (extracted - started))
        verify.append(1000 * (done - extracted))
    return float(np.mean(extract)), float(np.mean(verify))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fish", default="100,300,1000", help="gallery sizes (fish)")
    parser.add_argument("--budgets", default="10,30,100", help="shortlist sizes B")
    parser.add_argument("--queries", type=int, default=20, help="queries timed per gallery size and B")
    parser.add_argument("--patterns", type=int, default=100, help="distinct synthetic patterns")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    patterns = [blob_photo(rng) for _ in range(args.patterns)]
    pattern_features = [image_features(photo, None, "sift") for photo in patterns]
    print(f"{args.patterns} patterns, median {int(np.median([len(f.points) for f in pattern_features]))} SIFT "
          f"keypoints: {time.perf_counter() - started:.0f} s")
    folder = Path(tempfile.mkdtemp(prefix="verify_gallery_"))
    try:
        for score in pair_calibration_paths(folder, "run", "hamming", "sift"):
            Calibration(score.stem, (0.0, 1.0), (0.0, 1.0)).save(score)
        print("\n| fish (templates) | B | query features ms | verified search ms | total ms per photo |\n"
              "|---|---|---|---|---|")
        for n_fish in (int(value) for value in args.fish.split(",")):
            gallery, fish_codes = build_gallery(folder, n_fish, patterns, pattern_features, rng)
            for budget in (int(value) for value in args.budgets.split(",")):
                extract, verify = time_queries(folder, gallery, fish_codes, patterns, budget, args.queries, rng)
                print(f"| {n_fish} ({len(gallery)}) | {budget} | {extract:.0f} | {verify:.0f} | "
                      f"{extract + verify:.0f} |", flush=True)
            shutil.rmtree(sidecar_folder(folder / "bench.lgal"))
    finally:
        shutil.rmtree(folder)
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
