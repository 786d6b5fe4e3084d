"""The config's sections: each validates its own keys, is frozen, and is the same however the config is made."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

from lateral.config import (
    FLAT_SECTIONS, NESTED_SECTIONS, SECTION_OF_KEY, AugmentConfig, Config, ConfigError, DataConfig, EvaluationConfig,
    HeadConfig, IomConfig, ModelConfig, OptimiserConfig, PreprocessConfig, RunConfig, from_dict, load_config, smoke,
    snapshot,
)

REPO = Path(__file__).resolve().parents[1]

# A value for keys of every section, as a YAML file writes them.
SETTINGS = {
    "sub_name": "fs48/iom",
    "1st_sub_name": "fs48/stage1",
    "seed": 3,
    "train_dataset": "data/prepared",
    "held_out_fish": ["02", "07"],
    "split": "by_session",
    "val_sessions": ["C2"],
    "classes_per_batch": 6,
    "input_size": 96,
    "embd_shape": 128,
    "bnneck": True,
    "head_type": "ArcHead",
    "logist_scale": "auto",
    "margin_ramp_epochs": 2,
    "epochs": 9,
    "base_lr": "1e-3",
    "warmup_epochs": 1,
    "m": 32,
    "q": 4,
    "bin_lut_loss": "tanh",
    "permutation_key": 11,
    "test_dataset": "data/test",
    "eval_batch_size": 16,
    "preprocess": {"min_focus": 5.0, "green_hue": [30, 90]},
    "augment": {"hue": True, "erasing_scale": [0.1, 0.3]},
}


@pytest.mark.parametrize(
    "build, key",
    [
        (lambda: RunConfig(sub_name="../elsewhere"), "sub_name"),
        (lambda: RunConfig(sub_name="a", first_sub_name="a"), "1st_sub_name"),
        (lambda: RunConfig(sub_name="a", seed=-1), "seed"),
        (lambda: DataConfig(classes_per_batch=1), "classes_per_batch"),
        (lambda: DataConfig(held_out_fish="02"), "held_out_fish"),
        (lambda: ModelConfig(input_size=(4, 64)), "input_size"),
        (lambda: HeadConfig(margin=3.0), "margin"),
        (lambda: HeadConfig(logist_scale="adaptive"), "logist_scale"),
        (lambda: OptimiserConfig(epochs=2, warmup_epochs=3), "warmup_epochs"),
        (lambda: OptimiserConfig(base_lr=0), "base_lr"),
        (lambda: IomConfig(q=1), "q"),
        (lambda: EvaluationConfig(eval_batch_size=0), "eval_batch_size"),
        (lambda: EvaluationConfig(test_dataset=""), "test_dataset"),
    ],
)
def test_a_section_built_directly_checks_its_keys_naming_the_yaml_key(build, key):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        build()


def test_every_top_level_key_belongs_to_exactly_one_section_and_is_checked_there_only():
    top_level = [field for field in dataclasses.fields(Config) if field.name not in NESTED_SECTIONS]
    keys = [field.metadata.get("key", field.name) for field in top_level]
    assert sorted(keys) == sorted(SECTION_OF_KEY)
    ruled = [name for section in FLAT_SECTIONS.values() for name in section.RULES]
    assert len(ruled) == len(set(ruled)), "a key has a rule in two sections"


@pytest.mark.parametrize("section", [*FLAT_SECTIONS.values(), *NESTED_SECTIONS.values()])
def test_sections_are_frozen(section):
    instance = section(sub_name="a") if section is RunConfig else section()
    first = dataclasses.fields(section)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(instance, first, getattr(instance, first))


def test_a_config_exposes_its_sections_and_keeps_flat_access():
    config = Config(sub_name="a", m=16, base_lr=1, input_size=96, preprocess={"min_focus": 5.0})
    assert config.iom == IomConfig(m=16)
    assert config.optimiser == OptimiserConfig(base_lr=1.0) and isinstance(config.base_lr, float)
    assert config.model.input_size == config.input_size == (96, 96)
    assert config.preprocess == PreprocessConfig(min_focus=5.0) and config.augment == AugmentConfig()
    assert config.run == RunConfig(sub_name="a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.base_lr = 0.1


def test_replace_rebuilds_and_rechecks_the_sections():
    config = Config(sub_name="a")
    changed = dataclasses.replace(config, epochs=7, m=8)
    assert changed.optimiser.epochs == 7 and changed.iom.m == 8 and config.optimiser.epochs == 5
    with pytest.raises(ConfigError, match="'m'"):
        dataclasses.replace(config, m=0)


def test_a_config_from_yaml_and_from_flat_keys_has_equal_sections(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(SETTINGS))
    from_yaml = load_config(path)
    in_code = Config(**{("first_sub_name" if key == "1st_sub_name" else key): value for key, value in SETTINGS.items()})
    assert from_yaml == in_code
    for name in [*FLAT_SECTIONS, *NESTED_SECTIONS]:
        assert getattr(from_yaml, name) == getattr(in_code, name), name
    assert from_yaml.data.held_out_fish == ("02", "07") and from_yaml.optimiser.base_lr == 0.001
    assert from_yaml.run.first_sub_name == "fs48/stage1" and from_yaml.head.logist_scale == "auto"


def test_snapshot_round_trips_through_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(SETTINGS))
    config = load_config(path)
    written = yaml.safe_load(yaml.safe_dump(snapshot(config), sort_keys=False))  # as a run folder stores it
    assert from_dict(Config, written) == config
    assert set(written) == set(SECTION_OF_KEY) | set(NESTED_SECTIONS)
    assert written["input_size"] == [96, 96] and written["preprocess"]["green_hue"] == [30, 90]


def test_the_smoke_preset_validates_and_is_small():
    base = Config(sub_name="fs48/stage1", first_sub_name="fs48/base", warmup_epochs=3, epochs=20, m=256,
                  embd_shape=512, classes_per_batch=16, samples_per_class=4)
    small = smoke(base)
    assert isinstance(small, Config)  # built, so every section checked it
    height, width = small.model.input_size
    assert height * width <= 32 * 64
    assert small.optimiser.epochs == 1 and small.optimiser.steps_per_epoch <= 2
    assert small.optimiser.warmup_epochs <= small.optimiser.epochs
    assert small.model.embd_shape <= 16 and small.iom.m <= 8
    assert small.data.classes_per_batch * small.data.samples_per_class <= 8
    assert small.evaluation.eval_batch_size <= 8
    assert small.run.sub_name != base.sub_name and small.run.first_sub_name == "fs48/base_smoke"


# What a smoke run may shrink (and rename); every other key must stay the shipped config's.
SMOKE_SHRINKS = {"sub_name", "1st_sub_name", "input_size", "embd_shape", "classes_per_batch", "samples_per_class",
                 "batch_size", "eval_batch_size", "epochs", "steps_per_epoch", "warmup_epochs", "save_steps", "m"}


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda path: path.name)
def test_every_shipped_configs_smoke_preset_keeps_its_recipe_and_only_shrinks(path):
    """Against the shipped config itself: the same backbone, head, losses, schedule and preprocessing, and
    each size no larger than the original's."""
    original, small = snapshot(load_config(path)), snapshot(smoke(load_config(path)))
    assert {key: value for key, value in small.items() if key not in SMOKE_SHRINKS} == {
        key: value for key, value in original.items() if key not in SMOKE_SHRINKS}
    for key in ("embd_shape", "classes_per_batch", "samples_per_class", "batch_size", "eval_batch_size", "m",
                "epochs", "steps_per_epoch", "save_steps"):
        assert original[key] is None or small[key] <= original[key], key
    assert np.prod(small["input_size"]) <= np.prod(original["input_size"])


def test_the_demos_smoke_preset_trains_end_to_end(prepared_synthetic, tmp_path):
    """The preset is run, not only built: the demo's stage-one config, shrunk, trains its two steps and
    saves an embedding model of the smoke size."""
    import keras

    from lateral.training.stage_one import train_stage_one

    config = smoke(load_config(REPO / "configs" / "synthetic_stage1.yaml",
                               overrides={"train_dataset": str(prepared_synthetic)}))
    history = train_stage_one(config, "fit", "default", checkpoint_root=tmp_path / "checkpoints",
                              log_root=tmp_path / "logs", progress=False)
    assert len(history["loss"]) == 2 and np.isfinite(history["loss"]).all()
    model = keras.models.load_model(tmp_path / "checkpoints" / "synthetic_stage1_smoke" / "embedding.keras")
    assert model.input_shape[1:3] == (32, 64) and model.output_shape[-1] == 16
def test_every_shipped_config_has_a_valid_smoke_preset():
    for path in sorted((REPO / "configs").glob("*.yaml")):
        config = smoke(load_config(path))
        assert config.optimiser.epochs == 1, path
