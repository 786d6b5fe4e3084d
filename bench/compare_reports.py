"""Is B better than A? The paired difference in rank-1 between two evaluations of the same queries, with its 95%
bootstrap interval over fish, per measure.

    python bench/compare_reports.py A_REPORT B_REPORT          # folders (or metrics.json files) of test_iom.py

Each report is what ``test_iom.py --out`` writes; both must have evaluated the same test set under the same
protocol (the same fish with the same number of queries each), e.g. two recipes' models on one development split.
A difference whose interval holds 0 is inside the noise: the queries of one fish are not independent, so fish,
not queries, are resampled (``lateral.evaluation.per_fish.fish_bootstrap_interval``).
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from lateral.evaluation.per_fish import fish_bootstrap_interval, noise_verdict, paired_rank1_differences


def measures_of(report):
    """{measure: its figures} of a test_iom.py report folder or its metrics.json."""
    path = Path(report)
    path = path / "metrics.json" if path.is_dir() else path
    if not path.is_file():
        raise SystemExit(f"{report}: no metrics.json (give a test_iom.py report folder or its metrics.json)")
    return json.loads(path.read_text())["measures"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help="report A (the baseline)")
    parser.add_argument("second", help="report B")
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds")
    args = parser.parse_args(argv)
    first, second = measures_of(args.first), measures_of(args.second)
    shared = [measure for measure in first if measure in second]
    if not shared:
        raise SystemExit("the two reports share no measure")
    print("| measure | queries | rank-1 A | rank-1 B | B - A [95% over fish] | |\n|---|---|---|---|---|---|")
    for measure in shared:
        try:
            values, query_fish = paired_rank1_differences(first[measure]["per_fish"], second[measure]["per_fish"])
        except ValueError as error:
            raise SystemExit(f"{measure}: not the same queries ({error})")
        low, high = fish_bootstrap_interval(values, query_fish, args.rounds)
        verdict = noise_verdict((low, high))
        print(f"| {measure} | {values.size} | {first[measure]['rank1']:.3f} | {second[measure]['rank1']:.3f} | "
              f"{np.mean(values):+.3f} [{low:+.3f}, {high:+.3f}] | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
