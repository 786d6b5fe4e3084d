"""Open-set identification figures (lateral.evaluation.open_set) against a slow loop over the NIST definitions."""

import numpy as np
import pytest
from scipy.stats import binomtest

from lateral.fpir import best_per_fish, impostor_best_scores
from lateral.evaluation.open_set import (
    FEW_FISH,
    POOLED_SPLITS,
    evaluate_open_set,
    evaluate_open_set_and_splits,
    factor_of_two_verdict,
    fnir_at,
    fpir_at,
    leave_one_fish_out,
    pooled_interval,
    pooled_realised_fpir,
    realised_fpir_interval,
    search_outcomes,
    split_fish,
    threshold_for_observed_fpir,
)


def slow_rates(scores, search_fish, gallery_fish, threshold):
    """NISTIR 8271 section 3, one search at a time: FPIR over searches whose fish is not in the gallery (any
    candidate >= T), FNIR over the others (the mate is not strictly first, or scores below T)."""
    false_positives = non_mated = misses = mated = 0
    for row, fish in zip(scores, search_fish):
        if fish in gallery_fish:
            mated += 1
            mate = row[gallery_fish.index(fish)]
            others = [score for name, score in zip(gallery_fish, row) if name != fish]
            found = mate >= threshold and all(mate > other for other in others)
            misses += not found
        else:
            non_mated += 1
            false_positives += max(row) >= threshold
    return false_positives / non_mated, misses / mated


# Per-fish best scores of 6 searches against 4 gallery fish; searches of a, b, c are mated, x, y not.
GALLERY = ["a", "b", "c", "d"]
SEARCH_FISH = ["a", "b", "c", "a", "x", "y"]
SCORES = np.array([
    [0.9, 0.2, 0.3, 0.1],  # a found at rank 1
    [0.6, 0.5, 0.1, 0.2],  # b's mate second: a miss at any threshold
    [0.2, 0.3, 0.55, 0.4],  # c found, low score
    [0.7, 0.7, 0.1, 0.1],  # a tied with b: a miss
    [0.1, 0.65, 0.2, 0.3],  # x: top 0.65
    [0.3, 0.2, 0.35, 0.1],  # y: top 0.35
])


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.35, 0.5, 0.55, 0.6, 0.65, 0.8, 0.9, 1.0])
def test_fpir_and_fnir_match_the_slow_loop(threshold):
    mated, top, hit = search_outcomes(SCORES, SEARCH_FISH, GALLERY, np.arange(4))
    assert mated.tolist() == [True, True, True, True, False, False]
    expected_fpir, expected_fnir = slow_rates(SCORES, SEARCH_FISH, GALLERY, threshold)
    assert fpir_at(top[~mated], threshold) == pytest.approx(expected_fpir)
    assert fnir_at(top[mated], hit[mated], threshold) == pytest.approx(expected_fnir)


def test_a_smaller_gallery_makes_its_missing_fish_non_mated():
    """The gallery {b, d}: a's and c's searches have no mate; rates over columns 1 and 3 only."""
    columns = np.array([1, 3])
    mated, top, hit = search_outcomes(SCORES, SEARCH_FISH, GALLERY, columns)
    assert mated.tolist() == [False, True, False, False, False, False]
    sub = SCORES[:, columns]
    for threshold in (0.2, 0.45, 0.6):
        expected_fpir, expected_fnir = slow_rates(sub, SEARCH_FISH, ["b", "d"], threshold)
        assert fpir_at(top[~mated], threshold) == pytest.approx(expected_fpir)
        assert fnir_at(top[mated], hit[mated], threshold) == pytest.approx(expected_fnir)


def test_random_matrices_match_the_slow_loop():
    rng = np.random.default_rng(1)
    gallery = [f"g{i}" for i in range(12)]
    search_fish = rng.choice(gallery + ["u1", "u2", "u3"], 80).tolist()
    scores = rng.random((80, 12))
    mated, top, hit = search_outcomes(scores, search_fish, gallery, np.arange(12))
    for threshold in np.linspace(0, 1, 21):
        expected_fpir, expected_fnir = slow_rates(scores, search_fish, gallery, threshold)
        assert fpir_at(top[~mated], threshold) == pytest.approx(expected_fpir)
        assert fnir_at(top[mated], hit[mated], threshold) == pytest.approx(expected_fnir)


def test_best_per_fish_is_the_max_over_allowed_templates():
    similarity = np.array([[0.1, 0.8, 0.5], [0.9, 0.2, 0.3]])
    allowed = np.array([[True, False, True], [True, True, True]])
    names, best = best_per_fish(similarity, ["p", "p", "q"], allowed)
    assert names.tolist() == ["p", "q"]
    assert best.tolist() == [[0.1, 0.5], [0.9, 0.3]]


def test_observed_threshold_is_the_lowest_with_fpir_at_most_the_target():
    """Top scores 0.1..1.0: FPIR 0.2 allows two at or above T, so T = 0.9; 0.05 allows none: T just
    above 1.0."""
    top = np.linspace(0.1, 1.0, 10)
    assert threshold_for_observed_fpir(top, 0.2) == pytest.approx(0.9)
    assert 1.0 < threshold_for_observed_fpir(top, 0.05) < 1.0 + 1e-12


def test_split_is_seeded_and_disjoint():
    fish_ids = np.repeat([f"f{i}" for i in range(9)], 4)
    first, again = split_fish(fish_ids, seed=3), split_fish(fish_ids, seed=3)
    assert first.enrolled_fish.tolist() == again.enrolled_fish.tolist()
    assert first.enrolled_fish.size == 5 and first.never_enrolled_fish.size == 4
    assert not set(first.enrolled_fish) & set(first.never_enrolled_fish)
    photos = np.concatenate([first.gallery, first.mated, first.non_mated])
    assert sorted(photos.tolist()) == list(range(36))
    assert set(fish_ids[first.gallery]) == set(first.enrolled_fish)


def test_separable_fish_are_found_and_distractors_fill_large_galleries():
    """Photos whose scores are 1 within a fish and a random 0..0.5 across: FNIR 0 at every FPIR; the gallery
    of 100 draws its extra fish from the 200 distractors."""
    rng = np.random.default_rng(0)
    fish_ids = np.repeat([f"f{i}" for i in range(20)], 4)
    similarity = rng.uniform(0, 0.5, (80, 80))
    similarity[fish_ids[:, None] == fish_ids[None, :]] = 1.0
    allowed = ~np.eye(80, dtype=bool)
    distractors = rng.uniform(0, 0.5, (80, 400))
    figures = evaluate_open_set(similarity, fish_ids, allowed, distractors, np.repeat(np.arange(200), 2),
                                np.ones((80, 400), bool), sizes=(10, 100, 1000), bootstrap_rounds=20)
    assert figures["enrolled_fish"] == 10 and figures["distractor_fish"] == 200
    assert figures["by_gallery_size"]["10"]["fnir_at_fpir_0.01"] == 0.0
    assert figures["by_gallery_size"]["100"]["fnir_at_fpir_0.1"] == 0.0
    assert "note" in figures["by_gallery_size"]["1000"]


def test_calibration_scores_are_each_photos_best_against_every_other_fish():
    """The scores test_iom.py stores for the gallery, against a loop: for photo i and each fish f other than
    its own, the max over f's photos j that i may be compared with (fish with none left out)."""
    rng = np.random.default_rng(2)
    fish_ids = np.array(["a", "a", "b", "b", "b", "c", "d"])
    similarity = rng.random((7, 7))
    allowed = rng.random((7, 7)) < 0.7
    np.fill_diagonal(allowed, False)
    expected = []
    for i in range(7):
        for fish in sorted(set(fish_ids) - {fish_ids[i]}):
            candidates = [similarity[i, j] for j in range(7) if fish_ids[j] == fish and allowed[i, j]]
            if candidates:
                expected.append(max(candidates))
    assert sorted(impostor_best_scores(similarity, fish_ids, allowed)) == pytest.approx(sorted(expected))


@pytest.mark.parametrize("fish", [2, 3])
def test_too_few_held_out_fish_for_a_calibration_get_a_note_not_an_error(fish):
    """With 2 or 3 held-out fish, split_fish enrols 1 or 2 (half, rounded up): 1 enrolled fish has no other
    enrolled fish to be an impostor against, so every gallery size says why it has no figures; 2 have one."""
    fish_ids = np.repeat([f"f{i}" for i in range(fish)], 4)
    similarity = np.random.default_rng(0).uniform(0, 1, (fish * 4, fish * 4))
    figures = evaluate_open_set(similarity, fish_ids, ~np.eye(fish * 4, dtype=bool), sizes=(10,),
                                bootstrap_rounds=5)
    enrolled = int(np.ceil(fish / 2))
    assert figures["enrolled_fish"] == enrolled
    if enrolled == 1:
        assert figures["calibration_scores"] == 0
        assert all("2 enrolled fish" in row["note"] for row in figures["by_gallery_size"].values())
    else:
        assert figures["calibration_scores"] > 0 and "note" not in figures["by_gallery_size"][str(enrolled)]


def test_an_enrolled_share_of_three_quarters_calibrates_on_six_of_eight_fish():
    """8 fish of 4 photos, enrolled_share 0.75: 6 fish enrolled, 2 never; the calibration is each of the 24
    photos of the enrolled fish against the 5 other enrolled fish (120 scores, every pair allowed but a photo
    with itself), and the never-enrolled fish's 8 photos are the non-mated searches of a gallery of all 6."""
    fish_ids = np.repeat([f"f{i}" for i in range(8)], 4)
    similarity = np.random.default_rng(3).uniform(0, 1, (32, 32))
    figures = evaluate_open_set(similarity, fish_ids, ~np.eye(32, dtype=bool), sizes=(6,), bootstrap_rounds=5,
                                enrolled_share=0.75)
    assert (figures["enrolled_fish"], figures["never_enrolled_fish"]) == (6, 2)
    assert figures["calibration_scores"] == 24 * 5
    assert figures["by_gallery_size"]["6"]["non_mated_searches"] == 8


def test_leaving_one_fish_out_calibrates_on_every_other_fish_once_per_fish():
    """4 fish of 3 photos: each fish in turn is never enrolled (its 3 photos the non-mated searches of a gallery of
    the other 3), and the calibration is the 9 photos of the 3 enrolled fish, each against the 2 other enrolled
    fish: 18 scores. Fish f2's photos score 0.9 against f0's templates, every other pair 0.1, so f2 is wrongly
    matched (at any threshold the enrolled fish's 0.1 calibration scores give) exactly when f0 is enrolled and f2
    is not: in the 3 splits that leave out f2 only, never in the others."""
    fish_ids = np.repeat(["f0", "f1", "f2", "f3"], 3)
    similarity = np.full((12, 12), 0.1)
    similarity[6:9, 0:3] = 0.9
    per_split = leave_one_fish_out(similarity, fish_ids, ~np.eye(12, dtype=bool), sizes=(3,))
    assert [split["never_enrolled_fish"] for split in per_split] == [1] * 4
    assert all(split["enrolled_fish"] == 3 and split["calibration_scores"] == 18 for split in per_split)
    searches = [split["by_gallery_size"]["3"]["non_mated_searches"] for split in per_split]
    assert searches == [3] * 4
    rates = [split["by_gallery_size"]["3"]["realised_fpir_0.01"] for split in per_split]
    assert rates == [0.0, 0.0, 1.0, 0.0]  # f2 left out: all 3 of its searches match f0
    assert pooled_realised_fpir(per_split)["3"]["0.01"]["pooled"] == pytest.approx(3 / 12)
    with pytest.raises(ValueError, match="never_enrolled names fish not evaluated: f9"):
        evaluate_open_set(similarity, fish_ids, ~np.eye(12, dtype=bool), sizes=(3,), never_enrolled=["f9"])


def test_the_realised_fpir_pooled_over_splits_is_their_false_positives_over_their_searches():
    """Hand-worked: split A has 10 non-mated searches at N = 4 with realised FPIR 0.5 and 0.6, split B 30 with 0.0
    and 0.2: pooled (5 + 0) / 40 = 0.125 and (6 + 6) / 40 = 0.3; a size with a note in a split is left out."""
    def row(rate_01, rate_1, searches):
        return {"realised_fpir_0.01": rate_01, "realised_fpir_0.1": rate_1, "non_mated_searches": searches}

    split_a = {"by_gallery_size": {"4": row(0.5, 0.6, 10), "10": {"note": "only 8 fish"}}}
    split_b = {"by_gallery_size": {"4": row(0.0, 0.2, 30), "10": {"note": "only 8 fish"}}}
    pooled = pooled_realised_fpir([split_a, split_b])
    assert list(pooled) == ["4"]
    assert pooled["4"]["0.01"]["pooled"] == pytest.approx(0.125)
    assert pooled["4"]["0.1"]["pooled"] == pytest.approx(0.3)
    assert pooled["4"]["0.1"]["per_split"] == [0.6, 0.2] and pooled["4"]["0.1"]["non_mated_searches"] == 40
    assert pooled["4"]["0.1"]["per_split_searches"] == [10, 30]


@pytest.mark.parametrize("fish", [8, FEW_FISH])
def test_few_held_out_fish_also_get_the_realised_fpir_pooled_over_seeded_splits(fish):
    """Under FEW_FISH fish the figures add POOLED_SPLITS splits (seeds 0, 1, ...) pooled, as evaluate_open_set run
    seed by seed and pooled by hand gives them; at FEW_FISH fish, split 0 alone."""
    fish_ids = np.repeat([f"f{i}" for i in range(fish)], 4)
    similarity = np.random.default_rng(4).uniform(0, 1, (fish * 4, fish * 4))
    allowed = ~np.eye(fish * 4, dtype=bool)
    figures = evaluate_open_set_and_splits(similarity, fish_ids, allowed, bootstrap_rounds=5)
    if fish >= FEW_FISH:
        assert "pooled_over_splits" not in figures and "pooled_leaving_one_out" not in figures
        return
    size = str(int(np.ceil(fish / 2)))
    rows = [evaluate_open_set(similarity, fish_ids, allowed, sizes=(10,), bootstrap_rounds=0,
                              seed=seed)["by_gallery_size"][size] for seed in range(POOLED_SPLITS)]
    searches = np.array([row["non_mated_searches"] for row in rows])
    for target in ("0.01", "0.1"):
        rates = np.array([row[f"realised_fpir_{target}"] for row in rows])
        entry = figures["pooled_over_splits"][size][target]
        assert entry["per_split"] == pytest.approx(rates.tolist())
        assert entry["pooled"] == pytest.approx((rates * searches).sum() / searches.sum())
    # And each fish left out in turn (its 4 photos the non-mated searches of a gallery of the other fish - 1):
    # pooled, the false positives of all fish over their 4 * fish searches.
    left_out = str(fish - 1)
    rows = [evaluate_open_set(similarity, fish_ids, allowed, sizes=(10,), bootstrap_rounds=0, seed=seed,
                              never_enrolled=[f"f{seed}"])["by_gallery_size"][left_out] for seed in range(fish)]
    assert [row["non_mated_searches"] for row in rows] == [4] * fish
    for target in ("0.01", "0.1"):
        rates = np.array([row[f"realised_fpir_{target}"] for row in rows])
        entry = figures["pooled_leaving_one_out"][left_out][target]
        assert entry["per_split"] == pytest.approx(rates.tolist())
        assert entry["pooled"] == pytest.approx(rates.mean())


def test_the_enrolled_share_holds_in_every_pooled_split():
    """8 fish at enrolled_share 0.75: every one of the POOLED_SPLITS splits searches with the 2 never-enrolled
    fish's 8 photos against the 6 enrolled ones (a gallery of 6), as evaluate_open_set gives each seed."""
    fish_ids = np.repeat([f"f{i}" for i in range(8)], 4)
    similarity = np.random.default_rng(5).uniform(0, 1, (32, 32))
    allowed = ~np.eye(32, dtype=bool)
    figures = evaluate_open_set_and_splits(similarity, fish_ids, allowed, bootstrap_rounds=0, enrolled_share=0.75)
    assert list(figures["pooled_over_splits"]) == ["6"]
    entry = figures["pooled_over_splits"]["6"]["0.01"]
    assert len(entry["per_split"]) == POOLED_SPLITS and entry["non_mated_searches"] == 8 * POOLED_SPLITS
    expected = [evaluate_open_set(similarity, fish_ids, allowed, sizes=(6,), bootstrap_rounds=0, seed=seed,
                                  enrolled_share=0.75)["by_gallery_size"]["6"]["realised_fpir_0.01"]
                for seed in range(POOLED_SPLITS)]
    assert entry["per_split"] == pytest.approx(expected)


def test_the_report_shows_both_poolings_with_their_interval_verdict_and_range():
    """The report's tables under a measure's open-set figures: pooled over seeded splits, then leaving one fish
    out, from a hand-made figures dict; each interval the wider of the bootstrap's and Clopper-Pearson's.
    Seeded: 2 splits of 20 searches at 0.0 and 0.25, pooled 0.125 (5 of 40, exact interval [0.042, 0.268]);
    resampled 0.0, 0.125 or 0.25: [0.000, 0.268], inside the noise of 0.02 at 0.01, within x2 at 0.1. Leaving
    one out: 3 splits of 2000 searches at 0.0, 0.0 and 0.018, pooled 0.006; a resample draws the third split 3
    times with probability 1/27 > 2.5%, so [0.000, 0.018]: within x2 at 0.01, below 0.05 beyond the noise at
    0.1. A split-0 row: 0 of 300 searches, [0, 0.012] reaches 0.005; 0.02 (6 of 300, exact [0.007, 0.043]) does
    not reach 0.05: below."""
    from lateral.evaluation.report import open_set_markdown

    def pooled(per_split, value, searches):
        return {"7": {target: {"pooled": value, "per_split": per_split, "per_split_searches": searches,
                               "non_mated_searches": sum(searches)} for target in ("0.01", "0.1")}}

    row = {"gallery_draws": 20, "mated_searches": 10, "non_mated_searches": 300, "fnir_at_fpir_0.01": 0.9,
           "fnir_at_fpir_0.1": 0.5, "formula_threshold_0.01": 0.8, "formula_how_0.01": "empirical",
           "formula_threshold_0.1": 0.7, "formula_how_0.1": "empirical", "realised_fpir_0.01": 0.0,
           "realised_fpir_0.01_95": [0.0, 0.0], "realised_fpir_0.1": 0.02, "realised_fpir_0.1_95": [0.01, 0.03]}
    figures = {"enrolled_fish": 4, "gallery_templates": 8, "never_enrolled_fish": 4, "distractor_fish": 0,
               "calibration_scores": 12, "seed": 0, "by_gallery_size": {"4": row},
               "pooled_over_splits": pooled([0.0, 0.25], 0.125, [20, 20]),
               "pooled_leaving_one_out": pooled([0.0, 0.0, 0.018], 0.006, [2000, 2000, 2000])}
    text = open_set_markdown({"cosine": {"open_set": figures}})
    assert "| 0.000 [0.000, 0.012], x2 inside the noise | 0.7000 (empirical) | 0.020 [0.007, 0.043], below |" in text
    seeded, leaving = text.index("pooled over 2 seeded splits"), text.index("Leaving one fish out: each of the 3")
    assert seeded < text.index("| 7 | 0.125 [0.000, 0.268], x2 inside the noise (splits 0.000 to 0.250) | "
                               "0.125 [0.000, 0.268], within x2 (splits 0.000 to 0.250) | 40 |") < leaving
    assert leaving < text.index("| 7 | 0.006 [0.000, 0.018], within x2 (splits 0.000 to 0.018) | "
                                "0.006 [0.000, 0.018], below (splits 0.000 to 0.018) | 6000 |")

def test_fish_of_one_photo_each_give_notes_not_an_error():
    """Enrolled fish with one photo each keep it as their template, so a split has no mated search: its figures
    are a note, and no split can be pooled (the empty list of mated photos was a float array, an IndexError)."""
    fish_ids = np.array(["a", "b", "c"])
    figures = evaluate_open_set_and_splits(np.random.default_rng(6).uniform(0, 1, (3, 3)), fish_ids,
                                           ~np.eye(3, dtype=bool), bootstrap_rounds=5)
    assert figures["by_gallery_size"]["2"]["note"] == "no mated or no non-mated search"
    assert figures["pooled_over_splits"] == {} and figures["pooled_leaving_one_out"] == {}
    from lateral.evaluation.report import open_set_markdown

    assert "pooled" not in open_set_markdown({"cosine": {"open_set": figures}})


def test_the_pooled_interval_resamples_the_splits():
    """Hand-worked: split A 10 searches at realised FPIR 0.0, split B 30 at 0.5. A resample draws A twice (0.0),
    B twice (0.5) or one of each (15 / 40 = 0.375), each pair with probability 1/4, 1/4, 1/2: the 95% interval
    is [0.0, 0.5]. Searches weigh: 20 splits of 1 search at 0.0 and 20 of 99 at 1.0; a resample of 40 draws at
    least 13 of the second kind but for odds of under 1% (binomial), so its pooled rate is at least
    13 * 99 / (13 * 99 + 27) = 0.979 (unweighted, the mean of the rates, it would be about 0.35), and below 1 (all 40 of the second kind)."""
    entry = {"per_split": [0.0, 0.5], "per_split_searches": [10, 30]}
    assert pooled_interval(entry, rounds=2000) == [0.0, 0.5]
    low, high = pooled_interval({"per_split": [0.0] * 20 + [1.0] * 20, "per_split_searches": [1] * 20 + [99] * 20})
    assert 0.979 <= low < high < 1.0


def test_the_realised_fpir_interval_reaches_the_exact_binomial_one():
    """No false positive in 300 searches: the bootstrap's [0, 0], widened to Clopper-Pearson's (scipy's exact
    binomial interval, 0 to 0.0122); a bootstrap wider than the binomial interval is kept."""
    exact = binomtest(0, 300).proportion_ci(0.95, method="exact")
    assert realised_fpir_interval(0.0, 300, [0.0, 0.0]) == pytest.approx([exact.low, exact.high])
    exact = binomtest(6, 400).proportion_ci(0.95, method="exact")
    assert realised_fpir_interval(6 / 400, 400) == pytest.approx([exact.low, exact.high])
    assert realised_fpir_interval(6 / 400, 400, [0.001, 0.05]) == pytest.approx([0.001, 0.05])


@pytest.mark.parametrize("realised, interval, verdict", [
    (0.005, None, "within x2"), (0.02, [0.0, 1.0], "within x2"),
    (0.004, [0.001, 0.005], "x2 inside the noise"), (0.03, [0.02, 0.05], "x2 inside the noise"),
    (0.004, [0.001, 0.0049], "below"), (0.004, None, "below"), (0.021, [0.0201, 0.05], "above")])
def test_the_factor_of_two_verdict_at_target_001(realised, interval, verdict):
    """The band for a target of 0.01 is [0.005, 0.02]; an interval touching it is inside the noise."""
    assert factor_of_two_verdict(0.01, realised, interval) == verdict
