"""The gallery's catalogue in SQLite (gallery format 3): fish, photos with their packed templates, sessions, metadata, decisions.

One SQLite file (the ``.lgal`` itself) holds every relational record and,
in the same row as each photo, its packed IoM template (``lateral.gallery
.packing``), so a photo and its template are written in one transaction and
never part. A search loads every template once into the in-memory bit-plane
index (where search is fastest); the file is the record. Tables and views
are described for R and SQL users in docs/catalogue.md.

- WAL journal: readers (the review page, ``list``) read while one writer
  writes; each write is one ``BEGIN IMMEDIATE`` transaction, so a kill -9
  leaves the last committed state (SQLite's atomic commit).
- ``schema_version`` lists the migrations applied; ``MIGRATIONS[i]`` takes
  version ``i`` to ``i + 1`` and runs when an older file is opened for writing.
- The decision log is append-only: triggers refuse UPDATE and DELETE.
- ``PRAGMA user_version`` counts the writes: a reader compares it to see
  whether the catalogue changed (the file's time and size do not show a WAL
  commit).
- A save writes only what changed since the gallery was read (``Stored``):
  a decision is a few row writes whatever the gallery's size.
"""

import contextlib
import dataclasses
import errno
import json
import os
import sqlite3

import numpy as np

from lateral.gallery.errors import GalleryError

MAGIC = b"SQLite format 3\x00"
BUSY_MILLISECONDS = 120_000  # a reader meeting a checkpoint waits instead of failing

MIGRATIONS = (
    (  # 0 -> 1: the catalogue
        "CREATE TABLE header (name TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT",
        "CREATE TABLE sessions (session TEXT PRIMARY KEY, date TEXT) STRICT",
        "CREATE TABLE fish (fish_id TEXT PRIMARY KEY, created TEXT NOT NULL) STRICT",
        """CREATE TABLE photos (
            photo_id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE,
            fish_id TEXT NOT NULL REFERENCES fish (fish_id), source TEXT NOT NULL, session TEXT,
            flank TEXT NOT NULL, mode TEXT NOT NULL, capture TEXT, added TEXT NOT NULL, how TEXT NOT NULL,
            code BLOB NOT NULL, embedding BLOB) STRICT""",
        "CREATE INDEX photos_by_fish ON photos (fish_id)",
        """CREATE TABLE photo_metadata (
            sha256 TEXT NOT NULL REFERENCES photos (sha256) ON DELETE CASCADE, name TEXT NOT NULL,
            value TEXT NOT NULL, PRIMARY KEY (sha256, name)) STRICT""",
        """CREATE TABLE decisions (
            decision_id INTEGER PRIMARY KEY, decided TEXT NOT NULL, reviewer TEXT NOT NULL, action TEXT NOT NULL,
            photo TEXT NOT NULL, fish_id TEXT NOT NULL, new_fish INTEGER NOT NULL, note TEXT NOT NULL,
            before TEXT NOT NULL, after TEXT NOT NULL, undoes INTEGER REFERENCES decisions (decision_id)) STRICT""",
        """CREATE TRIGGER decisions_are_appended_only BEFORE UPDATE ON decisions
            BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END""",
        """CREATE TRIGGER decisions_are_never_deleted BEFORE DELETE ON decisions
            BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END""",
        """CREATE VIEW captures AS
            SELECT photos.fish_id, photos.session, sessions.date, count(*) AS photos
            FROM photos LEFT JOIN sessions USING (session) GROUP BY photos.fish_id, photos.session""",
    ),
    (  # 1 -> 2: what a review-page decision adds (JSON: the model's suggestion then; a verdict and its reason)
        "ALTER TABLE decisions ADD COLUMN review TEXT",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
PHOTO_FIELDS = ("sha256", "fish_id", "source", "session", "flank", "mode", "capture", "added", "how")
DECISION_FIELDS = ("decided", "reviewer", "action", "photo", "fish_id", "new_fish", "note", "before", "after",
                   "undoes", "review")
JSON_DECISION_FIELDS = ("before", "after", "review")


@dataclasses.dataclass
class Stored:
    """What the file held when a gallery was read or last saved: its write count (``user_version``), each photo's
    fields by content hash (``photo_fields``; templates are never changed in place, except by ``revoke``, which
    drops this record), the sessions' dates and the photo metadata."""
    version: int
    photos: dict
    sessions: dict
    metadata: dict


def photo_fields(entry):
    return tuple(entry.get(name) for name in PHOTO_FIELDS)


def is_catalogue(data):
    """Whether file bytes (or their first 16) are an SQLite database."""
    return data[:len(MAGIC)] == MAGIC


# SQLite's words for what the machine, not the file, refuses, as the OSError the command lines answer in one line.
DISK_REFUSALS = {"database or disk is full": errno.ENOSPC, "attempt to write a readonly database": errno.EROFS,
                 "unable to open database file": errno.EACCES}


def disk_refusal(error, path):
    """The OSError for an ``sqlite3.OperationalError`` that is a full disk, a read-only or forbidden folder (a
    "disk I/O error" on a disk with no free block is a full disk); None for anything else."""
    message = str(error)
    number = DISK_REFUSALS.get(message)
    if number is None and message == "disk I/O error":
        folder = os.path.dirname(os.path.abspath(path))
        number = errno.ENOSPC if os.statvfs(folder).f_bavail == 0 else errno.EIO
    return None if number is None else OSError(number, os.strerror(number), str(path))


@contextlib.contextmanager
def connected(path):
    """An open connection (the file stays in WAL mode, see ``serialized``) with foreign keys on, in autocommit
    (transactions are explicit); closed after. A full disk or a read-only folder is raised as the OSError it is."""
    try:
        db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_MILLISECONDS / 1000)
    except sqlite3.OperationalError as error:
        raise disk_refusal(error, path) or error from None
    try:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = FULL")  # a committed decision survives a power cut, not only a kill
        yield db
    except sqlite3.OperationalError as error:
        raise disk_refusal(error, path) or error from None
    finally:
        db.close()


@contextlib.contextmanager
def transaction(db):
    """``BEGIN IMMEDIATE`` (take the write lock now) ... ``COMMIT``; any error rolls everything back."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def schema_version(db):
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" not in tables:
        return 0
    return db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def migrate(db, stamp):
    """Apply the migrations this file lacks (inside the caller's transaction); refuses a newer schema."""
    version = schema_version(db)
    if version == 0:
        db.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied TEXT NOT NULL) STRICT")
    for number in range(version, SCHEMA_VERSION):
        for statement in MIGRATIONS[number]:
            db.execute(statement)
        db.execute("INSERT INTO schema_version VALUES (?, ?)", (number + 1, stamp))


def revision(path):
    """The catalogue's write count (changes with every committed write)."""
    with connected(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def read(path, stamp):
    """(header, entries, codes [n, bits, bytes] uint8, embeddings or None, decisions, sessions, metadata, Stored) of
    a file.

    An older schema is migrated (``stamp`` dates the migration). Raises
    GalleryError naming the file for a damaged database or a schema newer
    than this lateral knows.
    """
    try:
        with connected(path) as db:
            version = schema_version(db)
            if version == 0:
                raise GalleryError(f"{path} is not a lateral gallery (an SQLite database without its tables)")
            if version > SCHEMA_VERSION:
                raise GalleryError(f"{path} is catalogue schema version {version}; this lateral reads versions up to "
                                   f"{SCHEMA_VERSION}")
            if version < SCHEMA_VERSION:
                with transaction(db):
                    migrate(db, stamp)
            written = db.execute("PRAGMA user_version").fetchone()[0]  # first: a later write makes it stale
            header = {name: json.loads(value) for name, value in db.execute("SELECT name, value FROM header")}
            rows = db.execute(f"SELECT {', '.join(PHOTO_FIELDS)}, code, embedding FROM photos "
                              "ORDER BY photo_id").fetchall()
            decisions = [_decision(row) for row in db.execute(
                f"SELECT decision_id, {', '.join(DECISION_FIELDS)} FROM decisions ORDER BY decision_id")]
            sessions = dict(db.execute("SELECT session, date FROM sessions ORDER BY session"))
            metadata = {}
            for sha256, name, value in db.execute("SELECT sha256, name, value FROM photo_metadata ORDER BY rowid"):
                metadata.setdefault(sha256, {})[name] = value
    except sqlite3.DatabaseError as error:
        raise GalleryError(f"{path} is not a lateral gallery or is damaged (sqlite: {error})") from None
    except ValueError as error:  # a header value that is not JSON
        raise GalleryError(f"{path} is damaged: a header value is not JSON ({error})") from None
    entries = [{name: value for name, value in zip(PHOTO_FIELDS, row) if name != "capture" or value is not None}
               for row in rows]
    stored = Stored(written, {entry["sha256"]: photo_fields(entry) for entry in entries}, dict(sessions),
                    {sha256: dict(fields) for sha256, fields in metadata.items()})
    return header, entries, [row[-2] for row in rows], [row[-1] for row in rows], decisions, sessions, metadata, stored


def _decision(row):
    decision = dict(zip(("id", *DECISION_FIELDS), row))
    decision.update({name: json.loads(decision[name]) for name in JSON_DECISION_FIELDS if decision[name] is not None},
                    new_fish=bool(decision["new_fish"]))
    return decision


def stack(blobs, shape, dtype, path, what):
    """One array [n, *shape] from one blob per photo; GalleryError naming the file if any blob has the wrong size."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    for index, blob in enumerate(blobs):
        if blob is None or len(blob) != size:
            raise GalleryError(f"{path} is damaged: photo {index + 1}'s {what} has "
                               f"{'none' if blob is None else len(blob)} bytes, expected {size}")
    return np.frombuffer(b"".join(blobs), dtype).reshape(len(blobs), *shape).copy()


def write(db, gallery, stamp):
    """Make the catalogue in ``db`` equal the gallery in memory, changing only what differs (one transaction).

    With ``gallery.stored`` matching the file's write count, only the
    photos touched since (``gallery.touched``: added, taken out, edited)
    are written (new ones inserted, edited ones' fields updated, never a
    template in place), and the changed sessions and metadata. Otherwise every stored photo is compared
    (templates too). Decisions without an ``id`` are appended (and given
    theirs); logged ones are never rewritten. ``gallery.stored`` then
    records what the file holds.
    """
    if db.execute("PRAGMA journal_mode").fetchone()[0] == "delete":  # a file made by another SQLite program
        db.execute("PRAGMA journal_mode = WAL")
    try:
        _write(db, gallery, stamp)
    except BaseException:
        gallery.stored = None  # partly updated by a transaction rolled back: the next save compares everything
        raise


def _write(db, gallery, stamp):
    with transaction(db):
        migrate(db, stamp)
        version = db.execute("PRAGMA user_version").fetchone()[0]
        stored = gallery.stored if gallery.stored is not None and gallery.stored.version == version else None
        db.execute("DELETE FROM header")
        db.executemany("INSERT INTO header VALUES (?, ?)", [(name, json.dumps(value))
                                                           for name, value in gallery.header.items()])
        if stored is None:
            db.execute("DELETE FROM sessions")
            db.execute("DELETE FROM photo_metadata")
            _write_every_photo(db, gallery, stamp)
            stored = Stored(version, {entry["sha256"]: photo_fields(entry) for entry in gallery.entries}, {}, {})
            in_use = {entry["session"] for entry in gallery.entries if entry["session"]}
        else:
            in_use = _write_changed_photos(db, gallery, stamp, stored)
        _write_sessions(db, gallery, stored, in_use)
        _write_metadata(db, gallery, stored)
        for decision in gallery.decisions:
            if "id" not in decision:
                values = [decision.get(name, _DECISION_DEFAULTS.get(name)) for name in DECISION_FIELDS]
                for name in JSON_DECISION_FIELDS:
                    index = DECISION_FIELDS.index(name)
                    if values[index] is not None or name != "review":  # review stays NULL for other decisions
                        values[index] = json.dumps(values[index])
                cursor = db.execute(f"INSERT INTO decisions ({', '.join(DECISION_FIELDS)}) VALUES "
                                    f"({', '.join('?' * len(DECISION_FIELDS))})", values)
                decision["id"] = cursor.lastrowid
        db.execute(f"PRAGMA user_version = {version + 1}")
    stored.version = version + 1
    gallery.stored, gallery.touched = stored, {}


def _insert_photo(db, row):
    db.execute(f"INSERT INTO photos ({', '.join(PHOTO_FIELDS)}, code, embedding) VALUES "
               f"({', '.join('?' * (len(PHOTO_FIELDS) + 2))})", row)


def _write_every_photo(db, gallery, stamp):
    """Compare every stored photo (template included) with the gallery's and write the differences."""
    stored = {row[0]: row for row in db.execute(f"SELECT {', '.join(PHOTO_FIELDS)}, code, embedding FROM photos")}
    wanted = set()
    db.executemany("INSERT OR IGNORE INTO fish VALUES (?, ?)", [(e["fish_id"], stamp) for e in gallery.entries])
    for index, entry in enumerate(gallery.entries):
        row = _photo_row(entry, gallery, index)
        wanted.add(entry["sha256"])
        if entry["sha256"] not in stored:
            _insert_photo(db, row)
        elif tuple(stored[entry["sha256"]]) != row:
            db.execute(f"UPDATE photos SET {', '.join(f'{name} = ?' for name in PHOTO_FIELDS[1:])}, code = ?, "
                       "embedding = ? WHERE sha256 = ?", (*row[1:], entry["sha256"]))
    db.executemany("DELETE FROM photos WHERE sha256 = ?", [(sha,) for sha in stored if sha not in wanted])
    db.execute("DELETE FROM fish WHERE fish_id NOT IN (SELECT fish_id FROM photos)")


def _write_changed_photos(db, gallery, stamp, stored):
    """Write the photos touched since ``stored`` (a Stored of this file) was made, and update it; returns the sessions
    of the photos written."""
    photos, fish_left, sessions = stored.photos, set(), set()
    for sha256, entry in gallery.touched.items():
        before = photos.get(sha256)
        if entry is None:
            if before is not None:
                db.execute("DELETE FROM photos WHERE sha256 = ?", (sha256,))
                fish_left.add(photos.pop(sha256)[1])
            continue
        fields = photo_fields(entry)
        if before == fields:
            continue
        db.execute("INSERT OR IGNORE INTO fish VALUES (?, ?)", (entry["fish_id"], stamp))
        if before is None:
            index = next(i for i in range(len(gallery.entries) - 1, -1, -1)  # added last: found from the end
                         if gallery.entries[i]["sha256"] == sha256)
            _insert_photo(db, _photo_row(entry, gallery, index))
        else:
            db.execute(f"UPDATE photos SET {', '.join(f'{name} = ?' for name in PHOTO_FIELDS[1:])} "
                       "WHERE sha256 = ?", (*fields[1:], sha256))
            fish_left.add(before[1])
        photos[sha256] = fields
        sessions.add(entry["session"])
    db.executemany("DELETE FROM fish WHERE fish_id = ? AND NOT EXISTS (SELECT 1 FROM photos WHERE fish_id = ?)",
                   [(fish, fish) for fish in fish_left])
    return sessions - {None, ""}


_DECISION_DEFAULTS = {"reviewer": "", "action": "confirm", "note": "", "before": None, "after": None, "undoes": None,
                      "photo": "", "fish_id": "", "new_fish": False, "review": None}


def _photo_row(entry, gallery, index):
    embedding = None if gallery.embeddings is None else np.asarray(gallery.embeddings[index], np.float32).tobytes()
    return (*(entry.get(name) for name in PHOTO_FIELDS), np.ascontiguousarray(gallery.codes[index]).tobytes(),
            embedding)


def _write_sessions(db, gallery, stored, in_use):
    """Every session in use (``in_use``: those of the photos written) or dated, with its date: only those that
    differ from ``stored``, which is updated."""
    wanted = {**dict.fromkeys(set(in_use) - set(stored.sessions)), **gallery.sessions}
    changed = sorted((name, date) for name, date in wanted.items()
                     if name not in stored.sessions or stored.sessions[name] != date)
    db.executemany("INSERT INTO sessions VALUES (?, ?) ON CONFLICT (session) DO UPDATE SET date = excluded.date",
                   changed)
    stored.sessions.update(changed)


def _write_metadata(db, gallery, stored):
    """Each enrolled photo's metadata (only the photos whose fields differ from ``stored``, which is updated)."""
    if gallery.metadata == stored.metadata:  # compared in C: the usual case, a decision that changed none
        return
    for sha256 in set(gallery.metadata) | set(stored.metadata):
        fields = gallery.metadata.get(sha256, {}) if sha256 in stored.photos else {}  # a removed photo has none
        if fields == stored.metadata.get(sha256, {}):
            continue
        db.execute("DELETE FROM photo_metadata WHERE sha256 = ?", (sha256,))
        db.executemany("INSERT INTO photo_metadata VALUES (?, ?, ?)",
                       [(sha256, name, value) for name, value in fields.items()])
        stored.metadata[sha256] = dict(fields)


def serialized(gallery, stamp):
    """The bytes of a new catalogue file holding ``gallery`` (built in memory; the caller writes them atomically)."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    try:
        db.execute("PRAGMA foreign_keys = ON")
        write(db, gallery, stamp)
        data = bytearray(db.serialize())
    finally:
        db.close()
    data[18:20] = b"\x02\x02"  # the header's file format write/read versions: 2 is WAL (sqlite.org/fileformat.html)
    return bytes(data)

