"""Stage one end to end on a tiny MobileNetV2 and 32x64 synthetic ROIs."""

import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from lateral.config import AugmentConfig, ConfigError
from lateral.data.records import DatasetError
from lateral.training.run_directory import RunDirectoryError
from tests.training.tiny import run, tiny_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def float32_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def assert_loadable_embedding_model(folder):
    run_folder = folder / "checkpoints" / "tiny"
    assert {"config.yaml", "label_map.json", "embedding.keras"} <= {p.name for p in run_folder.iterdir()}
    model = keras.models.load_model(run_folder / "embedding.keras")
    embeddings = model(np.zeros((2, 32, 64, 3), np.float32))
    assert embeddings.shape == (2, 16) and embeddings.dtype == tf.float32
    assert (folder / "logs" / "tiny").is_dir()


def test_eager_training_lowers_the_loss_and_leaves_a_loadable_model(eager_run):
    folder, first, second = eager_run
    losses = np.array(first["loss"] + second["loss"])
    assert losses.size == 60 and np.isfinite(losses).all()
    assert losses[-4:].mean() < losses[:4].mean()
    assert_loadable_embedding_model(folder)


def test_resuming_continues_the_step_count(eager_run):
    folder, first, second = eager_run
    assert len(first["loss"]) == 30 and len(second["loss"]) == 30  # the resumed run did only the second epoch
    assert tf.train.latest_checkpoint(str(folder / "checkpoints" / "tiny" / "ckpt")).endswith("ckpt-60")


def test_fit_training_lowers_the_loss(prepared_synthetic, tmp_path):
    losses = np.array(run(tiny_config(prepared_synthetic), tmp_path, "fit")["loss"])
    assert losses.size == 60 and np.isfinite(losses).all()
    assert losses[59] < losses[29]  # fit logs the running mean of each epoch: the second epoch's is lower
    assert_loadable_embedding_model(tmp_path)


def test_mixed_float16_step_on_cpu(prepared_synthetic, tmp_path):
    history = run(tiny_config(prepared_synthetic, mixed_precision="mixed_float16", epochs=1, steps_per_epoch=2), tmp_path)
    assert np.isfinite(history["loss"]).all()
    model = keras.models.load_model(tmp_path / "checkpoints" / "tiny" / "embedding.keras")
    convolutions = [layer for layer in model.get_layer(index=2).layers if isinstance(layer, keras.layers.Conv2D)]
    assert convolutions and all(layer.compute_dtype == "float16" for layer in convolutions)
    assert model.output.dtype == "float32"


def test_mirrored_strategy_over_two_logical_cpus(prepared_synthetic, tmp_path):
    script = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from tests.training.tiny import tiny_config
        from lateral.training.stage_one import train_stage_one
        from lateral.training.strategies import STRATEGIES
        assert STRATEGIES.get("mirrored")().num_replicas_in_sync == 2
        config = tiny_config({str(prepared_synthetic)!r}, epochs=1, steps_per_epoch=2, classes_per_batch=4, samples_per_class=2)
        history = train_stage_one(config, "eager_tf", "mirrored", {str(tmp_path / 'c')!r}, {str(tmp_path / 'l')!r},
                                  progress=False)
        assert all(loss == loss for loss in history["loss"]), history
        print("replicas trained", len(history["loss"]))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "replicas trained 2" in result.stdout


def test_a_different_architecture_in_the_run_folder_is_refused(prepared_synthetic, eager_run):
    folder, _, _ = eager_run
    with pytest.raises(RunDirectoryError, match="embedding_size"):
        run(tiny_config(prepared_synthetic, embedding_size=8), folder)


@pytest.mark.parametrize(
    "changes, error, message",
    [
        (dict(backbone_type="ResNet5O"), ConfigError, "ResNet50"),
        (dict(head_type="CosHead"), ConfigError, "ArcHead"),
        (dict(num_classes=99), ConfigError, "num_classes"),
        (dict(train_dataset=None), ConfigError, "train_dataset"),
        (dict(classes_per_batch=40), Exception, "classes_per_batch"),
        (dict(split="by_session", val_sessions=("session_9",)), ConfigError, "val_sessions"),
        (dict(weights="/nowhere/resnet.h5"), Exception, "/nowhere/resnet.h5"),
    ],
)
def test_bad_settings_fail_before_training(prepared_synthetic, tmp_path, changes, error, message):
    with pytest.raises(error, match=message):
        run(tiny_config(prepared_synthetic, **changes), tmp_path)
    assert not (tmp_path / "checkpoints" / "tiny" / "ckpt").exists()


def test_missing_and_corrupt_records_name_the_file(prepared_synthetic, tmp_path):
    with pytest.raises(DatasetError, match="no TFRecord shards"):
        run(tiny_config(tmp_path / "empty"), tmp_path)
    shard = next((prepared_synthetic / "tfrecords").glob("*.tfrecord"))
    broken = tmp_path / "broken.tfrecord"
    data = shard.read_bytes()
    broken.write_bytes(data[:100] + bytes(50) + data[150:])
    with pytest.raises(DatasetError, match="broken.tfrecord"):
        run(tiny_config(broken), tmp_path)


def test_arcface_recipe_options_reach_the_saved_model(prepared_synthetic, tmp_path):
    """bnneck, colour constancy, auto scale, label smoothing, hue and a warm-up longer than the run:
    the saved model carries the neck and the colour layer, and the checkpointed margin is still 0."""
    config = tiny_config(prepared_synthetic, epochs=1, steps_per_epoch=2, logit_scale="auto", bnneck=True,
                         colour_constancy="grey_world", label_smoothing=0.1, head_warmup_epochs=2.0,
                         augment=AugmentConfig(random_crop=False, hue=True))
    history = run(config, tmp_path, "fit")
    assert np.isfinite(history["loss"]).all()
    model = keras.models.load_model(tmp_path / "checkpoints" / "tiny" / "embedding.keras")
    assert {"bnneck", "colour_constancy"} <= {layer.name for layer in model.layers}
    reader = tf.train.load_checkpoint(str(tmp_path / "checkpoints" / "tiny" / "ckpt"))
    (margin_key,) = [key for key in reader.get_variable_to_shape_map() if "current_margin" in key]
    assert reader.get_tensor(margin_key) == 0.0
