"""lateral.atomic_write against the real filesystem: mode, owner, links, and a writer that fails."""

import os

import pytest

from lateral.atomic_write import replacing, write_atomically


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_the_new_content_replaces_the_file_and_keeps_its_mode(tmp_path):
    path = tmp_path / "manifest.jsonl"
    path.write_text("old\n")
    path.chmod(0o640)
    write_atomically(path, "new\n")
    assert path.read_text() == "new\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.jsonl"]  # no temporary file left


def test_a_new_file_gets_what_the_umask_gives_and_its_missing_folder_is_made(tmp_path):
    path = tmp_path / "new" / "labels.json"
    write_atomically(path, b"{}")
    assert path.read_bytes() == b"{}"
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a file to another user needs root")
def test_the_owner_and_group_are_kept(tmp_path):
    path = tmp_path / "captures.csv"
    path.write_text("old")
    os.chown(path, 12345, 23456)
    write_atomically(path, "new")
    assert (path.stat().st_uid, path.stat().st_gid) == (12345, 23456)


def test_a_symbolic_link_stays_a_link_and_its_target_is_updated(tmp_path):
    (tmp_path / "data").mkdir()
    real = tmp_path / "data" / "settings.json"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "settings.json"
    link.symlink_to(os.path.join("data", "settings.json"))
    write_atomically(link, "new")
    assert link.is_symlink() and os.readlink(link) == os.path.join("data", "settings.json")
    assert real.read_text() == "new" and real.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "settings.json"]
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["settings.json"]


def test_a_writer_that_raises_leaves_the_old_file_and_no_temporary_file(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"the previous model")
    with pytest.raises(RuntimeError, match="disk full"):
        with replacing(path, suffix=".keras") as temporary:
            assert temporary.parent == tmp_path and temporary.name.endswith(".keras")
            temporary.write_bytes(b"half a mod")
            raise RuntimeError("disk full")
    assert path.read_bytes() == b"the previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_a_writer_that_replaces_the_temporary_file_still_gets_the_old_mode(tmp_path):
    """Some writers (a library given a path) delete and re-create their output: the mode is set after writing."""
    path = tmp_path / "rois-00000-of-00001.tfrecord"
    path.write_bytes(b"old")
    path.chmod(0o604)
    with replacing(path) as temporary:
        temporary.unlink()
        temporary.write_bytes(b"new")
        temporary.chmod(0o600)
    assert path.read_bytes() == b"new" and path.stat().st_mode & 0o777 == 0o604
