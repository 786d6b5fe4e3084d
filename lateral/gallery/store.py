"""The gallery file (``.lgal``): versioned, checked field by field on load, written atomically, no images in it.

Format, version 2: an uncompressed NumPy ``.npz`` (a zip archive) with

- ``meta``: UTF-8 JSON as uint8 bytes: ``{"header": ..., "entries": [...], "decisions": [...]}``.
  ``header`` has ``format`` ("lateral-gallery"), ``version``, ``created``,
  ``updated``, ``model`` (``path``, ``fingerprint``: SHA-256 of the weights,
  ``m``, ``q``, ``embedding_size``, ``input_size``), ``key`` (null, or a
  salted PBKDF2 verifier of the permutation key, never the key),
  ``permutation`` (the keyed permutation's algorithm,
  ``lateral.models.permutation``) and ``stores_embeddings``; optionally
  ``revoked`` and ``migrated``. Each entry is one template: ``fish_id``,
  ``source`` (the photo's absolute path), ``sha256`` (of the photo file),
  ``session``, ``flank``, ``mode`` ("tent" or "cropped"), ``added``, ``how``
  ("enroll", "confirm" or "revoke"). Each decision records a person's
  ``confirm``. ``lateral.gallery.schema`` lists every field's type.
- ``codes``: uint8 [n, ceil(log2 q), ceil(m / 8)], the IoM templates as bit
  planes (``lateral.gallery.packing``), in the order of ``entries``.
- ``embeddings``: float32 [n, embedding_size], only in a gallery created with
  ``--store_embeddings`` (float embeddings are not cancellable).

Version 1 is version 2 without ``permutation``: its keyed templates were made
with NumPy's PCG64 stream (``numpy-pcg64-v1``). Opening a version-1 file
converts it: the header gains ``permutation`` (the legacy algorithm for a
keyed gallery, so its templates keep matching; the current one for a gallery
without a key, whose permutation is the identity under either) and
``migrated``; the old file is kept beside it as ``<name>.v1.bak`` (older
lateral versions read only that). The codes cannot be re-made without the
photos; ``revoke`` re-enrols them and moves the gallery to the current
algorithm.

A save writes a temporary file beside the gallery's real file (a symbolic
link is followed, and stays a link), gives it the old file's permissions,
owner and group (the owner where the saving user may set it), syncs it to
disk and renames it over the old file, so a crash mid-write leaves the old
gallery whole. Files are read with ``allow_pickle=False``.
"""

import dataclasses
import datetime
import io
import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from lateral.gallery.errors import GalleryError
from lateral.gallery.lock import gallery_lock
from lateral.gallery.packing import packed_shape
from lateral.gallery.schema import check_meta
from lateral.models.permutation import LEGACY_ALGORITHM, PERMUTATION_ALGORITHM

FORMAT = "lateral-gallery"
VERSION = 2
LOG = logging.getLogger(__name__)


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclasses.dataclass
class Gallery:
    header: dict
    entries: list
    codes: np.ndarray  # uint8 bit planes [n, bits, bytes]
    embeddings: object = None  # float32 [n, d] or None
    decisions: list = dataclasses.field(default_factory=list)

    @classmethod
    def new(cls, model, key_verifier, stores_embeddings):
        header = {"format": FORMAT, "version": VERSION, "created": now(), "updated": now(), "model": model,
                  "key": key_verifier, "permutation": PERMUTATION_ALGORITHM,
                  "stores_embeddings": bool(stores_embeddings)}
        embeddings = np.zeros((0, model["embedding_size"]), np.float32) if stores_embeddings else None
        return cls(header, [], np.zeros((0, *packed_shape(model["m"], model["q"])), np.uint8), embeddings, [])

    def __len__(self):
        return len(self.entries)

    @property
    def m(self):
        return self.header["model"]["m"]

    @property
    def q(self):
        return self.header["model"]["q"]

    @property
    def permutation(self):
        """The algorithm of the keyed permutation its templates were made with (``lateral.models.permutation``)."""
        return self.header["permutation"]

    def fish_ids(self):
        return sorted({entry["fish_id"] for entry in self.entries})

    def entry_by_sha(self):
        return {entry["sha256"]: entry for entry in self.entries}

    def add(self, entries, codes, embeddings=None):
        self.entries = self.entries + list(entries)
        self.codes = np.concatenate([self.codes, codes])
        if self.embeddings is not None:
            self.embeddings = np.concatenate([self.embeddings, np.asarray(embeddings, np.float32)])

    def keep(self, mask):
        mask = np.asarray(mask, bool)
        self.entries = [entry for entry, kept in zip(self.entries, mask) if kept]
        self.codes = self.codes[mask]
        if self.embeddings is not None:
            self.embeddings = self.embeddings[mask]


def save_gallery(gallery, path):
    """Write ``gallery`` to ``path`` (through a symbolic link to its target) atomically, keeping mode, owner, group."""
    gallery.header["updated"] = now()
    meta = json.dumps({"header": gallery.header, "entries": gallery.entries, "decisions": gallery.decisions})
    arrays = {"meta": np.frombuffer(meta.encode("utf-8"), np.uint8), "codes": gallery.codes}
    if gallery.embeddings is not None:
        arrays["embeddings"] = gallery.embeddings
    _write_atomically(Path(os.path.realpath(path)), lambda handle: np.savez(handle, **arrays))


def _write_atomically(target, write, like=None):
    """Write ``target`` (a real path, not a link) by ``write(handle)`` into a temporary file beside it, fsync, rename.

    The new file gets the permissions, owner and group of ``like`` (a stat
    result; default: the file being replaced), or what the umask gives a
    new file.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if like is None and target.exists():
        like = target.stat()
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            _take_ownership_of(handle.fileno(), like)
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


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


def load_gallery(path):
    """Read and check a gallery (converting a version-1 file); GalleryError names the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise GalleryError(f"{path}: no such gallery (create one with `python -m lateral.gallery enroll`)")
    try:
        stat_read, data = path.stat(), path.read_bytes()
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
        header = meta["header"]
        header_format, version = header.get("format"), header.get("version")
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError, TypeError, AttributeError,
            UnicodeDecodeError) as error:
        raise GalleryError(f"{path} is not a lateral gallery or is damaged ({type(error).__name__}: {error})") from None
    if header_format != FORMAT:
        raise GalleryError(f"{path} is not a lateral gallery (format {header_format!r})")
    if type(version) is not int or version not in (1, VERSION):
        raise GalleryError(f"{path} is gallery format version {version!r}; this lateral reads versions 1 to {VERSION}")
    check_meta(meta, version, path)
    gallery = Gallery(header, meta["entries"], arrays.get("codes"), arrays.get("embeddings"), meta["decisions"])
    _check_consistent(gallery, path)
    if version == 1:
        _migrate_version_1(gallery, path, data, stat_read)
    return gallery


def _check_consistent(gallery, path):
    model = gallery.header["model"]
    expected = (len(gallery.entries), *packed_shape(model["m"], model["q"]))
    if gallery.codes is None or gallery.codes.dtype != np.uint8 or gallery.codes.shape != expected:
        shape = None if gallery.codes is None else gallery.codes.shape
        raise GalleryError(f"{path} is damaged: codes of shape {shape}, expected {expected} for "
                           f"{len(gallery.entries)} entries")
    if gallery.header["stores_embeddings"]:
        expected = (len(gallery.entries), model["embedding_size"])
        if gallery.embeddings is None or gallery.embeddings.shape != expected:
            shape = None if gallery.embeddings is None else gallery.embeddings.shape
            raise GalleryError(f"{path} is damaged: embeddings of shape {shape}, expected {expected}")
    elif gallery.embeddings is not None:
        raise GalleryError(f"{path} is damaged: it holds embeddings its header does not declare")


LOCK_SECONDS_FOR_CONVERSION = 10.0  # a read-only command converts only when it can lock soon


def _migrate_version_1(gallery, path, data, stat_read):
    """Make ``gallery`` (read from version-1 bytes ``data``) version 2, keep ``data`` as a backup, save over ``path``.

    A keyed gallery keeps the legacy NumPy permutation its templates were
    made with. If the file cannot be written (a read-only copy), the gallery
    is used converted in memory and the file is left as it was.
    """
    header = gallery.header
    header["version"] = VERSION
    header["permutation"] = LEGACY_ALGORITHM if header["key"] is not None else PERMUTATION_ALGORITHM
    header["migrated"] = {"from_version": 1, "at": now()}
    try:
        with gallery_lock(path, timeout=LOCK_SECONDS_FOR_CONVERSION):
            _convert_version_1_file(gallery, path, data, stat_read)
    except (OSError, GalleryError) as error:  # no lock file can be made here, or another process holds it
        LOG.warning(f"{path} is gallery format version 1 and was not converted to version {VERSION} now "
                    f"({getattr(error, 'strerror', None) or error}); it is used as it is")


def _convert_version_1_file(gallery, path, data, stat_read):
    header = gallery.header
    target = Path(os.path.realpath(path))
    backup = _free_backup_name(target)
    try:
        _write_atomically(backup, lambda handle: handle.write(data), like=stat_read)
        now_there = target.stat()
        if (now_there.st_ino, now_there.st_size, now_there.st_mtime_ns) != (
                stat_read.st_ino, stat_read.st_size, stat_read.st_mtime_ns):
            raise GalleryError(f"{path} changed while it was being converted to format version {VERSION}; run the "
                               "command again")
        save_gallery(gallery, path)
    except OSError as error:
        LOG.warning(f"{path} is gallery format version 1 and could not be converted to version {VERSION} "
                    f"({error.strerror or error}); it is used as it is")
        return
    LOG.warning(f"converted {path} to gallery format version {VERSION} (permutation {header['permutation']}); the "
                f"version-1 file is kept as {backup}")


def _free_backup_name(target):
    """``<name>.v1.bak`` beside ``target``, or ``<name>.v1.2.bak``, ... if taken (a backup is never overwritten)."""
    candidate, number = target.with_name(f"{target.name}.v1.bak"), 1
    while candidate.exists():
        number += 1
        candidate = target.with_name(f"{target.name}.v1.{number}.bak")
    return candidate
