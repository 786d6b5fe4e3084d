import json

import numpy as np
import pytest

from lateral.gallery import store
from lateral.gallery.packing import pack_codes, unpack_codes
from lateral.gallery.store import Gallery, GalleryError, load_gallery, save_gallery

MODEL = {"path": "/runs/iom", "fingerprint": "ab" * 32, "m": 12, "q": 8, "embedding_size": 4, "input_size": [32, 64]}


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
    assert loaded.header["format"] == "lateral-gallery" and loaded.header["version"] == 2
    assert loaded.header["permutation"] == "hmac-sha256-fisher-yates"


def test_no_images_are_stored(tmp_path):
    gallery, _ = small_gallery()
    save_gallery(gallery, tmp_path / "g.lgal")
    with np.load(tmp_path / "g.lgal") as archive:
        assert sorted(archive.files) == ["codes", "meta"]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_file_is_named(tmp_path, damage):
    gallery, _ = small_gallery()
    path = tmp_path / "g.lgal"
    save_gallery(gallery, path)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00not a zip" * 50, "empty": b""}[damage])
    with pytest.raises(GalleryError, match="g.lgal is not a lateral gallery or is damaged"):
        load_gallery(path)


def test_another_npz_and_another_version_are_refused(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(GalleryError, match="other.npz"):
        load_gallery(tmp_path / "other.npz")
    gallery, _ = small_gallery()
    gallery.header["version"] = 3
    save_gallery(gallery, tmp_path / "future.lgal")
    with pytest.raises(GalleryError, match="version 3; this lateral reads versions 1 to 2"):
        load_gallery(tmp_path / "future.lgal")


def test_codes_that_do_not_fit_the_entries_are_refused(tmp_path):
    gallery, _ = small_gallery()
    gallery.codes = gallery.codes[:2]
    save_gallery(gallery, tmp_path / "g.lgal")
    with pytest.raises(GalleryError, match=r"damaged: codes of shape \(2, 3, 2\), expected \(3, 3, 2\)"):
        load_gallery(tmp_path / "g.lgal")


def test_a_crash_while_saving_leaves_the_old_gallery_whole(tmp_path, monkeypatch):
    path = tmp_path / "g.lgal"
    gallery, codes = small_gallery()
    save_gallery(gallery, path)
    before = path.read_bytes()

    def crash(handle, **arrays):
        handle.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(store.np, "savez", crash)
    gallery.keep([True, False, True])
    with pytest.raises(OSError, match="disk full"):
        save_gallery(gallery, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["g.lgal"]  # no temporary file left behind
    assert len(load_gallery(path)) == 3


def test_missing_gallery(tmp_path):
    with pytest.raises(GalleryError, match="nothing.lgal: no such gallery"):
        load_gallery(tmp_path / "nothing.lgal")


def test_meta_is_plain_json(tmp_path):
    gallery, _ = small_gallery()
    save_gallery(gallery, tmp_path / "g.lgal")
    with np.load(tmp_path / "g.lgal") as archive:
        meta = json.loads(archive["meta"].tobytes())
    assert meta["entries"][1]["fish_id"] == "fish_1"


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


def write_version_1(path, key_verifier=None):
    """A gallery file as lateral wrote it before format 2: no ``permutation`` in the header."""
    gallery, codes = small_gallery()
    header = {k: v for k, v in gallery.header.items() if k != "permutation"}
    header.update(version=1, key=key_verifier)
    meta = json.dumps({"header": header, "entries": gallery.entries, "decisions": []})
    with open(path, "wb") as handle:
        np.savez(handle, meta=np.frombuffer(meta.encode(), np.uint8), codes=gallery.codes)
    return codes


def test_a_keyed_version_1_gallery_is_converted_once_keeping_its_permutation_and_a_backup(tmp_path, caplog):
    path = tmp_path / "pond.lgal"
    codes = write_version_1(path, key_verifier={"kdf": "pbkdf2-sha256", "iterations": 200_000, "salt": "00",
                                                "digest": "ab" * 32})
    original = path.read_bytes()
    gallery = load_gallery(path)
    assert gallery.header["version"] == 2 and gallery.permutation == "numpy-pcg64-v1"
    assert gallery.header["migrated"]["from_version"] == 1
    np.testing.assert_array_equal(unpack_codes(gallery.codes, 12), codes)
    assert (tmp_path / "pond.lgal.v1.bak").read_bytes() == original
    with np.load(path) as archive:  # the file itself is now version 2
        assert json.loads(archive["meta"].tobytes())["header"]["version"] == 2
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

    monkeypatch.setattr(store, "_write_atomically", read_only)
    assert len(load_gallery(path)) == 3
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["pond.lgal", "pond.lgal.lock"]
    assert "could not be converted to version 2 (Permission denied)" in caplog.text


def test_a_version_1_gallery_behind_a_link_is_converted_beside_its_real_file(tmp_path):
    (tmp_path / "data").mkdir()
    write_version_1(tmp_path / "data" / "pond.lgal")
    (tmp_path / "pond.lgal").symlink_to("data/pond.lgal")
    assert load_gallery(tmp_path / "pond.lgal").header["version"] == 2
    assert (tmp_path / "pond.lgal").is_symlink()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["pond.lgal", "pond.lgal.lock", "pond.lgal.v1.bak"]  # converted under the gallery lock
    assert load_gallery(tmp_path / "data" / "pond.lgal").header["version"] == 2
