"""The FS48 development recipe end to end: prepare, stage one, stage two, cross-camera evaluation.

    python bench/fs48_dev.py --fs48 ../shared/datasets/fs48-train [--work fs48_run] [--quick]
                             [--stage1 configs/fs48_stage1_pretrained.yaml]

Trains on the 16 fish not in ``held_out_fish`` of configs/fs48_stage1.yaml (or
``--stage1``; stage two, configs/fs48_stage2.yaml, then takes its input size),
evaluates on the other 8 with the cross-camera protocol (a query never
matches an image of the same fish from the same camera), and prints rank-1,
mAP, EER and AUC for the float embedding (cosine) and the IoM codes
(Hamming), with the wall time of each stage. ``--quick`` shrinks training to a
few steps (a check that the path works, not a figure). Every stage resumes,
so an interrupted run continues; a finished one is only re-evaluated.
"""

import argparse
import dataclasses
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from lateral.config import load_config  # noqa: E402
from lateral.data.prepare import prepare  # noqa: E402
from lateral.evaluation.evaluate import evaluate_run  # noqa: E402
from lateral.training.stage_one import train_stage_one  # noqa: E402
from lateral.training.stage_two import train_stage_two  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
QUICK = {"epochs": 1, "steps_per_epoch": 3}


def timed(label, action, times):
    started = time.perf_counter()
    result = action()
    times[label] = time.perf_counter() - started
    print(f"== {label}: {times[label]:.0f} s", flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fs48", default=str(REPO.parent / "shared" / "datasets" / "fs48-train"))
    parser.add_argument("--work", default="fs48_run", help="working folder (prepared data, checkpoints, logs)")
    parser.add_argument("--quick", action="store_true", help="a few training steps only")
    parser.add_argument("--stage1", default=str(REPO / "configs" / "fs48_stage1.yaml"),
                        help="stage-one config (use another --work for another input size)")
    args = parser.parse_args()
    work = Path(args.work)
    suffix = "_quick" if args.quick else ""
    overrides = {"train_dataset": str(work / "prepared"), **(QUICK if args.quick else {})}
    stage_one = load_config(args.stage1, overrides)
    stage_one = dataclasses.replace(stage_one, sub_name=stage_one.sub_name + suffix)
    stage_two = load_config(REPO / "configs" / "fs48_stage2.yaml",
                            {**overrides, "sub_name": "fs48_iom" + suffix, "1st_sub_name": stage_one.sub_name,
                             "input_size": list(stage_one.input_size)})
    checkpoints, logs = work / "checkpoints", work / "logs"
    times = {}
    summary = timed("prepare", lambda: prepare(args.fs48, work / "prepared", stage_one.preprocess, stage_one.input_size,
                                               segment=False, workers=2, session_pattern=stage_one.session_pattern),
                    times)
    print(f"{summary['ok']} of {summary['photos']} crops prepared; rejected: {summary['by_reason'] or 'none'}")
    timed("stage one", lambda: train_stage_one(stage_one, "eager_tf", checkpoint_root=checkpoints, log_root=logs), times)
    timed("stage two", lambda: train_stage_two(stage_two, checkpoint_root=checkpoints, log_root=logs), times)
    table, results = timed("evaluation", lambda: evaluate_run(
        checkpoints / stage_two.sub_name, work / "prepared", work / "evaluation" / stage_two.sub_name,
        ["cosine", "hamming"], cross_session=True, fish=stage_two.held_out_fish), times)
    print(table)
    print("\nFS48 development split: 8 held-out fish, cross-camera")
    print(f"{'measure':10s} {'rank-1':>7s} {'mAP':>7s} {'EER':>7s} {'AUC':>7s}")
    for measure, figures in results.items():
        print(f"{measure:10s} {figures['rank1']:7.3f} {figures['map']:7.3f} {figures['eer']:7.3f} {figures['auc']:7.3f}")
    print("wall time: " + ", ".join(f"{label} {seconds / 60:.1f} min" for label, seconds in times.items()))


if __name__ == "__main__":
    main()
