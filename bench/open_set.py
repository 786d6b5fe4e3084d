"""Open-set identification: FNIR at FPIR 0.01 and 0.1 against gallery size N, and the realised FPIR of the threshold
the gallery sets for N (lateral.fpir), on fish the model never saw, with distractor fish beyond them.

    python bench/open_set.py [--run checkpoints/synthetic_iom] [--fish 200] [--distractors 1000] [--work DIR]
    python bench/open_set.py --run RUN --test_dataset PREPARED [--distractor_dataset PREPARED] [--cross_session]
    python bench/open_set.py --run fs48_run/checkpoints/default_iom --test_dataset fs48_run/prepared_HxW \
        --held_out_only --cross_session      # FS48: the run's held-out fish; its training fish are the distractors

Default (after ``make demo``): renders ``--fish`` unseen synthetic fish (seed 5; 2 sessions x 4 photos) and
``--distractors`` other synthetic fish (seed 6; 2 sessions x 2 photos), prepares their ROIs, and runs
``lateral.evaluation.open_set.evaluate_open_set`` (the code test_iom.py runs) per measure: half the unseen fish
(seeded) enrolled with half their photos, the other half never enrolled; galleries of N = 10, 100, 1,000 fish
(20 seeded draws each; beyond the enrolled fish, distractors). The formula threshold for N comes from the
enrolled fish's impostor scores only; its realised FPIR is measured on the never-enrolled fish, and the target is
met when it lies within a factor of 2 of the FPIR asked for. A row outside that band whose 95% interval reaches it
is "x2 inside the noise": the interval is the wider of the fish bootstrap's and the exact binomial one of its false
positives among its non-mated searches (``lateral.evaluation.open_set.realised_fpir_interval``; 0 false positives
in 300 searches cannot tell 0 from 0.005). About 6 minutes on 2 CPU cores.

``--held_out_only``: the test set keeps only the run config's ``held_out_fish``; the other fish of the same data
set (the training fish: real, but seen by the model) become the distractors, beside any ``--distractor_dataset``.

``--splits K --enrolled_share S``: K seeded splits (seeds 0..K-1), each enrolling (and calibrating on) the share S
of the held-out fish and searching with the others; with few held-out fish (FS48's 8) one split's realised FPIR
rests on 4 never-enrolled fish and its threshold on 4 calibrating ones. The summary pools the K splits' non-mated
searches (false positives over searches) for each N and target; its interval resamples the splits.

``--sizes 10,23``: the gallery sizes N (default 10,100,1000; every enrolled fish is added). With
``--held_out_only`` and no ``--distractor_dataset``, N up to all the data set's fish keeps every gallery real.

``--leave_one_out``: one split per held-out fish, that fish never enrolled and every other one enrolled and
calibrating (``lateral.evaluation.open_set.leave_one_fish_out``), pooled the same way: the closest a held-out test
comes to the gallery's own calibration, which ``test_iom.py`` makes from every held-out fish.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from lateral import synthetic  # noqa: E402
from lateral.data.prepare import prepare  # noqa: E402
from lateral.data.records import RoiSet  # noqa: E402
from lateral.data.split import keep_fish  # noqa: E402
from lateral.evaluation.open_set import (FPIR_TARGETS, GALLERY_SIZES, evaluate_open_set,  # noqa: E402
                                         leave_one_fish_out, pooled_realised_fpir, pooled_verdict, row_verdict)
from lateral.evaluation.protocol import comparable  # noqa: E402
from lateral.evaluation.plots import open_set_figure  # noqa: E402
from lateral.evaluation.templates import compute_templates, load_test_set  # noqa: E402
from lateral.measures import MEASURES  # noqa: E402
from lateral.runs import read_config  # noqa: E402


def rendered(work, name, ids, per_id, seed, config):
    """A prepared synthetic data set in ``work/name`` (rendered and prepared once, then reused)."""
    raw, prepared = work / f"{name}_raw", work / f"{name}_prepared"
    if not (prepared / "tfrecords").is_dir():
        synthetic.render_dataset(raw, ids=ids, sessions=2, per_id=per_id, size=(640, 480), seed=seed, overwrite=True)
        prepare(raw, prepared, config.preprocess, config.model.input_size, workers=2, overwrite=True, progress=False)
    return prepared


def templates_of(run, roi_set, cache):
    """compute_templates, kept in ``cache`` (an .npz) when given: a second look at the figures skips the model."""
    if cache is not None and cache.is_file():
        with np.load(cache) as stored:
            return {"embeddings": stored["embeddings"], "codes": stored["codes"] if "codes" in stored else None}
    templates = compute_templates(run, roi_set)
    if cache is not None:
        np.savez(cache, **{key: value for key, value in templates.items() if value is not None})
    return templates


def cell(row, key):
    if f"{key}_95" not in row:  # --bootstrap 0
        return f"{row[key]:.3f}"
    low, high = row[f"{key}_95"]
    return f"{row[key]:.3f} [{low:.3f}, {high:.3f}]"


def print_figures(name, figures):
    """Print one measure's open-set table; returns each row's ``factor_of_two_verdict``."""
    met = []
    print(f"\n{name}: {figures['enrolled_fish']} enrolled fish ({figures['gallery_templates']} templates), "
          f"{figures['never_enrolled_fish']} never enrolled, {figures['distractor_fish']} distractors; "
          f"{figures['calibration_scores']} calibration scores (enrolled fish only)")
    print("   N  target  FNIR at target [95%]   formula threshold      realised FPIR [95%]    "
          "FNIR at formula [95%]  x2 target            searches (mated, non-mated)")
    for size, row in figures["by_gallery_size"].items():
        if "note" in row:
            print(f"{size:>4}  {row['note']}")
            continue
        for target in FPIR_TARGETS:
            key = f"{target:g}"
            (low, high), verdict = row_verdict(row, key)
            met.append(verdict)
            realised = f"{row[f'realised_fpir_{key}']:.3f} [{low:.3f}, {high:.3f}]"
            print(f"{size:>4}  {target:<6g}  {cell(row, f'fnir_at_fpir_{key}'):21s}  "
                  f"{row[f'formula_threshold_{key}']:.4f} ({row[f'formula_how_{key}']:9s})  "
                  f"{realised:21s}  {cell(row, f'formula_fnir_{key}'):21s}  "
                  f"{verdict:19s}  {row['mated_searches']}, {row['non_mated_searches']}")
    return met


def print_pooled(name, per_split):
    """Print the pooled realised FPIR of several splits with its interval over splits; returns each row's
    ``factor_of_two_verdict``."""
    first = per_split[0]
    print(f"\n{name}, {len(per_split)} splits: {first['enrolled_fish']} enrolled (calibrating) and "
          f"{first['never_enrolled_fish']} never-enrolled fish each, {first['distractor_fish']} distractors")
    print("   N  target  realised FPIR per split                   pooled [95%]              x2 target            "
          "non-mated searches (all splits)")
    met = []
    for size, by_target in pooled_realised_fpir(per_split).items():
        for target, entry in by_target.items():
            (low, high), verdict = pooled_verdict(entry, target)
            met.append(verdict)
            rates = entry["per_split"]
            shown = " ".join(f"{rate:.3f}" for rate in rates) if len(rates) <= 8 else (
                f"{min(rates):.3f} to {max(rates):.3f} ({len(rates)} splits)")
            print(f"{size:>4}  {target:<6}  {shown:40s}  "
                  f"{entry['pooled']:.3f} [{low:.3f}, {high:.3f}]    {verdict:19s}  {entry['non_mated_searches']}")
    return met


def add_sizes_option(parser):
    parser.add_argument("--sizes", default=",".join(map(str, GALLERY_SIZES)),
                        help="gallery sizes N, comma-separated (and every enrolled fish)")


def gallery_sizes(parser, args):
    """The gallery sizes of ``--sizes``; a malformed list is a one-line usage error naming it."""
    try:
        return tuple(int(size) for size in args.sizes.split(","))
    except ValueError:
        parser.error(f"--sizes {args.sizes}: give whole numbers separated by commas")


def verdict_summary(verdicts):
    """One line: how many rows' realised FPIR met the target within x2, and how many more only inside the noise."""
    return (f"realised FPIR within a factor of 2 of the target: {verdicts.count('within x2')} of {len(verdicts)} "
            f"rows; {verdicts.count('x2 inside the noise')} more inside the noise (their 95% interval reaches the "
            "band)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default="checkpoints/synthetic_iom", help="a trained run folder")
    parser.add_argument("--test_dataset", default=None, help="prepared held-out fish (default: render --fish)")
    parser.add_argument("--distractor_dataset", default=None, help="prepared other fish (default: render)")
    parser.add_argument("--fish", type=int, default=200, help="unseen synthetic fish to render")
    parser.add_argument("--distractors", type=int, default=1000, help="synthetic distractor fish to render")
    parser.add_argument("--cross_session", action="store_true", help="a search never meets its own session")
    parser.add_argument("--measure", action="append", default=None, help="default: hamming (if codes) and cosine")
    parser.add_argument("--work", default=None, help="keep rendered data here (default: a temporary folder)")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--plot", default=None, help="write open_set.png into this folder")
    parser.add_argument("--held_out_only", action="store_true",
                        help="test on the config's held_out_fish; the data set's other fish are distractors")
    parser.add_argument("--splits", type=int, default=1, help="seeded enrolled/never-enrolled splits, pooled")
    parser.add_argument("--enrolled_share", type=float, default=0.5,
                        help="share of the test fish enrolled and calibrating in each split")
    add_sizes_option(parser)
    parser.add_argument("--leave_one_out", action="store_true",
                        help="one split per test fish, that fish never enrolled, the others calibrating (pooled)")
    args = parser.parse_args()
    sizes = gallery_sizes(parser, args)
    started = time.perf_counter()
    config = read_config(args.run)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.work or scratch)
        work.mkdir(parents=True, exist_ok=True)
        test = args.test_dataset or rendered(work, f"unseen{args.fish}", args.fish, 4, 5, config)
        roi_set = load_test_set(test)
        if args.held_out_only:
            roi_set, distractor_set = (keep_fish(roi_set, config.data.held_out_fish, keep) for keep in (True, False))
            others = f"{test}, the fish not held out"
            if args.distractor_dataset:
                extra = load_test_set(args.distractor_dataset)
                distractor_set = RoiSet(*(np.concatenate([getattr(distractor_set, field), getattr(extra, field)])
                                          for field in ("images", "labels", "fish_ids", "sessions", "sources",
                                                        "flanks")), {})
                others += f" and {args.distractor_dataset}"
        else:
            others = args.distractor_dataset or rendered(work, f"distractors{args.distractors}", args.distractors, 2,
                                                         6, config)
            distractor_set = load_test_set(others)
    cache = (lambda name: Path(args.work) / f"templates_{Path(args.run).name}_{name}.npz") if args.work else (
        lambda name: None)
    suffix = "_held_out" if args.held_out_only else ""
    templates = templates_of(args.run, roi_set, cache(Path(test).name + suffix))
    distractor_key = Path(others).name
    if args.held_out_only:
        extra = Path(args.distractor_dataset).name if args.distractor_dataset else ""
        distractor_key = f"{Path(test).name}_not_held_out{'_plus_' + extra if extra else ''}"
    distractor_templates = templates_of(args.run, distractor_set, cache(distractor_key))
    allowed = comparable(roi_set.fish_ids, roi_set.flanks, roi_set.sessions, args.cross_session)
    distractor_allowed = roi_set.flanks[:, None] == distractor_set.flanks[None, :]
    if args.cross_session:  # the same rule for every gallery fish (FS48: cameras C1-C3 film every fish)
        distractor_allowed &= roi_set.sessions[:, None] != distractor_set.sessions[None, :]
    measures = args.measure or [*(["hamming"] if templates["codes"] is not None else []), "cosine"]
    print(f"{args.run}: {len(roi_set)} photos of {len(np.unique(roi_set.fish_ids))} fish ({test}); "
          f"{len(distractor_set)} photos of {len(np.unique(distractor_set.fish_ids))} distractor fish ({others}); "
          f"protocol: {'cross-session' if args.cross_session else 'all pairs'}, same flank")
    met, results = [], {}
    for name in measures:
        measure = MEASURES.get(name)
        own = templates[measure.representation]
        similarity = measure.scores(own, own)
        distractor_similarity = measure.scores(own, distractor_templates[measure.representation])
        if args.leave_one_out:
            per_split = leave_one_fish_out(similarity, roi_set.fish_ids, allowed, distractor_similarity,
                                           distractor_set.fish_ids, distractor_allowed, sizes)
        else:
            per_split = [evaluate_open_set(similarity, roi_set.fish_ids, allowed, distractor_similarity,
                                           distractor_set.fish_ids, distractor_allowed, sizes,
                                           args.bootstrap, seed, args.enrolled_share)
                         for seed in range(args.splits)]
        results[name] = {"open_set": per_split[0]}
        met += print_figures(name, per_split[0]) if len(per_split) == 1 else print_pooled(name, per_split)
    if args.plot:
        open_set_figure(results).savefig(Path(args.plot) / "open_set.png", dpi=100, bbox_inches="tight")
    print(f"\n{verdict_summary(met)}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
