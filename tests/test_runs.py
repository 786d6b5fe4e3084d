"""``Run.load`` on tiny run folders written by hand the way training writes them (no training needed)."""

import json

import keras
import numpy as np
import pytest
import yaml

from lateral.config import config_from_keys, snapshot
from lateral.models.iom import IoMProjection, build_codes_model
from lateral.models.saved import ModelFileError, weights_fingerprint
from lateral.runs import CODES_MODEL, CONFIG_SNAPSHOT, EMBEDDING_MODEL, LABEL_MAP, Run, RunFolderError
from lateral.training.run_directory import CODES_MODEL as TRAINING_CODES_MODEL
from lateral.training.run_directory import RunDirectoryError

INPUT_SIZE = (32, 32)  # the smallest input the config admits
LABEL_MAP_OF_RUN = {"fish_000": 0, "fish_001": 1}
IMAGES = np.random.default_rng(0).uniform(0, 255, (3, *INPUT_SIZE, 3)).astype(np.float32)
WRITTEN = {}  # run folder -> the outputs of the models written there, on IMAGES


def write_run(folder, stage_two=True, seed=0):
    """A run folder as stage one (embedding.keras) or stage two (also iom_codes.keras) leaves it."""
    folder.mkdir(parents=True)
    keras.utils.set_random_seed(seed)
    pixels = keras.Input((*INPUT_SIZE, 3))
    embedding = keras.Model(pixels, keras.layers.Dense(12)(keras.layers.Flatten()(pixels)), name="embedding")
    embedding.save(folder / EMBEDDING_MODEL)
    kernel, bias = embedding.layers[-1].get_weights()
    # What the written models give, known before any loading: the embedding by its formula (a dense
    # layer on the flattened pixels), the codes from the model in memory.
    WRITTEN[folder] = {"embeddings": IMAGES.reshape(len(IMAGES), -1) @ kernel + bias}
    if stage_two:
        projection = IoMProjection(m=6, q=4, hidden_layers=1, name="iom_projection")
        codes_model = build_codes_model(embedding, projection)
        codes_model.save(folder / CODES_MODEL)
        WRITTEN[folder]["codes"] = codes_model(IMAGES).numpy()
    config = config_from_keys(folder.name, input_size=INPUT_SIZE, m=6, q=4)
    (folder / CONFIG_SNAPSHOT).write_text(yaml.safe_dump(snapshot(config), sort_keys=False))
    (folder / LABEL_MAP).write_text(json.dumps(LABEL_MAP_OF_RUN))
    return folder


@pytest.fixture(scope="module")
def stage_two_folder(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("runs") / "tiny_iom")


def test_a_stage_two_run_gives_both_models_its_config_and_label_map(stage_two_folder):
    run = Run.load(stage_two_folder)
    written = WRITTEN[stage_two_folder]
    np.testing.assert_allclose(run.embedding_model(IMAGES).numpy(), written["embeddings"], rtol=1e-4, atol=1e-3)
    codes = run.codes_model(IMAGES).numpy()
    np.testing.assert_array_equal(codes, written["codes"])
    assert codes.shape == (3, 6) and codes.min() >= 0 and codes.max() < 4
    assert run.config.run.sub_name == "tiny_iom" and tuple(run.config.model.input_size) == INPUT_SIZE
    assert run.label_map == LABEL_MAP_OF_RUN
    assert run.input_size == INPUT_SIZE
    assert len(run.embedding_fingerprint) == len(run.codes_fingerprint) == 64
    with pytest.raises(AttributeError):  # frozen
        run.config = None


def test_fingerprints_follow_the_weights_not_the_file(stage_two_folder, tmp_path):
    first, again = Run.load(stage_two_folder), Run.load(stage_two_folder)
    assert (first.embedding_fingerprint, first.codes_fingerprint) == (again.embedding_fingerprint,
                                                                      again.codes_fingerprint)
    other = Run.load(write_run(tmp_path / "other", seed=1))
    assert other.embedding_fingerprint != first.embedding_fingerprint
    assert other.codes_fingerprint != first.codes_fingerprint


def test_a_stage_one_run_has_no_codes_model(tmp_path):
    run = Run.load(write_run(tmp_path / "tiny", stage_two=False))
    assert run.codes_model is None and run.codes_fingerprint is None
    assert run.embedding_model(IMAGES).shape == (3, 12)


def test_a_folder_of_the_bare_models_still_loads(stage_two_folder, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in (EMBEDDING_MODEL, CODES_MODEL):
        (bare / name).write_bytes((stage_two_folder / name).read_bytes())
    run = Run.load(bare)
    assert run.config is None and run.label_map is None and run.codes_model is not None


@pytest.mark.parametrize("name", [EMBEDDING_MODEL, CODES_MODEL])
def test_a_truncated_model_is_named(stage_two_folder, tmp_path, name):
    folder = tmp_path / "cut"
    folder.mkdir()
    for present in (EMBEDDING_MODEL, CODES_MODEL, CONFIG_SNAPSHOT, LABEL_MAP):
        (folder / present).write_bytes((stage_two_folder / present).read_bytes())
    whole = (folder / name).read_bytes()
    (folder / name).write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ModelFileError, match=f"{folder / name} cannot be loaded, it may be truncated or damaged"):
        Run.load(folder)


def test_a_missing_embedding_model_or_folder_is_named(tmp_path):
    folder = tmp_path / "empty_run"
    folder.mkdir()
    with pytest.raises(RunFolderError, match=f"no {EMBEDDING_MODEL} in {folder}: train it first"):
        Run.load(folder)
    with pytest.raises(RunFolderError, match=f"run folder not found: {tmp_path / 'nowhere'}"):
        Run.load(tmp_path / "nowhere")


@pytest.mark.parametrize("name, text, words", [
    (LABEL_MAP, '{"fish_000": 0, "fish_0', "is damaged"),
    (LABEL_MAP, '["fish_000"]', "not a mapping of class names to integer labels"),
    (CONFIG_SNAPSHOT, "sub_name: [unclosed", "not valid YAML"),
    (CONFIG_SNAPSHOT, "sub_name: x\nno_such_key: 1\n", "no_such_key"),
])
def test_a_damaged_config_or_label_map_is_named(stage_two_folder, tmp_path, name, text, words):
    folder = tmp_path / "damaged"
    folder.mkdir()
    for present in (EMBEDDING_MODEL, CODES_MODEL, CONFIG_SNAPSHOT, LABEL_MAP):
        (folder / present).write_bytes((stage_two_folder / present).read_bytes())
    (folder / name).write_text(text)
    with pytest.raises(RunFolderError) as raised:
        Run.load(folder)
    assert str(folder / name) in str(raised.value) and words in str(raised.value)


def test_training_takes_the_file_names_and_errors_from_here():
    assert TRAINING_CODES_MODEL == CODES_MODEL == "iom_codes.keras"
    assert issubclass(RunDirectoryError, RunFolderError)


def test_the_fingerprints_are_what_stage_two_and_the_gallery_record(eager_run, iom_run):
    """On the tiny trained runs: stage_one.json holds the stage-one run's embedding fingerprint; the codes
    fingerprint (what a gallery records) is that of the saved embedding network and the IoM projection."""
    stage_one = Run.load(eager_run[0] / "checkpoints" / "tiny")
    stage_two_folder = iom_run[0] / "checkpoints" / "tiny_iom"
    recorded = json.loads((stage_two_folder / "stage_one.json").read_text())
    assert stage_one.codes_model is None and stage_one.embedding_fingerprint == recorded["fingerprint"]
    stage_two = Run.load(stage_two_folder)
    projection = next(layer for layer in stage_two.codes_model.layers if isinstance(layer, IoMProjection))
    assert stage_two.codes_fingerprint == weights_fingerprint([stage_two.embedding_model, projection])
    assert stage_two.label_map == json.loads((stage_two_folder / LABEL_MAP).read_text())
    assert stage_two.config.run.sub_name == "tiny_iom" and stage_two.config.iom.m == stage_two.codes_model.output_shape[-1]
