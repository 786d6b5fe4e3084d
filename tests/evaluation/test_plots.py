"""The evaluation's plots, read back through matplotlib: tick labels apart, axes within what the pairs can
measure, the EER and thresholds drawn, legends off the curves."""

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.lines import Line2D
from scipy.stats import norm
from sklearn.metrics import roc_curve

from lateral.evaluation.plots import cmc_figure, det_figure, histogram_figure, roc_figure, save_plots

GENUINE, IMPOSTOR = 300, 4000


def sklearn_eer(genuine, impostor):
    """EER from scikit-learn's ROC: where FAR and FRR (1 - TPR) are closest, their mean."""
    far, tar, _ = roc_curve(np.r_[np.ones(len(genuine)), np.zeros(len(impostor))], np.r_[genuine, impostor])
    index = np.argmin(np.abs(far - (1 - tar)))
    return (far[index] + 1 - tar[index]) / 2


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    return {"hamming": (rng.normal(0.7, 0.1, GENUINE), rng.normal(0.5, 0.05, IMPOSTOR)),
            "cosine": (rng.normal(0.6, 0.2, GENUINE), rng.normal(0.1, 0.2, IMPOSTOR))}


@pytest.fixture
def results(scores):
    return {measure: {"eer": sklearn_eer(*pair), "eer_threshold": 0.55, "threshold_at_far_0.01": 0.6,
                      "tar_at_far_0.01": 0.4, "tar_at_far_0.001": 0.2,
                      "threshold_at_far_0.001": float("inf"), "cmc": list(np.linspace(0.6, 1.0, 10))}
            for measure, pair in scores.items()}


def boxes(figure, texts):
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    return [text.get_window_extent(renderer) for text in texts if text.get_text()]


def test_det_tick_labels_do_not_overlap_and_the_axes_stay_within_the_measured_points(scores):
    figure = det_figure(scores)
    axis = figure.axes[0]
    for labels in (axis.get_xticklabels(), axis.get_yticklabels()):
        shown = boxes(figure, labels)
        assert len(shown) >= 3
        assert not [pair for pair in itertools.combinations(shown, 2) if pair[0].overlaps(pair[1])]
    # The smallest rates the pairs can give, and the largest below 1, bound every axis (as normal deviates).
    assert norm.ppf(1 / IMPOSTOR) - 0.5 <= axis.get_xlim()[0] and axis.get_xlim()[1] <= norm.ppf(1 - 1 / IMPOSTOR)
    assert norm.ppf(1 / GENUINE) - 0.5 <= axis.get_ylim()[0] and axis.get_ylim()[1] <= norm.ppf(1 - 1 / GENUINE)
    plotted = np.concatenate([line.get_xdata() for line in axis.get_lines()])
    width = plotted.max() - plotted.min()
    assert axis.get_xlim()[0] >= plotted.min() - 0.1 * width and axis.get_xlim()[1] <= plotted.max() + 0.1 * width
    plt.close(figure)


def test_roc_starts_at_the_smallest_measurable_far_and_marks_each_eer(scores, results):
    figure = roc_figure(scores, results)
    axis = figure.axes[0]
    assert axis.get_xlim()[0] == pytest.approx(1 / IMPOSTOR)
    for measure, (genuine, impostor) in scores.items():
        eer = sklearn_eer(genuine, impostor)
        marks = [line for line in axis.get_lines() if "EER" in line.get_label() and measure in line.get_label()]
        assert len(marks) == 1 and f"{eer:.3f}" in marks[0].get_label()
        assert marks[0].get_xdata()[0] == pytest.approx(eer) and marks[0].get_ydata()[0] == pytest.approx(1 - eer)
        points = {(line.get_xdata()[0], line.get_ydata()[0]) for line in axis.get_lines()
                  if "TAR" in line.get_label() and measure in line.get_label()}
        assert points == {(1e-2, 0.4), (1e-3, 0.2)}  # both FARs are measurable with 4,000 impostor pairs
    plt.close(figure)


def test_histograms_draw_the_finite_thresholds_and_label_the_y_axis(scores, results):
    figure = histogram_figure(scores, results)
    for axis in figure.axes:
        vertical = sorted(line.get_xdata()[0] for line in axis.get_lines()
                          if isinstance(line, Line2D) and line.get_xdata()[0] == line.get_xdata()[1])
        assert vertical == [0.55, 0.6]  # EER and FAR 1e-2; FAR 1e-3's threshold is infinite (accept nothing)
        assert axis.get_ylabel()
    plt.close(figure)


@pytest.mark.parametrize("build", [lambda scores, results: cmc_figure(results), roc_figure])
def test_the_legend_covers_no_curve(build, scores, results):
    figure = build(scores, results)
    axis = figure.axes[0]
    figure.canvas.draw()
    legend = axis.get_legend().get_window_extent()
    for line in axis.get_lines():
        x, y = axis.transData.transform(np.column_stack([line.get_xdata(), line.get_ydata()])).T
        inside = (x >= legend.x0) & (x <= legend.x1) & (y >= legend.y0) & (y <= legend.y1)
        assert not inside.any(), line.get_label()
    plt.close(figure)


def test_open_set_png_is_drawn_only_when_some_gallery_size_has_figures(tmp_path, scores, results):
    """Open-set results that are all notes (too few held-out fish: no calibration) leave out open_set.png and
    raise nothing; one measured row draws it."""
    noted = {size: {"note": "no calibration scores"} for size in ("10", "100")}
    for measure in results:
        results[measure]["open_set"] = {"by_gallery_size": noted}
    save_plots(tmp_path, scores, results)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cmc.png", "det.png", "roc.png", "scores.png"]
    row = {}
    for key, value in (("fnir_at_fpir_0.01", 0.5), ("fnir_at_fpir_0.1", 0.3), ("realised_fpir_0.01", 0.01),
                       ("realised_fpir_0.1", 0.1)):
        row.update({key: value, f"{key}_95": [value / 2, value * 1.5]})
    results["hamming"]["open_set"] = {"by_gallery_size": {**noted, "4": row}}
    save_plots(tmp_path, scores, results)
    assert (tmp_path / "open_set.png").is_file()
