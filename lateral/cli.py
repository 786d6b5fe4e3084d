"""What the entry scripts share: a user's mistake becomes one line on stderr and exit code 2."""

import sys

from lateral.config import ConfigError


def define_run_flags(flags):
    """The flags both training scripts take: the config, and where runs and logs go."""
    flags.DEFINE_string("cfg_path", None, "YAML config")
    flags.DEFINE_string("checkpoint_root", "checkpoints", "runs are saved in <checkpoint_root>/<sub_name>/")
    flags.DEFINE_string("log_root", "logs", "TensorBoard logs go to <log_root>/<sub_name>/")
    flags.mark_flags_as_required(["cfg_path"])


def user_errors():
    """The exceptions that mean "your input is wrong", not "lateral has a bug" (imported late: TensorFlow)."""
    from lateral.data.prepare import PrepareError
    from lateral.data.records import DatasetError
    from lateral.data.sampler import SamplerError
    from lateral.gallery.store import GalleryError
    from lateral.models.backbones import WeightsError
    from lateral.training.run_directory import RunDirectoryError

    # KeyError: an unknown registry name (backbone, head, loss, ...), whose message lists the known ones.
    return (ConfigError, PrepareError, DatasetError, SamplerError, WeightsError, RunDirectoryError, GalleryError,
            KeyError)


def run_explaining_errors(action):
    """Run ``action()``: exit code 2 with the message on stderr for a user error; else the
    integer ``action`` returned, or 0. (``user_errors()`` runs only when something was raised.)"""
    try:
        result = action()
        return result if isinstance(result, int) else 0
    except user_errors() as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        return 2
