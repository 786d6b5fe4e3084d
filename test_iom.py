"""Evaluate a trained run: EER, AUC, thresholds, identification (CMC, mAP), with plots.

    python test_iom.py --cfg_path C [--test_dataset PATH] [--ckpt DIR] [--measure hamming --measure cosine]
        [--protocol all|cross_session] [--compare_flanks] [--out DIR]
"""

import sys
from pathlib import Path

from absl import app, flags

from lateral.config import ConfigError, load_config, require

flags.DEFINE_string("cfg_path", None, "the run's YAML config (its sub_name and test_dataset)")
flags.DEFINE_string("test_dataset", None, "prepare_data.py output or a folder of ROIs per fish (default: the config's)")
flags.DEFINE_string("ckpt", None, "run folder (default: checkpoints/<sub_name>)")
flags.DEFINE_multi_enum("measure", None, ["hamming", "jaccard", "cosine", "euclidean"],
                        "match measures (default: hamming on IoM codes if present, and cosine)")
flags.DEFINE_enum("protocol", "all", ["all", "cross_session"], "cross_session drops pairs from the same session")
flags.DEFINE_boolean("compare_flanks", False, "also compare left with right flanks")
flags.DEFINE_string("out", None, "report folder (default: <run folder>/evaluation)")
flags.mark_flags_as_required(["cfg_path"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from lateral.data.records import DatasetError
    from lateral.evaluation.evaluate import evaluate_run

    try:
        config = load_config(FLAGS.cfg_path)
        test_dataset = FLAGS.test_dataset or config.test_dataset
        if not FLAGS.test_dataset:
            require(config, ["test_dataset"], "test_iom.py (or pass --test_dataset)")
        run_folder = Path(FLAGS.ckpt or Path("checkpoints") / config.sub_name)
        out = Path(FLAGS.out or run_folder / "evaluation")
        table, _ = evaluate_run(run_folder, test_dataset, out, FLAGS.measure, FLAGS.protocol == "cross_session",
                                FLAGS.compare_flanks)
    except (ConfigError, DatasetError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(table)
    print(f"\nwritten to {out}: report.md, metrics.json, roc.png, det.png, scores.png, cmc.png")
    return 0


if __name__ == "__main__":
    app.run(main)
