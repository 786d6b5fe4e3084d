"""Comparing two evaluations of the same queries: the fish-resampled bootstrap and the paired rank-1 differences
behind `bench/compare_reports.py`."""

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from lateral.evaluation.per_fish import fish_bootstrap_interval, paired_rank1_differences

BENCH = Path(__file__).resolve().parents[2] / "bench" / "compare_reports.py"


def test_the_fish_bootstrap_redraws_whole_fish():
    """Against a slow loop over the same draws: each round draws fish with replacement and pools the drawn fish's
    queries (a fish drawn twice counts twice); the interval is the 2.5th and 97.5th percentiles of the means."""
    values = np.array([0.9, 0.0, 0.3, 0.7, 0.1, 0.2, 0.5, 0.6, 0.8, 0.4, 0.35, 0.05])
    query_fish = np.array(["b", "a", "b", "c", "a", "a", "c", "d", "b", "e", "f", "f"])
    rounds, seed = 300, 4
    rng = np.random.default_rng(seed)
    fish = np.unique(query_fish)
    means = []
    for _ in range(rounds):
        drawn = fish[rng.integers(0, fish.size, fish.size)]
        means.append(np.mean(np.concatenate([values[query_fish == one] for one in drawn])))
    expected = np.percentile(means, [2.5, 97.5])
    np.testing.assert_allclose(fish_bootstrap_interval(values, query_fish, rounds, seed), expected, rtol=1e-12)


def test_paired_differences_from_per_fish_tables_by_hand():
    """Fish A: 4 queries, 2 hits then 3 (+1); fish B: 2 queries, 2 hits then 1 (-1); fish C: 3 queries, 1 hit in
    both. The differences are A's [1, 0, 0, 0], B's [-1, 0] and C's [0, 0, 0]: mean 0 over 9 queries."""
    first = {"A": {"rank1": 0.5, "queries": 4}, "B": {"rank1": 1.0, "queries": 2}, "C": {"rank1": 1 / 3, "queries": 3}}
    second = {"A": {"rank1": 0.75, "queries": 4}, "B": {"rank1": 0.5, "queries": 2},
              "C": {"rank1": 1 / 3, "queries": 3}}
    values, query_fish = paired_rank1_differences(first, second)
    assert values.tolist() == [1, 0, 0, 0, -1, 0, 0, 0, 0]
    assert query_fish.tolist() == ["A"] * 4 + ["B"] * 2 + ["C"] * 3
    with pytest.raises(ValueError, match="different fish: \\['D'\\]"):
        paired_rank1_differences(first, {**second, "D": {"rank1": 1.0, "queries": 1}})
    with pytest.raises(ValueError, match="fish B: 2 queries in one report, 3 in the other"):
        paired_rank1_differences(first, {**second, "B": {"rank1": 1.0, "queries": 3}})


def test_compare_reports_prints_the_paired_difference(tmp_path, monkeypatch, capsys):
    """Two reports of two fish with 2 queries each: B gains one hit on f1, so B - A = 1/4. Every bootstrap draw of
    f2 alone gives 0 and of f1 alone 0.5, so the interval spans from 0 to 0.5, and its lower end 0 is noise."""
    for name, f1 in (("a", 0.5), ("b", 1.0)):
        (tmp_path / name).mkdir()
        per_fish = {"f1": {"rank1": f1, "queries": 2}, "f2": {"rank1": 1.0, "queries": 2}}
        report = {"measures": {"cosine": {"rank1": (2 * f1 + 2) / 4, "per_fish": per_fish}}}
        (tmp_path / name / "metrics.json").write_text(json.dumps(report))
    monkeypatch.setattr(sys, "argv", [str(BENCH), str(tmp_path / "a"), str(tmp_path / "b")])
    with pytest.raises(SystemExit) as ended:
        runpy.run_path(str(BENCH), run_name="__main__")
    assert ended.value.code == 0
    assert "| cosine | 4 | 0.750 | 1.000 | +0.250 [+0.000, +0.500] | inside the noise |" in capsys.readouterr().out
