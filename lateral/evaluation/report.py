"""Writing the evaluation: a Markdown table like the original project's, metrics.json and plots."""

import json
import math

import numpy as np

from lateral.evaluation.plots import save_plots

TABLE_ROWS = (("Accuracy", "accuracy"), ("EER", "eer"), ("AUC", "auc"), ("Threshold", "eer_threshold"),
              ("TAR@FAR=1e-2", "tar_at_far_0.01"), ("TAR@FAR=1e-3", "tar_at_far_0.001"), ("d'", "d_prime"),
              ("Rank-1", "rank1"), ("Rank-5", "rank5"), ("mAP", "map"))


def json_safe(value):
    """Infinite thresholds ("accept nothing") become null; NumPy numbers plain numbers."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def markdown_table(results):
    """One column per measure; EER and AUC with their bootstrap 95% intervals."""
    measures = list(results)
    lines = ["| | " + " | ".join(measures) + " |", "|---|" + "---|" * len(measures)]
    for title, key in TABLE_ROWS:
        cells = []
        for measure in measures:
            figures = results[measure]
            cell = f"{figures[key]:.4f}" if figures.get(key) is not None and math.isfinite(figures[key]) else "-"
            interval = figures.get({"eer": "eer_95", "auc": "auc_95"}.get(key, ""))
            if interval:
                cell += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
            cells.append(cell)
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(out_dir, header, results, scores, sections=""):
    """``scores[measure] = (genuine scores, impostor scores)``; writes report.md (the table, then
    ``sections`` of Markdown), metrics.json and PNGs; returns the Markdown after the header."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table = markdown_table(results) + (f"\n\n{sections}" if sections else "")
    (out_dir / "report.md").write_text(f"{header}\n\n{table}\n")
    (out_dir / "metrics.json").write_text(json.dumps(json_safe({"protocol": header, "measures": results}), indent=2) + "\n")
    save_plots(out_dir, scores, results)
    return table

