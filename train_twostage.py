"""Stage two: the deep IoM hashing head on the frozen stage-one network.

    python train_twostage.py --cfg_path configs/synthetic_stage2.yaml [--freeze_backbone 1] [--strategy default|mirrored|multi_worker]
"""

from lateral.quiet import quiet_unless_verbose

quiet_unless_verbose()  # before anything imports TensorFlow; --verbose keeps its start-up messages

from absl import app, flags  # noqa: E402

from lateral.cli import RUN_KEPT, define_run_flags, parse_flags_or_exit, run_explaining_errors  # noqa: E402
from lateral.config import load_config  # noqa: E402

define_run_flags(flags)
flags.DEFINE_enum("freeze_backbone", None, ["0", "1"], "override the config's freeze_backbone")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from lateral.training.stage_two import train_stage_two  # after flags: TensorFlow starts slowly

    overrides = {} if FLAGS.freeze_backbone is None else {"freeze_backbone": FLAGS.freeze_backbone == "1"}
    return run_explaining_errors(lambda: train_stage_two(
        load_config(FLAGS.cfg_path, overrides), FLAGS.checkpoint_root, FLAGS.log_root, strategy_name=FLAGS.strategy
    ), kept=RUN_KEPT.format(root=FLAGS.checkpoint_root))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
