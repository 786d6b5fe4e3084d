"""What a user's mistake is: ``UserError``, the base of every error that names a bad file, key or value.

The command lines (``lateral.cli``) show a ``UserError``'s message on one line
and exit with code 2; any other exception is a bug and keeps its traceback.
Each layer's error class derives from ``UserError``, so the command lines need
not know the layers.
"""


class UserError(ValueError):
    """A mistake in the user's input, told in a message that names the file, key or value at fault."""


def printable(text):
    """``text`` safe to print: a file name's undecodable bytes (surrogate escapes) shown as ``\\xNN``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class JobStopped(RuntimeError):
    """A run stopped by a cause outside the program and the user's input (a multi-worker job lost a
    worker), told in a message that says what to do; the command lines show it on one line, exit code 1."""
