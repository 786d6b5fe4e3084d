"""Writing the evaluation: a Markdown table like the original project's, metrics.json and plots."""

import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import norm  # noqa: E402

from lateral.evaluation import metrics  # noqa: E402

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
    _plot_roc_and_det(out_dir, scores)
    _plot_histograms(out_dir, scores)
    _plot_cmc(out_dir, results)
    if any("open_set" in figures for figures in results.values()):
        plot_open_set(out_dir, results)
    return table


def _cell(figures, key):
    value, interval = figures.get(key), figures.get(f"{key}_95")
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")


def open_set_markdown(results):
    """Per measure: FNIR at FPIR 0.01 and 0.1 against the gallery size N (NIST FRVT), and the realised FPIR of
    the threshold lateral.fpir sets for N from the enrolled fish's impostor scores."""
    sections = []
    for measure, figures in results.items():
        if "open_set" not in figures:
            continue
        open_set = figures["open_set"]
        lines = [f"### {measure}", "",
                 f"{open_set['enrolled_fish']} enrolled fish ({open_set['gallery_templates']} templates), "
                 f"{open_set['never_enrolled_fish']} never enrolled, {open_set['distractor_fish']} distractor fish; "
                 f"{open_set['calibration_scores']} calibration scores; split seed {open_set['seed']}.", "",
                 "| N | FNIR @ FPIR 0.01 | FNIR @ FPIR 0.1 | formula threshold 0.01 | realised FPIR (0.01) "
                 "| formula threshold 0.1 | realised FPIR (0.1) | searches per gallery (mated, non-mated) |",
                 "|---|---|---|---|---|---|---|---|"]
        for size, row in open_set["by_gallery_size"].items():
            if "note" in row:
                lines.append(f"| {size} | {row['note']} | | | | | | |")
                continue
            thresholds = [f"{row[f'formula_threshold_{t}']:.4f} ({row[f'formula_how_{t}']})" for t in ("0.01", "0.1")]
            lines.append(f"| {size} | {_cell(row, 'fnir_at_fpir_0.01')} | {_cell(row, 'fnir_at_fpir_0.1')} | "
                         f"{thresholds[0]} | {_cell(row, 'realised_fpir_0.01')} | {thresholds[1]} | "
                         f"{_cell(row, 'realised_fpir_0.1')} | {row['mated_searches']}, {row['non_mated_searches']} |")
        sections.append("\n".join(lines))
    return "## Open-set identification (NIST FRVT 1:N, rank 1)\n\n" + "\n\n".join(sections)


def plot_open_set(out_dir, results):
    """open_set.png: FNIR at FPIR 0.01 and 0.1, and the formula threshold's realised FPIR, against N."""
    figure, (fnir_axis, fpir_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for measure, figures in results.items():
        rows = {int(size): row for size, row in figures.get("open_set", {}).get("by_gallery_size", {}).items()
                if "note" not in row}
        sizes = sorted(rows)
        for target, style in (("0.01", "o-"), ("0.1", "s--")):
            for axis, key in ((fnir_axis, f"fnir_at_fpir_{target}"), (fpir_axis, f"realised_fpir_{target}")):
                floor = 1e-4 if axis is fpir_axis else 0.0  # log axis: a rate of 0 is drawn at 1e-4
                values = np.maximum([rows[size][key] for size in sizes], floor)
                low = values - np.maximum([rows[size][f"{key}_95"][0] for size in sizes], floor)
                high = np.maximum([rows[size][f"{key}_95"][1] for size in sizes], floor) - values
                axis.errorbar(sizes, values, yerr=[low, high], fmt=style, capsize=3,
                              label=f"{measure}, FPIR {target}")
    for target in (0.01, 0.1):
        fpir_axis.axhline(target, color="grey", linewidth=0.8)
        fpir_axis.axhspan(target / 2, target * 2, color="grey", alpha=0.1)
    fnir_axis.set(xscale="log", xlabel="gallery size N (fish)", ylabel="FNIR (miss rate)", ylim=(0, 1.02),
                  title="FNIR at fixed FPIR")
    fpir_axis.set(xscale="log", yscale="log", ylim=(1e-4, 1), xlabel="gallery size N (fish)", ylabel="realised FPIR",
                  title="threshold set for N: realised FPIR (band: factor 2)")
    fnir_axis.legend(fontsize=7)
    fpir_axis.legend(fontsize=7)
    figure.savefig(out_dir / "open_set.png", dpi=100, bbox_inches="tight")
    plt.close(figure)


def _plot_roc_and_det(out_dir, scores):
    roc_axes = plt.figure(figsize=(5, 4)).gca()
    det_figure = plt.figure(figsize=(5, 4))
    det_axes = det_figure.gca()
    for measure, (genuine, impostor) in scores.items():
        far, tar, _ = metrics.roc_points(genuine, impostor)
        roc_axes.plot(far, tar, label=measure)
        _, far_steps, frr_steps = metrics.error_rates(genuine, impostor)
        clip = lambda rate: norm.ppf(np.clip(rate, 1e-4, 1 - 1e-4))  # noqa: E731
        det_axes.plot(clip(far_steps), clip(frr_steps), label=measure)
    roc_axes.set(xscale="log", xlim=(1e-4, 1), xlabel="false accept rate", ylabel="true accept rate", title="ROC")
    roc_axes.legend()
    roc_axes.figure.savefig(out_dir / "roc.png", dpi=100, bbox_inches="tight")
    ticks = [0.001, 0.01, 0.05, 0.2, 0.5, 0.8]
    det_axes.set_xticks(norm.ppf(ticks), [f"{t:g}" for t in ticks])
    det_axes.set_yticks(norm.ppf(ticks), [f"{t:g}" for t in ticks])
    det_axes.set(xlabel="false accept rate", ylabel="false reject rate", title="DET")
    det_axes.legend()
    det_figure.savefig(out_dir / "det.png", dpi=100, bbox_inches="tight")
    plt.close("all")


def _plot_histograms(out_dir, scores):
    figure, axes = plt.subplots(1, len(scores), figsize=(4.5 * len(scores), 3.5), squeeze=False)
    for axis, (measure, (genuine, impostor)) in zip(axes[0], scores.items()):
        bins = np.linspace(min(genuine.min(), impostor.min()), max(genuine.max(), impostor.max()), 40)
        axis.hist(impostor, bins, density=True, alpha=0.6, label="impostor (different fish)")
        axis.hist(genuine, bins, density=True, alpha=0.6, label="genuine (same fish)")
        axis.set(title=measure, xlabel="score")
        axis.legend(fontsize=7)
    figure.savefig(out_dir / "scores.png", dpi=100, bbox_inches="tight")
    plt.close(figure)


def _plot_cmc(out_dir, results):
    axis = plt.figure(figsize=(5, 4)).gca()
    for measure, figures in results.items():
        axis.plot(range(1, len(figures["cmc"]) + 1), figures["cmc"], marker="o", label=measure)
    axis.set(xlabel="rank", ylabel="identification rate", title="CMC", ylim=(0, 1.02))
    axis.legend()
    axis.figure.savefig(out_dir / "cmc.png", dpi=100, bbox_inches="tight")
    plt.close("all")
