"""The starter configs for a user's own photos: a matching stage-one/stage-two pair that needs no download.

(Every shipped config loading is tests/reliability/test_config_ranges.py's ``test_the_shipped_configs_pass``.)
"""

from pathlib import Path

import yaml

from lateral.config import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# Stage one's settings that stage two must repeat: the same photos, the same held-out fish, the same input.
SHARED_KEYS = ("train_dataset", "held_out_fish", "input_size", "class_by", "classes_per_batch", "samples_per_class")


def test_stage_two_builds_on_stage_one_with_the_same_data():
    one, two = (load_config(CONFIGS / f"my_fish_stage{stage}.yaml") for stage in (1, 2))
    assert two.run.first_sub_name == one.run.sub_name
    raw_one, raw_two = (yaml.safe_load((CONFIGS / f"my_fish_stage{stage}.yaml").read_text()) for stage in (1, 2))
    assert {key: raw_one[key] for key in SHARED_KEYS} == {key: raw_two[key] for key in SHARED_KEYS}
    assert raw_two["test_dataset"] == raw_one["train_dataset"]  # evaluated on the held-out fish of the same photos


def test_the_starter_configs_need_no_download_and_say_what_to_change():
    for stage in (1, 2):
        text = (CONFIGS / f"my_fish_stage{stage}.yaml").read_text()
        raw = yaml.safe_load(text)
        # EfficientNetLite0's ImageNet weights come with the [pretrained] extra; other ImageNet weights download.
        assert raw.get("weights", "none") == "none" or raw.get("backbone_type") == "EfficientNetLite0"
        changed = [line.split(":")[0] for line in text.splitlines() if "# change this" in line]
        assert {"train_dataset", "held_out_fish"} <= set(changed), changed
        assert text.startswith("#") and "lateral " in text.split("\nsub_name")[0]  # the header gives the commands
