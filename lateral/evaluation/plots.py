"""The evaluation's plots: ROC, DET, score histograms and CMC, each kept to what the pairs can measure.

With n impostor pairs the smallest FAR above zero is 1/n (n genuine pairs: the smallest FRR is 1/n), so
the ROC's axis starts there and the DET's axes end where its points do. The DET's axes are normal
deviates (Martin et al. 1997, "The DET curve in assessment of detection task performance"); a rate of
0 or 1 has none and is left out. Tick labels that would overlap are dropped; legends sit outside the axes.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import norm  # noqa: E402

from lateral.evaluation import metrics  # noqa: E402

DET_TICKS = (1e-5, 1e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
OPERATING_POINTS = ((1e-2, "s"), (1e-3, "^"))  # FAR targets marked on the ROC (the report's TAR@FAR rows)
THRESHOLD_STYLES = (("eer_threshold", "EER", ":"), ("threshold_at_far_0.01", "FAR 1e-2", "--"),
                    ("threshold_at_far_0.001", "FAR 1e-3", "-."))


def save_plots(out_dir, scores, results):
    """roc.png, det.png, scores.png and cmc.png in ``out_dir``, and open_set.png when ``results`` hold open-set
    figures for at least one gallery size (not only notes saying why there are none)."""
    figures = {"roc": lambda: roc_figure(scores, results), "det": lambda: det_figure(scores),
               "scores": lambda: histogram_figure(scores, results), "cmc": lambda: cmc_figure(results)}
    if any("note" not in row for measure_figures in results.values()
           for row in measure_figures.get("open_set", {}).get("by_gallery_size", {}).values()):
        figures["open_set"] = lambda: open_set_figure(results)
    for name, make in figures.items():
        figure = make()
        figure.savefig(out_dir / f"{name}.png", dpi=100, bbox_inches="tight")
        plt.close(figure)


def roc_figure(scores, results):
    """TAR against FAR (log) from the smallest measurable FAR, each measure's EER and TAR at FAR 1e-2 and
    1e-3 (where the pairs can measure them) marked."""
    figure, axis = plt.subplots(figsize=(5, 4))
    lowest = min(1.0 / len(impostor) for _, impostor in scores.values())
    for measure, (genuine, impostor) in scores.items():
        far, tar, _ = metrics.roc_points(genuine, impostor)
        (line,) = axis.plot(far, tar, label=measure)
        eer = results[measure]["eer"]
        axis.plot([max(eer, lowest)], [1.0 - eer], "o", color=line.get_color(), label=f"{measure}: EER {eer:.3f}")
        for target, marker in OPERATING_POINTS:  # where the gallery's --far thresholds operate
            tar = results[measure].get(f"tar_at_far_{target:g}")
            if tar is not None and target >= lowest:
                axis.plot([target], [tar], marker, color=line.get_color(),
                          label=f"{measure}: TAR {tar:.3f} at FAR {target:g}")
    axis.set(xscale="log", xlim=(lowest, 1.0), ylim=(0.0, 1.02), xlabel="false accept rate (FAR)",
             ylabel="true accept rate (TAR)", title="ROC")
    _legend_outside(axis)
    return figure


def det_figure(scores):
    """FRR against FAR on normal-deviate axes, limited to the measured points."""
    figure, axis = plt.subplots(figsize=(5, 4))
    xs, ys = [], []
    for measure, (genuine, impostor) in scores.items():
        _, far, frr = metrics.error_rates(genuine, impostor)
        measurable = (far > 0) & (far < 1) & (frr > 0) & (frr < 1)
        xs.append(norm.ppf(far[measurable]))
        ys.append(norm.ppf(frr[measurable]))
        axis.plot(xs[-1], ys[-1], label=measure)
    lowest = min(min(1.0 / len(genuine), 1.0 / len(impostor)) for genuine, impostor in scores.values())
    x_limits, y_limits = (_span(np.concatenate(values), lowest) for values in (xs, ys))
    axis.set(xlim=x_limits, ylim=y_limits, xlabel="false accept rate (FAR)", ylabel="false reject rate (FRR)",
             title="DET")
    for which, limits in (("x", x_limits), ("y", y_limits)):
        ticks = [tick for tick in DET_TICKS if limits[0] <= norm.ppf(tick) <= limits[1]]
        _set_ticks_without_overlap(figure, axis, which, ticks)
    _legend_outside(axis)
    return figure


def histogram_figure(scores, results):
    """Genuine and impostor score densities per measure, with the EER and fixed-FAR thresholds as lines."""
    figure, axes = plt.subplots(1, len(scores), figsize=(4.5 * len(scores), 3.5), squeeze=False)
    for axis, (measure, (genuine, impostor)) in zip(axes[0], scores.items()):
        bins = np.linspace(min(genuine.min(), impostor.min()), max(genuine.max(), impostor.max()), 40)
        axis.hist(impostor, bins, density=True, alpha=0.6, label="impostor (different fish)")
        axis.hist(genuine, bins, density=True, alpha=0.6, label="genuine (same fish)")
        for key, name, style in THRESHOLD_STYLES:
            threshold = results[measure].get(key)
            if threshold is not None and np.isfinite(threshold):
                axis.axvline(threshold, color="black", linestyle=style, linewidth=1,
                             label=f"threshold at {name}: {threshold:.3f}")
        axis.set(title=measure, xlabel="score", ylabel="density")
        axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    return figure


def cmc_figure(results):
    """The identification rate at each rank."""
    figure, axis = plt.subplots(figsize=(5, 4))
    for measure, figures in results.items():
        axis.plot(range(1, len(figures["cmc"]) + 1), figures["cmc"], marker="o", label=measure)
    axis.set(xlabel="rank", ylabel="identification rate", title="CMC", ylim=(0, 1.02))
    _legend_outside(axis)
    return figure


def _span(values, lowest):
    """Axis limits around ``values`` with a 5% margin (half a unit when they are one point); without values
    (every rate 0 or 1: the scores separate perfectly) the measurable range from ``lowest`` to 1 - ``lowest``."""
    if values.size == 0:
        return float(norm.ppf(lowest)), float(norm.ppf(1.0 - lowest))
    low, high = float(np.min(values)), float(np.max(values))
    margin = 0.05 * (high - low) or 0.5
    return low - margin, high + margin


def _set_ticks_without_overlap(figure, axis, which, ticks):
    """Ticks at the rates ``ticks`` (normal-deviate positions), dropping any whose label would touch the last kept."""
    setter = axis.set_xticks if which == "x" else axis.set_yticks
    setter(norm.ppf(ticks), [f"{tick:g}" for tick in ticks])
    renderer = figure.canvas.get_renderer()
    labels = axis.get_xticklabels() if which == "x" else axis.get_yticklabels()
    kept, last = [], None
    for tick, label in zip(ticks, labels):
        box = label.get_window_extent(renderer).padded(2)
        if last is None or not box.overlaps(last):
            kept.append(tick)
            last = box
    setter(norm.ppf(kept), [f"{tick:g}" for tick in kept])


def _legend_outside(axis):
    axis.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8)


def open_set_figure(results):
    """FNIR at fixed FPIR, and the realised FPIR of the threshold set for N, against the gallery size N."""
    figure, (fnir_axis, fpir_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for measure, figures in results.items():
        rows = {int(size): row for size, row in figures.get("open_set", {}).get("by_gallery_size", {}).items()
                if "note" not in row}
        sizes = sorted(rows)
        for target, style in (("0.01", "o-"), ("0.1", "s--")):
            for axis, key in ((fnir_axis, f"fnir_at_fpir_{target}"), (fpir_axis, f"realised_fpir_{target}")):
                floor = 1e-4 if axis is fpir_axis else 0.0  # log axis: a rate of 0 is drawn at 1e-4
                values = np.maximum([rows[size][key] for size in sizes], floor)
                # A percentile bootstrap interval may leave out its point estimate: no bar below zero length.
                low = np.maximum(values - np.maximum([rows[size][f"{key}_95"][0] for size in sizes], floor), 0)
                high = np.maximum(np.maximum([rows[size][f"{key}_95"][1] for size in sizes], floor) - values, 0)
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
    return figure
