"""Stage one: train the embedding network (ArcFace or softmax head).

    python train.py --cfg_path configs/synthetic_stage1.yaml --mode fit|eager_tf [--strategy default|mirrored|multi_worker]
"""

from lateral.quiet import quiet_unless_verbose

quiet_unless_verbose()  # before anything imports TensorFlow; --verbose keeps its start-up messages

from absl import app, flags  # noqa: E402

from lateral.cli import RUN_KEPT, define_run_flags, parse_flags_or_exit, run_explaining_errors  # noqa: E402
from lateral.config import load_config  # noqa: E402

define_run_flags(flags)
flags.DEFINE_enum("mode", "fit", ["fit", "eager_tf"], "Keras fit, or a tf.GradientTape loop")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from lateral.training.stage_one import train_stage_one  # after flags: TensorFlow starts slowly

    return run_explaining_errors(lambda: train_stage_one(
        load_config(FLAGS.cfg_path), FLAGS.mode, FLAGS.strategy, FLAGS.checkpoint_root, FLAGS.log_root
    ), kept=RUN_KEPT.format(root=FLAGS.checkpoint_root))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
