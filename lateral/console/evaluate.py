"""``lateral evaluate`` (also ``python test_iom.py``): a trained run's EER, AUC, thresholds and identification
(CMC, mAP) on held-out fish, with plots."""

from pathlib import Path

from lateral.cli import (ArgumentParser, add_verbose_flag, fraction, non_negative_int, number_within, positive_int,
                         run_explaining_errors)
from lateral.console.common import check_dataset
from lateral.matching.fusion import DEFAULT_BUDGET
from lateral.matching.local_features import MATCHERS
from lateral.measures import MEASURES
from lateral.quiet import quiet_unless_verbose

EXAMPLES = """examples:
  lateral evaluate --cfg_path configs/my_fish_stage2.yaml --protocol cross_session
  lateral evaluate --cfg_path configs/my_fish_stage2.yaml --test_dataset my_test_prepared --measure hamming
  lateral evaluate --cfg_path configs/my_fish_stage2.yaml --verify sift --photos my_test_photos

The report (report.md, metrics.json, roc.png, det.png, scores.png, cmc.png,
open_set.png) goes to <run folder>/evaluation/, with open_set_calibration.npz,
the impostor scores from which the gallery sizes its threshold to its number of
fish (docs/open_set.md).
--verify: the first measure's top --shortlist candidates are verified by local
matching and the fused score is reported beside the global one;
--fit_calibration fits the run's calibrations on this test set (fish the model
was not trained on) first. See docs/matching.md.
"""


def build_parser(prog):
    parser = ArgumentParser(prog=prog, epilog=EXAMPLES, description=(
        "Evaluate a trained run on held-out fish: verification (EER, AUC, TAR at fixed FAR, thresholds) and "
        "identification (rank-1, CMC, mAP), with plots."))
    parser.add_argument("--cfg_path", required=True, help="the run's YAML config (its sub_name and test_dataset)")
    parser.add_argument("--test_dataset", default=None, help="a `lateral prepare` output folder, or a folder of ROI "
                                                             "images per fish (default: the config's test_dataset)")
    parser.add_argument("--ckpt", default=None, help="the run folder (default: checkpoints/<sub_name>)")
    parser.add_argument("--measure", action="append", choices=MEASURES.names(), default=None,
                        help="a match measure; repeat for several (default: hamming on IoM codes if the run has "
                             "them, and cosine)")
    parser.add_argument("--protocol", choices=["all", "cross_session"], default="all",
                        help="cross_session drops pairs of photos from the same session")
    parser.add_argument("--compare_flanks", action="store_true", help="also compare left with right flanks")
    parser.add_argument("--out", default=None, help="report folder (default: <run folder>/evaluation)")
    parser.add_argument("--classification", action="store_true",
                        help="also classify known fish with the stage-one run's head (checkpoints/<1st_sub_name or "
                             "sub_name>): per-class report and confusion matrix")
    parser.add_argument("--sessions", action="append", default=None,
                        help="evaluate only the images of this session (camera); repeat for several (default: all)")
    parser.add_argument("--flip_tta", action="store_true",
                        help="embeddings: average each image's with its mirror's (a mirrored flank shows the other "
                             "flank's pose: measure first)")
    parser.add_argument("--camera_norm", action="store_true",
                        help="embeddings: subtract each session's (camera's) mean embedding, then L2-normalise")
    parser.add_argument("--rerank", action="store_true",
                        help="identification: k-reciprocal re-ranking (Zhong et al. 2017) against each query's "
                             "allowed gallery")
    parser.add_argument("--rerank_k1", type=positive_int, default=20, help="re-ranking: k of the k-reciprocal "
                                                                           "neighbours")
    parser.add_argument("--rerank_k2", type=positive_int, default=6,
                        help="re-ranking: neighbours of the local query expansion (1: none)")
    parser.add_argument("--rerank_lambda", type=fraction, default=0.3,
                        help="re-ranking: weight of the original distance (0 to 1)")
    parser.add_argument("--verify", choices=MATCHERS.names(), default=None,
                        help="verify the first measure's shortlist by local matching and also report the fused score "
                             "(calibrations in <run folder>/calibration/)")
    parser.add_argument("--shortlist", type=non_negative_int, default=DEFAULT_BUDGET,
                        help="--verify: candidates verified per query (0: all)")
    parser.add_argument("--photos", default=None,
                        help="--verify: the photo folder prepare_data.py read; ROIs are re-cut from it at the matching "
                             "resolution (default: match the stored ROIs)")
    parser.add_argument("--fit_calibration", action="store_true",
                        help="--verify: fit the run's calibrations on this test set's pairs (fish the model was not "
                             "trained on) instead of reading them")
    parser.add_argument("--model", choices=["run", "imagenet"], default="run",
                        help="imagenet: frozen ImageNet EfficientNet-Lite0 features (offline weights, no training) "
                             "instead of the run's models; --ckpt then only holds the calibrations and the report")
    parser.add_argument("--distractors", default=None,
                        help="open set: a `lateral prepare` output or ROI folder of OTHER fish (e.g. synthetic ones) "
                             "that fill galleries of 100 and 1,000 fish beyond the test fish")
    parser.add_argument("--open_set_share", type=number_within("a share", 0.0, 1.0, False, False), default=0.5,
                        help="open set: the share of the test fish enrolled, whose impostor scores calibrate the "
                             "threshold; the others are never enrolled (more calibrating fish: closer to a gallery "
                             "calibrated on every test fish)")
    add_verbose_flag(parser)
    return parser


def main(argv=None, prog="lateral evaluate"):
    quiet_unless_verbose(argv)
    args = build_parser(prog).parse_args(argv)
    return run_explaining_errors(lambda: evaluate(args), kept="the run folder was not changed; run the evaluation "
                                                              "again when there is room")


def evaluate(args):
    from lateral.config import load_config, require
    from lateral.user_errors import UserError

    if (args.fit_calibration or args.photos) and not args.verify:
        raise UserError("--fit_calibration and --photos go with --verify (e.g. --verify sift)")
    config = load_config(args.cfg_path)
    if not args.test_dataset:
        require(config.evaluation, ["test_dataset"], "lateral evaluate (or pass --test_dataset)")
    test_dataset = args.test_dataset or config.evaluation.test_dataset
    check_dataset(test_dataset, "--test_dataset" if args.test_dataset else f"{args.cfg_path}: test_dataset")
    run_folder = Path(args.ckpt or Path("checkpoints") / config.run.sub_name)
    out = Path(args.out or run_folder / "evaluation")

    from lateral.evaluation.classification import classify  # after the checks: TensorFlow starts slowly
    from lateral.evaluation.evaluate import EvaluationOptions, evaluate_run
    from lateral.evaluation.local_verification import VerifyOptions
    from lateral.evaluation.templates import load_test_set

    options = EvaluationOptions(args.flip_tta, args.camera_norm, args.rerank, args.rerank_k1, args.rerank_k2,
                                args.rerank_lambda, args.model)
    verify = None
    if args.verify:
        verify = VerifyOptions(args.verify, args.shortlist or None, args.photos, fit_calibration=args.fit_calibration)
    table, _ = evaluate_run(run_folder, test_dataset, out, args.measure, args.protocol == "cross_session",
                            args.compare_flanks, fish=config.data.held_out_fish, sessions=tuple(args.sessions or ()),
                            options=options, verify=verify, distractors=args.distractors,
                            open_set_share=args.open_set_share)
    if args.classification:
        stage_one = Path(args.ckpt or Path("checkpoints") / (config.run.first_sub_name or config.run.sub_name))
        classify(stage_one, load_test_set(test_dataset), out)
        table += "\n\n## Closed-set classification\n\n" + (out / "classification.md").read_text()
    print(table)
    extra = ", classification.md, confusion.png" if args.classification else ""
    print(f"\nwritten to {out}: report.md, metrics.json, roc.png, det.png, scores.png, cmc.png, open_set.png, "
          f"open_set_calibration.npz{extra}")
