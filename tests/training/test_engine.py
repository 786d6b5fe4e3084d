"""The training engine on both stages: exact resume, the non-finite guard, mixed precision and the mirrored strategy.

Runs are tiny (tests/training/tiny.py); stage one keeps the tiny config's
dropout, and its resume test turns augmentation on, whose draws are seeded by
each image's place in the stream of batches.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import lateral.models.iom  # noqa: F401  (registers the IoM layers for loading)
import lateral.training.stage_one as stage_one
import lateral.training.stage_setup as stage_setup
import lateral.training.stage_two as stage_two
from lateral.config import AugmentConfig
from lateral.training.divergence import TrainingDiverged
from lateral.training.engine import Cadence
from tests.training.tiny import run, stage_two_config, tiny_config, train

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def float32_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_calls_stop_at_every_save_and_epoch_end():
    """10 steps an epoch, 2 epochs, saves every 4: from 0 a call of up to 50 steps runs 4 (save at 4),
    then 4 (8), 2 (epoch end 10), 2 (12), 4 (16), 4 (20, the last); with at most 3, 3 then 1 (save at 4)."""
    cadence = Cadence(steps_per_epoch=10, epochs=2, save_steps=4)
    done, calls = 0, []
    while done < cadence.total_steps:
        calls.append(cadence.steps_in_call(done, 50))
        done += calls[-1]
    assert calls == [4, 4, 2, 2, 4, 4]
    assert [cadence.steps_in_call(0, 3), cadence.steps_in_call(3, 3)] == [3, 1]
    assert [step for step in range(1, 21) if cadence.logs(step)] == [10, 20]


def record_batches(module, monkeypatch):
    """Every index batch the stage's sampler hands on, per dataset built (a run builds one to train on)."""
    runs = []
    original = stage_setup.index_batches_for

    def recording(data, train_set, seed, start_step=0):
        seen = []
        runs.append(seen)

        def note(index):
            seen.append(index.numpy())
            return index

        batches = original(data, train_set, seed, start_step)
        return batches.map(lambda index: tf.ensure_shape(tf.py_function(note, [index], tf.int64), index.shape))

    for holder in (module, stage_setup):  # stage two's cached path, and the augmented pipeline's sampler
        if hasattr(holder, "index_batches_for"):
            monkeypatch.setattr(holder, "index_batches_for", recording)
    return runs


def steps_seen(runs, steps):
    """The batches a run trained on: its pipeline may read ahead of the last step, never behind."""
    (seen,) = [batches for batches in runs if batches]
    runs.clear()
    assert len(seen) >= steps
    return np.stack(seen[:steps])


def assert_same_weights(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


AUGMENTED = AugmentConfig(random_crop=True, saturation=True, brightness=True, hue=True, random_erasing=0.5)


@pytest.mark.parametrize("mode", ["eager_tf", "fit"])
def test_stage_one_two_epochs_equal_one_epoch_and_one_resumed(prepared_synthetic, tmp_path, monkeypatch, mode):
    """With augmentation and dropout on, in both modes: the same batches, and weights to tolerance.

    The resumed run's first epoch is a second run of the whole run's first epoch from scratch:
    its losses must repeat exactly (they do not when augmentation draws are not seeded)."""
    runs = record_batches(stage_one, monkeypatch)
    config = dict(steps_per_epoch=6, save_steps=4, augment=AUGMENTED)
    whole_history = run(tiny_config(prepared_synthetic, epochs=2, **config), tmp_path / "whole", mode)
    whole = steps_seen(runs, 12)
    first_history = run(tiny_config(prepared_synthetic, epochs=1, **config), tmp_path / "resumed", mode)
    first = steps_seen(runs, 6)
    assert first_history["loss"] == whole_history["loss"][:6]
    run(tiny_config(prepared_synthetic, epochs=2, **config), tmp_path / "resumed", mode)
    second = steps_seen(runs, 6)
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)
    assert len({tuple(batch) for batch in whole}) > 1  # the batches do change from step to step

    def weights(folder):
        return keras.models.load_model(folder / "checkpoints" / "tiny" / "embedding.keras").get_weights()

    assert_same_weights(weights(tmp_path / "resumed"), weights(tmp_path / "whole"))


def test_stage_two_two_epochs_equal_one_epoch_and_one_resumed(prepared_synthetic, eager_run, tmp_path, monkeypatch):
    runs = record_batches(stage_two, monkeypatch)
    train(stage_two_config(prepared_synthetic, eager_run[0], epochs=2), tmp_path / "whole")
    whole = steps_seen(runs, 20)
    train(stage_two_config(prepared_synthetic, eager_run[0], epochs=1), tmp_path / "resumed")
    first = steps_seen(runs, 10)
    train(stage_two_config(prepared_synthetic, eager_run[0], epochs=2), tmp_path / "resumed")
    second = steps_seen(runs, 10)
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)

    def weights(folder):
        model = keras.models.load_model(folder / "checkpoints" / "tiny_iom" / "iom_codes.keras")
        return model.get_layer("iom_projection").get_weights()

    assert_same_weights(weights(tmp_path / "resumed"), weights(tmp_path / "whole"))


def checkpoints_in(folder):
    return sorted(path.stem for path in (folder / "ckpt").glob("ckpt-*.index"))


@pytest.mark.parametrize("mode", ["eager_tf", "fit"])
def test_a_nan_batch_stops_stage_one_at_its_step(prepared_synthetic, tmp_path, monkeypatch, mode):
    """Step 3's images are NaN: the run stops at step 3 naming the loss term; checkpoint 2 is the last one."""
    original = stage_one.training_batches

    def poisoned(*args, **kwargs):
        return original(*args, **kwargs).enumerate().map(
            lambda index, batch: (tf.where(index == 2, float("nan"), batch[0]), batch[1]))

    monkeypatch.setattr(stage_one, "training_batches", poisoned)
    config = tiny_config(prepared_synthetic, epochs=1, steps_per_epoch=6, save_steps=2)
    with pytest.raises(TrainingDiverged, match=r"at step 3: loss term 'ArcHead cross-entropy' became non-finite"):
        run(config, tmp_path, mode)
    assert checkpoints_in(tmp_path / "checkpoints" / "tiny") == ["ckpt-2"]


def test_a_nan_term_stops_stage_two_inside_a_compiled_call(prepared_synthetic, eager_run, tmp_path, monkeypatch):
    """The quantisation term turns NaN at step 7, inside the call that runs steps 6-10 (saves every 5):
    the run stops naming that term and step 7, and checkpoint 5 is the last one."""
    original = stage_two.build_iom_objective

    def poisoned_objective(config):
        objective = original(config)
        calls = tf.Variable(0, dtype=tf.int64)

        def poisoned(labels, logits):
            total, terms = objective(labels, logits)
            calls.assign_add(1)
            poison = tf.where(calls == 7, float("nan"), 0.0)
            return total + poison, {**terms, "quantisation_loss": terms["quantisation_loss"] + poison}

        return poisoned

    monkeypatch.setattr(stage_two, "build_iom_objective", poisoned_objective)
    assert stage_two.STEPS_PER_CALL >= 5
    with pytest.raises(TrainingDiverged) as diverged:
        train(stage_two_config(prepared_synthetic, eager_run[0], epochs=1, save_steps=5), tmp_path)
    message = str(diverged.value)
    assert "at step 7: loss term 'quantisation_loss' became non-finite" in message, message
    assert "outputs were finite" in message, message
    assert checkpoints_in(tmp_path / "checkpoints" / "tiny_iom") == ["ckpt-5"]


def test_stage_two_under_mixed_float16_and_the_mirrored_strategy_over_two_logical_cpus(eager_run, prepared_synthetic,
                                                                                    tmp_path):
    """Two replicas, mixed_float16: the optimiser is loss-scaled (its dynamic scale is in the checkpoint),
    on the cached fast path and on images through the (float16) backbone."""
    script = textwrap.dedent(f"""
        import numpy as np
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from lateral.config import AugmentConfig
        from lateral.training.stage_two import train_stage_two
        from lateral.training.strategies import STRATEGIES
        from tests.training.tiny import stage_two_config
        assert STRATEGIES.get("mirrored")().num_replicas_in_sync == 2
        slow = AugmentConfig(random_crop=True, saturation=False, brightness=False)
        for name, changes in (("cached", {{}}), ("images", dict(augment=slow, steps_per_epoch=2))):
            config = stage_two_config({str(prepared_synthetic)!r}, __import__("pathlib").Path({str(eager_run[0])!r}),
                                      sub_name=name, epochs=1, mixed_precision="mixed_float16",
                                      **{{"steps_per_epoch": 4, **changes}})
            history = train_stage_two(config, {str(tmp_path / 'c')!r}, {str(tmp_path / 'l')!r}, progress=False,
                                      strategy_name="mirrored")
            assert np.isfinite(history["loss"]).all(), history
            reader = tf.train.load_checkpoint({str(tmp_path / 'c')!r} + "/" + name + "/ckpt")
            scales = [key for key in reader.get_variable_to_shape_map() if "dynamic_scale" in key]
            print(name, "steps", len(history["loss"]), "loss scale", reader.get_tensor(scales[0]))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cached steps 4 loss scale" in result.stdout and "images steps 2 loss scale" in result.stdout, result.stdout


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_an_xla_compiled_step_trains_as_the_plain_one(policy):
    """compile_steps(jit_compile=True) against TensorFlow's own kernels: 6 Adam steps of a Dense+BatchNorm net
    on the same batches give the same losses and weights (loss-scaled under mixed_float16). The first Dense
    has no bias: a bias before BatchNorm gets a gradient of rounding noise, which Adam scales up to full steps."""
    from lateral.training.engine import StepResult, compile_steps

    rng = np.random.default_rng(0)
    features = rng.normal(size=(6, 8, 5)).astype(np.float32)
    targets = rng.normal(size=(6, 8, 3)).astype(np.float32)

    def train(jit_compile):
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(1)
        net = keras.Sequential([keras.Input((5,)), keras.layers.Dense(16, use_bias=False),
                                keras.layers.BatchNormalization(), keras.layers.ReLU(),
                                keras.layers.Dense(3, dtype="float32")])
        optimizer = keras.optimizers.Adam(0.01)
        if policy == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(net.trainable_variables)

        def replica_step(x, y):
            loss = tf.reduce_mean(tf.square(net(x, training=True) - y))
            return StepResult(loss, {"mse": loss}, {})

        strategy = tf.distribute.get_strategy()
        run_steps = compile_steps(strategy, optimizer, net.trainable_variables, replica_step, 3, jit_compile)
        iterator = iter(tf.data.Dataset.from_tensor_slices((features, targets)))
        losses = [run_steps(iterator, tf.constant(3))[0]["mse"].numpy() for _ in range(2)]
        return np.concatenate(losses), net.get_weights()

    plain_losses, plain_weights = train(False)
    xla_losses, xla_weights = train(True)
    assert plain_losses[-1] < plain_losses[0]
    np.testing.assert_allclose(xla_losses, plain_losses, rtol=2e-3 if policy == "mixed_float16" else 1e-5)
    assert_same_weights(xla_weights, plain_weights)
