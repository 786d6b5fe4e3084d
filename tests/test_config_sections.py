"""The config's sections: each validates its own keys, is frozen, and is the same however the config is made."""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from lateral.config import (
    FLAT_SECTIONS, NESTED_SECTIONS, SECTION_OF_KEY, AugmentConfig, Config, ConfigError, DataConfig, EvaluationConfig,
    HeadConfig, IomConfig, ModelConfig, OptimiserConfig, PreprocessConfig, RunConfig, build_config, config_from_keys,
    OldNameWarning, load_config, replace_keys, smoke, snapshot,
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
    "embedding_size": 128,
    "bnneck": True,
    "head_type": "ArcHead",
    "logit_scale": "auto",
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
        (lambda: HeadConfig(logit_scale="adaptive"), "logit_scale"),
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
    keys = [field.metadata.get("key", field.name)
            for section in FLAT_SECTIONS.values() for field in dataclasses.fields(section)]
    assert sorted(keys) == sorted(SECTION_OF_KEY) and len(keys) == len(set(keys))
    assert not set(keys) & set(NESTED_SECTIONS) and not set(keys) & set(FLAT_SECTIONS)
    ruled = [name for section in FLAT_SECTIONS.values() for name in section.RULES]
    assert len(ruled) == len(set(ruled)), "a key has a rule in two sections"


@pytest.mark.parametrize("section", [*FLAT_SECTIONS.values(), *NESTED_SECTIONS.values()])
def test_sections_are_frozen(section):
    instance = section(sub_name="a") if section is RunConfig else section()
    first = dataclasses.fields(section)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(instance, first, getattr(instance, first))


def test_a_config_holds_each_key_once_in_its_section():
    config = config_from_keys("a", m=16, base_lr=1, input_size=96, preprocess=PreprocessConfig(min_focus=5.0))
    assert config.iom == IomConfig(m=16)
    assert config.optimiser == OptimiserConfig(base_lr=1.0) and isinstance(config.optimiser.base_lr, float)
    assert config.model.input_size == (96, 96)
    assert config.preprocess == PreprocessConfig(min_focus=5.0) and config.augment == AugmentConfig()
    assert config.run == RunConfig(sub_name="a")
    assert [field.name for field in dataclasses.fields(Config)] == [*FLAT_SECTIONS, *NESTED_SECTIONS]
    for section in FLAT_SECTIONS.values():
        for field in dataclasses.fields(section):  # no flat copy: a key is read through its section only
            with pytest.raises(AttributeError):
                getattr(config, field.name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.optimiser = OptimiserConfig()


def test_no_code_reads_a_key_past_its_section():
    """A flat read (a config, then a key) is an AttributeError when it runs; this finds one in code that no
    test runs (bench scripts, rare branches)."""
    keys = sorted({field.name for section in FLAT_SECTIONS.values() for field in dataclasses.fields(section)},
                  key=len, reverse=True)
    flat_read = re.compile(r"\b\w*config\)?\.(" + "|".join(keys) + r")\b")
    files = [*REPO.glob("*.py"), *(path for folder in ("lateral", "bench", "tools", "tests")
                                   for path in (REPO / folder).rglob("*.py"))]
    found = [f"{path.relative_to(REPO)}:{number}: {match.group(0)}" for path in files
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             for match in flat_read.finditer(line)]
    assert len(files) > 100 and found == []


def test_replace_keys_rebuilds_and_rechecks_the_sections():
    config = config_from_keys("a")
    changed = replace_keys(config, epochs=7, m=8, first_sub_name="b")
    assert changed.optimiser.epochs == 7 and changed.iom.m == 8 and config.optimiser.epochs == 5
    assert changed.run == RunConfig(sub_name="a", first_sub_name="b") and changed.model == config.model
    with pytest.raises(ConfigError, match="'m'"):
        replace_keys(config, m=0)
    with pytest.raises(ConfigError, match="'nope'"):
        replace_keys(config, nope=1)


# SETTINGS written in sections, by hand.
IN_SECTIONS = {
    "run": {"sub_name": "fs48/iom", "1st_sub_name": "fs48/stage1", "seed": 3},
    "data": {"train_dataset": "data/prepared", "held_out_fish": ["02", "07"], "split": "by_session",
             "val_sessions": ["C2"], "classes_per_batch": 6},
    "model": {"input_size": 96, "embedding_size": 128, "bnneck": True},
    "head": {"head_type": "ArcHead", "logit_scale": "auto", "margin_ramp_epochs": 2},
    "optimiser": {"epochs": 9, "base_lr": "1e-3", "warmup_epochs": 1},
    "iom": {"m": 32, "q": 4, "bin_lut_loss": "tanh", "permutation_key": 11},
    "evaluation": {"test_dataset": "data/test", "eval_batch_size": 16},
    "preprocess": {"min_focus": 5.0, "green_hue": [30, 90]},
    "augment": {"hue": True, "erasing_scale": [0.1, 0.3]},
}


def test_a_config_from_flat_yaml_from_yaml_in_sections_and_from_code_is_the_same(tmp_path):
    flat, in_sections = tmp_path / "flat.yaml", tmp_path / "sections.yaml"
    flat.write_text(yaml.safe_dump(SETTINGS))
    in_sections.write_text(yaml.safe_dump(IN_SECTIONS))
    from_yaml = load_config(flat)
    assert load_config(in_sections) == from_yaml
    mixed = {**{key: value for key, value in SETTINGS.items() if SECTION_OF_KEY.get(key) != "iom"},
             "iom": IN_SECTIONS["iom"]}
    assert build_config(mixed) == from_yaml
    in_code = config_from_keys(**{("first_sub_name" if key == "1st_sub_name" else key): value
                                  for key, value in SETTINGS.items() if key not in NESTED_SECTIONS},
                               preprocess=PreprocessConfig(min_focus=5.0, green_hue=(30, 90)),
                               augment=AugmentConfig(hue=True, erasing_scale=(0.1, 0.3)))
    assert from_yaml == in_code
    assert from_yaml.data.held_out_fish == ("02", "07") and from_yaml.optimiser.base_lr == 0.001
    assert from_yaml.run.first_sub_name == "fs48/stage1" and from_yaml.head.logit_scale == "auto"


@pytest.mark.parametrize("raw, says", [
    ({"sub_name": "a", "m": 8, "iom": {"m": 16}}, "'m' is given twice"),
    ({"sub_name": "a", "iom": {"base_lr": 0.1}}, "unknown key 'iom.base_lr'"),
    ({"sub_name": "a", "iom": 3}, "iom: expected a mapping"),
])
def test_a_key_in_two_places_or_in_another_section_fails_naming_it(raw, says):
    with pytest.raises(ConfigError, match=says):
        build_config(raw)


def test_snapshot_is_in_sections_and_round_trips_through_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(SETTINGS))
    config = load_config(path)
    written = yaml.safe_load(yaml.safe_dump(snapshot(config), sort_keys=False))  # as a run folder stores it
    assert build_config(written) == config
    assert list(written) == [*FLAT_SECTIONS, *NESTED_SECTIONS]
    assert written["model"]["input_size"] == [96, 96] and written["preprocess"]["green_hue"] == [30, 90]
    assert written["run"] == {"sub_name": "fs48/iom", "1st_sub_name": "fs48/stage1", "stage_one_model": None,
                              "seed": 3}


def test_an_old_run_folders_flat_snapshot_still_reads(tmp_path):
    """Run folders written before the sections hold a flat config.yaml (every key at the top level)."""
    from lateral.runs import read_config

    old_style = {**{("embd_shape" if key == "embedding_size" else key): value for key, value in SETTINGS.items()
                    if key != "logit_scale"},
                 "optimizer": "adam", "w_decay": 0.001, "T": 2.0, "hidden_layer_remark": "2", "quanti": False,
                 "quanti_weight": 0.25, "loss_fun": "batch_hard_triplet", "logist_scale": 8}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old_style, sort_keys=False))
    new_style = {**IN_SECTIONS, "head": {**IN_SECTIONS["head"], "logit_scale": 8},
                 "optimiser": {**IN_SECTIONS["optimiser"], "algorithm": "adam", "weight_decay": 0.001},
                 "iom": {**IN_SECTIONS["iom"], "inverse_temperature": 2.0, "hidden_layers": 2,
                         "quantisation_loss": False, "quantisation_weight": 0.25, "metric_loss": "batch_hard_triplet"}}
    with pytest.warns(OldNameWarning) as warned:
        old = read_config(tmp_path)
    assert old == load_config(_written(tmp_path / "new.yaml", new_style))
    said = [str(warning.message) for warning in warned]
    assert len(said) == 9 and all(str(tmp_path / "config.yaml") in line for line in said)
    assert any("'T' is an old name, read as 'inverse_temperature'" in line for line in said), said


@pytest.mark.parametrize("raw, says", [
    ({"sub_name": "a", "T": 2.0, "inverse_temperature": 3.0}, "'T' and its new name 'inverse_temperature'"),
    ({"sub_name": "a", "optimiser": {"optimizer": "adam"}, "algorithm": "sgd"}, "'algorithm' is given twice"),
])
def test_an_old_name_beside_its_new_one_fails(raw, says):
    with pytest.warns(OldNameWarning), pytest.raises(ConfigError, match=says):
        build_config(raw)


def test_the_shipped_configs_use_no_old_name(recwarn):
    for path in sorted((REPO / "configs").glob("*.yaml")):
        load_config(path)
    assert not [warning for warning in recwarn if warning.category is OldNameWarning]


def _written(path, raw):
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_smoke_preset_validates_and_is_small():
    base = config_from_keys("fs48/stage1", first_sub_name="fs48/base", warmup_epochs=3, epochs=20, m=256,
                            embedding_size=512, classes_per_batch=16, samples_per_class=4)
    small = smoke(base)
    assert isinstance(small, Config)  # built, so every section checked it
    height, width = small.model.input_size
    assert height * width <= 32 * 64
    assert small.optimiser.epochs == 1 and small.optimiser.steps_per_epoch <= 2
    assert small.optimiser.warmup_epochs <= small.optimiser.epochs
    assert small.model.embedding_size <= 16 and small.iom.m <= 8
    assert small.data.classes_per_batch * small.data.samples_per_class <= 8
    assert small.evaluation.eval_batch_size <= 8
    assert small.run.sub_name != base.run.sub_name and small.run.first_sub_name == "fs48/base_smoke"


def flat(written):
    """A snapshot's keys by YAML name, the flat sections' keys at the top level."""
    return {key: value for name, section in written.items()
            for key, value in (section.items() if name in FLAT_SECTIONS else [(name, section)])}


# What a smoke run may shrink (and rename); every other key must stay the shipped config's.
SMOKE_SHRINKS = {"sub_name", "1st_sub_name", "input_size", "embedding_size", "classes_per_batch", "samples_per_class",
                 "batch_size", "eval_batch_size", "epochs", "steps_per_epoch", "warmup_epochs", "save_steps", "m"}


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda path: path.name)
def test_every_shipped_configs_smoke_preset_keeps_its_recipe_and_only_shrinks(path):
    """Against the shipped config itself: the same backbone, head, losses, schedule and preprocessing, and
    each size no larger than the original's."""
    original, small = flat(snapshot(load_config(path))), flat(snapshot(smoke(load_config(path))))
    assert {key: value for key, value in small.items() if key not in SMOKE_SHRINKS} == {
        key: value for key, value in original.items() if key not in SMOKE_SHRINKS}
    for key in ("embedding_size", "classes_per_batch", "samples_per_class", "batch_size", "eval_batch_size", "m",
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
