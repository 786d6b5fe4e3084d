"""The gallery file (``.lgal``): versioned, written atomically, no images in it.

Format, version 1: an uncompressed NumPy ``.npz`` (a zip archive) with

- ``meta``: UTF-8 JSON as uint8 bytes: ``{"header": ..., "entries": [...], "decisions": [...]}``.
  ``header`` has ``format`` ("lateral-gallery"), ``version``, ``created``,
  ``updated``, ``model`` (``path``, ``fingerprint``: SHA-256 of the weights,
  ``m``, ``q``, ``embedding_size``, ``input_size``), ``key`` (null, or a
  salted PBKDF2 verifier of the permutation key, never the key) and
  ``stores_embeddings``. Each entry is one template: ``fish_id``, ``source``
  (the photo's absolute path), ``sha256`` (of the photo file), ``session``,
  ``flank``, ``mode`` ("tent" or "cropped"), ``added``, ``how`` ("enroll",
  "confirm" or "revoke"). Each decision records a person's ``confirm``.
- ``codes``: uint8 [n, ceil(log2 q), ceil(m / 8)], the IoM templates as bit
  planes (``lateral.gallery.packing``), in the order of ``entries``.
- ``embeddings``: float32 [n, embedding_size], only in a gallery created with
  ``--store_embeddings`` (float embeddings are not cancellable).

A save writes a temporary file beside the gallery, syncs it to disk and
renames it over the old file, so a crash mid-write leaves the old gallery
whole. Files are read with ``allow_pickle=False``.
"""

import dataclasses
import datetime
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from lateral.gallery.packing import packed_shape

FORMAT = "lateral-gallery"
VERSION = 1


class GalleryError(ValueError):
    """A gallery, key or input a command cannot use; the message says which and why."""


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
                  "key": key_verifier, "stores_embeddings": bool(stores_embeddings)}
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
    """Write ``gallery`` to ``path`` atomically (temporary file, fsync, rename)."""
    path = Path(path)
    gallery.header["updated"] = now()
    meta = json.dumps({"header": gallery.header, "entries": gallery.entries, "decisions": gallery.decisions})
    arrays = {"meta": np.frombuffer(meta.encode("utf-8"), np.uint8), "codes": gallery.codes}
    if gallery.embeddings is not None:
        arrays["embeddings"] = gallery.embeddings
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            os.chmod(handle.name, _mode_for(path))
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _mode_for(path):
    """The old gallery's permissions, or what the umask gives a new file (a temporary file starts at 0600)."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def load_gallery(path):
    """Read and check a gallery; GalleryError names the file and what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise GalleryError(f"{path}: no such gallery (create one with `python -m lateral.gallery enroll`)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
        header = meta["header"]
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise GalleryError(f"{path} is not a lateral gallery or is damaged ({type(error).__name__}: {error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise GalleryError(f"{path} is not a lateral gallery (format {header.get('format')!r})")
    if header.get("version") != VERSION:
        raise GalleryError(f"{path} is gallery format version {header.get('version')}; this lateral reads version "
                           f"{VERSION}")
    gallery = Gallery(header, meta["entries"], arrays.get("codes"), arrays.get("embeddings"), meta["decisions"])
    _check_consistent(gallery, path)
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
