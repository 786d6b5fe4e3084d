"""Two workers of one ``--strategy multi_worker`` job on 127.0.0.1, launched as docs/multi_worker.md says.

Each worker is ``train.py`` (or ``train_twostage.py``) with its own ``TF_CONFIG``; the chief (worker 0)
writes the run, and every worker prints the fingerprint of its final weights (``workers.report_weights``),
which the test compares with the fingerprint of the chief's saved model, loaded here.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest
import yaml

from lateral.config import ConfigError, snapshot
from lateral.models.embedding import embedding_model_for
from lateral.models.saved import load_model, weights_fingerprint
from lateral.runs import CODES_MODEL, EMBEDDING_MODEL
from lateral.training.stage_one import train_stage_one
from tests.training.tiny import tiny_config

REPO = Path(__file__).resolve().parents[2]
WORKERS = 2
TIMEOUT_SECONDS = 300
STAGE_ONE = dict(epochs=2, steps_per_epoch=4, save_steps=2, classes_per_batch=4, samples_per_class=2)
FINISHED = re.compile(r"^worker (\d) finished at step (\d+), weights ([0-9a-f]{64})$", re.MULTILINE)
ERROR_LINE = re.compile(r"^(E\d{4} |F\d{4} |Traceback|error:|\S*Error\b)", re.MULTILINE)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def tf_config(ports, index):
    """The TF_CONFIG of worker ``index`` (docs/multi_worker.md)."""
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                       "task": {"type": "worker", "index": index}})


def write_config(folder, config):
    path = folder / f"{config.run.sub_name}.yaml"
    path.write_text(yaml.safe_dump(snapshot(config)))
    return path


def launch(folder, script, config_path, *extra, launch_name="run", roots=None):
    """Start both workers; each one's stdout and stderr go to files in ``folder``/``launch_name``.

    ``roots``: each worker's ``--checkpoint_root`` (by default ``folder``/checkpoints for both)."""
    logs = folder / launch_name
    logs.mkdir()
    (folder / "tmp").mkdir(exist_ok=True)
    ports = free_ports(WORKERS)
    roots = roots or [folder / "checkpoints"] * WORKERS
    workers = []
    for index in range(WORKERS):
        command = [sys.executable, str(REPO / script), "--cfg_path", str(config_path), "--strategy", "multi_worker",
                   "--checkpoint_root", str(roots[index]), "--log_root", str(folder / "logs"), *extra]
        env = {**os.environ, "TF_CONFIG": tf_config(ports, index), "TMPDIR": str(folder / "tmp")}
        with open(logs / f"{index}.out", "w") as out, open(logs / f"{index}.err", "w") as err:
            workers.append(subprocess.Popen(command, env=env, stdout=out, stderr=err, cwd=folder))
    return workers, logs, ports


def finish(workers, logs):
    """[(exit code, stdout, stderr)] of each worker, once all have ended."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    for worker in workers:
        try:
            worker.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in workers:
                other.kill()
            raise
    return [(worker.returncode, (logs / f"{index}.out").read_text(), (logs / f"{index}.err").read_text())
            for index, worker in enumerate(workers)]


def finished_weights(results):
    """{worker index: (step, weights fingerprint)} from the workers' last lines."""
    reports = {}
    for _, out, _ in results:
        for index, step, fingerprint in FINISHED.findall(out):
            reports[int(index)] = (int(step), fingerprint)
    return reports


def assert_clean_job(results, folder, sub_name, figure):
    for code, out, err in results:
        assert code == 0, err[-3000:]
        assert not ERROR_LINE.findall(err), err[-3000:]
    chief_out, other_out = results[0][1], results[1][1]
    assert len(re.findall(figure, chief_out)) == STAGE_ONE["epochs"]  # one figure an epoch, from the chief
    assert not re.findall(figure, other_out)
    # One run folder, and the chief's lock beside it (lateral.training.run_directory.hold_run_folder).
    assert sorted(path.name for path in (folder / "checkpoints").iterdir()) == sorted([sub_name, f"{sub_name}.lock"])
    assert [path.name for path in (folder / "logs").iterdir()] == [sub_name]
    assert len(list((folder / "logs" / sub_name).iterdir())) == 1  # one TensorBoard events file
    assert not list((folder / "tmp").glob("lateral-*"))  # the other worker removed its temporary folder


@pytest.fixture(scope="module")
def stage_one_job(prepared_synthetic, tmp_path_factory):
    """One uninterrupted two-worker stage-one run: (folder, config path, per-worker results)."""
    folder = tmp_path_factory.mktemp("multi_worker")
    config_path = write_config(folder, tiny_config(prepared_synthetic, **STAGE_ONE))
    workers, logs, _ = launch(folder, "train.py", config_path, "--mode", "eager_tf")
    return folder, config_path, finish(workers, logs)


def test_two_workers_write_one_run_with_the_same_weights(stage_one_job):
    folder, _, results = stage_one_job
    assert_clean_job(results, folder, "tiny", r"validation rank-1 \d")
    total = STAGE_ONE["epochs"] * STAGE_ONE["steps_per_epoch"]
    saved = weights_fingerprint([keras.models.load_model(folder / "checkpoints" / "tiny" / EMBEDDING_MODEL)])
    assert finished_weights(results) == {0: (total, saved), 1: (total, saved)}


def test_a_killed_worker_stops_the_job_and_a_relaunch_resumes_exactly(stage_one_job, tmp_path):
    """Worker 1 is killed after the first checkpoint: worker 0 stops naming it; relaunched, both resume
    from the last checkpoint and end with the weights of the uninterrupted run."""
    config_path = stage_one_job[1]
    workers, logs, ports = launch(tmp_path, "train.py", config_path, "--mode", "eager_tf", launch_name="killed")
    checkpoints = tmp_path / "checkpoints" / "tiny" / "ckpt"
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not list(checkpoints.glob("ckpt-*.index")) and time.monotonic() < deadline:
        assert workers[0].poll() is None, (logs / "0.err").read_text()[-3000:]
        time.sleep(0.2)
    workers[1].send_signal(signal.SIGKILL)
    (code, _, err), _ = finish(workers, logs)
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        f"error: worker 0 lost worker 1 (127.0.0.1:{ports[1]}): the multi-worker job stopped. Relaunch every "
        "worker with the same command to resume from the run's last checkpoint")
    last = max(int(path.stem.split("-")[1]) for path in checkpoints.glob("ckpt-*.index"))
    total = STAGE_ONE["epochs"] * STAGE_ONE["steps_per_epoch"]
    assert last < total

    workers, logs, _ = launch(tmp_path, "train.py", config_path, "--mode", "eager_tf", launch_name="relaunched")
    results = finish(workers, logs)
    for code, _, err in results:
        assert code == 0 and not ERROR_LINE.findall(err), err[-3000:]
    assert f"resuming {tmp_path / 'checkpoints' / 'tiny'} at step {last}" in results[0][1]
    assert finished_weights(results) == finished_weights(stage_one_job[2])


def test_workers_that_do_not_share_the_run_folder_are_refused(stage_one_job, tmp_path):
    """Worker 0 sees the finished run (step 8), worker 1 an empty folder (step 0): both refuse, exit 2."""
    folder, config_path, _ = stage_one_job
    roots = [folder / "checkpoints", tmp_path / "elsewhere"]
    workers, logs, _ = launch(tmp_path, "train.py", config_path, "--mode", "eager_tf", roots=roots)
    for root, (code, _, err) in zip(roots, finish(workers, logs)):
        assert code == 2, err[-3000:]
        assert err.strip().splitlines()[-1].startswith(
            f"error: the workers of this job would resume {root / 'tiny'} at different steps "
            "(step 8, step 0, by replica)")
    assert not (tmp_path / "elsewhere" / "tiny" / "config.yaml").exists()


def test_two_workers_train_stage_two(prepared_synthetic, tmp_path):
    stage_one = tmp_path / "stage_one" / EMBEDDING_MODEL
    stage_one.parent.mkdir()
    config = tiny_config(prepared_synthetic, **STAGE_ONE)
    embedding_model_for(config.model).save(stage_one)
    config_path = write_config(tmp_path, tiny_config(
        prepared_synthetic, sub_name="tiny_iom", stage_one_model=str(stage_one), m=16, q=4,
        metric_loss="batch_hard_arc_triplet_loss", triplet_margin=0.2, bin_lut_loss="tanh", algorithm="adam",
        base_lr=0.01, **STAGE_ONE))
    workers, logs, _ = launch(tmp_path, "train_twostage.py", config_path)
    results = finish(workers, logs)
    assert_clean_job(results, tmp_path, "tiny_iom", r"validation rank-1 \(Hamming")
    total = STAGE_ONE["epochs"] * STAGE_ONE["steps_per_epoch"]
    saved = weights_fingerprint([load_model(tmp_path / "checkpoints" / "tiny_iom" / CODES_MODEL)])
    assert finished_weights(results) == {0: (total, saved), 1: (total, saved)}


def test_keras_fit_is_refused_under_multi_worker_before_anything_starts(prepared_synthetic, tmp_path):
    with pytest.raises(ConfigError, match="--mode eager_tf"):
        train_stage_one(tiny_config(prepared_synthetic), "fit", "multi_worker", tmp_path / "checkpoints",
                        tmp_path / "logs", progress=False)
    assert not list(tmp_path.iterdir())
