"""The gallery lock with real processes: concurrent writers lose nothing, and a held lock makes a command wait, then refuse."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lateral.gallery import lock
from lateral.gallery.__main__ import main
from lateral.gallery.store import load_gallery

REPO = Path(__file__).resolve().parents[2]
SET_A = ["fish_000", "fish_001", "fish_002"]
SET_B = ["fish_003", "fish_004", "fish_005"]
HOLD = "import filelock, sys; held = filelock.FileLock(sys.argv[1]); held.acquire(); print('held', flush=True); " \
       "sys.stdin.read()"


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture
def holder():
    """Start a process that holds a gallery's lock until ``release()`` closes its stdin."""
    started = []

    def hold(gallery_path):
        process = subprocess.Popen([sys.executable, "-c", HOLD, str(lock.lock_path(gallery_path))],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env())
        assert process.stdout.readline().strip() == "held"
        started.append(process)
        return process

    yield hold
    for process in started:
        if process.poll() is None:
            process.stdin.close()
            process.wait(timeout=30)


def _copy_fish(raw, fish_ids, target):
    for fish in fish_ids:
        shutil.copytree(raw / "session_1" / fish, target / "session_1" / fish)
    return target


def _wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_two_enrol_processes_at_once_keep_both_photo_sets(prepared_synthetic, iom_run, holder, tmp_path):
    """Both start while the lock is held, so they contend for it; the gallery ends with all six fish."""
    model = iom_run[0] / "checkpoints" / "tiny_iom"
    raw = prepared_synthetic.parent / "raw"
    inputs = [_copy_fish(raw, SET_A, tmp_path / "a"), _copy_fish(raw, SET_B, tmp_path / "b")]
    gallery_path = tmp_path / "pond.lgal"
    held = holder(gallery_path)
    logs = [tmp_path / "a.err", tmp_path / "b.err"]
    processes = [subprocess.Popen([sys.executable, "-m", "lateral.gallery", "enroll", "--gallery", str(gallery_path),
                                   "--input", str(folder), "--model", str(model)],
                                  stdout=subprocess.DEVNULL, stderr=open(log, "w"), env=_env(), cwd=tmp_path)
                 for folder, log in zip(inputs, logs)]
    _wait_for(lambda: all("waiting for another process" in log.read_text() for log in logs), 120,
              "both enrol processes to wait for the lock")
    held.stdin.close()
    for process, log in zip(processes, logs):
        assert process.wait(timeout=180) == 0, log.read_text()
    gallery = load_gallery(gallery_path)
    assert gallery.fish_ids() == SET_A + SET_B
    enrolled = sorted(Path(entry["source"]).relative_to(entry["source"].split("/session_1/")[0])
                      for entry in gallery.entries)
    expected = sorted(path.relative_to(folder) for folder in inputs for path in folder.rglob("*.jpg"))
    assert enrolled == expected and len(expected) == 24


def test_a_held_lock_makes_a_command_wait_then_refuse(prepared_synthetic, iom_run, holder, tmp_path, monkeypatch,
                                                     capsys):
    model = iom_run[0] / "checkpoints" / "tiny_iom"
    folder = _copy_fish(prepared_synthetic.parent / "raw", SET_A, tmp_path / "a")
    gallery_path = tmp_path / "pond.lgal"
    assert main(["enroll", "--gallery", str(gallery_path), "--input", str(folder), "--model", str(model)]) == 0
    before = gallery_path.read_bytes()
    capsys.readouterr()
    held = holder(gallery_path)
    monkeypatch.setattr(lock, "WAIT_SECONDS", 0.5)
    started = time.monotonic()
    assert main(["remove", "--gallery", str(gallery_path), "--fish", "fish_001"]) == 2
    assert time.monotonic() - started >= 0.5
    err = capsys.readouterr().err
    assert err.count("waiting for another process that is changing") == 1
    assert f"error: {gallery_path} is still being changed by another process after 0.5 s" in err
    assert gallery_path.read_bytes() == before
    held.stdin.close()
    held.wait(timeout=30)
    assert main(["remove", "--gallery", str(gallery_path), "--fish", "fish_001"]) == 0
    assert load_gallery(gallery_path).fish_ids() == ["fish_000", "fish_002"]


def test_a_command_that_creates_no_gallery_leaves_no_lock_file(tmp_path):
    """A failed first enroll leaves the folder as it was; beside an existing gallery the lock file stays."""
    gallery_path = tmp_path / "pond.lgal"
    with pytest.raises(RuntimeError), lock.gallery_lock(gallery_path):
        assert lock.lock_path(gallery_path).exists()  # held while the command runs
        raise RuntimeError("the model could not be read")
    assert list(tmp_path.iterdir()) == []
    with lock.gallery_lock(gallery_path):
        gallery_path.write_bytes(b"a gallery")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pond.lgal", "pond.lgal.lock"]

