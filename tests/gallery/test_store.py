import contextlib
import copy
import json
import sqlite3

import numpy as np
import pytest

from lateral.atomic_write import write_atomically
from lateral.gallery import catalogue, store
from lateral.gallery.packing import pack_codes, unpack_codes
from lateral.gallery.store import Gallery, GalleryError, load_gallery, save_gallery

MODEL = {"path": "/runs/iom", "fingerprint": "ab" * 32, "m": 12, "q": 8, "embedding_size": 4, "input_size": [32, 64]}


@contextlib.contextmanager
def sql(path):
    """A plain SQLite connection to a catalogue, as R or any SQL client would open it (closed after)."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        yield db
    finally:
        db.close()


def small_gallery(stores_embeddings=False):
    gallery = Gallery.new(MODEL, None, stores_embeddings)
    codes = np.random.default_rng(0).integers(0, 8, (3, 12))
    entries = [{"fish_id": f"fish_{i}", "source": f"/photos/{i}.jpg", "sha256": str(i), "session": "s1",
                "flank": "left", "mode": "tent", "added": store.now(), "how": "enroll"} for i in range(3)]
    gallery.add(entries, pack_codes(codes, 8), np.ones((3, 4)) if stores_embeddings else None)
    return gallery, codes


@pytest.mark.parametrize("stores_embeddings", [False, True])
def test_round_trip(tmp_path, stores_embeddings):
    gallery, _ = small_gallery(stores_embeddings)
    save_gallery(gallery, tmp_path / "g.lgal")
    loaded = load_gallery(tmp_path / "g.lgal")
    assert loaded.entries == gallery.entries
    np.testing.assert_array_equal(loaded.codes, gallery.codes)
    assert (loaded.embeddings is None) == (not stores_embeddings)
    assert loaded.header["format"] == "lateral-gallery" and loaded.header["version"] == 3
    assert loaded.header["permutation"] == "hmac-sha256-fisher-yates"


def test_no_images_are_stored(tmp_path):
    """A photo's row holds its template (3 bit planes of 2 bytes for m=12, q=8) and no image."""
    gallery, _ = small_gallery()
    save_gallery(gallery, tmp_path / "g.lgal")
    with sql(tmp_path / "g.lgal") as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(photos)")]
        sizes = db.execute("SELECT length(code), embedding FROM photos").fetchall()
    assert columns == ["photo_id", "sha256", "fish_id", "source", "session", "flank", "mode", "capture", "added", "how",
                       "code", "embedding"]
    assert sizes == [(6, None)] * 3


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_file_is_named(tmp_path, damage):
    gallery, _ = small_gallery()
    path = tmp_path / "g.lgal"
    save_gallery(gallery, path)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00not a zip" * 50, "empty": b""}[damage])
    with pytest.raises(GalleryError, match="g.lgal is not a lateral gallery or is damaged"):
        load_gallery(path)


def test_another_npz_another_database_and_another_version_are_refused(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(GalleryError, match="other.npz"):
        load_gallery(tmp_path / "other.npz")
    with sql(tmp_path / "other.db") as db:
        db.execute("CREATE TABLE birds (name TEXT)")
    before = (tmp_path / "other.db").read_bytes()
    with pytest.raises(GalleryError, match="other.db is not a lateral gallery"):
        load_gallery(tmp_path / "other.db")
    assert (tmp_path / "other.db").read_bytes() == before  # another program's database is left as it was
    gallery, _ = small_gallery()
    gallery.header["version"] = 4
    save_gallery(gallery, tmp_path / "future.lgal")
    with pytest.raises(GalleryError, match="version 4; this lateral reads versions 1 to 3"):
        load_gallery(tmp_path / "future.lgal")
    save_gallery(small_gallery()[0], tmp_path / "newer.lgal")
    with sql(tmp_path / "newer.lgal") as db:
        db.execute("INSERT INTO schema_version VALUES (3, 'later')")
    with pytest.raises(GalleryError, match="newer.lgal is catalogue schema version 3; this lateral reads versions up "
                                           "to 2"):
        load_gallery(tmp_path / "newer.lgal")


def test_a_template_of_the_wrong_size_is_refused(tmp_path):
    gallery, _ = small_gallery()
    save_gallery(gallery, tmp_path / "g.lgal")
    with sql(tmp_path / "g.lgal") as db:
        db.execute("UPDATE photos SET code = x'0102030405' WHERE sha256 = '1'")
    with pytest.raises(GalleryError, match="damaged: photo 2's template has 5 bytes, expected 6"):
        load_gallery(tmp_path / "g.lgal")


def test_a_crash_while_saving_leaves_the_old_gallery_whole(tmp_path, monkeypatch):
    """An error in the middle of the transaction (after the photo rows changed) rolls every change back."""
    path = tmp_path / "g.lgal"
    gallery, codes = small_gallery()
    save_gallery(gallery, path)
    before = path.read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(store.database, "_write_metadata", crash)
    gallery.keep([True, False, True])
    gallery.entries[0]["fish_id"] = "renamed"
    with pytest.raises(OSError, match="disk full"):
        save_gallery(gallery, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["g.lgal"]  # no temporary or journal file left behind
    assert [e["fish_id"] for e in load_gallery(path).entries] == ["fish_0", "fish_1", "fish_2"]


def test_a_crash_while_writing_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    def crash(descriptor):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        save_gallery(small_gallery()[0], tmp_path / "g.lgal")
    assert list(tmp_path.iterdir()) == []


def test_missing_gallery(tmp_path):
    with pytest.raises(GalleryError, match="nothing.lgal: no such gallery"):
        load_gallery(tmp_path / "nothing.lgal")


def test_the_catalogue_is_plain_sql(tmp_path):
    gallery, _ = small_gallery()
    gallery.sessions = {"s1": "2026-06-09"}
    gallery.metadata = {"1": {"site": "north pond", "length": "41.5"}}
    gallery.decisions.append({"photo": "/photos/1.jpg", "fish_id": "fish_1", "new_fish": True, "decided": "t",
                              "note": "", "reviewer": "ana", "action": "confirm", "before": {"1": None},
                              "after": {"1": "fish_1"}})
    save_gallery(gallery, tmp_path / "g.lgal")
    with sql(tmp_path / "g.lgal") as db:
        rows = db.execute("SELECT p.fish_id, s.date, m.value FROM photos p JOIN sessions s USING (session) "
                          "JOIN photo_metadata m ON m.sha256 = p.sha256 AND m.name = 'site'").fetchall()
        log = db.execute("SELECT reviewer, action, before, after FROM decisions").fetchall()
        header = dict(db.execute("SELECT name, value FROM header"))
    assert rows == [("fish_1", "2026-06-09", "north pond")]
    assert log == [("ana", "confirm", '{"1": null}', '{"1": "fish_1"}')]
    assert json.loads(header["model"]) == MODEL
    loaded = load_gallery(tmp_path / "g.lgal")
    assert (loaded.sessions, loaded.metadata) == (gallery.sessions, gallery.metadata)
    assert loaded.decisions == [{**gallery.decisions[0], "undoes": None, "review": None}]


def test_a_catalogue_without_the_review_column_gains_it_and_keeps_its_log(tmp_path):
    """Schema 1 (before the review page's column) is migrated when read; the new column holds JSON or NULL."""
    path = tmp_path / "g.lgal"
    gallery, _ = small_gallery()
    gallery.decisions.append({"photo": "/photos/1.jpg", "fish_id": "fish_1", "new_fish": False, "decided": "t",
                              "note": "old", "action": "confirm", "before": {"1": None}, "after": {"1": "fish_1"}})
    save_gallery(gallery, path)
    with sql(path) as db:  # back to schema 1, as a lateral without the review column wrote it
        db.execute("ALTER TABLE decisions DROP COLUMN review")
        db.execute("DELETE FROM schema_version WHERE version > 1")
    loaded = load_gallery(path)
    with sql(path) as db:
        assert [row[1] for row in db.execute("PRAGMA table_info(decisions)")][-1] == "review"
        assert db.execute("SELECT version FROM schema_version ORDER BY version").fetchall() == [(1,), (2,)]
    assert [(d["note"], d["review"]) for d in loaded.decisions] == [("old", None)]
    review = {"verdict": "unsure", "suggestion": {"decision": "review", "score": 0.5}}
    loaded.decisions.append({"photo": "/photos/9.jpg", "fish_id": "", "new_fish": False, "decided": "t2",
                             "note": "review", "action": "verdict", "before": {}, "after": {}, "review": review})
    save_gallery(loaded, path)
    with sql(path) as db:
        assert db.execute("SELECT action, review FROM decisions ORDER BY decision_id").fetchall() == [
            ("confirm", None), ("verdict", '{"verdict": "unsure", "suggestion": {"decision": "review", "score": 0.5}}')]
    assert [d["review"] for d in load_gallery(path).decisions] == [None, review]


def test_the_decision_log_is_append_only(tmp_path):
    gallery, _ = small_gallery()
    gallery.decisions.append({"photo": "/photos/1.jpg", "fish_id": "fish_1", "new_fish": False, "decided": "t",
                              "note": "first"})
    save_gallery(gallery, tmp_path / "g.lgal")
    for statement in ("UPDATE decisions SET note = 'changed'", "DELETE FROM decisions"):
        with sql(tmp_path / "g.lgal") as db, pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(statement)
    loaded = load_gallery(tmp_path / "g.lgal")
    loaded.decisions[0]["note"] = "changed in memory"
    loaded.decisions.append({"photo": "", "fish_id": "fish_2", "new_fish": False, "decided": "t2", "note": "second"})
    save_gallery(loaded, tmp_path / "g.lgal")
    assert [d["note"] for d in load_gallery(tmp_path / "g.lgal").decisions] == ["first", "second"]


def test_saving_writes_only_the_changed_rows(tmp_path):
    """A decision changes one photo's row: the other rows keep their rowids and bytes (no rewrite of the file)."""
    gallery, _ = small_gallery()
    save_gallery(gallery, tmp_path / "g.lgal")
    loaded = load_gallery(tmp_path / "g.lgal")
    loaded.edit(loaded.entries[1], fish_id="fish_0")
    save_gallery(loaded, tmp_path / "g.lgal")
    with sql(tmp_path / "g.lgal") as db:
        assert db.execute("SELECT photo_id, sha256, fish_id FROM photos ORDER BY photo_id").fetchall() == [
            (1, "0", "fish_0"), (2, "1", "fish_0"), (3, "2", "fish_2")]
        assert db.execute("SELECT fish_id FROM fish ORDER BY fish_id").fetchall() == [("fish_0",), ("fish_2",)]
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2  # two writes


def test_saving_keeps_the_file_permissions(tmp_path):
    gallery, _ = small_gallery()
    path = tmp_path / "g.lgal"
    save_gallery(gallery, path)
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    path.chmod(0o640)
    save_gallery(gallery, path)
    assert path.stat().st_mode & 0o777 == 0o640


def _umask():
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_version_1(path, key_verifier=None, version=1, decisions=()):
    """A gallery file as lateral wrote it before format 2 (no ``permutation`` in the header) or 3 (an ``.npz``)."""
    gallery, codes = small_gallery()
    header = {k: v for k, v in gallery.header.items() if k != "permutation" or version == 2}
    header.update(version=version, key=key_verifier)
    meta = json.dumps({"header": header, "entries": gallery.entries, "decisions": list(decisions)})
    with open(path, "wb") as handle:
        np.savez(handle, meta=np.frombuffer(meta.encode(), np.uint8), codes=gallery.codes)
    return codes


def test_a_keyed_version_1_gallery_is_converted_once_keeping_its_permutation_and_a_backup(tmp_path, caplog):
    path = tmp_path / "pond.lgal"
    codes = write_version_1(path, key_verifier={"kdf": "pbkdf2-sha256", "iterations": 200_000, "salt": "00",
                                                "digest": "ab" * 32})
    original = path.read_bytes()
    gallery = load_gallery(path)
    assert gallery.header["version"] == 3 and gallery.permutation == "numpy-pcg64-v1"
    assert gallery.header["migrated"]["from_version"] == 1
    np.testing.assert_array_equal(unpack_codes(gallery.codes, 12), codes)
    assert (tmp_path / "pond.lgal.v1.bak").read_bytes() == original
    with sql(path) as db:  # the file itself is now version 3
        assert json.loads(dict(db.execute("SELECT name, value FROM header"))["version"]) == 3
    assert "converted" in caplog.text and "pond.lgal.v1.bak" in caplog.text
    converted = path.read_bytes()
    assert load_gallery(path).permutation == "numpy-pcg64-v1"
    assert path.read_bytes() == converted  # opened again: nothing more to do
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pond.lgal", "pond.lgal.lock", "pond.lgal.v1.bak"]  # converted under the gallery lock


def test_a_version_1_gallery_without_key_gets_the_current_algorithm_and_an_old_backup_is_kept(tmp_path):
    path = tmp_path / "pond.lgal"
    (tmp_path / "pond.lgal.v1.bak").write_bytes(b"an earlier backup")
    write_version_1(path)
    assert load_gallery(path).permutation == "hmac-sha256-fisher-yates"  # the identity, under either algorithm
    assert (tmp_path / "pond.lgal.v1.bak").read_bytes() == b"an earlier backup"
    assert (tmp_path / "pond.lgal.v1.2.bak").is_file()


def test_a_version_1_gallery_that_cannot_be_written_is_used_as_it_is(tmp_path, monkeypatch, caplog):
    path = tmp_path / "pond.lgal"
    write_version_1(path)
    before = path.read_bytes()

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(store, "write_atomically", read_only)
    assert len(load_gallery(path)) == 3
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["pond.lgal", "pond.lgal.lock"]
    assert "could not be converted to version 3 (Permission denied)" in caplog.text


def test_a_version_1_gallery_behind_a_link_is_converted_beside_its_real_file(tmp_path):
    (tmp_path / "data").mkdir()
    write_version_1(tmp_path / "data" / "pond.lgal")
    (tmp_path / "pond.lgal").symlink_to("data/pond.lgal")
    assert load_gallery(tmp_path / "pond.lgal").header["version"] == 3
    assert (tmp_path / "pond.lgal").is_symlink()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["pond.lgal", "pond.lgal.lock", "pond.lgal.v1.bak"]  # converted under the gallery lock
    assert load_gallery(tmp_path / "data" / "pond.lgal").header["version"] == 3


def test_a_version_2_gallery_is_converted_to_the_sqlite_catalogue_keeping_a_backup(tmp_path):
    path = tmp_path / "pond.lgal"
    decision = {"photo": "/photos/1.jpg", "fish_id": "fish_1", "new_fish": True, "decided": "2026-06-09T10:00:00+00:00",
                "note": "review"}
    codes = write_version_1(path, version=2, decisions=[decision])
    original = path.read_bytes()
    gallery = load_gallery(path)
    assert gallery.header["migrated"]["from_version"] == 2 and gallery.permutation == "hmac-sha256-fisher-yates"
    assert (tmp_path / "pond.lgal.v2.bak").read_bytes() == original
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"
    again = load_gallery(path)
    np.testing.assert_array_equal(unpack_codes(again.codes, 12), codes)
    assert [e["fish_id"] for e in again.entries] == ["fish_0", "fish_1", "fish_2"]
    assert [{k: d[k] for k in decision} for d in again.decisions] == [decision]
    assert again.decisions[0]["action"] == "confirm"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pond.lgal", "pond.lgal.lock", "pond.lgal.v2.bak"]


def bulk_gallery(size, seed=0):
    rng = np.random.default_rng(seed)
    gallery = Gallery.new(MODEL, None, False)
    entries = [{"fish_id": f"fish_{i // 4}", "source": f"/photos/{i}.jpg", "sha256": f"sha_{i}",
                "session": f"s{i % 3}", "flank": ("left", "right")[i % 2], "mode": "tent", "added": store.now(),
                "how": "enroll"} for i in range(size)]
    gallery.add(entries, pack_codes(rng.integers(0, 8, (size, 12)), 8))
    return gallery


def statements_of_one_decision(path, monkeypatch):
    """The SQL statements a save runs after one decision on the gallery at ``path`` (a photo moved to another fish,
    a new photo enrolled, a log entry), counted by SQLite's trace callback."""
    gallery = load_gallery(path)
    gallery.edit(gallery.entries[2], fish_id="fish_0")
    gallery.add([{"fish_id": "fish_new", "source": "/photos/new.jpg", "sha256": "sha_new", "session": "s9",
                  "flank": "left", "mode": "tent", "added": store.now(), "how": "confirm"}],
                pack_codes(np.zeros((1, 12), int), 8))
    catalogue.log(gallery, "confirm", {"sha_new": None}, {"sha_new": "fish_new"}, "ana", photo="/photos/new.jpg",
                  fish_id="fish_new")
    statements, connect = [], sqlite3.connect

    def traced(*args, **kwargs):
        db = connect(*args, **kwargs)
        db.set_trace_callback(statements.append)
        return db

    monkeypatch.setattr(sqlite3, "connect", traced)
    save_gallery(gallery, path)
    monkeypatch.setattr(sqlite3, "connect", connect)
    return statements


def test_a_decision_saves_the_same_statements_whatever_the_gallery_size(tmp_path, monkeypatch):
    counts = {}
    for size in (12, 3000):
        save_gallery(bulk_gallery(size), tmp_path / f"{size}.lgal")
        counts[size] = len(statements_of_one_decision(tmp_path / f"{size}.lgal", monkeypatch))
    assert counts[12] == counts[3000] < 60


def catalogue_as_read(path):
    gallery = load_gallery(path)
    with sql(path) as db:
        fish_table = sorted(row[0] for row in db.execute("SELECT fish_id FROM fish"))
    return (gallery.entries, gallery.codes.tolist(), gallery.sessions, gallery.metadata,
            [(d["action"], d["before"], d["after"]) for d in gallery.decisions], fish_table)


def written_whole(gallery, path):
    """``gallery`` written into a new file at ``path`` (every row inserted: the reference)."""
    copied = copy.deepcopy(gallery)
    for decision in copied.decisions:
        decision.pop("id", None)
    path.unlink(missing_ok=True)
    write_atomically(path, store.database.serialized(copied, store.now()))
    return path


def test_saves_of_only_the_changes_give_the_catalogue_a_whole_rewrite_gives(tmp_path):
    """Every kind of change, saved as changes, read back equal to the same gallery written whole into a new file."""
    path = tmp_path / "g.lgal"
    save_gallery(bulk_gallery(40), path)
    changes = [
        lambda g: g.edit(g.entries[5], fish_id="fish_0"),  # a move, emptying no fish
        lambda g: [g.edit(e, fish_id="fish_1") for e in g.entries if e["fish_id"] == "fish_2"],  # a merge: fish_2 goes
        lambda g: g.keep([e["fish_id"] != "fish_3" for e in g.entries]),  # a removal
        lambda g: g.add([{"fish_id": "fish_x", "source": "/photos/x.jpg", "sha256": "sha_x", "session": "s_new",
                          "flank": "right", "mode": "cropped", "added": store.now(), "how": "confirm",
                          "capture": "c7"}], pack_codes(np.full((1, 12), 3), 8)),
        lambda g: g.metadata.update(sha_x={"date": "2026-05-04"}, sha_0={"site": "north", "length": "31"}),
        lambda g: g.metadata.update(sha_0={"site": "south"}),  # a field changed, another dropped
        lambda g: g.sessions.update(s1="2026-06-09", s_new="2026-07-01"),
        lambda g: g.keep([e["sha256"] != "sha_x" for e in g.entries]),  # a photo with metadata removed
        lambda g: catalogue.log(g, "merge", {"sha_9": "fish_2"}, {"sha_9": "fish_1"}, "ana", fish_id="fish_1"),
    ]
    for change in changes:
        gallery = load_gallery(path)
        change(gallery)
        save_gallery(gallery, path)
        assert catalogue_as_read(path) == catalogue_as_read(written_whole(gallery, tmp_path / "whole.lgal"))
    # Saving the same object again after more changes (its record of the file kept up to date by the first save).
    gallery.edit(gallery.entries[0], fish_id="fish_9", session="s_late")
    gallery.sessions["s0"] = "2026-01-02"
    save_gallery(gallery, path)
    assert catalogue_as_read(path) == catalogue_as_read(written_whole(gallery, tmp_path / "whole.lgal"))
