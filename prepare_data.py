"""Photos of fish in a green tent (or pre-cropped fish) -> ROIs, manifest, TFRecords.

    python prepare_data.py --input_dir RAW --output_dir OUT [--cfg_path C]
        [--no_segment] [--workers N] [--overwrite]
"""

from lateral.quiet import quiet_unless_verbose

quiet_unless_verbose()  # before anything imports TensorFlow; --verbose keeps its start-up messages

from absl import app, flags  # noqa: E402

from lateral.cli import define_verbose_flag, parse_flags_or_exit, run_explaining_errors  # noqa: E402
from lateral.config import DEFAULT_INPUT_SIZE, PreprocessConfig, load_config  # noqa: E402
from lateral.data.prepare import prepare  # noqa: E402
from lateral.data.report import format_summary  # noqa: E402

flags.DEFINE_string("input_dir", None, "photos: RAW/<fish_id>/* or RAW/<session>/<fish_id>/*")
flags.DEFINE_string("output_dir", None, "where ROIs, manifest.jsonl and TFRecords go")
flags.DEFINE_string("cfg_path", None, "YAML config (its input_size and preprocess keys); defaults if absent")
flags.DEFINE_boolean("no_segment", False, "photos are already cropped to the fish: skip segmentation")
flags.DEFINE_integer("workers", 1, "parallel worker processes")
flags.DEFINE_boolean("overwrite", False, "redo photos already in the output folder")
define_verbose_flag(flags)
flags.mark_flags_as_required(["input_dir", "output_dir"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    return run_explaining_errors(prepare_photos, kept=f"the photos done so far are kept in {FLAGS.output_dir}/"
                                                      "manifest.jsonl; the same command goes on from there")


def prepare_photos():
    if FLAGS.cfg_path:
        config = load_config(FLAGS.cfg_path)
        preprocess, input_size = config.preprocess, config.model.input_size
        session_pattern = config.data.session_pattern
    else:
        preprocess, input_size, session_pattern = PreprocessConfig(), DEFAULT_INPUT_SIZE, None
    summary = prepare(
        FLAGS.input_dir, FLAGS.output_dir, preprocess, input_size,
        segment=not FLAGS.no_segment, workers=FLAGS.workers, overwrite=FLAGS.overwrite,
        session_pattern=session_pattern,
    )
    print(format_summary(summary))
    print(f"written to {FLAGS.output_dir}: manifest.jsonl, rois/, tfrecords/, label_map.json, montage.png, summary.json")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
