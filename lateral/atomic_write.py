"""Files written whole or not at all: the one helper every writer of a user's or a run's file goes through.

``replacing(path)`` gives a temporary file beside the real file (a symbolic
link is followed, and stays a link pointing to the new file); when the block
ends the temporary file gets the replaced file's permissions, owner and group
(the owner where the saving user may set it; a new file gets what the umask
gives), is synced to disk, renamed over the file, and the folder is synced so
the rename itself survives a power cut. If the block raises, the temporary
file is removed and the old file is left as it was. A reader (or a kill at any
moment) sees the old file or the new one, never half of one. A missing folder
is made.
"""

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def replacing(path, suffix=".tmp", like=None):
    """Yield the path of a temporary file to write; on a clean exit it replaces ``path``'s real file.

    ``suffix`` ends the temporary file's name (Keras wants ``.keras``); ``like``
    (a stat result) gives the permissions and owner instead of the file replaced.
    """
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    if like is None and target.exists():
        like = target.stat()
    descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        descriptor = os.open(temporary, os.O_RDONLY)  # the writer may have closed it: reopen to sync it
        try:
            _take_ownership_of(descriptor, like)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync_folder(target.parent)


def write_atomically(path, data, like=None):
    """Write ``data`` (bytes, or text in the locale's encoding) to ``path`` through ``replacing``."""
    with replacing(path, like=like) as temporary:
        if isinstance(data, bytes):
            temporary.write_bytes(data)
        else:
            temporary.write_text(data)


def sync_folder(folder):
    """fsync a folder, so that a rename in it is on disk."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _take_ownership_of(descriptor, like):
    """Give the open file ``like``'s owner, group and permission bits (a temporary file starts as ours, 0600).

    Only root may give a file to another user, and only a member may give it
    to a group: what is not permitted stays the saving user's.
    """
    if like is None:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(descriptor, 0o666 & ~umask)
        return
    for owner, group in ((like.st_uid, like.st_gid), (-1, like.st_gid)):
        try:
            os.fchown(descriptor, owner, group)
            break
        except PermissionError:
            continue
    os.fchmod(descriptor, like.st_mode & 0o777)  # after chown, which may clear mode bits
