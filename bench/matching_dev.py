"""Local matching on real photos: rank-1 of frozen ImageNet features, of SIFT + RANSAC alone, and of the two
fused after calibration, with bootstrap 95% intervals over queries; ECE of each calibration on held-out pairs.

    python bench/matching_dev.py --dataset nyala --photos ../shared/datasets/nyala-train
    python bench/matching_dev.py --dataset fs48 --photos ../shared/datasets/fs48-train

The individuals are split by a fixed seed into a calibration half (the isotonic calibrations of the global
cosine and of the inlier count are fitted on its pairs) and a held-out half (every figure). Protocol: same
flank, across sightings (nyala: ``ID_sSIGHTING_SIDE.jpg``) or across cameras (FS48:
``ID_CAMERA_seq_frame.jpg``, flank unknown, every ``--fs48_every``-th photo of each fish and camera).
``--queries`` queries are sampled per half; each is matched locally against its whole allowed gallery
once, so every shortlist budget B (``--budgets``, 0 = all) reads the same inlier counts. Features are cached
under ``--cache`` (outside the repository); the calibrations, reliability plots and per-query results go
to ``--out``. Runtime on 2 shared cores: a few minutes a set once the features are cached.
"""

import argparse
import hashlib
import json
import os
import re
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from lateral.evaluation import metrics  # noqa: E402
from lateral.evaluation.protocol import comparable  # noqa: E402
from lateral.matching.cache import FeatureCache  # noqa: E402
from lateral.matching.calibration import Calibration, expected_calibration_error, plot_reliability  # noqa: E402
from lateral.matching.fusion import DEFAULT_BUDGET, fuse, shortlist, verify_shortlist  # noqa: E402
from lateral.matching.local_features import MATCHERS  # noqa: E402
from lateral.matching.verify import local_score  # noqa: E402
from lateral.measures import cosine_similarity  # noqa: E402

NAME_PATTERNS = {  # fish, session, flank from the file name
    "nyala": re.compile(r"^(?P<fish>[^_]+)_(?P<session>s\d+)_(?P<flank>[LR])\."),
    "fs48": re.compile(r"^(?P<fish>[^_]+)_(?P<session>C\d)_"),
}
BOOTSTRAP_ROUNDS = 1000


def list_photos(dataset, photos, fs48_every):
    rows = []
    for path in sorted(Path(photos).glob("*/*.jpg")):
        match = NAME_PATTERNS[dataset].match(path.name)
        rows.append((path, match["fish"], match["session"], match.groupdict().get("flank") or "unknown"))
    if dataset == "fs48":  # every k-th photo of each fish and camera: neighbouring frames are near copies
        counters = {}
        kept = []
        for row in rows:
            key = (row[1], row[2])
            counters[key] = counters.get(key, -1) + 1
            if counters[key] % fs48_every == 0:
                kept.append(row)
        rows = kept
    paths, fish, sessions, flanks = (np.array(column) for column in zip(*rows))
    return paths, fish, sessions, flanks


def global_features(paths, cache, batch=32, run=None):
    """Features of each whole photo (cached as one .npz): frozen ImageNet EfficientNet-Lite0 at 224 px, or the
    embedding model of the trained ``run`` folder at its input size."""
    key = hashlib.sha1("\n".join(map(str, paths)).encode()).hexdigest()[:16]
    name = f"run_{Path(run).name}_{int(Path(run).stat().st_mtime)}" if run else "imagenet_lite0"
    file = Path(cache) / f"{name}_{key}.npz"
    if file.exists():
        return np.load(file)["features"]
    if run:
        from lateral.runs import Run

        loaded = Run.load(run)
        model, (height, width) = loaded.embedding_model, loaded.input_size
    else:
        from lateral.models.pretrained import IMAGENET_INPUT_SIZE, imagenet_features_model

        model = imagenet_features_model()
        height, width = IMAGENET_INPUT_SIZE
    features = []
    for start in range(0, len(paths), batch):
        pixels = [cv2.resize(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), (width, height),
                             interpolation=cv2.INTER_AREA) for path in paths[start:start + batch]]
        features.append(model.predict(np.float32(pixels), verbose=0))
    features = np.concatenate(features)
    Path(cache).mkdir(parents=True, exist_ok=True)
    np.savez(file, features=features)
    return features


def shuffle_and_split(fish, rng):
    """(an order of the photos, the half of the individuals that calibrations are fitted on; the rest are held
    out), drawn in this order from ``rng``. The gallery order is arbitrary: ties are broken by it, not by name."""
    order = rng.permutation(len(fish))
    individuals = np.unique(fish)
    return order, rng.choice(individuals, individuals.size // 2, replace=False)


def sample_queries(fish, allowed, count, rng):
    """Up to ``count`` images that have an allowed image of their own fish."""
    answerable = np.flatnonzero((allowed & (fish[:, None] == fish[None, :])).any(axis=1))
    return np.sort(rng.choice(answerable, min(count, answerable.size), replace=False))


def query_hits(scores, fish, allowed, queries):
    """1 where the query's best allowed answer is of its fish (ties: gallery order, no optimism; a NaN score,
    never computed, ranks last)."""
    scores = np.nan_to_num(scores, nan=-np.inf)
    rows = np.zeros(allowed.shape, bool)
    rows[queries] = allowed[queries]
    return {query: float(ranking[0]) for query, _, ranking in metrics.query_rankings(scores, fish, rows)}


def interval(values, rng, sign=""):
    """Mean of per-query ``values`` and its bootstrap 95% interval over queries (``sign="+"``: signed)."""
    values = np.asarray(values, np.float64)
    draws = rng.integers(0, values.size, (BOOTSTRAP_ROUNDS, values.size))
    low, high = np.percentile(values[draws].mean(axis=1), [2.5, 97.5])
    return f"{values.mean():{sign}.3f} [{low:{sign}.3f}, {high:{sign}.3f}]"


def pair_masks(fish, allowed, queries, local):
    """[n, n] masks: same fish; the sampled queries' allowed pairs; the pairs matched locally."""
    queried = np.zeros(allowed.shape, bool)
    queried[queries] = allowed[queries]
    return fish[:, None] == fish[None, :], queried, ~np.isnan(local)


class PairScores:
    """Inlier counts of photo pairs, kept in one .npz so that a re-run matches no pair twice."""

    def __init__(self, file, features, paths, norm):
        self.file, self.features, self.paths, self.norm = Path(file), features, paths, norm
        self.known = {}
        if self.file.exists():
            with np.load(self.file) as stored:
                self.known = dict(zip(stored["pairs"].tolist(), stored["scores"].tolist()))

    def __call__(self, i, j):
        key = f"{self.paths[i]}|{self.paths[j]}"
        if key not in self.known:
            self.known[key] = local_score(self.features[i], self.features[j], self.norm)
        return self.known[key]

    def save(self):
        np.savez(self.file, pairs=np.array(list(self.known)), scores=np.array(list(self.known.values())))


def half_scores(index, fish, sessions, flanks, embeddings, pair_scores, queries_per_half, budget, rng):
    """(fish, allowed, queries, cosine [n, n], inliers [n, n]) of one half: each sampled query's top ``budget``
    candidates by cosine verified (all when None), NaN elsewhere."""
    fish, sessions, flanks = fish[index], sessions[index], flanks[index]
    allowed = comparable(fish, flanks, sessions, cross_session=True)
    queries = sample_queries(fish, allowed, queries_per_half, rng)
    rows = np.zeros(allowed.shape, bool)
    rows[queries] = allowed[queries]
    cosine = cosine_similarity(embeddings[index], embeddings[index])
    local = verify_shortlist(shortlist(cosine, rows, budget), lambda i, j: pair_scores(*sorted((index[i], index[j]))))
    return fish, allowed, queries, cosine, local


def cross_fitted(scores, same_fish, queried, fish, label):
    """P(same fish) of ``scores`` from isotonic calibrations cross-fitted over two folds of the queries' fish: each
    query's row is calibrated on the other fold's pairs (a trained model's scores cannot be calibrated on the
    individuals it was trained on)."""
    names = np.unique(fish[queried.any(axis=1)])
    fold_of = dict(zip(names, np.arange(names.size) % 2))
    rows = np.array([fold_of.get(name, -1) for name in fish])
    probability = np.full(scores.shape, np.nan)
    for fold in (0, 1):
        fit_rows = queried & (rows == 1 - fold)[:, None]
        calibration = Calibration.fit(label, scores[fit_rows], same_fish[fit_rows])
        probability[rows == fold] = calibration(scores[rows == fold])
    return probability


def trained_rows(trained_cosine, frozen_probability, local, fish, allowed, queries, queried, same_fish,
                 local_calibration, budget):
    """Rank-1 hits of the trained model: alone, fused with the local matcher (its own shortlist), fused with the
    frozen features, and all three (the shortlist by the mean of the two global probabilities)."""
    trained_probability = cross_fitted(trained_cosine, same_fish, queried, fish, "trained cosine")
    local_probability = np.where(queried, local_calibration(np.nan_to_num(local)), np.nan)
    both = (trained_probability + frozen_probability) / 2
    rows = {"trained (cosine)": query_hits(trained_cosine, fish, allowed, queries),
            "frozen + trained (mean of the calibrated probabilities)": query_hits(both, fish, allowed, queries)}
    for label, global_probability in (("trained", trained_probability), ("frozen + trained", both)):
        chosen = shortlist(global_probability, queried, budget)
        fused = fuse(global_probability, np.where(chosen, local_probability, np.nan))
        rows[f"{label} fused with local, B = {budget or 'all'}"] = query_hits(fused, fish, allowed, queries)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(NAME_PATTERNS), required=True)
    parser.add_argument("--photos", required=True)
    parser.add_argument("--matcher", default="sift", choices=MATCHERS.names())
    parser.add_argument("--long_side", type=int, default=320)
    parser.add_argument("--queries", type=int, default=60, help="sampled queries per half")
    parser.add_argument("--budgets", default="10,30,60,100,0", help="shortlist sizes B to fuse with (0 = all)")
    parser.add_argument("--fs48_every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default="/tmp/lateral-matching-cache")
    parser.add_argument("--out", default="/tmp/lateral-matching-dev")
    parser.add_argument("--run", default=None, help="also a model trained on the calibration half's individuals "
                                                    "(its run folder): trained rows, fused with SIFT and with the "
                                                    "frozen features")
    args = parser.parse_args()
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    paths, fish, sessions, flanks = list_photos(args.dataset, args.photos, args.fs48_every)
    order, calibration_fish = shuffle_and_split(fish, rng)
    paths, fish, sessions, flanks = paths[order], fish[order], sessions[order], flanks[order]
    individuals = np.unique(fish)
    print(f"{args.dataset}: {len(paths)} photos of {individuals.size} individuals; calibration half "
          f"{calibration_fish.size} individuals, held-out half {individuals.size - calibration_fish.size}", flush=True)

    embeddings = global_features(paths, Path(args.cache) / args.dataset)
    print(f"global features: {time.perf_counter() - started:.0f} s", flush=True)
    cache = FeatureCache(Path(args.cache) / args.dataset / f"{args.matcher}_{args.long_side}", args.matcher,
                         args.long_side)
    features = [cache.features(path) for path in paths]
    print(f"local features ({args.matcher}, {args.long_side} px): {time.perf_counter() - started:.0f} s "
          f"(median {int(np.median([len(f.points) for f in features]))} keypoints)", flush=True)
    pair_scores = PairScores(Path(args.cache) / args.dataset / f"pairs_{args.matcher}_{args.long_side}.npz", features,
                             paths, MATCHERS.get(args.matcher).norm)
    budgets = [int(value) or None for value in args.budgets.split(",")]
    in_calibration = np.isin(fish, calibration_fish)
    halves = {}
    # The local calibration is fitted on the pairs it will be applied to: the calibration queries' shortlists
    # (the largest budget's); the held-out queries are matched with every candidate (for "alone").
    for name, index, budget in (("calibration", np.flatnonzero(in_calibration), max(budgets, key=lambda b: b or 1e9)),
                                ("held-out", np.flatnonzero(~in_calibration), None)):
        halves[name] = half_scores(index, fish, sessions, flanks, embeddings, pair_scores, args.queries, budget, rng)
        pair_scores.save()
        print(f"{name} half matched: {time.perf_counter() - started:.0f} s", flush=True)

    out = Path(args.out) / args.dataset
    widest = max(budgets, key=lambda budget: budget or np.inf)
    half_fish, allowed, queries, cosine, local = halves["calibration"]
    same_fish, queried, verified = pair_masks(half_fish, allowed, queries, local)
    global_calibration = Calibration.fit("cosine", cosine[queried], same_fish[queried])
    local_calibration = Calibration.fit(args.matcher, local[verified], same_fish[verified])
    global_calibration.save(out / "calibration" / "cosine.json")
    local_calibration.save(out / "calibration" / f"{args.matcher}.json")

    half_fish, allowed, queries, cosine, local = halves["held-out"]
    same_fish, queried, _ = pair_masks(half_fish, allowed, queries, local)
    print(f"\nheld-out: {queries.size} queries, {int(same_fish[queried].sum())} genuine and "
          f"{int((~same_fish[queried]).sum())} impostor pairs; rank-1 with bootstrap 95% intervals over queries\n")
    print("| features | rank-1 | difference from the frozen features (paired) |\n|---|---|---|")
    bootstrap = np.random.default_rng(1)
    results = {"frozen ImageNet EfficientNet-Lite0 (cosine)": query_hits(cosine, half_fish, allowed, queries),
               f"{args.matcher} + RANSAC inliers alone": query_hits(local, half_fish, allowed, queries)}
    global_probability = global_calibration(cosine)
    local_probability = np.where(queried, local_calibration(np.nan_to_num(local)), np.nan)
    for budget in budgets:
        chosen = shortlist(cosine, queried, budget)
        fused = fuse(global_probability, np.where(chosen, local_probability, np.nan))
        results[f"fused, B = {budget or 'all'}"] = query_hits(fused, half_fish, allowed, queries)
    if args.run:
        trained = global_features(paths, Path(args.cache) / args.dataset, run=args.run)[np.flatnonzero(~in_calibration)]
        results.update(trained_rows(cosine_similarity(trained, trained), global_probability, local, half_fish, allowed,
                                    queries, queried, same_fish, local_calibration, DEFAULT_BUDGET))
    baseline = np.array(list(next(iter(results.values())).values()))
    for label, hits in results.items():
        values = np.array(list(hits.values()))
        print(f"| {label} | {interval(values, bootstrap)} | {interval(values - baseline, bootstrap, '+')} |")
    shortlisted = shortlist(cosine, queried, widest)
    print(f"\n| calibration (fitted on the calibration half) | held-out pairs | ECE |\n|---|---|---|")
    for label, probabilities, pairs in (
            ("cosine", global_probability, queried),
            (args.matcher, local_probability, shortlisted),
            (f"fused (mean of the two)", fuse(global_probability, local_probability), shortlisted)):
        genuine = same_fish[pairs]
        where = "every candidate" if pairs is queried else f"shortlist B = {widest or 'all'}"
        print(f"| {label} | {where}: {genuine.size} ({int(genuine.sum())} genuine) | "
              f"{expected_calibration_error(probabilities[pairs], genuine):.3f} |")
        plot_reliability(out / f"reliability_{label.split(' ')[0]}.png", probabilities[pairs], genuine, label)
    medians = [np.median(local[queried & (same_fish == flag)]) for flag in (True, False)]
    print(f"\ninlier counts on held-out pairs: genuine median {medians[0]:g}, impostor median {medians[1]:g}")
    (out / "queries.json").write_text(json.dumps({label: {str(k): v for k, v in hits.items()}
                                                  for label, hits in results.items()}, indent=1))
    print(f"\n{time.perf_counter() - started:.0f} s in all; calibrations, reliability plots, per-query hits in {out}")


if __name__ == "__main__":
    main()
