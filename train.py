"""Stage one: train the embedding network (ArcFace or softmax head).

    python train.py --cfg_path configs/synthetic_stage1.yaml --mode fit|eager_tf [--strategy default|mirrored|multi_worker]
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter; set 0 to see it

from absl import app, flags

from lateral.cli import define_run_flags, run_explaining_errors
from lateral.config import load_config

define_run_flags(flags)
flags.DEFINE_enum("mode", "fit", ["fit", "eager_tf"], "Keras fit, or a tf.GradientTape loop")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"], "tf.distribute strategy")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from lateral.training.stage_one import train_stage_one  # after flags: TensorFlow starts slowly

    return run_explaining_errors(lambda: train_stage_one(
        load_config(FLAGS.cfg_path), FLAGS.mode, FLAGS.strategy, FLAGS.checkpoint_root, FLAGS.log_root
    ))


if __name__ == "__main__":
    app.run(main)
