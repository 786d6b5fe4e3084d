"""bench/open_set.py's pooled table: each row's verdict against the factor-of-2 band, worked by hand."""

import runpy
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "open_set.py"


def split(rate_01, rate_1, searches):
    return {"enrolled_fish": 7, "never_enrolled_fish": 1, "distractor_fish": 0, "by_gallery_size": {"10": {
        "realised_fpir_0.01": rate_01, "realised_fpir_0.1": rate_1, "non_mated_searches": searches}}}


def test_the_pooled_rows_verdicts_and_summary(capsys):
    """First pair of splits. Target 0.01: (0 + 2) / 200 = 0.010, within x2. Target 0.1: no false positive in 200
    searches; the exact binomial upper bound is 1 - 0.025^(1/200) = 0.018, short of 0.05: "below".
    Second pair. Target 0.01: 0 of 200 again, and 0.018 reaches 0.005: inside the noise. Target 0.1: 9 of 200 =
    0.045, whose interval (up to about 0.08) reaches 0.05: inside the noise."""
    bench = runpy.run_path(str(BENCH))
    verdicts = bench["print_pooled"]("cosine", [split(0.0, 0.0, 100), split(0.02, 0.0, 100)])
    assert verdicts == ["within x2", "below"]
    verdicts += bench["print_pooled"]("cosine", [split(0.0, 0.04, 100), split(0.0, 0.05, 100)])
    assert verdicts[2:] == ["x2 inside the noise", "x2 inside the noise"]
    printed = capsys.readouterr().out
    assert "0.010 [" in printed and "0.045 [" in printed
    assert bench["verdict_summary"](verdicts).startswith(
        "realised FPIR within a factor of 2 of the target: 1 of 4 rows; 2 more inside the noise")
