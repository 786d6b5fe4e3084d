"""What the training and evaluation commands share: the run flags, and the checks made before TensorFlow loads."""

import glob
from pathlib import Path

from lateral.cli import RUN_KEPT, add_verbose_flag, run_explaining_errors
from lateral.quiet import quiet_unless_verbose
from lateral.training.names import STRATEGY_NAMES
from lateral.user_errors import UserError, printable


def add_run_flags(parser):
    """The flags both training commands take: the config, the tf.distribute strategy, where runs and logs go."""
    parser.add_argument("--cfg_path", required=True, help="the run's YAML config (see configs/)")
    parser.add_argument("--strategy", choices=STRATEGY_NAMES, default="default",
                        help="tf.distribute strategy: default (one device), mirrored (every local GPU), multi_worker "
                             "(several machines, from TF_CONFIG)")
    parser.add_argument("--checkpoint_root", default="checkpoints",
                        help="runs are saved in <checkpoint_root>/<sub_name>/")
    parser.add_argument("--log_root", default="logs", help="TensorBoard logs go to <log_root>/<sub_name>/")
    parser.add_argument("--smoke", action="store_true",
                        help="a check that the whole path works, not a model: small input, one epoch of two steps, "
                             "run names ending in _smoke")
    add_verbose_flag(parser)


def run_training_command(build_parser, train, argv, prog):
    """A training command's ``main``: TensorFlow quiet unless --verbose, the flags parsed, ``train(args)`` run with a
    mistake told in one line and the checkpoints kept named; ``train(args, prog)``."""
    quiet_unless_verbose(argv)
    args = build_parser(prog).parse_args(argv)
    return run_explaining_errors(lambda: train(args, prog), kept=RUN_KEPT.format(root=args.checkpoint_root))


def training_config(args, command="lateral train", overrides=None):
    """The config of ``--cfg_path`` (shrunk with ``--smoke``), its training set checked to be set and to exist
    (reading a config loads no TensorFlow: these answers come at once)."""
    from lateral.config import ConfigError, load_config, require, smoke

    config = load_config(args.cfg_path, overrides)
    try:
        require(config.data, ["train_dataset"], command)
    except ConfigError as error:
        raise ConfigError(f"{args.cfg_path}: {error}") from None
    check_dataset(config.data.train_dataset, f"{args.cfg_path}: train_dataset")
    return smoke(config) if args.smoke else config


def check_dataset(dataset, key):
    """A dataset path (a prepared folder, a TFRecord file, or a glob) that names nothing fails naming ``key``."""
    if dataset is None:
        return
    found = glob.glob(dataset) if glob.has_magic(dataset) else Path(dataset).exists()
    if not found:
        raise UserError(f"{key} {printable(str(dataset))}: no such file or folder (make it with `lateral prepare`)")

