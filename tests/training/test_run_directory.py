"""The run folder's model writes: whole or not at all, the previous version kept until the new one is in place."""

import keras
import numpy as np
import pytest

from lateral.training.run_directory import export_atomically, save_model_atomically


def test_a_saved_model_replaces_the_old_one_keeping_its_mode(tmp_path):
    path = tmp_path / "embedding.keras"
    path.write_bytes(b"the previous model")
    path.chmod(0o640)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones")])
    save_model_atomically(model, path)
    assert path.stat().st_mode & 0o777 == 0o640
    assert keras.saving.load_model(path).predict(np.ones((1, 2)), verbose=0)[0, 0] == pytest.approx(2.0)
    assert [p.name for p in tmp_path.iterdir()] == ["embedding.keras"]


class FailingExport:
    def export(self, path, verbose=False):
        raise OSError(28, "No space left on device")


def test_an_export_killed_between_its_renames_is_put_back_by_the_next_export_even_a_failed_one(tmp_path):
    path = tmp_path / "iom_codes_savedmodel"
    previous = tmp_path / "iom_codes_savedmodel.previous"  # what a kill between the two renames leaves
    previous.mkdir()
    (previous / "saved_model.pb").write_bytes(b"the previous export")
    with pytest.raises(OSError):
        export_atomically(FailingExport(), path)
    assert (path / "saved_model.pb").read_bytes() == b"the previous export"
    assert not previous.exists()
