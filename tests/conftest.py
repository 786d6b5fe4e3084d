"""Shared fixtures: a small prepared synthetic dataset, and tiny stage-one and stage-two runs on it; and the
``kernels`` mark (numbers from TensorFlow's float kernels against a reference: ``make test-onednn-off`` runs them
again with oneDNN off) on every test of KERNEL_TEST_FILES, beside the single tests marked where they are."""

import keras
import pytest

from lateral import synthetic
from lateral.config import PreprocessConfig
from lateral.data.prepare import prepare
from tests.training.tiny import run, stage_two_config, tiny_config, train

TINY_ROI = (32, 64)
KERNEL_TEST_FILES = ("tests/models/", "tests/losses/", "tests/evaluation/test_evaluate.py",
                     "tests/evaluation/test_test_time.py", "tests/training/test_arcface_schedule.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith(KERNEL_TEST_FILES):
            item.add_marker(pytest.mark.kernels)


@pytest.fixture(scope="session")
def prepared_synthetic(tmp_path_factory):
    """8 fish x 2 sessions x 4 photos, prepared to 32x64 ROIs; returns the output folder."""
    root = tmp_path_factory.mktemp("synthetic")
    synthetic.render_dataset(root / "raw", ids=8, sessions=2, per_id=4, size=(480, 360), seed=11)
    summary = prepare(root / "raw", root / "prepared", PreprocessConfig(), TINY_ROI, progress=False)
    assert summary["ok"] >= 56
    return root / "prepared"


@pytest.fixture(scope="session")
def eager_run(prepared_synthetic, tmp_path_factory):
    """One epoch, then the same run resumed for a second: (folder, first history, second history)."""
    folder = tmp_path_factory.mktemp("eager")
    first = run(tiny_config(prepared_synthetic, epochs=1), folder)
    second = run(tiny_config(prepared_synthetic, epochs=2), folder)
    keras.mixed_precision.set_global_policy("float32")
    return folder, first, second


@pytest.fixture(scope="session")
def iom_run(prepared_synthetic, eager_run, tmp_path_factory):
    stage_one_folder = eager_run[0]
    folder = tmp_path_factory.mktemp("iom")
    history = train(stage_two_config(prepared_synthetic, stage_one_folder), folder)
    return folder, history
