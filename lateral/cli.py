"""What the entry scripts share: a user's mistake becomes one line on stderr and exit code 2.

Every entry script calls ``lateral.quiet.quiet_unless_verbose()`` before
anything imports TensorFlow, parses its flags with ``ArgumentParser`` (a
missing or malformed flag also exits 2), then wraps its work in
``run_explaining_errors``. A full disk, a read-only folder or a denied
permission is one line too (exit 2), naming the path and what was kept;
Ctrl+C is one line and exit code 130.
"""

import argparse
import errno
import os
import sys

from lateral.user_errors import JobStopped, UserError, printable

USER_ERROR = 2
STOPPED = 1
INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl+C
# What the machine, not the program, refuses: no space, a read-only or forbidden place, a file where a folder is.
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EISDIR,
               errno.ENOTDIR, errno.ENAMETOOLONG}
KEPT = "nothing was changed or deleted"
RUN_KEPT = ("the checkpoints saved so far are kept in the run folder under {root}; the same command resumes from "
            "the newest")


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


def non_negative_int(text):
    """argparse ``type``: an integer of at least 0."""
    return 0 if text.strip() == "0" else positive_int(text)


def number_within(what, low, high, low_included=True, high_included=True):
    """An argparse ``type``: a finite number from ``low`` to ``high`` (each itself only if included); ``what``
    names it in the message ("a score")."""
    interval = f"{'[' if low_included else '('}{low:g}, {high:g}{']' if high_included else ')'}"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not ((low <= value) if low_included else (low < value)) or not (
                (value <= high) if high_included else (value < high)):  # nan and inf too
            raise argparse.ArgumentTypeError(f"must be {what} within {interval}, got {text}")
        return value

    return parse


fraction = number_within("a number", 0.0, 1.0)


def add_verbose_flag(parser):
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up messages and library "
                                                               "warnings")


def disk_problem(error, kept=KEPT):
    """The one-line message for a full disk, read-only folder or denied permission (an ``OSError``, or
    TensorFlow's error carrying the system's words), naming the path and what was kept; else None."""
    if isinstance(error, OSError):
        if error.errno not in DISK_ERRNOS:
            return None
        where = "" if error.filename is None else f" {error.filename}"  # a failed write() names no file
        return printable(f"cannot write{where}: {error.strerror or error}; {kept}")
    words = [os.strerror(number) for number in DISK_ERRNOS]
    if type(error).__module__.startswith("tensorflow") and any(word in str(error) for word in words):
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return printable(f"cannot write: {first}; {kept}")
    return None


def run_explaining_errors(action, kept=KEPT):
    """Run ``action()``: exit code 2 with the message on stderr for a user error (a ``UserError``,
    which every layer's error class is) or a disk that refuses a write (``disk_problem``, saying ``kept``:
    what of the user's work is kept), 1 for a ``JobStopped``, 130 for Ctrl+C; else the integer ``action``
    returned, or 0."""
    try:
        result = action()
        return result if isinstance(result, int) else 0
    except UserError as error:
        print(f"error: {printable(str(error))}", file=sys.stderr)
        return USER_ERROR
    except JobStopped as error:
        print(f"error: {error}", file=sys.stderr)
        return STOPPED
    except KeyboardInterrupt:
        print(f"interrupted (Ctrl+C); {kept}", file=sys.stderr)
        return INTERRUPTED
    except Exception as error:  # noqa: BLE001  (only a disk's refusal is answered here; anything else re-raised)
        message = disk_problem(error, kept)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return USER_ERROR


def check_outputs_apart(outputs, inputs):
    """Before any work: refuse an output file that is one of the inputs (after resolving links, or a hard link)
    or lies inside an input folder. ``outputs`` and ``inputs`` are (flag, path) pairs; a None path is skipped."""
    for out_flag, out in outputs:
        if out is None:
            continue
        real_out = os.path.realpath(out)
        for in_flag, given in inputs:
            if given is None:
                continue
            real_in = os.path.realpath(given)
            if real_out == real_in or (os.path.exists(out) and os.path.exists(given) and os.path.samefile(out, given)):
                raise UserError(f"{out_flag} {out} is the input {in_flag} {given}: writing it would destroy it; "
                                "choose another file (nothing was done)")
            if os.path.isdir(real_in) and real_out.startswith(real_in.rstrip(os.sep) + os.sep):
                raise UserError(f"{out_flag} {out} is inside the input folder {in_flag} {given}; choose a file "
                                "outside it (nothing was done)")
