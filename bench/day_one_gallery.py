"""The day-one gallery (``enroll --model imagenet --verify sift``) end to end on real photos of individuals its
calibration never saw: rank-1, and the decisions at the default FPIR 0.01 from the shipped calibration.

    python bench/day_one_gallery.py --nyala ../shared/datasets/nyala-train --fs48 ../shared/datasets/fs48-train

Each set's held-out half of individuals (``bench/matching_dev.py``'s split, seed 0: the shipped calibration was
fitted on the other half) is split again: half of them are enrolled with the photos of their first session
(nyala: left flanks only; FS48: every 10th photo of its first camera), the gallery commands themselves
(``lateral.gallery.commands``, ``--mode cropped``, no key). Queries: up to ``--queries`` photos of the enrolled
fish from their other sessions (mated: the right fish should be matched) and as many of the fish never enrolled
(non-mated: each should be a new fish). Runtime: a few minutes on 2 shared cores.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from matching_dev import list_photos, shuffle_and_split  # noqa: E402

from lateral.gallery import commands, imagenet  # noqa: E402
from lateral.gallery.fpir_thresholds import fpir_thresholds  # noqa: E402


def held_out(dataset, photos, seed=0):
    """(paths, fish, sessions) of the held-out half, drawn as bench/default_calibration.py draws it."""
    rng = np.random.default_rng(seed)
    paths, fish, sessions, flanks = list_photos(dataset, photos, 10)
    order, calibration_fish = shuffle_and_split(fish, rng)
    paths, fish, sessions, flanks = paths[order], fish[order], sessions[order], flanks[order]
    keep = ~np.isin(fish, calibration_fish) & (flanks != "R")
    return paths[keep], fish[keep], sessions[keep]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nyala", required=True, help="the nyala-train folder")
    parser.add_argument("--fs48", required=True, help="the fs48-train folder")
    parser.add_argument("--queries", type=int, default=40, help="mated and non-mated queries per set")
    args = parser.parse_args()
    thresholds = fpir_thresholds(imagenet.OPEN_SET_FILE, "hamming+sift", origin="shipped")
    print("| set | gallery | mated queries: rank-1, matched right, matched wrong, review, new | non-mated queries: "
          "matched (false), review, new |\n|---|---|---|---|")
    for dataset, photos in (("nyala", args.nyala), ("fs48", args.fs48)):
        rng = np.random.default_rng(1)
        paths, fish, sessions = held_out(dataset, photos)
        individuals = np.unique(fish)
        enrolled_fish = rng.choice(individuals, individuals.size // 2, replace=False)
        first = {name: min(sessions[fish == name]) for name in individuals}
        known = np.array([name in enrolled_fish and session == first[name] for name, session in zip(fish, sessions)])
        mated = np.flatnonzero(np.isin(fish, enrolled_fish) & ~known)
        non_mated = np.flatnonzero(~np.isin(fish, enrolled_fish))
        mated = rng.choice(mated, min(args.queries, mated.size), replace=False)
        non_mated = rng.choice(non_mated, min(args.queries, non_mated.size), replace=False)
        with tempfile.TemporaryDirectory() as folder:
            gallery, layout = Path(folder) / "day_one.lgal", Path(folder) / "known"
            for index in np.flatnonzero(known):  # known/<fish>/<photo>, linked to the photos
                (layout / fish[index]).mkdir(parents=True, exist_ok=True)
                (layout / fish[index] / Path(paths[index]).name).symlink_to(Path(paths[index]).resolve())
            commands.enroll(gallery, layout, model=imagenet.IMAGENET, mode="cropped", verify="sift")
            outcome = {}
            for kind, chosen in (("mated", mated), ("non-mated", non_mated)):
                summary = commands.identify(gallery, [str(paths[i]) for i in chosen], thresholds, mode="cropped")
                truth = {str(Path(paths[i]).resolve()): fish[i] for i in chosen}
                rows = [(truth[r["photo"]], r["decision"], r["candidates"][0]["fish_id"] if r["candidates"] else None)
                        for r in summary["results"]]
                outcome[kind] = rows, len(summary["rejected"])
            rows, rejected = outcome["mated"]
            n = len(rows)
            mated_text = ", ".join([f"{sum(t == c for t, _, c in rows) / n:.2f}",
                                    f"{sum(d == 'match' and t == c for t, d, c in rows) / n:.2f}",
                                    f"{sum(d == 'match' and t != c for t, d, c in rows) / n:.2f}",
                                    f"{sum(d == 'review' for _, d, _ in rows) / n:.2f}",
                                    f"{sum(d == 'new' for _, d, _ in rows) / n:.2f}"]) + f" ({n} photos)"
            rows, _ = outcome["non-mated"]
            m = len(rows)
            non_mated_text = ", ".join(f"{sum(d == decision for _, d, _ in rows) / m:.2f}"
                                       for decision in ("match", "review", "new")) + f" ({m} photos)"
            print(f"| {dataset} | {len(enrolled_fish)} fish, {int(known.sum())} photos | {mated_text} | "
                  f"{non_mated_text} |", flush=True)


if __name__ == "__main__":
    main()
