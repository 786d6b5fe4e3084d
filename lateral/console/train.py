"""``lateral train`` (also ``python train.py``): stage one, the embedding network with an ArcFace or softmax head."""

from lateral.cli import ArgumentParser
from lateral.console.common import add_run_flags, run_training_command, training_config
from lateral.training.names import LOOP_NAMES

EXAMPLES = """example:
  lateral train --cfg_path configs/my_fish_stage1.yaml

The run goes to checkpoints/<sub_name>/ and resumes from its last checkpoint
when run again; watch it with `tensorboard --logdir logs`.
"""


def build_parser(prog):
    parser = ArgumentParser(prog=prog, epilog=EXAMPLES, description=(
        "Stage one: train the embedding network (a backbone with an ArcFace or softmax head) on prepared photos."))
    add_run_flags(parser)
    parser.add_argument("--mode", choices=LOOP_NAMES, default="fit",
                        help="fit: Keras fit; eager_tf: a tf.GradientTape loop (same training, easier to debug)")
    return parser


def main(argv=None, prog="lateral train"):
    return run_training_command(build_parser, train, argv, prog)


def train(args, prog):
    config = training_config(args, prog)
    from lateral.training.stage_one import train_stage_one  # after the checks: TensorFlow starts slowly

    return train_stage_one(config, args.mode, args.strategy, args.checkpoint_root, args.log_root)
