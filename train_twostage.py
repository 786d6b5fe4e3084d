"""Stage two: the deep IoM hashing head on the frozen stage-one network.

    python train_twostage.py --cfg_path configs/synthetic_stage2.yaml [--freeze_backbone 1]
"""

import sys

from absl import app, flags

from lateral.config import ConfigError, load_config
from lateral.data.records import DatasetError
from lateral.data.sampler import SamplerError
from lateral.training.run_directory import RunDirectoryError

flags.DEFINE_string("cfg_path", None, "YAML config")
flags.DEFINE_enum("freeze_backbone", None, ["0", "1"], "override the config's freeze_backbone")
flags.DEFINE_string("checkpoint_root", "checkpoints", "runs are saved in <checkpoint_root>/<sub_name>/")
flags.DEFINE_string("log_root", "logs", "TensorBoard logs go to <log_root>/<sub_name>/")
flags.mark_flags_as_required(["cfg_path"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from lateral.training.stage_two import train_stage_two  # after flags: TensorFlow starts slowly

    overrides = {} if FLAGS.freeze_backbone is None else {"freeze_backbone": FLAGS.freeze_backbone == "1"}
    try:
        config = load_config(FLAGS.cfg_path, overrides)
        train_stage_two(config, FLAGS.checkpoint_root, FLAGS.log_root)
    except (ConfigError, DatasetError, SamplerError, RunDirectoryError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    app.run(main)
