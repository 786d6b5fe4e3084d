"""The FS48 development recipe end to end: prepare, stage one, stage two, cross-camera evaluation.

    python bench/fs48_dev.py --fs48 ../shared/datasets/fs48-train [--work fs48_run]       # the full recipe
    python bench/fs48_dev.py --probe --tag arc_auto --set head_type=ArcHead --set logit_scale=auto
    python bench/fs48_dev.py --compare softmax arc_auto                                    # paired bootstrap

Trains on the 16 fish not in ``held_out_fish`` of the stage-one config, evaluates on the other 8
with the cross-camera protocol (a query never matches an image of the same fish from the same
camera), and prints rank-1, mAP, EER and AUC for the float embedding (cosine) and the IoM codes
(Hamming), each with its bootstrap 95% interval over fish, the side cameras alone (C1 and C3),
per-fish rank-1 with each fish's most confused fish, and the wall time of each stage.

``--probe``: a short experiment on the same split and seed: stage one only, ``PROBE`` epochs, the
prepared crops shared between probes; ``--set KEY=VALUE`` (repeatable, YAML values, dotted keys for
sections) changes the stage-one config, ``--set2`` the stage-two config (with ``--iom_tag NAME`` for
the stage-two run: a finished stage one is reused, so stage-two variants cost a minute each). Each run keeps its per-query results in
``WORK/evaluation/<tag>/queries.json``; ``--compare A B`` gives the paired bootstrap interval of
the difference B - A in rank-1 and mAP (``TAG:MEASURE`` compares two measures, e.g. ``T:cosine T:cosine+sift``) (fish resampled, so a difference inside it is noise).
``--flip_tta``, ``--camera_norm``, ``--rerank`` apply those test-time options to the evaluation (saved as
``<tag>+<options>``, for ``--compare``); ``--evaluate_only`` evaluates a trained run again without training.
``--verify sift [--shortlist B]`` adds each global measure fused with local verification (``MEASURE+sift``: the
top B candidates by the global score matched on the ROI re-cut from the photo, both scores mapped to P(same fish) by
isotonic calibrations cross-fitted over two folds of the held-out fish, a query's fold calibrated on the other's
pairs, and averaged; docs/matching.md).
``--quick`` shrinks training to a few steps (a check that the path works, not a figure).
Every stage resumes, so an interrupted run continues; a finished one is only re-evaluated.
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sys  # noqa: E402

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from lateral.config import load_config  # noqa: E402
from lateral.data.prepare import prepare  # noqa: E402
from lateral.data.split import keep_fish  # noqa: E402
from lateral.evaluation import metrics  # noqa: E402
from lateral.evaluation.camera_norm import camera_normalise  # noqa: E402
from lateral.evaluation.local_verification import VerifyOptions, local_features, verified_inliers  # noqa: E402
from lateral.evaluation.per_fish import fish_bootstrap_interval, noise_verdict, per_fish_rank1  # noqa: E402
from lateral.evaluation.protocol import comparable  # noqa: E402
from lateral.evaluation.rerank import rerank_per_query  # noqa: E402
from lateral.evaluation.templates import compute_templates, load_test_set  # noqa: E402
from lateral.matching.fusion import DEFAULT_BUDGET, fuse  # noqa: E402
from lateral.matching.local_features import MATCHERS  # noqa: E402
from lateral.measures import MEASURES  # noqa: E402
from lateral.training.stage_one import train_stage_one  # noqa: E402
from lateral.training.stage_two import train_stage_two  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from matching_dev import cross_fitted  # noqa: E402
QUICK = {"epochs": 1, "steps_per_epoch": 3}
PROBE = {"epochs": 5, "steps_per_epoch": 300, "save_steps": 300}
SIDE_CAMERAS = ("C1", "C3")  # C2 looks down on the fish (a dorsal view); C1 and C3 see the flanks


def timed(label, action, times):
    started = time.perf_counter()
    result = action()
    times[label] = time.perf_counter() - started
    print(f"== {label}: {times[label]:.0f} s", flush=True)
    return result


def parse_settings(pairs):
    settings = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator:
            raise SystemExit(f"--set takes KEY=VALUE, got {pair!r}")
        settings[key] = yaml.safe_load(value)
    return settings


def per_query(similarity, fish_ids, allowed):
    """Per query (with at least one allowed image of its own fish): rank-1 hit, average precision, top-1 fish."""
    return [{"index": query, "fish": str(fish_ids[query]), "hit": bool(relevant[0]),
             "ap": metrics.average_precision(relevant), "top1": str(fish_ids[ranked[0]])}
            for query, ranked, relevant in metrics.query_rankings(similarity, fish_ids, allowed)]


def figures_for(similarity, roi_set, cameras=None, rerank=False):
    """Identification and verification figures of one score matrix, cross-camera, optionally on some cameras;
    ``rerank``: identification on k-reciprocal re-ranked distances (verification stays on the plain scores)."""
    keep = np.ones(len(roi_set), bool) if cameras is None else np.isin(roi_set.sessions, cameras)
    fish_ids, sessions = roi_set.fish_ids[keep], roi_set.sessions[keep]
    similarity = similarity[np.ix_(keep, keep)]
    allowed = comparable(fish_ids, roi_set.flanks[keep], sessions, cross_session=True)
    ranking = -rerank_per_query(1.0 - np.asarray(similarity, np.float64), allowed) if rerank else similarity
    queries = per_query(ranking, fish_ids, allowed)
    per_fish = per_fish_rank1(ranking, fish_ids, allowed)
    hits = np.array([row["hit"] for row in queries], float)
    aps = np.array([row["ap"] for row in queries])
    query_fish = np.array([row["fish"] for row in queries])
    first, second = np.nonzero(np.triu(allowed, k=1))
    genuine = fish_ids[first] == fish_ids[second]
    scores = similarity[first, second]
    eer, _ = metrics.equal_error_rate(scores[genuine], scores[~genuine])
    return {
        "rank1": float(hits.mean()), "rank1_95": fish_bootstrap_interval(hits, query_fish),
        "map": float(aps.mean()), "map_95": fish_bootstrap_interval(aps, query_fish),
        "eer": float(eer), "auc": float(metrics.area_under_roc(scores[genuine], scores[~genuine])),
        "queries": queries, "per_fish": per_fish,
    }


def per_fish_lines(table):
    return [f"  fish {fish}: rank-1 {row.rank1:.3f} over {row.queries} queries; most confused with "
            f"{row.most_confused or '-'} ({row.confusions / row.queries:.0%} of its queries)"
            for fish, row in table.items()]


def fused_with_local(similarity, roi_set, features, options):
    """P(same fish): ``similarity`` fused with the inlier counts of each query's shortlist, both calibrated
    cross-fitted over two folds of the fish (lateral.matching.fusion)."""
    fish_ids = roi_set.fish_ids
    allowed = comparable(fish_ids, roi_set.flanks, roi_set.sessions, cross_session=True)
    same_fish = fish_ids[:, None] == fish_ids[None, :]
    local = verified_inliers(similarity, allowed, features, options)
    verified = ~np.isnan(local)
    global_probability = cross_fitted(similarity, same_fish, allowed, fish_ids, "global")
    local_probability = cross_fitted(np.nan_to_num(local), same_fish, allowed & verified, fish_ids, "local")
    return fuse(global_probability, np.where(verified, local_probability, np.nan))


def evaluate(run_folder, prepared, fish, out_dir, flip_tta=False, camera_norm=False, rerank=False, verify=None):
    """{measure: {"all"/"side": figures}}; ``verify`` (VerifyOptions) adds ``measure+matcher``, the fused score."""
    roi_set = keep_fish(load_test_set(prepared), fish, keep=True)
    templates = compute_templates(run_folder, roi_set, flip_tta=flip_tta)
    if camera_norm:
        templates["embeddings"] = camera_normalise(templates["embeddings"], roi_set.sessions)
    features = None if verify is None else local_features(roi_set, prepared, verify)
    results = {}
    for name in ("cosine", "hamming"):
        measure = MEASURES.get(name)
        representation = templates[measure.representation]
        if representation is None:
            continue
        similarity = measure.scores(representation, representation)
        scored = {name: similarity}
        if verify is not None:
            scored[f"{name}+{verify.matcher}"] = fused_with_local(similarity, roi_set, features, verify)
        for label, scores in scored.items():
            results[label] = {"all": figures_for(scores, roi_set, rerank=rerank),
                              "side": figures_for(scores, roi_set, SIDE_CAMERAS, rerank=rerank)}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "queries.json").write_text(json.dumps(results))
    return results


def interval(values):
    return f"[{values[0]:.3f}, {values[1]:.3f}]"


def print_results(results):
    print("\nFS48 development split: 8 held-out fish, cross-camera (brackets: bootstrap 95% over fish)")
    print(f"{'measure':13s} {'cameras':8s} {'rank-1':>22s} {'mAP':>22s} {'EER':>6s} {'AUC':>6s}")
    for name, by_cameras in results.items():
        for cameras, figures in by_cameras.items():
            label = "C1-C3" if cameras == "side" else "all"
            print(f"{name:13s} {label:8s} {figures['rank1']:.3f} {interval(figures['rank1_95']):>16s} "
                  f"{figures['map']:.3f} {interval(figures['map_95']):>16s} {figures['eer']:6.3f} {figures['auc']:6.3f}")
    for name, by_cameras in results.items():
        print(f"\nper fish ({name}, all cameras):")
        print("\n".join(per_fish_lines(by_cameras["all"]["per_fish"])))


def compare(work, first, second, measure="cosine", cameras="all"):
    """Paired bootstrap (fish resampled) of the difference second - first in rank-1 and mAP; a run named
    ``TAG:MEASURE`` is that run's measure (e.g. ``run:cosine run:cosine+sift``), otherwise ``measure``."""
    runs = []
    for run in (first, second):
        tag, _, chosen = run.partition(":")
        stored = json.loads((work / "evaluation" / tag / "queries.json").read_text())
        runs.append(stored[chosen or measure][cameras]["queries"])
    by_index = [{row["index"]: row for row in rows} for rows in runs]
    shared = sorted(set(by_index[0]) & set(by_index[1]))
    query_fish = np.array([by_index[0][i]["fish"] for i in shared])
    print(f"{second} - {first} ({measure if ':' not in first + second else 'as named'}, {cameras} cameras, "
          f"{len(shared)} paired queries):")
    for key, label in (("hit", "rank-1"), ("ap", "mAP")):
        difference = np.array([float(by_index[1][i][key]) - float(by_index[0][i][key]) for i in shared])
        low, high = fish_bootstrap_interval(difference, query_fish)
        verdict = noise_verdict((low, high))
        print(f"  {label}: {difference.mean():+.3f} [{low:+.3f}, {high:+.3f}]  {verdict}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fs48", default=str(REPO.parent / "shared" / "datasets" / "fs48-train"))
    parser.add_argument("--work", default="fs48_run", help="working folder (prepared data, checkpoints, logs)")
    parser.add_argument("--stage1", default=str(REPO / "configs" / "fs48_stage1_pretrained.yaml"),
                        help="stage-one config (default: the best recipe)")
    parser.add_argument("--stage2", default=str(REPO / "configs" / "fs48_stage2.yaml"), help="stage-two config")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="stage-one config change")
    parser.add_argument("--set2", action="append", default=[], metavar="KEY=VALUE", help="stage-two config change")
    parser.add_argument("--iom_tag", help="stage-two run name (default: TAG_iom); a finished stage one is reused")
    parser.add_argument("--tag", help="run name (default: from the stage-one config's sub_name)")
    parser.add_argument("--probe", action="store_true", help=f"stage one only, {PROBE['epochs']} epochs")
    parser.add_argument("--quick", action="store_true", help="a few training steps only")
    parser.add_argument("--evaluate_only", action="store_true", help="evaluate the trained run --tag, train nothing")
    for trick, text in (("flip_tta", "average each embedding with its mirror's"),
                        ("camera_norm", "subtract each camera's mean embedding"),
                        ("rerank", "k-reciprocal re-ranking for identification")):
        parser.add_argument(f"--{trick}", action="store_true", help=f"evaluation: {text}")
    parser.add_argument("--verify", choices=MATCHERS.names(), help="also each measure fused with this local matcher")
    parser.add_argument("--shortlist", type=int, default=DEFAULT_BUDGET, help="candidates verified per query")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"), help="paired bootstrap of two evaluated runs")
    args = parser.parse_args()
    work = Path(args.work)
    if args.compare and all(":" in run for run in args.compare):
        for cameras in ("all", "side"):
            compare(work, *args.compare, cameras=cameras)
        return
    if args.compare:
        for measure in ("cosine", "hamming", *(f"{name}+{matcher}" for name in ("cosine", "hamming")
                                                for matcher in MATCHERS.names())):
            for cameras in ("all", "side"):
                try:
                    compare(work, *args.compare, measure, cameras)
                except KeyError:
                    pass
        return
    base = load_config(args.stage1)
    tag = args.tag or base.run.sub_name + ("_quick" if args.quick else "")
    overrides = {**(QUICK if args.quick else PROBE if args.probe else {}), **parse_settings(args.set)}
    height, width = load_config(args.stage1, overrides).model.input_size
    prepared = work / f"prepared_{height}x{width}"
    stage_one = load_config(args.stage1, {**overrides, "train_dataset": str(prepared), "sub_name": tag})
    checkpoints, logs = work / "checkpoints", work / "logs"
    times = {}
    tricks = [trick for trick in ("flip_tta", "camera_norm", "rerank") if getattr(args, trick)]
    verify = None if args.verify is None else VerifyOptions(args.verify, args.shortlist, photos=args.fs48)
    evaluation = work / "evaluation" / "+".join([args.iom_tag or tag, *tricks])
    if args.evaluate_only:
        run_folder = checkpoints / (tag if args.probe else args.iom_tag or tag + "_iom")
        results = timed("evaluation", lambda: evaluate(run_folder, prepared, stage_one.data.held_out_fish, evaluation,
                                                       verify=verify, **{trick: True for trick in tricks}), times)
        print_results(results)
        return
    summary = timed("prepare", lambda: prepare(args.fs48, prepared, stage_one.preprocess, stage_one.model.input_size,
                                               segment=False, workers=2, session_pattern=stage_one.data.session_pattern),
                    times)
    print(f"{summary['ok']} of {summary['photos']} crops prepared; rejected: {summary['by_reason'] or 'none'}")
    (work / "evaluation" / tag).mkdir(parents=True, exist_ok=True)
    (work / "evaluation" / tag / "settings.json").write_text(json.dumps({"stage1": args.stage1, **overrides}))
    timed("stage one", lambda: train_stage_one(stage_one, "eager_tf", checkpoint_root=checkpoints, log_root=logs),
          times)
    run_folder = checkpoints / tag
    if not args.probe:
        stage_two = load_config(args.stage2, {"train_dataset": str(prepared), "sub_name": args.iom_tag or tag + "_iom",
                                              "1st_sub_name": tag, "input_size": [height, width],
                                              **(QUICK if args.quick else {}), **parse_settings(args.set2)})
        timed("stage two", lambda: train_stage_two(stage_two, checkpoint_root=checkpoints, log_root=logs), times)
        run_folder = checkpoints / stage_two.run.sub_name
    results = timed("evaluation", lambda: evaluate(run_folder, prepared, stage_one.data.held_out_fish, evaluation,
                                                   verify=verify, **{trick: True for trick in tricks}), times)
    print_results(results)
    print("wall time: " + ", ".join(f"{label} {seconds / 60:.1f} min" for label, seconds in times.items()))


if __name__ == "__main__":
    main()
