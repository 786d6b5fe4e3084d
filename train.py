"""Stage one: train the embedding network (ArcFace or softmax head).

    python train.py --cfg_path configs/synthetic_stage1.yaml --mode fit|eager_tf [--strategy default|mirrored|multi_worker]
"""

import sys

from absl import app, flags

from lateral.config import ConfigError, load_config
from lateral.data.records import DatasetError
from lateral.data.sampler import SamplerError
from lateral.models.backbones import WeightsError
from lateral.training.run_directory import RunDirectoryError

flags.DEFINE_string("cfg_path", None, "YAML config")
flags.DEFINE_enum("mode", "fit", ["fit", "eager_tf"], "Keras fit, or a tf.GradientTape loop")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"], "tf.distribute strategy")
flags.DEFINE_string("checkpoint_root", "checkpoints", "runs are saved in <checkpoint_root>/<sub_name>/")
flags.DEFINE_string("log_root", "logs", "TensorBoard logs go to <log_root>/<sub_name>/")
flags.mark_flags_as_required(["cfg_path"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from lateral.training.stage_one import train_stage_one  # after flags: TensorFlow starts slowly

    try:
        config = load_config(FLAGS.cfg_path)
        train_stage_one(config, FLAGS.mode, FLAGS.strategy, FLAGS.checkpoint_root, FLAGS.log_root)
    except (ConfigError, DatasetError, SamplerError, WeightsError, RunDirectoryError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    app.run(main)
