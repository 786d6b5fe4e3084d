"""Test-time options of the evaluation: camera normalisation, per-fish rank-1, session subsets,
re-ranking, flip TTA, wired through evaluate_run on the tiny stage-two run."""

import json

import numpy as np
import pytest

from lateral.data.records import DatasetError, load_roi_set
from lateral.evaluation.camera_norm import camera_normalise
from lateral.evaluation.evaluate import EvaluationOptions, evaluate_run, keep_sessions
from lateral.evaluation.per_fish import per_fish_rank1
from lateral.evaluation.templates import compute_templates
from tests.evaluation import reference_figures as reference


def test_camera_normalise_by_hand():
    """Camera X: unit vectors (1, 0) and (0, 1), mean (0.5, 0.5): centred (0.5, -0.5), (-0.5, 0.5),
    normalised (1, -1)/sqrt 2 and (-1, 1)/sqrt 2. Camera Y: (3, 4) and (6, 8) are both (0.6, 0.8)
    once unit, so centred to 0 (left at 0, not divided by 0)."""
    embeddings = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0], [6.0, 8.0]])
    got = camera_normalise(embeddings, ["X", "X", "Y", "Y"])
    half = 1 / np.sqrt(2)
    np.testing.assert_allclose(got, [[half, -half], [-half, half], [0, 0], [0, 0]], atol=1e-12)


def test_per_fish_rank1_by_hand():
    """Five photos: A1 A2 B1 B2 C1. A1's best allowed match is A2 (hit); A2's is B1 (miss, B);
    B1's is A1 (miss, A); B2's is B1 (hit); C1 has no other photo of C: skipped."""
    fish = np.array(["A", "A", "B", "B", "C"])
    similarity = np.array([
        [1.0, 0.9, 0.5, 0.1, 0.0],
        [0.9, 1.0, 0.95, 0.1, 0.0],
        [0.8, 0.5, 1.0, 0.7, 0.0],
        [0.1, 0.1, 0.6, 1.0, 0.3],
        [0.0, 0.0, 0.0, 0.0, 1.0],
    ])
    table = per_fish_rank1(similarity, fish, np.ones((5, 5), bool))
    assert set(table) == {"A", "B"}
    assert tuple(table["A"]) == (0.5, "B", 1, 2) and tuple(table["B"]) == (0.5, "A", 1, 2)


def test_unknown_session_is_named(prepared_synthetic):
    roi_set = load_roi_set(prepared_synthetic, "fish")
    with pytest.raises(DatasetError, match="'C9'"):
        keep_sessions(roi_set, ["C9"], "the set")
    first = sorted(set(roi_set.sessions))[0]
    assert set(keep_sessions(roi_set, [first], "the set").sessions) == {first}


def test_options_through_evaluate_run(prepared_synthetic, iom_run, tmp_path):
    run_folder = iom_run[0] / "checkpoints" / "tiny_iom"

    def evaluate(name, **options):
        return evaluate_run(run_folder, prepared_synthetic, tmp_path / name, bootstrap_rounds=2, **options)[1]

    plain = evaluate("plain")
    # lambda 1 keeps the original distance: the same ranking, the same identification figures.
    identity = evaluate("lambda1", options=EvaluationOptions(rerank=True, rerank_lambda=1.0))
    for measure in plain:
        assert identity[measure]["rank1"] == plain[measure]["rank1"]
        assert identity[measure]["map"] == pytest.approx(plain[measure]["map"])
    sessions = tuple(sorted(set(load_roi_set(prepared_synthetic, "fish").sessions)))
    table, everything = evaluate_run(
        run_folder, prepared_synthetic, tmp_path / "all", bootstrap_rounds=2, sessions=sessions,
        options=EvaluationOptions(flip_tta=True, camera_norm=True, rerank=True, rerank_k1=5, rerank_k2=2))
    assert f"(sessions {', '.join(sessions)})" in table
    # Verification stays on the plain scores of the flipped-and-averaged, camera-normalised templates,
    # recomputed here: each row unit length, its session's mean removed, unit length again.
    roi_set = load_roi_set(prepared_synthetic, "fish")
    templates = compute_templates(run_folder, roi_set, flip_tta=True)
    unit = templates["embeddings"] / np.linalg.norm(templates["embeddings"], axis=1, keepdims=True)
    for session in np.unique(roi_set.sessions):
        unit[roi_set.sessions == session] -= unit[roi_set.sessions == session].mean(axis=0)
    similarities = {"cosine": reference.cosine(unit), "hamming": reference.hamming(templates["codes"])}
    for measure, figures in everything.items():
        expected = reference.figures(similarities[measure], roi_set.fish_ids, roi_set.flanks)
        assert figures["eer"] == pytest.approx(expected["eer"], abs=1e-9), measure
        assert figures["auc"] == pytest.approx(expected["auc"], abs=1e-9), measure
        assert figures["rank1"] <= figures["rank5"]
        per_fish = figures["per_fish"]
        queries = sum(row["queries"] for row in per_fish.values())
        assert queries == figures["queries"]
        assert sum(row["rank1"] * row["queries"] for row in per_fish.values()) == pytest.approx(
            figures["rank1"] * queries)
    report = (tmp_path / "all" / "report.md").read_text()
    assert "## Per fish (rank-1)" in report and "re-ranking (k1 5, k2 2" in report
    assert json.loads((tmp_path / "all" / "metrics.json").read_text())["measures"]["cosine"]["per_fish"]
