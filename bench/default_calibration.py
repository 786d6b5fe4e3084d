"""The default calibration shipped with the package (lateral/matching/calibrations/): frozen ImageNet cosine, the
random IoM Hamming similarity of ``gallery enroll --model imagenet`` and SIFT inlier count mapped to P(same fish),
fitted on development data, with its ECE on held-out individuals; and the impostor best scores (``lateral.fpir``)
of Hamming, cosine and their fusions with SIFT, from which that gallery's FPIR thresholds come.

    python bench/default_calibration.py --nyala ../shared/datasets/nyala-train --fs48 ../shared/datasets/fs48-train

Each set's individuals are split as ``bench/matching_dev.py`` splits them (seed 0): the pairs of the calibration
half's sampled queries (cosine: every allowed candidate; SIFT: the top 100 by cosine, the pairs it is applied to)
of both sets are pooled and fitted; the ECE is measured on the held-out halves' pairs (every candidate for
cosine, the top 100 for SIFT and the fused score), each set alone and pooled. ``--write`` replaces the shipped
files. Runtime: under a minute once ``bench/matching_dev.py`` has cached both sets' features and pair scores
(``--cache``), else about 40 minutes on 2 shared cores.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from matching_dev import PairScores, global_features, half_scores, list_photos, pair_masks, shuffle_and_split  # noqa: E402

from lateral.matching.cache import FeatureCache  # noqa: E402
from lateral.matching.calibration import SHIPPED_FOLDER, Calibration, expected_calibration_error, shipped_path  # noqa: E402,E501
from lateral.fpir import impostor_best_scores, write_calibration  # noqa: E402
from lateral.gallery.imagenet import IMAGENET_M, IMAGENET_Q, OPEN_SET_FILE  # noqa: E402
from lateral.matching.fusion import DEFAULT_BUDGET, fuse, fuse_calibrated, shortlist, verify_shortlist  # noqa: E402
from lateral.matching.local_features import MATCHERS  # noqa: E402

MATCHER, LONG_SIDE, QUERIES = "sift", 320, 60  # as bench/matching_dev.py's defaults, so its cached pairs serve


def halves(dataset, photos, cache, seed=0):
    """{half: (fish, allowed, queries, cosine, inliers)} drawn exactly as bench/matching_dev.py draws them."""
    rng = np.random.default_rng(seed)
    paths, fish, sessions, flanks = list_photos(dataset, photos, 10)
    order, calibration_fish = shuffle_and_split(fish, rng)
    paths, fish, sessions, flanks = paths[order], fish[order], sessions[order], flanks[order]
    embeddings = global_features(paths, Path(cache) / dataset)
    features = FeatureCache(Path(cache) / dataset / f"{MATCHER}_{LONG_SIDE}", MATCHER, LONG_SIDE)
    pair_scores = PairScores(Path(cache) / dataset / f"pairs_{MATCHER}_{LONG_SIDE}.npz",
                             [features.features(path) for path in paths], paths, MATCHERS.get(MATCHER).norm)
    in_calibration = np.isin(fish, calibration_fish)
    drawn = {name: half_scores(index, fish, sessions, flanks, embeddings, pair_scores, QUERIES, budget, rng)
             for name, index, budget in (("calibration", np.flatnonzero(in_calibration), DEFAULT_BUDGET),
                                         ("held-out", np.flatnonzero(~in_calibration), None))}
    hamming = hamming_similarity(random_iom_codes(embeddings))
    for name, index in (("calibration", np.flatnonzero(in_calibration)), ("held-out", np.flatnonzero(~in_calibration))):
        half_fish, allowed, queries, _, _ = drawn[name]
        rows = np.zeros(allowed.shape, bool)
        rows[queries] = allowed[queries]
        similarity = hamming[np.ix_(index, index)]
        local = verify_shortlist(shortlist(similarity, rows, DEFAULT_BUDGET),
                                 lambda i, j, index=index: pair_scores(*sorted((index[i], index[j]))))
        drawn[name] = (*drawn[name], similarity, local)
    pair_scores.save()
    return drawn


def random_iom_codes(embeddings):
    """The codes an ``enroll --model imagenet`` gallery without a key makes of ``embeddings`` (its own layers)."""
    from lateral.gallery.imagenet import IMAGENET_M, IMAGENET_Q, PROJECTION_SEED
    from lateral.models.iom import HardCodes, RandomIoMProjection

    return HardCodes()(RandomIoMProjection(IMAGENET_M, IMAGENET_Q, PROJECTION_SEED)(np.float32(embeddings))).numpy()


def hamming_similarity(codes):
    """[n, n] share of equal codes (the gallery's Hamming similarity)."""
    return sum(np.equal.outer(codes[:, group], codes[:, group]) for group in range(codes.shape[1])) / codes.shape[1]


def open_set_scores(half, cosine, sift, hamming):
    """{score: impostor best scores} of one half (``lateral.fpir``'s calibration): each photo's best score against
    every other fish, for Hamming and cosine over every photo, and for the fused scores over the sampled queries
    (each fused over its own shortlist, the global probability elsewhere, as the gallery fuses)."""
    fish, allowed, queries, cosine_scores, cosine_local, hamming_scores, hamming_local = half
    rows = np.zeros(allowed.shape, bool)
    rows[queries] = allowed[queries]
    fused = {"cosine+sift": fuse_calibrated(cosine_scores, cosine_local, (cosine, sift)),
             "hamming+sift": fuse_calibrated(hamming_scores, hamming_local, (hamming, sift))}
    return {"cosine": impostor_best_scores(cosine_scores, fish, allowed),
            "hamming": impostor_best_scores(hamming_scores, fish, allowed),
            **{name: impostor_best_scores(scores, fish, rows) for name, scores in fused.items()}}


def pairs(half):
    """(cosine, genuine) of every candidate and (inliers, cosine, genuine) of the top DEFAULT_BUDGET, per query."""
    fish, allowed, queries, cosine, local = half[:5]
    same_fish, queried, _ = pair_masks(fish, allowed, queries, local)
    chosen = shortlist(cosine, queried, DEFAULT_BUDGET)
    return (cosine[queried], same_fish[queried]), (local[chosen], cosine[chosen], same_fish[chosen])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nyala", required=True, help="the nyala-train folder")
    parser.add_argument("--fs48", required=True, help="the fs48-train folder")
    parser.add_argument("--cache", default="/tmp/lateral-matching-cache")
    parser.add_argument("--write", action="store_true", help=f"replace the shipped files in {SHIPPED_FOLDER}")
    args = parser.parse_args()
    drawn = {dataset: halves(dataset, photos, args.cache) for dataset, photos in (("nyala", args.nyala),
                                                                                 ("fs48", args.fs48))}
    fit = [pairs(sets["calibration"]) for sets in drawn.values()]
    cosine = Calibration.fit("imagenet_cosine", np.concatenate([g[0] for g, _ in fit]),
                             np.concatenate([g[1] for g, _ in fit]))
    sift = Calibration.fit(f"imagenet_{MATCHER}", np.concatenate([v[0] for _, v in fit]),
                           np.concatenate([v[2] for _, v in fit]))
    print(f"fitted on {sum(g[0].size for g, _ in fit)} cosine pairs and {sum(v[0].size for _, v in fit)} verified "
          f"pairs of the calibration halves; {len(cosine.knots)} and {len(sift.knots)} knots\n")
    print("| held-out pairs | cosine ECE | SIFT ECE | fused ECE |\n|---|---|---|---|")
    held = {dataset: pairs(sets["held-out"]) for dataset, sets in drawn.items()}
    held["both"] = tuple(tuple(np.concatenate(parts) for parts in zip(*(h[k] for h in held.values())))
                         for k in range(2))
    for dataset, ((every, every_genuine), (inliers, short_cosine, genuine)) in held.items():
        fused = fuse(cosine(short_cosine), sift(inliers))
        print(f"| {dataset} ({every.size} / {inliers.size} pairs, {int(genuine.sum())} genuine shortlisted) | "
              f"{expected_calibration_error(cosine(every), every_genuine):.3f} | "
              f"{expected_calibration_error(sift(inliers), genuine):.3f} | "
              f"{expected_calibration_error(fused, genuine):.3f} |")
    print("\nOne species alone (what `lateral gallery recalibrate` does for a gallery): fitted on its own calibration "
          "half, ECE on its held-out half; brackets: bootstrap 95 % over the held-out queries.\n\n"
          "| held-out pairs | cosine ECE | SIFT ECE | fused ECE |\n|---|---|---|---|")
    rng = np.random.default_rng(0)
    for dataset, sets in drawn.items():
        (fit_every, fit_every_genuine), (fit_inliers, _, fit_genuine) = pairs(sets["calibration"])
        own_cosine = Calibration.fit("cosine", fit_every, fit_every_genuine)
        own_sift = Calibration.fit(MATCHER, fit_inliers, fit_genuine)
        (every, every_genuine), (inliers, short_cosine, genuine) = held[dataset]
        every_rows, short_rows = query_rows(sets["held-out"])
        fused = fuse(own_cosine(short_cosine), own_sift(inliers))
        print(f"| {dataset} | {ece_with_interval(own_cosine(every), every_genuine, every_rows, rng)} | "
              f"{ece_with_interval(own_sift(inliers), genuine, short_rows, rng)} | "
              f"{ece_with_interval(fused, genuine, short_rows, rng)} |")
    hamming = Calibration.fit("imagenet_hamming", *(np.concatenate(parts) for parts in zip(
        *(hamming_pairs(sets["calibration"]) for sets in drawn.values()))))
    print(f"\nrandom IoM Hamming (m {IMAGENET_M}, q {IMAGENET_Q}), shortlist by Hamming:\n\n"
          "| held-out pairs | Hamming ECE | fused Hamming+SIFT ECE |\n|---|---|---|")
    for dataset, sets in drawn.items():
        every, every_genuine = hamming_pairs(sets["held-out"])
        fish, allowed, queries, _, _, similarity, local = sets["held-out"]
        same_fish, queried, _ = pair_masks(fish, allowed, queries, local)
        chosen = shortlist(similarity, queried, DEFAULT_BUDGET)
        fused = fuse(hamming(similarity[chosen]), sift(local[chosen]))
        print(f"| {dataset} | {expected_calibration_error(hamming(every), every_genuine):.3f} | "
              f"{expected_calibration_error(fused, same_fish[chosen]):.3f} |")
    open_set = [open_set_scores(sets["calibration"], cosine, sift, hamming) for sets in drawn.values()]
    open_set = {name: np.concatenate([scores[name] for scores in open_set]) for name in open_set[0]}
    print("\nimpostor best scores of the calibration halves (lateral.fpir): " + ", ".join(
        f"{name} {scores.size}" for name, scores in open_set.items()))
    if args.write:
        for calibration in (cosine, sift, hamming):
            calibration.save(shipped_path(calibration.score))
        write_calibration(OPEN_SET_FILE, open_set, {"data": "calibration halves of nyala-train and fs48-train "
                                                            "(bench/default_calibration.py)",
                                                    "protocol": "cross-session, same flank"})
        print(f"\nwrote {SHIPPED_FOLDER}")


def query_rows(half):
    """The query (row) of each pair ``pairs`` returns: (every candidate's, the shortlist's)."""
    fish, allowed, queries, cosine, local = half[:5]
    _, queried, _ = pair_masks(fish, allowed, queries, local)
    return np.nonzero(queried)[0], np.nonzero(shortlist(cosine, queried, DEFAULT_BUDGET))[0]


def ece_with_interval(probabilities, labels, rows, rng, rounds=200):
    """"ECE [low, high]": the 95 % interval from resampling the queries (each query's pairs together)."""
    queries = np.unique(rows)
    members = [np.flatnonzero(rows == query) for query in queries]
    draws = [np.concatenate([members[i] for i in rng.integers(0, queries.size, queries.size)]) for _ in range(rounds)]
    low, high = np.percentile([expected_calibration_error(probabilities[d], labels[d]) for d in draws], [2.5, 97.5])
    return f"{expected_calibration_error(probabilities, labels):.3f} [{low:.3f}, {high:.3f}]"


def hamming_pairs(half):
    """(Hamming similarity, genuine) of every allowed candidate of the sampled queries."""
    fish, allowed, queries, _, _, similarity, local = half
    same_fish, queried, _ = pair_masks(fish, allowed, queries, local)
    return similarity[queried], same_fish[queried]


if __name__ == "__main__":
    main()
