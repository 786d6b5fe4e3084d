"""Issue 13, the gallery's files: symbolic links, owners, damaged headers, outputs, top_k and the key rule of revoke.

No model is needed: each refusal comes before a network is loaded, and a
gallery changes on disk through ``remove``, which uses none.
"""

import json
import os
import re

import pytest

from lateral.gallery import commands, keys
from lateral.gallery.__main__ import main
from lateral.gallery.search import given_thresholds
from lateral.gallery.store import GalleryError, load_gallery, save_gallery
from tests.gallery.test_store import small_gallery, sql


def write_gallery(path, key=None):
    gallery, _ = small_gallery()
    gallery.header["key"] = keys.make_verifier(key)
    save_gallery(gallery, path)
    return path


def rewrite_meta(path, change):
    """Edit the catalogue's header by hand in SQL, as a damaged or hand-edited file would be (``change``: a function
    of ``{"header": ...}``, or an SQL statement)."""
    with sql(path) as db:
        if isinstance(change, str):
            db.execute(change)
            return
        meta = {"header": {name: json.loads(value) for name, value in db.execute("SELECT name, value FROM header")}}
        change(meta)
        db.execute("DELETE FROM header")
        db.executemany("INSERT INTO header VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta["header"].items()])


def test_a_gallery_behind_a_symbolic_link_is_updated_and_the_link_stays(tmp_path, capsys):
    real = write_gallery(tmp_path / "data" / "pond.lgal")
    link = tmp_path / "pond.lgal"
    link.symlink_to(os.path.join("data", "pond.lgal"))
    assert main(["remove", "--gallery", str(link), "--fish", "fish_1"]) == 0
    assert link.is_symlink() and os.readlink(link) == os.path.join("data", "pond.lgal")
    assert [e["fish_id"] for e in load_gallery(real).entries] == ["fish_0", "fish_2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "pond.lgal"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["pond.lgal", "pond.lgal.lock"]  # the lock beside the real file; no temporary file left


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a file to another user needs root")
def test_saving_keeps_owner_group_and_mode_also_through_a_link(tmp_path):
    real = write_gallery(tmp_path / "data" / "pond.lgal")
    os.chown(real, 12345, 23456)
    real.chmod(0o640)
    (tmp_path / "pond.lgal").symlink_to(real)
    for gallery_path in (real, tmp_path / "pond.lgal"):
        commands.remove(gallery_path, [load_gallery(real).entries[0]["fish_id"]])
        after = real.stat()
        assert (after.st_uid, after.st_gid, after.st_mode & 0o777) == (12345, 23456, 0o640)
    assert len(load_gallery(real)) == 1


def _drop(*where):
    def change(meta):
        record = meta
        for name in where[:-1]:
            record = record[name]
        del record[where[-1]]
    return change


def _set(value, *where):
    def change(meta):
        record = meta
        for name in where[:-1]:
            record = record[name]
        record[where[-1]] = value
    return change


@pytest.mark.parametrize("change, message", [
    (_drop("header", "model"), "header field 'model' is missing"),
    (_drop("header", "key"), "header field 'key' is missing"),
    (_drop("header", "permutation"), "header field 'permutation' is missing"),
    (_set("sha1", "header", "permutation"), "header field 'permutation' must be one of hmac-sha256-fisher-yates, "
                                            "numpy-pcg64-v1, not 'sha1'"),
    (_set("12", "header", "model", "m"), r"header field 'model.m' must be an integer in \[1, 65536\], not '12'"),
    (_set(True, "header", "model", "q"), r"header field 'model.q' must be an integer in \[2, 65536\], not True"),
    (_set(10**9, "header", "model", "m"), r"'model.m' must be an integer in \[1, 65536\], not 1000000000"),
    (_set([10**6, 16], "header", "model", "input_size"), "'model.input_size' must be a list of two positive integers "
                                                         "up to 65536"),
    (_set({"kdf": "pbkdf2-sha256", "iterations": 10**11, "salt": "00", "digest": "00"}, "header", "key"),
     r"'key.iterations' must be an integer in \[10000, 2000000\], not 100000000000"),
    (_set({"kdf": "pbkdf2-sha256", "iterations": 2**31 - 1, "salt": "00", "digest": "00"}, "header", "key"),
     r"'key.iterations' must be an integer in \[10000, 2000000\], not 2147483647"),
    (_set({"kdf": "pbkdf2-sha256", "iterations": 1, "salt": "00", "digest": "00"}, "header", "key"),
     r"'key.iterations' must be an integer in \[10000, 2000000\], not 1"),
    (_drop("header", "model", "fingerprint"), "header field 'model.fingerprint' is missing"),
    (_set("yes", "header", "stores_embeddings"), "header field 'stores_embeddings' must be true or false, not 'yes'"),
    (_set("a key", "header", "key"), "header field 'key' must be null or an object, not 'a key'"),
    (_set({"kdf": "pbkdf2-sha256", "iterations": 200_000, "salt": "00"}, "header", "key"),
     "header field 'key.digest' is missing"),
    ("UPDATE header SET value = '{\"m\": ' WHERE name = 'model'", "a header value is not JSON"),
    ("UPDATE photos SET code = x'00' WHERE sha256 = '2'", "photo 3's template has 1 bytes, expected 6"),
])
def test_a_damaged_header_is_refused_naming_the_file_and_the_field(tmp_path, capsys, change, message):
    path = write_gallery(tmp_path / "pond.lgal")
    rewrite_meta(path, change)
    before = path.read_bytes()
    assert main(["list", "--gallery", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {path} is damaged: ")
    assert re.search(message, err), err
    assert path.read_bytes() == before


def test_outputs_into_a_missing_folder_are_refused_before_any_work(tmp_path, capsys):
    # The gallery does not even exist: the output is checked first, so the message is about the output.
    missing = tmp_path / "no_such_folder"
    assert main(["identify", "--gallery", str(tmp_path / "none.lgal"), "--input", str(tmp_path), "--threshold", "0.9",
                 "--csv", str(missing / "ids.csv")]) == 2
    assert f"--csv {missing / 'ids.csv'}: the folder {missing} does not exist" in capsys.readouterr().err
    assert main(["identify", "--gallery", str(tmp_path / "none.lgal"), "--input", str(tmp_path), "--threshold", "0.9",
                 "--json", str(tmp_path)]) == 2
    assert "is a folder; give a file name" in capsys.readouterr().err
    gallery = write_gallery(tmp_path / "pond.lgal")
    assert main(["history", "--gallery", str(gallery), "--out", str(missing / "captures.csv")]) == 2
    assert f"the folder {missing} does not exist" in capsys.readouterr().err
    assert not missing.exists()


def test_top_k_below_one_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_code:
        main(["identify", "--gallery", str(tmp_path / "g.lgal"), "--input", str(tmp_path), "--threshold", "0.9",
              "--top_k", "0"])
    assert exit_code.value.code == 2
    assert "--top_k: must be at least 1, got 0" in capsys.readouterr().err
    with pytest.raises(GalleryError, match="top_k must be at least 1"):
        commands.identify(tmp_path / "g.lgal", [tmp_path], given_thresholds(0.9), top_k=0)


def test_revoke_needs_the_current_key(tmp_path, capsys):
    path = write_gallery(tmp_path / "pond.lgal", key="first key")
    before = path.read_bytes()
    assert main(["revoke", "--gallery", str(path), "--new_key", "second key"]) == 2
    assert "was built with a permutation key; give it with --key" in capsys.readouterr().err
    assert main(["revoke", "--gallery", str(path), "--key", "guessed", "--new_key", "second key"]) == 2
    assert "different permutation key" in capsys.readouterr().err
    assert path.read_bytes() == before


@pytest.mark.parametrize("saved", ["\ufefffirst key\r\n", "first key  \n", "\ufefffirst key\t\nsecond line\n"])
def test_a_key_file_with_a_byte_order_mark_or_trailing_whitespace_opens_its_gallery(tmp_path, saved):
    from lateral.gallery import keys

    path = write_gallery(tmp_path / "pond.lgal", key="first key")
    key_file = tmp_path / "key.txt"
    key_file.write_bytes(saved.encode("utf-8"))  # as Notepad saves "UTF-8 with BOM"
    assert keys.key_matches(load_gallery(path).header["key"], keys.read_key(key_file=key_file))
