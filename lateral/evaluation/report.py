"""Writing the evaluation: a Markdown table like the original project's, metrics.json and plots."""

import json
import math

import numpy as np

from lateral.atomic_write import write_atomically
from lateral.evaluation.open_set import pooled_verdict, row_verdict
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
    write_atomically(out_dir / "report.md", f"{header}\n\n{table}\n")
    write_atomically(out_dir / "metrics.json",
                     json.dumps(json_safe({"protocol": header, "measures": results}), indent=2) + "\n")
    save_plots(out_dir, scores, results)
    return table


def _cell(figures, key):
    value, interval = figures.get(key), figures.get(f"{key}_95")
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")


def _realised_cell(row, target):
    """A split's realised FPIR at ``target`` with its 95% interval and verdict against the factor-of-2 band."""
    (low, high), verdict = row_verdict(row, target)
    return f"{row[f'realised_fpir_{target}']:.3f} [{low:.3f}, {high:.3f}], {verdict}"


def _pooled_cell(entry, target):
    (low, high), verdict = pooled_verdict(entry, target)
    return (f"{entry['pooled']:.3f} [{low:.3f}, {high:.3f}], {verdict} "
            f"(splits {min(entry['per_split']):.3f} to {max(entry['per_split']):.3f})")


def _pooled_lines(pooled, leaving_one_out=False):
    splits = len(next(iter(next(iter(pooled.values())).values()))["per_split"]) if pooled else 0
    if leaving_one_out:
        heading = (f"Leaving one fish out: each of the {splits} fish in turn never enrolled, every other one enrolled "
                   "and calibrating (the nearest to the gallery's own calibration, which uses every held-out fish); "
                   "the realised FPIR pooled over the fish, its 95% interval (the fish resampled, or the exact "
                   "binomial one where wider) and verdict against the factor-of-2 band, and its range over the fish:")
    else:
        heading = (f"Few held-out fish: one split is one draw. The formula threshold's realised FPIR pooled over "
                   f"{splits} seeded splits (the fish enrolled and never enrolled drawn again each time; the "
                   f"splits' false positives over their non-mated searches), its 95% interval (the splits "
                   f"resampled, or the exact binomial one where wider) and verdict against the factor-of-2 band, and "
                   f"its range over the splits:")
    lines = ["", heading, "",
             "| N | realised FPIR (0.01), pooled [95%] | realised FPIR (0.1), pooled [95%] | non-mated searches |",
             "|---|---|---|---|"]
    for size, by_target in pooled.items():
        cells = [_pooled_cell(entry, target) for target, entry in by_target.items()]
        searches = next(iter(by_target.values()))["non_mated_searches"]
        lines.append(f"| {size} | {' | '.join(cells)} | {searches} |")
    return lines


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
                         f"{thresholds[0]} | {_realised_cell(row, '0.01')} | {thresholds[1]} | "
                         f"{_realised_cell(row, '0.1')} | {row['mated_searches']}, {row['non_mated_searches']} |")
        if open_set.get("pooled_over_splits"):  # empty when no split had both kinds of search
            lines += _pooled_lines(open_set["pooled_over_splits"])
        if open_set.get("pooled_leaving_one_out"):
            lines += _pooled_lines(open_set["pooled_leaving_one_out"], leaving_one_out=True)
        sections.append("\n".join(lines))
    return "## Open-set identification (NIST FRVT 1:N, rank 1)\n\n" + "\n\n".join(sections)
