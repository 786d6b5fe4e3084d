"""A day-one gallery recalibrated on its own photos (``gallery recalibrate``): its decisions at the default FPIR
0.01 with the calibration shipped with lateral, then with the gallery's own, on real photos of individuals neither
calibration saw.

    python bench/recalibrate.py --nyala ../shared/datasets/nyala-train

The nyala held-out half of ``bench/day_one_gallery.py`` (individuals the shipped calibration was not fitted on;
left flanks) is split (``--seed``) into enrolled and never-enrolled individuals. An enrolled individual seen in two
or more sightings keeps its last sighting out as mated searches (the right individual should be matched); the
rest of its photos are enrolled, each sighting a session (``enroll --model imagenet --verify sift``, ``--mode
cropped``, no key), so the individuals with two sightings enrolled give the gallery its genuine pairs. Every photo
of the never-enrolled individuals is a non-mated search (each should be a new fish). Both runs search the same
photos; the realised FPIR is the share of non-mated searches matched (at the accept threshold, target 0.01) and
matched or sent to review (at the review threshold, target 0.1). Intervals: 95% bootstrap over individuals (a
sighting's photos are not independent searches). Runtime: about 5 minutes on 2 shared cores.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from day_one_gallery import held_out  # noqa: E402
from lateral.evaluation.per_fish import fish_bootstrap_interval  # noqa: E402

from lateral.gallery import commands, imagenet  # noqa: E402
from lateral.gallery.fpir_thresholds import fpir_thresholds  # noqa: E402
from lateral.gallery.recalibration import calibration_file  # noqa: E402

SCORE = "hamming+sift"  # what a day-one gallery decides on


def split(fish, sessions, rng):
    """(enrolled photos, mated searches, non-mated searches) as indices: half the individuals enrolled; an
    enrolled individual's last sighting kept out when it has two or more."""
    individuals = np.unique(fish)
    enrolled_fish = rng.choice(individuals, individuals.size // 2, replace=False)
    enrolled, mated = [], []
    for name in enrolled_fish:
        own = np.flatnonzero(fish == name)
        sightings = sorted(set(sessions[own]))
        kept_out = sightings[-1] if len(sightings) >= 2 else None
        mated.extend(own[sessions[own] == kept_out])
        enrolled.extend(own[sessions[own] != kept_out])
    return np.array(enrolled), np.array(mated), np.flatnonzero(~np.isin(fish, enrolled_fish))


def outcomes(gallery, paths, fish, searches, thresholds):
    """Per search, in the order of ``searches``: (decision, top candidate is its fish)."""
    summary = commands.identify(gallery, [str(paths[i]) for i in searches], thresholds, mode="cropped")
    by_photo = {r["photo"]: r for r in summary["results"]}
    rows = [by_photo[str(Path(paths[i]).resolve())] for i in searches]
    return [(r["decision"], bool(r["candidates"]) and r["candidates"][0]["fish_id"] == fish[i])
            for i, r in zip(searches, rows)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nyala", required=True, help="the nyala-train folder")
    parser.add_argument("--seed", type=int, default=1, help="which individuals are enrolled")
    args = parser.parse_args()
    paths, fish, sessions = held_out("nyala", args.nyala)
    rng = np.random.default_rng(args.seed)
    enrolled, mated, non_mated = split(fish, sessions, rng)
    shipped = fpir_thresholds(imagenet.OPEN_SET_FILE, SCORE, origin="shipped")
    with tempfile.TemporaryDirectory() as folder:
        gallery, layout = Path(folder) / "day_one.lgal", Path(folder) / "known"
        for index in enrolled:  # known/<sighting>/<individual>/<photo>, linked to the photos
            (layout / sessions[index] / fish[index]).mkdir(parents=True, exist_ok=True)
            (layout / sessions[index] / fish[index] / Path(paths[index]).name).symlink_to(Path(paths[index]).resolve())
        commands.enroll(gallery, layout, model=imagenet.IMAGENET, mode="cropped", verify="sift")
        print(f"gallery: {np.unique(fish[enrolled]).size} individuals, {enrolled.size} photos; searches: "
              f"{mated.size} mated ({np.unique(fish[mated]).size} individuals), {non_mated.size} non-mated "
              f"({np.unique(fish[non_mated]).size} individuals)\n", flush=True)
        runs = {"shipped": [outcomes(gallery, paths, fish, searches, shipped) for searches in (mated, non_mated)]}
        started = time.perf_counter()
        summary = commands.recalibrate(gallery)
        print(f"recalibrated on {summary['fish']} individuals, {summary['photos']} photos: {summary['pairs']} pairs "
              f"({summary['genuine']} genuine), {summary['verified']} verified, in {time.perf_counter() - started:.0f} "
              "s\n")
        if summary["ece"]:
            print("| score | pairs | ECE cross-fitted, the gallery's own | ECE, the shipped calibration |\n"
                  "|---|---|---|---|")
            for score, (pairs, own, theirs) in summary["ece"].items():
                print(f"| {score} | {pairs} | {own:.3f} | {'-' if theirs is None else f'{theirs:.3f}'} |")
        own = fpir_thresholds(calibration_file(gallery), SCORE, origin="the gallery's own")
        runs["the gallery's own"] = [outcomes(gallery, paths, fish, searches, own) for searches in (mated, non_mated)]
        n_fish = np.unique(fish[enrolled]).size
    print(f"\n| calibration | accept / review threshold at N = {n_fish} | non-mated matched (FPIR target 0.01) | "
          "non-mated matched or review (target 0.1) | mated rank-1 | mated matched right | mated matched wrong |\n"
          "|---|---|---|---|---|---|---|")
    for (name, (mated_rows, non_mated_rows)), thresholds in zip(runs.items(), (shipped, own)):
        chosen = thresholds.for_fish(n_fish)
        matched = {fish[i] for i, (d, _) in zip(non_mated, non_mated_rows) if d == "match"}
        figures = [shown([d == "match" for d, _ in non_mated_rows], fish[non_mated]) + f" ({len(matched)} ind.)",
                   shown([d != "new" for d, _ in non_mated_rows], fish[non_mated]),
                   shown([hit for _, hit in mated_rows], fish[mated]),
                   shown([d == "match" and hit for d, hit in mated_rows], fish[mated]),
                   shown([d == "match" and not hit for d, hit in mated_rows], fish[mated])]
        print(f"| {name} | {chosen.accept:.3f} / {chosen.reject:.3f} | " + " | ".join(figures) + " |")


def shown(values, individuals):
    """The share of ``values`` and its 95% bootstrap interval over ``individuals``."""
    low, high = fish_bootstrap_interval(values, individuals)
    return f"{np.mean(values):.3f} [{low:.3f}, {high:.3f}]"


if __name__ == "__main__":
    main()
