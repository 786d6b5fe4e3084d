"""test_iom.py's evaluation and lateral.embed on the tiny stage-two run."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lateral.data.records import load_roi_set
from lateral.evaluation.evaluate import evaluate_run
from lateral.evaluation.templates import compute_templates
from tests.evaluation import reference_figures as reference

REPO = Path(__file__).resolve().parents[2]


def test_report_has_every_figure_and_plot(prepared_synthetic, iom_run, tmp_path):
    run_folder = iom_run[0] / "checkpoints" / "tiny_iom"
    table, results = evaluate_run(run_folder, prepared_synthetic, tmp_path, bootstrap_rounds=20)
    assert set(results) == {"hamming", "cosine"}
    # Each figure recomputed from the run's templates with NumPy and scikit-learn.
    roi_set = load_roi_set(prepared_synthetic, "fish")
    templates = compute_templates(run_folder, roi_set)
    similarities = {"hamming": reference.hamming(templates["codes"]), "cosine": reference.cosine(templates["embeddings"])}
    for name, figures in results.items():
        expected = reference.figures(similarities[name], roi_set.fish_ids, roi_set.flanks)
        assert figures["eer"] == pytest.approx(expected["eer"], abs=1e-9), name
        assert figures["auc"] == pytest.approx(expected["auc"], abs=1e-9), name
        assert figures["rank1"] == pytest.approx(expected["rank1"], abs=1e-9), name
        assert figures["eer_95"][0] <= figures["eer"] <= figures["eer_95"][1]
        assert figures["rank1"] <= figures["rank5"] <= figures["rank10"]
    # Genuine pairs counted independently: same fish and same flank, every unordered pair.
    expected = sum(
        n * (n - 1) // 2
        for n in np.unique(np.char.add(roi_set.fish_ids.astype(str), roi_set.flanks.astype(str)), return_counts=True)[1]
    )
    assert results["hamming"]["genuine_pairs"] == expected
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["measures"]["cosine"]["auc"] == results["cosine"]["auc"]
    for name in ("report.md", "roc.png", "det.png", "scores.png", "cmc.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "| EER |" in table and "hamming" in table


def test_cross_session_protocol_drops_same_session_pairs(prepared_synthetic, iom_run, tmp_path):
    run_folder = iom_run[0] / "checkpoints" / "tiny_iom"
    _, everything = evaluate_run(run_folder, prepared_synthetic, tmp_path / "a", ["cosine"], bootstrap_rounds=5)
    _, cross = evaluate_run(run_folder, prepared_synthetic, tmp_path / "b", ["cosine"], cross_session=True,
                            bootstrap_rounds=5)
    roi_set = load_roi_set(prepared_synthetic, "fish")
    same_fish = roi_set.fish_ids[:, None] == roi_set.fish_ids[None, :]
    same_flank = roi_set.flanks[:, None] == roi_set.flanks[None, :]
    other_session = roi_set.sessions[:, None] != roi_set.sessions[None, :]
    assert cross["cosine"]["genuine_pairs"] == np.triu(same_fish & same_flank & other_session, 1).sum()
    assert cross["cosine"]["genuine_pairs"] < everything["cosine"]["genuine_pairs"]


def test_embed_writes_templates_for_other_tools(prepared_synthetic, iom_run, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("sub_name: tiny_iom\n")
    output = tmp_path / "templates.npz"
    result = subprocess.run(
        [sys.executable, "-m", "lateral.embed", "--cfg_path", str(config), "--input", str(prepared_synthetic),
         "--output", str(output), "--ckpt", str(iom_run[0] / "checkpoints" / "tiny_iom")],
        capture_output=True, text=True, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-1500:]
    data = np.load(output)
    count = len(load_roi_set(prepared_synthetic, "fish"))
    assert data["embeddings"].shape == (count, 16) and data["codes"].shape == (count, 16)
    assert data["codes"].dtype == np.int32 and len(data["paths"]) == len(data["labels"]) == count


def test_closed_set_classification_with_the_stage_one_head(prepared_synthetic, eager_run, tmp_path):
    """The report's accuracy recomputed from its confusion matrix; every image of a class the
    run was trained on is classified once, the held-out fish's images are skipped."""
    from lateral.data.records import load_roi_set as load
    from lateral.evaluation.classification import classify

    roi_set = load(prepared_synthetic, "fish")
    result = classify(eager_run[0] / "checkpoints" / "tiny", roi_set, tmp_path)
    matrix = np.array(result["confusion_matrix"])
    trained = json.loads((eager_run[0] / "checkpoints" / "tiny" / "label_map.json").read_text())
    known = sum(f"{fish}/{flank}" in trained for fish, flank in zip(roi_set.fish_ids, roi_set.flanks))
    assert matrix.sum() == known and result["skipped_unknown"] == len(roi_set) - known > 0
    assert result["report"]["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert (tmp_path / "classification.md").read_text().startswith("| class |")
    assert (tmp_path / "confusion.png").stat().st_size > 0
