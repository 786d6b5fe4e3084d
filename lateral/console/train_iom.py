"""``lateral train-iom`` (also ``python train_twostage.py``): stage two, the deep IoM hashing head on the
frozen stage-one network."""

from lateral.cli import ArgumentParser
from lateral.console.common import add_run_flags, run_training_command, training_config

EXAMPLES = """example:
  lateral train-iom --cfg_path configs/my_fish_stage2.yaml

The config's 1st_sub_name names the stage-one run (checkpoints/<1st_sub_name>/);
this run goes to checkpoints/<sub_name>/, the folder the gallery's --model takes.
"""


def build_parser(prog):
    parser = ArgumentParser(prog=prog, epilog=EXAMPLES, description=(
        "Stage two: train the deep IoM hashing head (cancellable codes) on the stage-one network."))
    add_run_flags(parser)
    parser.add_argument("--freeze_backbone", choices=["0", "1"], default=None,
                        help="1: keep the stage-one network fixed; 0: fine-tune it too (default: the config's "
                             "freeze_backbone)")
    return parser


def main(argv=None, prog="lateral train-iom"):
    return run_training_command(build_parser, train, argv, prog)


def train(args, prog):
    overrides = {} if args.freeze_backbone is None else {"freeze_backbone": args.freeze_backbone == "1"}
    config = training_config(args, prog, overrides)
    from lateral.training.stage_two import train_stage_two  # after the checks: TensorFlow starts slowly

    return train_stage_two(config, args.checkpoint_root, args.log_root, strategy_name=args.strategy)
