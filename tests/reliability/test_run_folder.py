"""A run folder survives kills and damage: it resumes from its newest readable checkpoint, and a folder
holding a trained model is never silently restarted or overwritten (tiny runs, tests/training/tiny.py)."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml

from lateral.config import snapshot
from lateral.training.divergence import TrainingDiverged
from lateral.training.run_directory import RunDirectoryError
from tests.training.tiny import run, stage_two_config, tiny_config, train

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def float32_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def copy_run(source, tmp_path, name="tiny"):
    """A copy of a finished tiny run (``eager_run``: two epochs of 30 steps, checkpoints 50, 55 and 60)."""
    folder = tmp_path / "checkpoints" / name
    shutil.copytree(source / "checkpoints" / name, folder)
    return folder


def contents(folder):
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def weights(path):
    return [np.asarray(weight) for weight in keras.models.load_model(path).weights]


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage", ["deleted", "emptied", "garbage"])
def test_a_lost_or_garbled_state_file_is_bypassed_and_the_run_resumes_where_it_was(
        prepared_synthetic, eager_run, tmp_path, capsys, damage):
    folder = copy_run(eager_run[0], tmp_path)
    state = folder / "ckpt" / "checkpoint"
    if damage == "deleted":
        state.unlink()
    else:
        state.write_bytes(b"" if damage == "emptied" else bytes(range(7, 200)))
    trained = weights(folder / "embedding.keras")
    history = run(tiny_config(prepared_synthetic, epochs=2), tmp_path)
    assert history["loss"] == []  # resumed at step 60 of 60: restarting at 0 would train 60 steps
    assert "warning" in capsys.readouterr().err
    if damage != "deleted":
        assert (folder / "ckpt" / "checkpoint.unreadable").is_file()  # kept aside, not deleted
    assert tf.train.latest_checkpoint(str(folder / "ckpt")).endswith("ckpt-60")  # a new state file names it
    for before, after in zip(trained, weights(folder / "embedding.keras"), strict=True):
        np.testing.assert_array_equal(before, after)  # the model saved again is the trained one


def test_a_truncated_newest_checkpoint_falls_back_to_the_one_before(prepared_synthetic, eager_run, tmp_path, capsys):
    folder = copy_run(eager_run[0], tmp_path)
    truncate(folder / "ckpt" / "ckpt-60.data-00000-of-00001")
    history = run(tiny_config(prepared_synthetic, epochs=2), tmp_path)
    assert len(history["loss"]) == 5  # steps 56..60 again, from ckpt-55
    err = capsys.readouterr().err
    assert "ckpt-60" in err and "resuming from ckpt-55" in err, err
    rewritten = tf.train.load_checkpoint(str(folder / "ckpt" / "ckpt-60"))  # readable again
    assert rewritten.has_tensor("save_counter/.ATTRIBUTES/VARIABLE_VALUE")


@pytest.mark.parametrize("damage", ["ckpt emptied", "every checkpoint truncated"])
def test_a_trained_model_without_a_readable_checkpoint_is_refused_and_left_untouched(
        prepared_synthetic, eager_run, tmp_path, damage):
    folder = copy_run(eager_run[0], tmp_path)
    if damage == "ckpt emptied":
        for path in (folder / "ckpt").iterdir():
            path.unlink()
    else:
        for data_file in (folder / "ckpt").glob("*.data-*"):
            truncate(data_file)
    before = contents(folder)
    with pytest.raises(RunDirectoryError) as refused:
        run(tiny_config(prepared_synthetic, epochs=3), tmp_path)
    message = str(refused.value)
    assert str(folder) in message and "another sub_name" in message, message
    assert contents(folder) == before


def test_a_kill_mid_run_resumes_from_the_last_checkpoint(prepared_synthetic, tmp_path):
    config = tiny_config(prepared_synthetic, epochs=1, steps_per_epoch=20, save_steps=5)
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(snapshot(config)))
    checkpoints = tmp_path / "checkpoints" / "tiny" / "ckpt"
    child = subprocess.Popen(
        [sys.executable, "train.py", "--cfg_path", str(cfg_path), "--mode", "eager_tf",
         "--checkpoint_root", str(tmp_path / "checkpoints"), "--log_root", str(tmp_path / "logs")],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline = time.monotonic() + 300
    try:
        while tf.train.latest_checkpoint(str(checkpoints)) in (None, str(checkpoints / "ckpt-5")):
            assert child.poll() is None, "training ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint after 300 s"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    last_saved = int(tf.train.latest_checkpoint(str(checkpoints)).rsplit("-", 1)[1])
    assert 10 <= last_saved < 20
    history = run(config, tmp_path)
    assert len(history["loss"]) == 20 - last_saved  # continued after the last checkpoint, not from step 0
    assert tf.train.latest_checkpoint(str(checkpoints)).endswith("ckpt-20")


def perturbed_copy(model_path, out_path):
    """The same architecture and embedding size with other weights: another stage-one model."""
    model = keras.models.load_model(model_path)
    for weight in model.trainable_weights:
        weight.assign(weight * 1.5)
    out_path.parent.mkdir(parents=True)
    model.save(out_path)
    return out_path


def test_stage_two_refuses_a_folder_built_on_another_stage_one_model(prepared_synthetic, eager_run, iom_run, tmp_path):
    folder = copy_run(iom_run[0], tmp_path, "tiny_iom")
    original = eager_run[0] / "checkpoints" / "tiny" / "embedding.keras"
    other = perturbed_copy(original, tmp_path / "other_stage_one" / "embedding.keras")
    before = contents(folder)
    with pytest.raises(RunDirectoryError) as refused:
        train(stage_two_config(prepared_synthetic, eager_run[0], stage_one_model=str(other), epochs=3), tmp_path)
    message = str(refused.value)
    assert str(original.resolve()) in message and str(other.resolve()) in message, message
    assert contents(folder) == before


def test_stage_two_refuses_a_folder_that_does_not_record_its_stage_one_model(
        prepared_synthetic, eager_run, iom_run, tmp_path):
    folder = copy_run(iom_run[0], tmp_path, "tiny_iom")
    (folder / "stage_one.json").unlink()
    with pytest.raises(RunDirectoryError, match="stage_one.json"):
        train(stage_two_config(prepared_synthetic, eager_run[0], epochs=3), tmp_path)


def test_a_nan_loss_in_stage_one_names_the_term_and_step(prepared_synthetic, tmp_path):
    config = tiny_config(prepared_synthetic, head_type="NormHead", base_lr=1e30, epochs=1, steps_per_epoch=10)
    with pytest.raises(TrainingDiverged, match=r"step \d+: loss term 'NormHead cross-entropy'.*base_lr \(now 1e\+30\)"):
        run(config, tmp_path)


def test_a_nan_term_in_stage_two_is_named_with_its_step(prepared_synthetic, eager_run, tmp_path):
    # 1e39 is past float32's largest number: the weighted quantisation term overflows at once, the others do not.
    config = stage_two_config(prepared_synthetic, eager_run[0], quantisation_weight=1e39)
    with pytest.raises(TrainingDiverged) as diverged:
        train(config, tmp_path)
    message = str(diverged.value)
    assert "at step 1: loss term 'quantisation_loss' became non-finite" in message, message
    assert "outputs were finite" in message and "quantisation_weight=1e+39" in message, message
    assert not (tmp_path / "checkpoints" / "tiny_iom" / "ckpt").exists()  # nothing saved from a diverged step
