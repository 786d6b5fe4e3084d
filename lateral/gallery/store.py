"""The gallery file (``.lgal``): versioned, checked field by field on load, written atomically, no images in it.

Format, version 3: an SQLite database, the catalogue (``lateral.gallery
.database``; its tables in docs/catalogue.md): the header, fish, photos
with their packed IoM templates, sessions with dates, photo metadata and
the append-only decision log. In memory a ``Gallery`` holds ``header``,
``entries`` (one per template: ``fish_id``, ``source`` (the photo's
absolute path), ``sha256`` (of the photo file), ``session``, ``flank``,
``mode`` ("tent" or "cropped"), ``added``, ``how`` ("enroll", "confirm" or
"revoke"), optionally ``capture``), ``codes`` (uint8 [n, ceil(log2 q),
ceil(m / 8)], the templates as bit planes, ``lateral.gallery.packing``),
``embeddings`` (float32 [n, embedding_size], only in a gallery created with
``--store_embeddings``: float embeddings are not cancellable),
``decisions``, ``sessions`` ({name: ISO date or None}) and ``metadata``
({sha256: {field: text}}). ``header`` has ``format`` ("lateral-gallery"),
``version``, ``created``, ``updated``, ``model`` (``path``,
``fingerprint``: SHA-256 of the weights, ``m``, ``q``, ``embedding_size``,
``input_size``), ``key`` (null, or a salted PBKDF2 verifier of the
permutation key, never the key), ``permutation`` (the keyed permutation's
algorithm, ``lateral.models.permutation``) and ``stores_embeddings``;
optionally ``revoked``, ``migrated``, ``verify`` and ``calibration``
(``lateral.gallery.recalibration``). ``lateral.gallery.schema`` lists every
field's type. Saving a loaded gallery writes only what changed, in
one SQLite transaction.

Versions 1 and 2 were NumPy ``.npz`` archives (``meta``: the JSON of
header, entries and decisions; ``codes``; ``embeddings``). Version 1 lacks
``permutation``: its keyed templates were made with NumPy's PCG64 stream
(``numpy-pcg64-v1``), which a converted keyed gallery keeps (a gallery
without a key gets the current algorithm: the identity under either).
Opening either converts the file to version 3 under the gallery lock: the
old file is kept beside it as ``<name>.v1.bak`` or ``<name>.v2.bak`` (older
lateral versions read only that) and the header gains ``migrated``. The
codes cannot be re-made without the photos; ``revoke`` re-enrols them and
moves the gallery to the current algorithm.

A new file (a new gallery, a conversion) is built in memory, written to a
temporary file beside the gallery's real file (a symbolic link is
followed, and stays a link), given the old file's permissions, owner and
group (the owner where the saving user may set it), synced to disk and
renamed over the old file, so a crash mid-write leaves the old gallery
whole. Old files are read with ``allow_pickle=False``.
"""

import dataclasses
import datetime
import io
import json
import logging
import os
import zipfile
from pathlib import Path

import numpy as np

from lateral.atomic_write import write_atomically
from lateral.gallery import database
from lateral.gallery.errors import GalleryError
from lateral.gallery.lock import gallery_lock
from lateral.gallery.packing import packed_shape
from lateral.gallery.schema import check_meta
from lateral.models.permutation import LEGACY_ALGORITHM, PERMUTATION_ALGORITHM

FORMAT = "lateral-gallery"
VERSION = 3
NPZ_VERSIONS = (1, 2)  # the NumPy archives before the SQLite catalogue
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
    sessions: dict = dataclasses.field(default_factory=dict)  # {session: ISO date or None}
    metadata: dict = dataclasses.field(default_factory=dict)  # {sha256: {field: text}}
    stored: object = dataclasses.field(default=None, compare=False, repr=False)  # database.Stored: what the file holds
    # Photos changed since the last save: {sha256: its entry, or None when taken out} (``add``, ``keep``, ``edit``).
    touched: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)
    # The file's ``gallery_revision`` when this was read or saved (None: unknown, or changed in memory and not saved).
    revision: object = dataclasses.field(default=None, compare=False, repr=False)

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
        entries = list(entries)
        self.entries = self.entries + entries
        self.codes = np.concatenate([self.codes, codes])
        if self.embeddings is not None:
            self.embeddings = np.concatenate([self.embeddings, np.asarray(embeddings, np.float32)])
        self.touched.update((entry["sha256"], entry) for entry in entries)

    def keep(self, mask):
        mask = np.asarray(mask, bool)
        self.touched.update((entry["sha256"], None) for entry, kept in zip(self.entries, mask) if not kept)
        self.entries = [entry for entry, kept in zip(self.entries, mask) if kept]
        self.codes = self.codes[mask]
        if self.embeddings is not None:
            self.embeddings = self.embeddings[mask]

    def edit(self, entry, **fields):
        """Change fields of one of the entries (the way to change one: a save writes only the photos touched)."""
        entry.update(fields)
        self.touched[entry["sha256"]] = entry


def save_gallery(gallery, path):
    """Write ``gallery`` to ``path`` (through a symbolic link to its target): the changes in one SQLite transaction,
    or, for a new gallery or an old-format file, a whole new file written atomically keeping mode, owner, group."""
    gallery.header["updated"] = now()
    target = Path(os.path.realpath(path))
    if _is_catalogue_file(target):
        with database.connected(target) as db:
            database.write(db, gallery, now())
    else:
        write_atomically(target, database.serialized(gallery, now()))
    gallery.revision = (target.stat().st_ino, gallery.stored.version)  # gallery_revision's, without reconnecting


def _is_catalogue_file(path):
    try:
        with open(path, "rb") as handle:
            return database.is_catalogue(handle.read(len(database.MAGIC)))
    except FileNotFoundError:
        return False


def gallery_revision(path):
    """Changes whenever a write to the gallery at ``path`` is committed (for a reader that caches it)."""
    real = Path(os.path.realpath(path))
    stat = real.stat()
    if _is_catalogue_file(real):
        return stat.st_ino, database.revision(real)
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def load_gallery(path):
    """Read and check a gallery (converting a version-1 or -2 file); GalleryError names the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise GalleryError(f"{path}: no such gallery (create one with `python -m lateral.gallery enroll`)")
    if _is_catalogue_file(path):
        return _load_catalogue(path)
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
    if type(version) is not int or version not in NPZ_VERSIONS:
        raise GalleryError(f"{path} is gallery format version {version!r}; this lateral reads versions 1 to {VERSION}")
    check_meta(meta, version, path)
    gallery = Gallery(header, meta["entries"], arrays.get("codes"), arrays.get("embeddings"), meta["decisions"])
    _check_consistent(gallery, path)
    _convert_old_format(gallery, path, data, stat_read, version)
    return gallery


def _load_catalogue(path):
    inode = Path(os.path.realpath(path)).stat().st_ino
    header, entries, codes, embeddings, decisions, sessions, metadata, stored = database.read(path, now())
    if header.get("format") != FORMAT:
        raise GalleryError(f"{path} is not a lateral gallery (format {header.get('format')!r})")
    if header.get("version") != VERSION:
        raise GalleryError(f"{path} is gallery format version {header.get('version')!r}; this lateral reads versions "
                           f"1 to {VERSION}")
    check_meta({"header": header, "entries": entries, "decisions": decisions}, VERSION, path)
    model = header["model"]
    codes = database.stack(codes, packed_shape(model["m"], model["q"]), np.uint8, path, "template")
    if header["stores_embeddings"]:
        embeddings = database.stack(embeddings, (model["embedding_size"],), np.float32, path, "embedding")
    elif any(embedding is not None for embedding in embeddings):
        raise GalleryError(f"{path} is damaged: it holds embeddings its header does not declare")
    else:
        embeddings = None
    gallery = Gallery(header, entries, codes, embeddings, decisions, sessions, metadata, stored=stored)
    _check_consistent(gallery, path)
    gallery.revision = (inode, stored.version)  # as gallery_revision says; read before the rest: never too new
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


def _convert_old_format(gallery, path, data, stat_read, version):
    """Make ``gallery`` (read from version-1 or -2 bytes ``data``) version 3, keep ``data`` as a backup, save over
    ``path``.

    A keyed version-1 gallery keeps the legacy NumPy permutation its
    templates were made with. If the file cannot be written (a read-only
    copy), the gallery is used converted in memory and the file is left as
    it was.
    """
    header = gallery.header
    if version == 1:
        header["permutation"] = LEGACY_ALGORITHM if header["key"] is not None else PERMUTATION_ALGORITHM
    header["version"] = VERSION
    header["migrated"] = {"from_version": version, "at": now()}
    try:
        with gallery_lock(path, timeout=LOCK_SECONDS_FOR_CONVERSION):
            _convert_file(gallery, path, data, stat_read, version)
    except (OSError, GalleryError) as error:  # no lock file can be made here, or another process holds it
        LOG.warning(f"{path} is gallery format version {version} and was not converted to version {VERSION} now "
                    f"({getattr(error, 'strerror', None) or error}); it is used as it is")


def _convert_file(gallery, path, data, stat_read, version):
    header = gallery.header
    target = Path(os.path.realpath(path))
    backup = _free_backup_name(target, version)
    try:
        write_atomically(backup, data, like=stat_read)
        now_there = target.stat()
        if (now_there.st_ino, now_there.st_size, now_there.st_mtime_ns) != (
                stat_read.st_ino, stat_read.st_size, stat_read.st_mtime_ns):
            raise GalleryError(f"{path} changed while it was being converted to format version {VERSION}; run the "
                               "command again")
        save_gallery(gallery, path)
    except OSError as error:
        LOG.warning(f"{path} is gallery format version {version} and could not be converted to version {VERSION} "
                    f"({error.strerror or error}); it is used as it is")
        return
    LOG.warning(f"converted {path} to gallery format version {VERSION} (permutation {header['permutation']}); the "
                f"version-{version} file is kept as {backup}")


def _free_backup_name(target, version):
    """``<name>.v<version>.bak`` beside ``target``, or ``<name>.v<version>.2.bak``, ... if taken (never overwritten)."""
    candidate, number = target.with_name(f"{target.name}.v{version}.bak"), 1
    while candidate.exists():
        number += 1
        candidate = target.with_name(f"{target.name}.v{version}.{number}.bak")
    return candidate
