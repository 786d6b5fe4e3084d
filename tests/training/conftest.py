"""A tiny trained stage-one run shared by the stage-one and stage-two tests."""

import keras
import pytest

from tests.training.tiny import run, tiny_config


@pytest.fixture(scope="session")
def eager_run(prepared_synthetic, tmp_path_factory):
    """One epoch, then the same run resumed for a second: (folder, first history, second history)."""
    folder = tmp_path_factory.mktemp("eager")
    first = run(tiny_config(prepared_synthetic, epochs=1), folder)
    second = run(tiny_config(prepared_synthetic, epochs=2), folder)
    keras.mixed_precision.set_global_policy("float32")
    return folder, first, second


