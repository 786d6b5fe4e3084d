"""Registered names (backbone, head, IoM loss) are checked against the registries when training starts, before
any work: one error naming the key, the value and the names registered, and nothing written."""

import pytest

from lateral.config import ConfigError, load_config
from lateral.training.registered_names import check_registered_names
from lateral.training.stage_one import train_stage_one
from lateral.training.stage_two import train_stage_two

# (key, a name no part is registered under, a registered name the message must offer)
BAD_NAMES = [
    ("backbone_type", "ResNet5O", "MobileNetV2"),
    ("head_type", "CosHead", "ArcHead, NormHead"),
    ("metric_loss", "contrastive", "batch_hard_arc_triplet_loss"),
]


def config_with(tmp_path, key, value):
    path = tmp_path / "c.yaml"
    path.write_text(f"sub_name: run\n1st_sub_name: first\ntrain_dataset: {tmp_path / 'prepared'}\n{key}: {value}\n")
    return load_config(path)  # reading it is fine: the names are not checked there


@pytest.mark.parametrize("key, value, offered", BAD_NAMES)
def test_an_unregistered_name_fails_naming_the_key_the_value_and_the_known_names(tmp_path, key, value, offered):
    with pytest.raises(ConfigError) as raised:
        check_registered_names(config_with(tmp_path, key, value))
    message = str(raised.value)
    assert f"'{key}'" in message and repr(value) in message and offered in message, message
    assert "\n" not in message


def test_the_registered_defaults_pass(tmp_path):
    check_registered_names(config_with(tmp_path, "head_type", "NormHead"))


@pytest.mark.parametrize("train, key, value", [(train_stage_one, "backbone_type", "ResNet5O"),
                                                (train_stage_two, "metric_loss", "contrastive")])
def test_training_refuses_an_unregistered_name_before_any_work(tmp_path, train, key, value):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        train(config_with(tmp_path, key, value), checkpoint_root=tmp_path / "checkpoints", log_root=tmp_path / "logs")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["c.yaml"]  # no run folder, no logs
