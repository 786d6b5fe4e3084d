"""Every config value is checked when the config is read (or built in code): bad values fail naming the key."""

import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

from lateral.cli import run_explaining_errors
from lateral.config import (
    SECTION_OF_KEY, SECTIONS, AugmentConfig, ConfigError, PreprocessConfig, config_from_keys, load_config, replace_keys,
)

REPO = Path(__file__).resolve().parents[2]

# (key as written in YAML, a bad value, a word the message must contain)
BAD_VALUES = [
    ("logit_scale", "adaptive", "auto"),
    ("logit_scale", 0, "> 0"),
    ("head_warmup_epochs", -1, ">= 0"),
    ("margin_ramp_epochs", -0.5, ">= 0"),
    ("label_smoothing", 1.0, "[0, 1)"),
    ("augment.hue_delta", 0.6, "0.5"),
    ("colour_constancy", "retinex", "grey_world"),
    ("preprocess.green_hue", [95, 35], "low <= high"),
    ("preprocess.green_hue", [35, 200], "179"),
    ("preprocess.green_hue", [-1, 95], "179"),
    ("preprocess.green_min_saturation", 300, "255"),
    ("preprocess.green_min_value", -1, "255"),
    ("preprocess.min_green_fraction", 1.5, "[0, 1]"),
    ("preprocess.work_size", 0, ">= 64"),
    ("preprocess.work_size", -512, ">= 64"),
    ("preprocess.min_fish_fraction", -0.1, "[0, 1]"),
    ("preprocess.min_solidity", 2, "[0, 1]"),
    ("preprocess.min_aspect", 0.5, ">= 1"),
    ("preprocess.max_aspect", 1.2, "must be >= min_aspect"),
    ("preprocess.min_focus", -3, ">= 0"),
    ("preprocess.min_image_side", 0, ">= 1"),
    ("preprocess.max_image_pixels", 0, ">= 1"),
    ("preprocess.max_image_pixels", 100, "min_image_side"),
    ("preprocess.records_per_shard", 0, ">= 1"),
    ("augment.crop_margin", -0.1, "[0, 1]"),
    ("augment.saturation_range", [1.3, 0.7], "low < high"),
    ("augment.saturation_range", [1.0, 1.0], "low < high"),
    ("augment.saturation_range", [-0.5, 1.0], ">= 0"),
    ("augment.brightness_delta", 2, "[0, 1]"),
    ("augment.trivial_augment_magnitude", 1.5, "[0, 1]"),
    ("augment.random_erasing", 1.2, "[0, 1]"),
    ("augment.erasing_scale", [0.4, 0.05], "low <= high"),
    ("augment.erasing_scale", [0.05, 1.4], "[0, 1]"),
    ("augment.erasing_ratio", [0, 6.1], "> 0"),
    ("sub_name", "", "empty"),
    ("sub_name", "../elsewhere", ".."),
    ("sub_name", "/tmp/run", "relative"),
    ("sub_name", "r" * 300, "at most 200 bytes"),
    ("sub_name", "runs/" + "é" * 101, "at most 200 bytes"),  # 202 bytes in UTF-8
    ("input_size", [16, 16], ">= 32"),
    ("input_size", [64, 31], ">= 32"),
    ("input_size", 0, ">= 32"),
    ("train_dataset", "", "empty"),
    ("held_out_fish", ["02", ""], "empty"),
    ("session_pattern", "^(?P<sesion>C\\d)_", "session"),
    ("session_pattern", "^(unclosed", "regular expression"),
    ("num_classes", 1, ">= 2"),
    ("val_fraction", 1.0, "[0, 1)"),
    ("val_fraction", -0.2, "[0, 1)"),
    ("classes_per_batch", 1, ">= 2"),
    ("samples_per_class", 0, ">= 1"),
    ("max_per_class", -1, ">= 0"),
    ("batch_size", 0, ">= 1"),
    ("eval_batch_size", -64, ">= 1"),
    ("seed", -1, ">= 0"),
    ("backbone_width", 0, "> 0"),
    ("weights", "", "empty"),
    ("embedding_size", 0, ">= 1"),
    ("dropout", 1.0, "[0, 1)"),
    ("bn_momentum", 1.5, "[0, 1]"),
    ("margin", -0.5, "[0, 1.5708]"),
    ("margin", 3.0, "[0, 1.5708]"),
    ("logit_scale", 0, "> 0"),
    ("epochs", 0, ">= 1"),
    ("epochs", -3, ">= 1"),
    ("steps_per_epoch", -5, ">= 1"),
    ("steps_per_epoch", 0, ">= 1"),
    ("base_lr", 0, "> 0"),
    ("base_lr", -0.01, "> 0"),
    ("base_lr", float("nan"), "> 0"),
    ("base_lr", float("inf"), "> 0"),
    ("warmup_epochs", -1, ">= 0"),
    ("warmup_epochs", 9, "must not exceed epochs"),
    ("momentum", 1.0, "[0, 1)"),
    ("weight_decay", -1e-4, "[0, 1)"),
    ("save_steps", 0, ">= 1"),
    ("1st_sub_name", "run", "another run"),
    ("1st_sub_name", "../x", ".."),
    ("stage_one_model", "", "empty"),
    ("m", 0, ">= 1"),
    ("q", 1, ">= 2"),
    ("inverse_temperature", 0, "> 0"),
    ("inverse_temperature", -1.0, "> 0"),
    ("triplet_margin", -0.2, ">= 0"),
    ("arc_scale", 0, "> 0"),
    ("quantisation_weight", -0.5, ">= 0"),
    ("code_balance_weight", -1, ">= 0"),
    ("bin_lut_weight", -0.001, ">= 0"),
    ("permutation_key", -7, ">= 0"),
]


def write_config(tmp_path, key, value):
    raw = {"sub_name": "run", "epochs": 5}
    *parents, leaf = key.split(".")
    section = raw
    for parent in parents:
        section = section.setdefault(parent, {})
    section[leaf] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("key, value, allowed", BAD_VALUES, ids=[f"{key}={value}" for key, value, _ in BAD_VALUES])
def test_a_bad_value_fails_at_load_naming_the_key_and_what_is_allowed(tmp_path, key, value, allowed):
    path = write_config(tmp_path, key, value)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert f"'{key}'" in message and str(path) in message, message
    assert allowed in message, message


@pytest.mark.parametrize("key, value", [("epochs", 1), ("steps_per_epoch", 1), ("q", 2), ("inverse_temperature", 0.01),
                                        ("preprocess.green_hue", [60, 60]), ("val_fraction", 0.0),
                                        ("preprocess.min_focus", 0.0), ("sub_name", "fs48/stage1"),
                                        ("margin", 0.0), ("dropout", 0.0)])
def test_values_at_the_edge_of_their_range_are_accepted(tmp_path, key, value):
    config = load_config(write_config(tmp_path, key, value))
    *parents, leaf = key.split(".")
    section = getattr(config, parents[0] if parents else SECTION_OF_KEY[leaf])
    assert getattr(section, leaf) == (tuple(value) if isinstance(value, list) else value)


def test_a_number_written_1e_3_is_read_as_a_number(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("sub_name: a\nbase_lr: 1e-3\n")  # YAML 1.1 reads this as the string '1e-3'
    assert load_config(path).optimiser.base_lr == 0.001


@pytest.mark.parametrize(
    "build, key",
    [
        (lambda: config_from_keys("a", q=1), "q"),
        (lambda: config_from_keys("a", epochs=0), "epochs"),
        (lambda: config_from_keys("a", inverse_temperature=0.0), "inverse_temperature"),
        (lambda: config_from_keys("a", epochs="5"), "epochs"),
        (lambda: config_from_keys("a", preprocess=PreprocessConfig(work_size=0)), "work_size"),
        (lambda: AugmentConfig(random_erasing=2.0), "random_erasing"),
        (lambda: PreprocessConfig(green_hue=(95, 35)), "green_hue"),
    ],
)
def test_a_config_built_in_code_is_checked_too(build, key):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        build()


def test_a_config_built_in_code_is_converted_as_a_yaml_one():
    config = config_from_keys("a", input_size=96, held_out_fish=["02"], base_lr=1)
    assert config.model.input_size == (96, 96) and config.data.held_out_fish == ("02",)
    assert isinstance(config.optimiser.base_lr, float)
    assert replace_keys(config, epochs=7).optimiser.epochs == 7
    with pytest.raises(ConfigError, match="'epochs'"):
        replace_keys(config, epochs=0)


@pytest.mark.parametrize("cls", SECTIONS.values())
def test_every_key_that_can_hold_a_bad_value_has_a_rule(cls):
    """A new numeric or free-text key must come with its allowed range (add it to the class's RULES)."""
    hints = typing.get_type_hints(cls)
    unruled = [
        field.name for field in dataclasses.fields(cls)
        if hints[field.name] is not bool
        and typing.get_origin(hints[field.name]) is not typing.Literal
        and not dataclasses.is_dataclass(hints[field.name])
        and field.name not in cls.RULES
    ]
    assert unruled == [], f"{cls.__name__}: keys without a rule in RULES: {unruled}"


def test_the_shipped_configs_pass():
    for path in sorted((REPO / "configs").glob("*.yaml")):
        load_config(path)


def exit_code_and_stderr(cfg_path, capsys):
    """What an entry script does with the config at ``cfg_path`` (train.py: ``run_explaining_errors``)."""
    code = run_explaining_errors(lambda: load_config(cfg_path))
    return code, capsys.readouterr().err


def test_a_folder_or_a_binary_file_as_cfg_path_exits_2_naming_it(tmp_path, capsys):
    binary = tmp_path / "model.keras"
    binary.write_bytes(bytes(range(256)) * 4)
    for cfg_path, says in [(tmp_path, "is a folder"), (binary, "not a text file")]:
        code, stderr = exit_code_and_stderr(cfg_path, capsys)
        assert code == 2 and says in stderr and str(cfg_path) in stderr, stderr


def test_an_out_of_range_value_exits_2_naming_the_key(tmp_path, capsys):
    code, stderr = exit_code_and_stderr(write_config(tmp_path, "q", 1), capsys)
    assert code == 2 and "'q' must be >= 2, got 1" in stderr, stderr
