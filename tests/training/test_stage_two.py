"""Stage two end to end on the tiny stage-one run: IoM codes that tell fish apart."""

import json

import keras
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from lateral.config import AugmentConfig, ConfigError
from lateral.data.pipeline import evaluation_dataset
from lateral.data.records import load_roi_set
import lateral.models.iom  # noqa: F401  (registers the IoM layers for loading)
from lateral.training.run_directory import RunDirectoryError
from tests.training.tiny import stage_two_config, train


def test_iom_codes_separate_same_fish_from_other_fish(prepared_synthetic, iom_run):
    folder, history = iom_run
    assert len(history["loss"]) == 20 and np.isfinite(history["loss"]).all()
    model = keras.models.load_model(folder / "checkpoints" / "tiny_iom" / "iom_codes.keras")
    roi_set = load_roi_set(prepared_synthetic, "fish_flank")
    codes = model.predict(evaluation_dataset(roi_set, (32, 64), 64).map(lambda x, _: x), verbose=0)
    assert codes.shape == (len(roi_set), 16) and codes.dtype == np.int32
    assert codes.min() >= 0 and codes.max() <= 3
    # Hamming similarity (share of equal codes), computed here independently of the package.
    similarity = (codes[:, None, :] == codes[None, :, :]).mean(-1)
    same = roi_set.labels[:, None] == roi_set.labels[None, :]
    pairs = np.triu_indices(len(roi_set), k=1)
    auc = roc_auc_score(same[pairs], similarity[pairs])
    # Better than random: above chance by three standard errors of the AUC under chance
    # (Mann-Whitney: sqrt((G + I + 1) / (12 G I)) for G genuine and I impostor pairs).
    genuine, impostor = same[pairs].sum(), (~same[pairs]).sum()
    assert auc > 0.5 + 3 * np.sqrt((genuine + impostor + 1) / (12 * genuine * impostor)), auc


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


def test_a_new_key_gives_templates_that_do_not_match_the_old_ones(prepared_synthetic, iom_run):
    """Under other keys, the same photo's template matches its old one less than two photos of one fish match
    (averaged over four keys: the tiny model's codes agree often by chance, and one key is one draw of that)."""
    from lateral.models.iom import build_codes_model

    model = keras.models.load_model(iom_run[0] / "checkpoints" / "tiny_iom" / "iom_codes.keras")
    embedding, projection = model.layers[1], model.get_layer("iom_projection")
    roi_set = load_roi_set(prepared_synthetic, "fish_flank")
    images = evaluation_dataset(roi_set, (32, 64), 64).map(lambda x, _: x)
    plain = model.predict(images, verbose=0)
    keyed_agreement = np.mean([np.mean(plain == build_codes_model(embedding, projection, key=key).predict(
        images, verbose=0)) for key in (1234, 5678, 9012, 3456)])
    similarity = (plain[:, None, :] == plain[None, :, :]).mean(-1)
    same = (roi_set.labels[:, None] == roi_set.labels[None, :]) & ~np.eye(len(roi_set), dtype=bool)
    assert keyed_agreement < similarity[same].mean()


def test_resuming_continues_and_the_slow_path_trains_through_images(prepared_synthetic, eager_run, iom_run, tmp_path):
    folder, _ = iom_run
    resumed = train(stage_two_config(prepared_synthetic, eager_run[0], epochs=3), folder)
    assert len(resumed) and len(resumed["loss"]) == 10
    slow = train(stage_two_config(prepared_synthetic, eager_run[0], epochs=1, steps_per_epoch=2,
                                  augment=AugmentConfig(random_crop=True, saturation=False, brightness=False)), tmp_path)
    assert np.isfinite(slow["loss"]).all() and len(slow["loss"]) == 2


@pytest.mark.parametrize(
    "changes, error, message",
    [
        (dict(stage_one_model="/nowhere/embedding.keras"), RunDirectoryError, "/nowhere/embedding.keras"),
        (dict(stage_one_model=None), ConfigError, "1st_sub_name"),
        (dict(loss_fun="contrastive"), ConfigError, "loss_fun"),
        (dict(input_size=(48, 96)), ConfigError, "input_size"),
    ],
)
def test_bad_stage_two_settings_fail_clearly(prepared_synthetic, eager_run, tmp_path, changes, error, message):
    with pytest.raises(error, match=message):
        train(stage_two_config(prepared_synthetic, eager_run[0], **changes), tmp_path)
