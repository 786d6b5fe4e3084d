"""A full disk, a read-only folder, a denied permission or Ctrl+C (issue 27 cases 10 and 11): one line naming the
path and what was kept, exit 2 (130 for Ctrl+C), no traceback, nothing of the user's lost. ENOSPC and EROFS are
injected, and ENOSPC is also real on a 64 KiB tmpfs where the process may mount one; Ctrl+C is a real SIGINT to a
real command."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lateral.gallery.store as store
from lateral.cli import INTERRUPTED, USER_ERROR, run_explaining_errors
from lateral.gallery.__main__ import main
from lateral.gallery.lock import gallery_lock
from tests.gallery.test_main import gallery_path  # noqa: F401  (a fixture: a hand-made gallery, no model needed)
from tests.reliability.test_prepare_resume import raw, records  # noqa: F401  (raw: a fixture)

REPO = Path(__file__).resolve().parents[2]


def one_error_line(err, *named):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(str(name) in lines[0] for name in named), err
    return lines[0]


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_disk_refusal_is_one_line_naming_the_path_and_what_was_kept(number, capsys):
    def action():
        raise OSError(number, os.strerror(number), "/data/out/file.csv")

    assert run_explaining_errors(action, kept="the input was kept") == USER_ERROR
    line = one_error_line(capsys.readouterr().err, "/data/out/file.csv", os.strerror(number), "the input was kept")
    assert line.startswith("error: cannot write ")


def test_tensorflows_disk_full_error_is_one_line_too(capsys):
    import tensorflow as tf

    def action():
        raise tf.errors.ResourceExhaustedError(None, None, "runs/a/ckpt/ckpt-5.data-00000-of-00001; No space left "
                                                           "on device")

    assert run_explaining_errors(action, kept="checkpoints kept") == USER_ERROR
    one_error_line(capsys.readouterr().err, "ckpt-5.data", "No space left on device", "checkpoints kept")


def test_another_error_keeps_its_traceback():
    def action():
        raise OSError(errno.ENOENT, "No such file or directory", "/a/bug")  # not the disk's refusal: a bug

    with pytest.raises(FileNotFoundError):
        run_explaining_errors(action)


def test_gallery_save_on_a_full_disk_or_read_only_folder_leaves_the_gallery(gallery_path, monkeypatch,  # noqa: F811
                                                                            capsys):
    """SQLite's own words for a full disk and a read-only folder, raised where the catalogue writes."""
    import sqlite3

    from lateral.gallery import database

    before = gallery_path.read_bytes()

    def refusing(message):
        def write(*args, **kwargs):
            raise sqlite3.OperationalError(message)
        return write

    monkeypatch.setattr(database, "write", refusing("database or disk is full"))
    assert main(["remove", "--gallery", str(gallery_path), "--fish", "B"]) == USER_ERROR
    one_error_line(capsys.readouterr().err, "No space left on device", f"{gallery_path} is as it was")
    monkeypatch.setattr(database, "write", refusing("attempt to write a readonly database"))
    assert main(["remove", "--gallery", str(gallery_path), "--fish", "B"]) == USER_ERROR
    one_error_line(capsys.readouterr().err, gallery_path.parent, "Read-only file system")
    assert gallery_path.read_bytes() == before
    assert sorted(os.listdir(gallery_path.parent)) == sorted([gallery_path.name, gallery_path.name + ".lock"])


def test_a_gallery_lock_path_that_is_a_folder_is_one_line(gallery_path, capsys):  # noqa: F811
    lock = gallery_path.with_name(gallery_path.name + ".lock")
    lock.mkdir()
    assert main(["remove", "--gallery", str(gallery_path), "--fish", "B"]) == USER_ERROR
    one_error_line(capsys.readouterr().err, lock, "Is a directory")


def test_prepare_on_a_full_disk_stops_in_one_line_and_redoes_those_photos_later(raw, tmp_path, monkeypatch,  # noqa: F811
                                                                                capsys):
    from lateral.config import PreprocessConfig
    from lateral.data.prepare import prepare

    out = tmp_path / "out"
    write_bytes, written = Path.write_bytes, []

    def filling(path, data):
        if len(written) >= 2:  # the disk fills after two ROIs
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(path)
        return write_bytes(path, data)

    monkeypatch.setattr(Path, "write_bytes", filling)
    code = run_explaining_errors(lambda: prepare(raw, out, PreprocessConfig(), (32, 64), segment=False,
                                                 progress=False), kept=f"the photos done so far are kept in {out}")
    assert code == USER_ERROR
    one_error_line(capsys.readouterr().err, "No space left on device", out)
    assert [r["status"] for r in records(out)] == ["ok", "ok"]  # no photo recorded as failed by the disk
    monkeypatch.undo()
    summary = prepare(raw, out, PreprocessConfig(), (32, 64), segment=False, progress=False)
    assert summary["ok"] == summary["photos"] == 6


def test_ctrl_c_is_one_line_and_exit_130(gallery_path):  # noqa: F811
    before = gallery_path.read_bytes()
    with gallery_lock(gallery_path):  # the command waits for this lock: a fixed moment to press Ctrl+C
        # A terminal's Ctrl+C meets the default SIGINT disposition; pytest-xdist's workers ignore SIGINT, and a
        # child inherits that (Python then installs no KeyboardInterrupt handler), so the child gets the default.
        child = subprocess.Popen([sys.executable, "-m", "lateral.gallery", "remove", "--gallery", str(gallery_path),
                                  "--fish", "B"], stderr=subprocess.PIPE, text=True, cwd=REPO,
                                 env={**os.environ, "PYTHONPATH": str(REPO)},
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        assert child.stderr.readline().startswith("waiting for another process")
        time.sleep(0.2)
        child.send_signal(signal.SIGINT)
        err = child.stderr.read()
        assert child.wait(timeout=60) == INTERRUPTED, err
    line = one_error_line(err, f"{gallery_path} is as it was")
    assert line.startswith("interrupted (Ctrl+C)")
    assert gallery_path.read_bytes() == before


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs (where this process may mount one: root with CAP_SYS_ADMIN), else the test is skipped."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root); the injected ENOSPC tests cover the same path")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_real_full_disk_leaves_the_gallery_whole(small_disk, capsys):
    from tests.gallery.test_main import gallery_path as make_gallery

    gallery = make_gallery.__wrapped__(small_disk)
    before = gallery.read_bytes()
    filler = small_disk / "filler"
    with open(filler, "wb", buffering=0) as handle:  # fill the disk to the last block
        with pytest.raises(OSError) as full:
            while True:
                handle.write(b"\0" * 1024)
        assert full.value.errno == errno.ENOSPC
    assert main(["remove", "--gallery", str(gallery), "--fish", "B"]) == USER_ERROR
    one_error_line(capsys.readouterr().err, "No space left on device", f"{gallery} is as it was")
    assert gallery.read_bytes() == before
    # Nothing else written: the gallery, its lock and SQLite's write-ahead log and shared-memory files beside it.
    sqlite_files = {gallery.name + "-wal", gallery.name + "-shm"}
    assert sorted(set(os.listdir(small_disk)) - sqlite_files) == sorted(["filler", gallery.name, gallery.name + ".lock"])
