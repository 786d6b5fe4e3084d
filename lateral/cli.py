"""What the entry scripts share: a user's mistake becomes one line on stderr and exit code 2.

Every entry script calls ``lateral.quiet.quiet_unless_verbose()`` before
anything imports TensorFlow, parses its flags with ``ArgumentParser`` (a
missing or malformed flag also exits 2), then wraps its work in
``run_explaining_errors``.
"""

import argparse
import sys

from lateral.user_errors import UserError, printable

USER_ERROR = 2


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's and examples' line breaks; a flag's help ends with its default, if it has one."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) \
                and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose mistakes are one ``error:`` line on stderr and exit code 2 (argparse's own also prints
    the usage); every command line of the package uses it, so their help looks alike."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        print(f"error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(USER_ERROR)


def positive_int(text):
    """argparse ``type``: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def fraction(text):
    """argparse ``type``: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {value:g}")
    return value


def add_verbose_flag(parser):
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up messages and library "
                                                               "warnings")


def run_explaining_errors(action):
    """Run ``action()``: exit code 2 with the message on stderr for a user error (a ``UserError``,
    which every layer's error class is); else the integer ``action`` returned, or 0."""
    try:
        result = action()
        return result if isinstance(result, int) else 0
    except UserError as error:
        print(f"error: {printable(str(error))}", file=sys.stderr)
        return USER_ERROR
