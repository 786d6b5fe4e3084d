"""One writer at a time: every read-modify-write of a gallery holds ``G.lgal.lock``, a lock file beside it.

Without the lock, two commands that change one gallery at once (two
``enroll``, or ``confirm`` while the review server records a decision) each
read the old file and the second save silently drops the first's templates.
With it, the second waits (saying once that it waits) and then reads the
gallery the first has saved; after ``WAIT_SECONDS`` it gives up with a
GalleryError naming the gallery, and nothing is written. The lock is an OS
file lock (``filelock``: ``flock`` on POSIX), released by the OS if the
holder dies. The empty lock file stays beside a gallery; a command that
created no gallery (a failed first ``enroll``) removes it while still holding
it, and a process that was waiting on the removed file retries on a fresh one
(filelock >= 3.21 checks that the file it locked still exists).
"""

import functools
import os
import sys
from pathlib import Path

import filelock

from lateral.gallery.errors import GalleryError

WAIT_SECONDS = 120.0


# One lock object per lock file in this process: taking it again inside a locked command (the version-1
# conversion on load) counts up instead of waiting for ourselves.
_LOCKS = {}


def lock_path(gallery_path):
    """The lock file beside the real gallery file (a gallery reached through a link shares its target's lock)."""
    real = Path(os.path.realpath(gallery_path))
    return real.with_name(real.name + ".lock")


class gallery_lock:
    """``with gallery_lock(path):`` hold the gallery's lock (waiting up to ``timeout`` seconds for another holder)."""

    def __init__(self, gallery_path, timeout=None):
        self.gallery_path = Path(gallery_path)
        self.timeout = WAIT_SECONDS if timeout is None else timeout
        path = lock_path(gallery_path)
        if str(path) not in _LOCKS:
            _LOCKS[str(path)] = filelock.FileLock(path, thread_local=False)
        self.lock = _LOCKS[str(path)]

    def __enter__(self):
        lock_path(self.gallery_path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.lock.acquire(timeout=0)
        except filelock.Timeout:
            print(f"waiting for another process that is changing {self.gallery_path} (up to {self.timeout:g} s)",
                  file=sys.stderr, flush=True)
            try:
                self.lock.acquire(timeout=self.timeout)
            except filelock.Timeout:
                raise GalleryError(f"{self.gallery_path} is still being changed by another process after "
                                   f"{self.timeout:g} s (lock {lock_path(self.gallery_path)}); nothing was written, "
                                   "try again when it has finished") from None
        return self

    def __exit__(self, *exc):
        if self.lock.lock_counter == 1 and not self.gallery_path.exists():  # no gallery was created: no lock file
            lock_path(self.gallery_path).unlink(missing_ok=True)
        self.lock.release()


def holding_gallery_lock(command):
    """Run ``command(gallery_path, ...)`` holding that gallery's lock: its load, change and save happen inside."""

    @functools.wraps(command)
    def locked(gallery_path, *args, **kwargs):
        with gallery_lock(gallery_path):
            return command(gallery_path, *args, **kwargs)

    return locked
