"""``lateral prepare`` (also ``python prepare_data.py``): photos of fish in a green tent, or photos already
cropped to the fish, become ROIs, a manifest and TFRecords."""

from lateral.cli import ArgumentParser, add_verbose_flag, positive_int, run_explaining_errors
from lateral.quiet import quiet_unless_verbose

EXAMPLES = """examples:
  lateral prepare --input_dir my_photos --output_dir my_prepared --cfg_path configs/my_fish_stage1.yaml
  lateral prepare --input_dir cropped_photos --output_dir cropped_prepared --no_segment --workers 2

--input_dir holds one folder per fish (my_photos/<fish_id>/<photos>), or one
folder per session holding one folder per fish (my_photos/<session>/<fish_id>/<photos>).
"""


def build_parser(prog):
    parser = ArgumentParser(prog=prog, epilog=EXAMPLES, description=(
        "Photos of fish in a green tent (or photos already cropped to the fish) -> lateral ROIs, manifest.jsonl, "
        "TFRecords, a montage and a summary."))
    parser.add_argument("--input_dir", required=True,
                        help="the photos: <input_dir>/<fish_id>/* or <input_dir>/<session>/<fish_id>/*")
    parser.add_argument("--output_dir", required=True,
                        help="where rois/, manifest.jsonl, tfrecords/, label_map.json, montage.png go")
    parser.add_argument("--cfg_path", default=None,
                        help="YAML config whose input_size, preprocess and session_pattern keys apply (default: "
                             "the built-in defaults)")
    parser.add_argument("--no_segment", action="store_true",
                        help="the photos are already cropped to the fish: skip the green-tent segmentation")
    parser.add_argument("--workers", type=positive_int, default=1, help="parallel worker processes")
    parser.add_argument("--overwrite", action="store_true", help="redo photos already in the output folder")
    add_verbose_flag(parser)
    return parser


def main(argv=None, prog="lateral prepare"):
    quiet_unless_verbose(argv)
    args = build_parser(prog).parse_args(argv)
    return run_explaining_errors(lambda: prepare_photos(args), kept=f"the photos done so far are kept in "
                                 f"{args.output_dir}/manifest.jsonl; the same command goes on from there")


def prepare_photos(args):
    from lateral.config import DEFAULT_INPUT_SIZE, PreprocessConfig, load_config
    from lateral.data.prepare import prepare
    from lateral.data.report import format_summary

    if args.cfg_path:
        config = load_config(args.cfg_path)
        preprocess, input_size, session_pattern = config.preprocess, config.model.input_size, config.data.session_pattern
    else:
        preprocess, input_size, session_pattern = PreprocessConfig(), DEFAULT_INPUT_SIZE, None
    summary = prepare(args.input_dir, args.output_dir, preprocess, input_size, segment=not args.no_segment,
                      workers=args.workers, overwrite=args.overwrite, session_pattern=session_pattern)
    print(format_summary(summary))
    print(f"written to {args.output_dir}: manifest.jsonl, rois/, tfrecords/, label_map.json, montage.png, "
          "summary.json")
    return 0 if summary["ok"] else 1
