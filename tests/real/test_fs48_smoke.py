"""Smoke test on real underwater crops (FS48): the pre-cropped path from photos to a training step.

Skipped, saying why, when the shared dataset folder is not beside the repository.
"""

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from lateral.config import PreprocessConfig, load_config
from lateral.data.prepare import prepare
from lateral.data.records import load_roi_set
from lateral.training.stage_one import train_stage_one
from lateral.training.stage_two import train_stage_two
from tests.training.tiny import run, tiny_config

REPO = Path(__file__).resolve().parents[2]

FS48 = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "fs48-train"
CAMERA_PATTERN = r"^\d+_(?P<session>C\d)_"

pytestmark = pytest.mark.skipif(not FS48.is_dir(), reason=f"FS48 training identities not found at {FS48}")


def test_real_crops_prepare_and_train_a_few_steps(tmp_path):
    raw = tmp_path / "fs48"
    for fish in ("00", "02", "04", "06"):
        (raw / fish).mkdir(parents=True)
        photos = sorted((FS48 / fish).glob("*.jpg"))
        for photo in photos[:: max(1, len(photos) // 6)][:6]:  # a handful, spread over cameras
            shutil.copy(photo, raw / fish / photo.name)  # into the test's temporary folder only
    # Real crops are small (some under 64 px): the smallest side allowed is lowered.
    preprocess = dataclasses.replace(PreprocessConfig(), min_image_side=24, min_focus=0.0)
    summary = prepare(raw, tmp_path / "prepared", preprocess, (32, 64), segment=False, progress=False,
                      session_pattern=CAMERA_PATTERN)
    assert summary["ok"] == summary["photos"] == 24, summary["by_reason"]
    roi_set = load_roi_set(tmp_path / "prepared", "fish")
    assert set(roi_set.sessions) <= {"C1", "C2", "C3"} and len(set(roi_set.sessions)) >= 2
    history = run(tiny_config(tmp_path / "prepared", class_by="fish", split="none", epochs=1, steps_per_epoch=3,
                              classes_per_batch=4, samples_per_class=3), tmp_path)
    assert len(history["loss"]) == 3 and np.isfinite(history["loss"]).all()


@pytest.mark.parametrize("stage_one_config", ["fs48_stage1.yaml", "fs48_stage1_pretrained.yaml"])
def test_the_fs48_recipe_configs_run_a_few_steps_on_real_crops(tmp_path, stage_one_config):
    """configs/fs48_stage{1,2}.yaml as they are (head, sampler, augmentation, IoM losses), shrunk to 3 steps;
    the same with the pretrained stage one (EfficientNetLite0 with its ImageNet weights)."""
    raw = tmp_path / "fs48"
    for fish in ("00", "02", "04", "06"):
        (raw / fish).mkdir(parents=True)
        for photo in sorted((FS48 / fish).glob("*.jpg"))[::40][:6]:
            shutil.copy(photo, raw / fish / photo.name)
    shrink = {"train_dataset": str(tmp_path / "prepared"), "input_size": [32, 32], "backbone_width": 0.35,
              "embedding_size": 16, "epochs": 1, "steps_per_epoch": 3, "classes_per_batch": 3, "samples_per_class": 3,
              "held_out_fish": ["02"]}
    stage_one = load_config(REPO / "configs" / stage_one_config, shrink)
    stage_two = load_config(REPO / "configs" / "fs48_stage2.yaml",
                            {**shrink, "m": 8, "1st_sub_name": stage_one.run.sub_name})
    summary = prepare(raw, tmp_path / "prepared", stage_one.preprocess, stage_one.model.input_size, segment=False,
                      progress=False, session_pattern=stage_one.data.session_pattern)
    assert summary["ok"] == 24
    roots = {"checkpoint_root": tmp_path / "checkpoints", "log_root": tmp_path / "logs", "progress": False}
    first = train_stage_one(stage_one, "eager_tf", **roots)
    second = train_stage_two(stage_two, **roots)
    assert len(first["loss"]) == len(second["loss"]) == 3
    assert np.isfinite(first["loss"]).all() and np.isfinite(second["loss"]).all()
    assert (tmp_path / "checkpoints" / stage_two.run.sub_name / "iom_codes.keras").is_file()
