"""What the entry scripts share: a user's mistake becomes one line on stderr and exit code 2."""

import sys

from lateral.config import ConfigError


def user_errors():
    """The exceptions that mean "your input is wrong", not "lateral has a bug" (imported late: TensorFlow)."""
    from lateral.data.prepare import PrepareError
    from lateral.data.records import DatasetError
    from lateral.data.sampler import SamplerError
    from lateral.models.backbones import WeightsError
    from lateral.training.run_directory import RunDirectoryError

    # KeyError: an unknown registry name (backbone, head, loss, ...), whose message lists the known ones.
    return ConfigError, PrepareError, DatasetError, SamplerError, WeightsError, RunDirectoryError, KeyError


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
