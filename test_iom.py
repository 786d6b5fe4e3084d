"""Evaluate a trained run: EER, AUC, thresholds, identification (CMC, mAP), with plots.

    python test_iom.py --cfg_path C [--test_dataset PATH] [--ckpt DIR] [--measure hamming --measure cosine]
        [--protocol all|cross_session] [--compare_flanks] [--classification] [--out DIR]
        [--sessions C1 --sessions C3] [--flip_tta] [--camera_norm]
        [--rerank [--rerank_k1 20 --rerank_k2 6 --rerank_lambda 0.3]]
        [--verify sift [--shortlist 100] [--photos RAW] [--fit_calibration]] [--model run|imagenet]

--verify: the first measure's top --shortlist candidates are verified by local matching and the fused
score is reported beside the global one; --fit_calibration fits the run's calibrations on this test set
(fish the model was not trained on) first. See docs/matching.md.
"""

from lateral.quiet import quiet_unless_verbose

quiet_unless_verbose()  # before anything imports TensorFlow; --verbose keeps its start-up messages

from pathlib import Path  # noqa: E402

from absl import app, flags  # noqa: E402

from lateral.cli import define_verbose_flag, parse_flags_or_exit, run_explaining_errors  # noqa: E402
from lateral.config import load_config, require  # noqa: E402
from lateral.matching.fusion import DEFAULT_BUDGET  # noqa: E402
from lateral.matching.local_features import MATCHERS  # noqa: E402
from lateral.user_errors import UserError  # noqa: E402

flags.DEFINE_string("cfg_path", None, "the run's YAML config (its sub_name and test_dataset)")
flags.DEFINE_string("test_dataset", None, "prepare_data.py output or a folder of ROIs per fish (default: the config's)")
flags.DEFINE_string("ckpt", None, "run folder (default: checkpoints/<sub_name>)")
flags.DEFINE_multi_enum("measure", None, ["hamming", "lut_hamming", "jaccard", "cosine", "euclidean"],
                        "match measures (default: hamming on IoM codes if present, and cosine)")
flags.DEFINE_enum("protocol", "all", ["all", "cross_session"], "cross_session drops pairs from the same session")
flags.DEFINE_boolean("compare_flanks", False, "also compare left with right flanks")
flags.DEFINE_string("out", None, "report folder (default: <run folder>/evaluation)")
flags.DEFINE_boolean("classification", False, "also classify known fish with the stage-one run's head "
                     "(checkpoints/<1st_sub_name or sub_name>): per-class report and confusion matrix")
define_verbose_flag(flags)
flags.DEFINE_multi_string("sessions", None, "evaluate only the images of these sessions (cameras), e.g. "
                          "--sessions C1 --sessions C3 (default: all)")
flags.DEFINE_boolean("flip_tta", False, "embeddings: average each image's with its mirror's (a mirrored flank "
                     "shows the other flank's pose: measure first)")
flags.DEFINE_boolean("camera_norm", False, "embeddings: subtract each session's (camera's) mean embedding, "
                     "then L2-normalise")
flags.DEFINE_boolean("rerank", False, "identification (rank-1, CMC, mAP, per fish): k-reciprocal re-ranking "
                     "(Zhong et al. 2017) against each query's allowed gallery")
flags.DEFINE_integer("rerank_k1", 20, "re-ranking: k of the k-reciprocal neighbours", lower_bound=1)
flags.DEFINE_integer("rerank_k2", 6, "re-ranking: neighbours of the local query expansion (1: none)", lower_bound=1)
flags.DEFINE_float("rerank_lambda", 0.3, "re-ranking: weight of the original distance", lower_bound=0.0,
                   upper_bound=1.0)
flags.DEFINE_enum("verify", None, MATCHERS.names(), "verify the first measure's shortlist by local matching and "
                  "also report the fused score (calibrations in <run folder>/calibration/)")
flags.DEFINE_integer("shortlist", DEFAULT_BUDGET, "--verify: candidates verified per query (0: all)", lower_bound=0)
flags.DEFINE_string("photos", None, "--verify: the photo folder prepare_data.py read; ROIs are re-cut from it at "
                    "the matching resolution (default: match the stored ROIs)")
flags.DEFINE_boolean("fit_calibration", False, "--verify: fit the run's calibrations on this test set's pairs "
                     "(fish the model was not trained on) instead of reading them")
flags.DEFINE_enum("model", "run", ["run", "imagenet"], "imagenet: frozen ImageNet EfficientNet-Lite0 features "
                  "(offline weights, no training) instead of the run's models; --ckpt then only holds the "
                  "calibrations and the report")
flags.mark_flags_as_required(["cfg_path"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    return run_explaining_errors(evaluate)


def evaluate():
    if not FLAGS.verify and (FLAGS.fit_calibration or FLAGS.photos):
        raise UserError("--fit_calibration and --photos go with --verify (e.g. --verify sift)")
    from lateral.evaluation.classification import classify
    from lateral.evaluation.evaluate import EvaluationOptions, evaluate_run
    from lateral.evaluation.local_verification import VerifyOptions
    from lateral.evaluation.templates import load_test_set

    config = load_config(FLAGS.cfg_path)
    if not FLAGS.test_dataset:
        require(config.evaluation, ["test_dataset"], "test_iom.py (or pass --test_dataset)")
    test_dataset = FLAGS.test_dataset or config.evaluation.test_dataset
    run_folder = Path(FLAGS.ckpt or Path("checkpoints") / config.run.sub_name)
    out = Path(FLAGS.out or run_folder / "evaluation")
    options = EvaluationOptions(FLAGS.flip_tta, FLAGS.camera_norm, FLAGS.rerank, FLAGS.rerank_k1,
                                FLAGS.rerank_k2, FLAGS.rerank_lambda, FLAGS.model)
    verify = None
    if FLAGS.verify:
        verify = VerifyOptions(FLAGS.verify, FLAGS.shortlist or None, FLAGS.photos,
                               fit_calibration=FLAGS.fit_calibration)
    table, _ = evaluate_run(run_folder, test_dataset, out, FLAGS.measure, FLAGS.protocol == "cross_session",
                            FLAGS.compare_flanks, fish=config.data.held_out_fish, sessions=tuple(FLAGS.sessions or ()),
                            options=options, verify=verify)
    if FLAGS.classification:
        stage_one = Path(FLAGS.ckpt or Path("checkpoints") / (config.run.first_sub_name or config.run.sub_name))
        classify(stage_one, load_test_set(test_dataset), out)
        table += "\n\n## Closed-set classification\n\n" + (out / "classification.md").read_text()
    print(table)
    extra = ", classification.md, confusion.png" if FLAGS.classification else ""
    print(f"\nwritten to {out}: report.md, metrics.json, roc.png, det.png, scores.png, cmc.png{extra}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
