"""What the entry scripts share: a user's mistake becomes one line on stderr and exit code 2.

Every entry script calls ``lateral.quiet.quiet_unless_verbose()`` before
anything imports TensorFlow, then wraps its work in ``run_explaining_errors``;
scripts built on absl pass ``flags_parser=parse_flags_or_exit`` to ``app.run``
so that a missing or malformed flag also exits 2 (absl's own parser exits 1).
A full disk, a read-only folder or a denied permission is one line too (exit
2), naming the path and what was kept; Ctrl+C is one line and exit code 130.
"""

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


def define_verbose_flag(flags):
    flags.DEFINE_boolean("verbose", False, "show TensorFlow's start-up messages and library warnings")


def define_run_flags(flags):
    """The flags both training scripts take: the config, the tf.distribute strategy, and where runs and logs go."""
    flags.DEFINE_string("cfg_path", None, "YAML config")
    flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"], "tf.distribute strategy")
    flags.DEFINE_string("checkpoint_root", "checkpoints", "runs are saved in <checkpoint_root>/<sub_name>/")
    flags.DEFINE_string("log_root", "logs", "TensorBoard logs go to <log_root>/<sub_name>/")
    define_verbose_flag(flags)
    flags.mark_flags_as_required(["cfg_path"])


def parse_flags_or_exit(argv):
    """absl ``flags_parser``: a flag error is one line on stderr and exit code 2."""
    from absl import flags

    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        reasons = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
        print(f"error: {reasons} (see --help)", file=sys.stderr)
        sys.exit(USER_ERROR)


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
