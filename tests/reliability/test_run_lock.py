"""One process trains a run folder at a time (issue 27 case 2): a second is refused naming the first's PID and
start time, before anything in the folder changes; the workers of one multi-worker job are not refused."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lateral.training.run_directory import RunDirectoryError, hold_run_folder
from tests.training.tiny import run, tiny_config

REPO = Path(__file__).resolve().parents[2]
HOLD = "import sys, time; from lateral.training.run_directory import hold_run_folder; " \
       "hold_run_folder(sys.argv[1]); print('held', flush=True); time.sleep(120)"


@pytest.fixture
def held(tmp_path):
    """(run folder, the holding process): another process holds checkpoints/tiny."""
    folder = tmp_path / "checkpoints" / "tiny"
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True,
                             stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert child.stdout.readline() == "held\n"
        yield folder, child
    finally:
        child.kill()
        child.wait()


def test_a_second_training_of_one_run_folder_is_refused_naming_the_first(held, prepared_synthetic, tmp_path):
    folder, child = held
    with pytest.raises(RunDirectoryError, match=rf"{folder} is being trained by another process \(PID {child.pid}, "
                                                r"started \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"):
        run(tiny_config(prepared_synthetic), tmp_path)
    assert not folder.exists()  # refused before the folder was made
    child.kill()
    child.wait()
    hold_run_folder(folder)  # the lock died with its holder


def test_the_workers_of_a_multi_worker_job_are_not_refused_only_the_chief_locks(held, monkeypatch):
    folder, _ = held
    cluster = {"chief": ["host0:2222"], "worker": ["host1:2222", "host2:2222"]}
    for task in ({"type": "worker", "index": 0}, {"type": "worker", "index": 1}):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
        hold_run_folder(folder)  # a worker takes no lock: not refused
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "chief", "index": 0}}))
    with pytest.raises(RunDirectoryError, match="another process"):
        hold_run_folder(folder)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": cluster["worker"]},
                                                "task": {"type": "worker", "index": 0}}))  # no chief: worker 0 is
    with pytest.raises(RunDirectoryError, match="another process"):
        hold_run_folder(folder)
