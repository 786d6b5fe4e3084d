"""Shared fixtures: one small prepared synthetic dataset for the whole session."""

import pytest

from lateral import synthetic
from lateral.config import PreprocessConfig
from lateral.data.prepare import prepare

TINY_ROI = (32, 64)


@pytest.fixture(scope="session")
def prepared_synthetic(tmp_path_factory):
    """6 fish x 2 sessions x 3 photos, prepared to 32x64 ROIs; returns the output folder."""
    root = tmp_path_factory.mktemp("synthetic")
    synthetic.render_dataset(root / "raw", ids=6, sessions=2, per_id=3, size=(480, 360), seed=11)
    summary = prepare(root / "raw", root / "prepared", PreprocessConfig(), TINY_ROI, progress=False)
    assert summary["ok"] >= 30
    return root / "prepared"
