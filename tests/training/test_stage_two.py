"""Stage two end to end on the tiny stage-one run: IoM codes that tell fish apart."""

import json

import keras
import numpy as np
import pytest

from lateral.config import AugmentConfig, ConfigError
from lateral.data.pipeline import evaluation_dataset
from lateral.data.records import load_roi_set
import lateral.models.iom  # noqa: F401  (registers the IoM layers for loading)
from lateral.training.run_directory import RunDirectoryError
from tests.training.tiny import stage_two_config, train


@pytest.mark.kernels
def test_the_saved_codes_are_each_groups_arg_max_of_the_trained_projection(prepared_synthetic, iom_run):
    """Stage two end to end: 20 finite steps, and the saved codes model gives, for every image, the arg-max
    over q of its group of the projection of the stage-one embedding (recomputed here with NumPy from the
    saved layers). How well the codes tell fish apart is a quality figure: make demo and bench/stage2.py
    measure it, not this test (a tiny model's quality depends on the CPU's float kernels)."""
    folder, history = iom_run
    assert len(history["loss"]) == 20 and np.isfinite(history["loss"]).all()
    model = keras.models.load_model(folder / "checkpoints" / "tiny_iom" / "iom_codes.keras")
    roi_set = load_roi_set(prepared_synthetic, "fish_flank")
    images = np.concatenate([x for x, _ in evaluation_dataset(roi_set, (32, 64), 64).as_numpy_iterator()])
    codes = model.predict(images, verbose=0)
    assert codes.shape == (len(roi_set), 16) and codes.dtype == np.int32
    embeddings = model.layers[1].predict(images, verbose=0)
    logits = model.get_layer("iom_projection")(model.get_layer("permutation")(embeddings)).numpy()
    assert logits.shape == (len(roi_set), 16, 4)
    np.testing.assert_array_equal(codes, logits.argmax(axis=-1))


def test_outputs_load_with_plain_keras_and_as_a_saved_model(iom_run):
    import tensorflow as tf

    run_folder = iom_run[0] / "checkpoints" / "tiny_iom"
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 64, 3)).astype(np.float32)
    codes = keras.models.load_model(run_folder / "iom_codes.keras")(images).numpy()
    exported = tf.saved_model.load(str(run_folder / "iom_codes_savedmodel"))
    np.testing.assert_array_equal(exported.serve(images).numpy(), codes)
    embeddings = keras.models.load_model(run_folder / "embedding.keras")(images)
    assert embeddings.shape == (3, 16)
    assert json.loads((run_folder / "label_map.json").read_text())


@pytest.mark.kernels
def test_a_key_permutes_the_embedding_before_the_trained_projection(prepared_synthetic, iom_run):
    """Under a key, each template is the arg-max codes of the projection of the embedding's entries taken in
    the key's order (recomputed here by NumPy indexing); four keys give four different orders, none the
    identity. Whether the new templates still match the old ones is a property of the trained model
    (bench/protection.py measures it), not something a tiny model on this CPU can show."""
    from lateral.models.iom import build_codes_model

    model = keras.models.load_model(iom_run[0] / "checkpoints" / "tiny_iom" / "iom_codes.keras")
    embedding, projection = model.layers[1], model.get_layer("iom_projection")
    roi_set = load_roi_set(prepared_synthetic, "fish_flank")
    images = np.concatenate([x for x, _ in evaluation_dataset(roi_set, (32, 64), 64).as_numpy_iterator()])
    embeddings = embedding.predict(images, verbose=0)
    orders = []
    for key in (1234, 5678, 9012, 3456):
        keyed = build_codes_model(embedding, projection, key=key)
        order = keyed.get_layer("permutation").order.numpy()
        assert sorted(order) == list(range(embeddings.shape[1])) and (order != np.arange(len(order))).any()
        expected = projection(embeddings[:, order]).numpy().argmax(axis=-1)
        np.testing.assert_array_equal(keyed.predict(images, verbose=0), expected)
        orders.append(tuple(order))
    assert len(set(orders)) == 4


def test_resuming_continues_and_the_slow_path_trains_through_images(prepared_synthetic, eager_run, iom_run, tmp_path):
    folder, _ = iom_run
    resumed = train(stage_two_config(prepared_synthetic, eager_run[0], epochs=3), folder)
    assert len(resumed["loss"]) == 10 and np.isfinite(resumed["loss"]).all()  # epoch 3 only: 1 and 2 were done
    slow = train(stage_two_config(prepared_synthetic, eager_run[0], epochs=1, steps_per_epoch=2,
                                  augment=AugmentConfig(random_crop=True, saturation=False, brightness=False)), tmp_path)
    assert np.isfinite(slow["loss"]).all() and len(slow["loss"]) == 2


@pytest.mark.parametrize(
    "changes, error, message",
    [
        (dict(stage_one_model="/nowhere/embedding.keras"), RunDirectoryError, "/nowhere/embedding.keras"),
        (dict(stage_one_model=None), ConfigError, "1st_sub_name"),
        (dict(metric_loss="contrastive"), ConfigError, "metric_loss"),
        (dict(input_size=(48, 96)), ConfigError, "input_size"),
    ],
)
def test_bad_stage_two_settings_fail_clearly(prepared_synthetic, eager_run, tmp_path, changes, error, message):
    with pytest.raises(error, match=message):
        train(stage_two_config(prepared_synthetic, eager_run[0], **changes), tmp_path)
