"""Stage two: the deep IoM hashing head on the frozen stage-one network.

    python train_twostage.py --cfg_path configs/synthetic_stage2.yaml [--freeze_backbone 1]
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter; set 0 to see it

from absl import app, flags

from lateral.cli import define_run_flags, run_explaining_errors
from lateral.config import load_config

define_run_flags(flags)
flags.DEFINE_enum("freeze_backbone", None, ["0", "1"], "override the config's freeze_backbone")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from lateral.training.stage_two import train_stage_two  # after flags: TensorFlow starts slowly

    overrides = {} if FLAGS.freeze_backbone is None else {"freeze_backbone": FLAGS.freeze_backbone == "1"}
    return run_explaining_errors(lambda: train_stage_two(
        load_config(FLAGS.cfg_path, overrides), FLAGS.checkpoint_root, FLAGS.log_root
    ))


if __name__ == "__main__":
    app.run(main)
