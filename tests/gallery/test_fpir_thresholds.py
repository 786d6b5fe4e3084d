"""Decisions at a target FPIR: identify with no threshold flag sizes its threshold to the fish searched."""

import json
import shutil

import numpy as np
import pytest

from lateral.fpir import write_calibration
from lateral.gallery.__main__ import main
from lateral.gallery.fpir_thresholds import MIN_CALIBRATION_FISH, calibration_path, fpir_thresholds

# Calibration impostor scores spread evenly over (0, 1): F(t) = t, so the threshold at FPIR f against N fish is
# (1 - f)^(1/N) (to within 1/20,000).
UNIFORM = (np.arange(20_000) + 0.5) / 20_000


def expected_threshold(fpir, n_fish):
    return (1 - fpir) ** (1 / n_fish)


@pytest.fixture
def model_copy(iom_run, tmp_path):
    """The tiny stage-two run, copied so its evaluation/ folder can hold a hand-made calibration file."""
    folder = tmp_path / "model"
    shutil.copytree(iom_run[0] / "checkpoints" / "tiny_iom", folder)
    (folder / "evaluation").mkdir(exist_ok=True)
    write_calibration(calibration_path(folder), {"hamming": UNIFORM}, {"test": "uniform"})
    return folder


def identify(gallery, photos, tmp_path, *flags):
    out = tmp_path / "ids.json"
    assert main(["identify", "--gallery", str(gallery), "--input", *map(str, photos), "--json", str(out),
                 *flags]) == 0
    return json.loads(out.read_text())["results"]


def expected_decision(result):
    """match at or above the accept threshold, new below the review threshold, review between; a tie between the
    two best fish is never a match (review)."""
    scores = [candidate["score"] for candidate in result["candidates"]]
    if scores[0] >= result["accept_threshold"]:
        return "review" if len(scores) > 1 and scores[1] == scores[0] else "match"
    return "new" if scores[0] < result["review_threshold"] else "review"


@pytest.mark.kernels
def test_identify_without_a_threshold_flag_decides_at_fpir_001_for_the_fish_searched(prepared_synthetic,
                                                                                      model_copy, tmp_path):
    raw = prepared_synthetic.parent / "raw"
    gallery = tmp_path / "pond.lgal"
    queries = sorted((raw / "session_2" / "fish_000").glob("*.jpg")) + sorted((raw / "session_1" / "fish_001").glob(
        "*.jpg"))
    thresholds_at = {}
    for enrolled in (["fish_001", "fish_002"], ["fish_003", "fish_004", "fish_005", "fish_006"]):
        for fish in enrolled:
            assert main(["enroll", "--gallery", str(gallery), "--model", str(model_copy), "--fish", fish,
                         "--input", str(raw / "session_1" / fish)]) == 0
        for result in identify(gallery, queries, tmp_path):
            n_fish = result["fish_searched"]
            assert 1 <= n_fish <= 6
            assert result["accept_threshold"] == pytest.approx(expected_threshold(0.01, n_fish), abs=1e-4)
            assert result["review_threshold"] == pytest.approx(expected_threshold(0.1, n_fish), abs=1e-4)
            assert result["decision"] == expected_decision(result)
            thresholds_at.setdefault(n_fish, result["accept_threshold"])
    enrolled_photos = identify(gallery, sorted((raw / "session_1" / "fish_001").glob("*.jpg")), tmp_path)
    for result in enrolled_photos:  # the same photo scores 1: a match, unless another fish ties at 1
        assert result["candidates"][0]["score"] == 1.0 and result["decision"] == expected_decision(result) in (
            "match", "review")
    sizes = sorted(thresholds_at)
    assert len(sizes) >= 2 and max(sizes) > 2
    assert all(thresholds_at[small] < thresholds_at[large] for small, large in zip(sizes, sizes[1:]))
    # An explicit --fpir 0.1 gives its own, lower threshold; --threshold still works as before.
    loose = identify(gallery, queries[:1], tmp_path, "--fpir", "0.1")[0]
    assert loose["accept_threshold"] == pytest.approx(expected_threshold(0.1, loose["fish_searched"]), abs=1e-4)
    assert identify(gallery, queries[:1], tmp_path, "--threshold", "0.5")[0]["accept_threshold"] == 0.5


def test_missing_calibration_and_two_threshold_flags_are_one_line_errors(prepared_synthetic, model_copy, tmp_path,
                                                                          capsys):
    raw = prepared_synthetic.parent / "raw"
    gallery = tmp_path / "pond.lgal"
    assert main(["enroll", "--gallery", str(gallery), "--model", str(model_copy), "--fish", "fish_001",
                 "--input", str(raw / "session_1" / "fish_001")]) == 0
    photo = str(next((raw / "session_2" / "fish_001").glob("*.jpg")))
    capsys.readouterr()
    assert main(["identify", "--gallery", str(gallery), "--input", photo, "--fpir", "0.01", "--threshold",
                 "0.5"]) == 2
    assert capsys.readouterr().err == "error: give only one of --fpir, --threshold and --far (got --fpir and " \
                                      "--threshold)\n"
    calibration_path(model_copy).unlink()
    assert main(["identify", "--gallery", str(gallery), "--input", photo]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: no open-set calibration at {calibration_path(model_copy)}") and err.count("\n") == 1


def test_fpir_thresholds_check_their_rates(tmp_path):
    path = tmp_path / "c.npz"
    write_calibration(path, {"hamming": UNIFORM}, {})
    with pytest.raises(Exception, match="--review_fpir 0.005 must not be below --fpir 0.01"):
        fpir_thresholds(path, "hamming", 0.01, 0.005)
    with pytest.raises(Exception, match="--fpir 1.5 must be between 0 and 1"):
        fpir_thresholds(path, "hamming", 1.5)
    with pytest.raises(Exception, match="holds no cosine scores"):
        fpir_thresholds(path, "cosine", 0.01)


@pytest.mark.parametrize("fish, cautioned", [(4, True), (9, True), (10, False), (60, False), (None, False)])
def test_thresholds_from_a_calibration_of_few_fish_carry_a_caution(tmp_path, fish, cautioned):
    path = tmp_path / "calibration.npz"
    write_calibration(path, {"cosine": UNIFORM}, {} if fish is None else {"fish": fish})
    thresholds = fpir_thresholds(path, "cosine")
    assert ("CAUTION: calibrated on only" in thresholds.source) == cautioned
    assert ("CAUTION" in thresholds.for_fish(5).source) == cautioned
    # A gallery of at least MIN_CALIBRATION_FISH fish is told it can calibrate the thresholds itself.
    assert ("lateral gallery recalibrate" in thresholds.for_fish(MIN_CALIBRATION_FISH).source) == cautioned
    assert "lateral gallery recalibrate" not in thresholds.for_fish(MIN_CALIBRATION_FISH - 1).source
