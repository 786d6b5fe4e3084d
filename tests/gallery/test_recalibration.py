"""``recalibrate``: a verifying gallery's calibrations against scikit-learn on its own pairs, its impostor best scores
(the fused ones cross-fitted over two folds of fish) against a NumPy loop, identify's thresholds and fused scores
from them afterwards, the refusal of a gallery with too few fish (before TensorFlow), and ``--reset``
(docs/matching.md)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from lateral.fpir import CALIBRATION_FILE, read_calibration, threshold_at_fpir, write_calibration
from lateral.gallery import commands
from lateral.gallery.__main__ import _following, _thresholds, build_parser, main
from lateral.gallery.fpir_thresholds import EVALUATION_FOLDER, MIN_CALIBRATION_FISH
from lateral.gallery.packing import unpack_codes
from lateral.gallery.recalibration import (MAX_FISH_LEFT_OUT, GalleryFpir, calibration_file, fish_folds,
                                           left_out_false_positives)
from lateral.gallery.review.app import create_app
from lateral.gallery.review.workspace import ReviewWorkspace
from lateral.gallery.store import load_gallery
from lateral.gallery.verification import sidecar_folder
from lateral.matching.cache import load_features
from lateral.matching.verify import local_score
from tests.gallery.test_verification import calibrated_run, expected_fish_scores

SHORTLIST = 3
QUERY = "session_2/fish_003/fish_003_session_2_03.jpg"  # left out of the gallery: identify's query
MODEL_IMPOSTORS = np.linspace(0.0, 0.8, 400)  # the model's (hand-made) open-set calibration of the fused score


@pytest.fixture(scope="module")
def recalibrated(prepared_synthetic, iom_run, tmp_path_factory):
    """(root, run, gallery, recalibrate's summary): every synthetic photo but QUERY enrolled without sessions under
    ``<fish>_<flank>`` (a synthetic fish's two flanks are independent patterns, so 16 'fish', 15 of them with two
    photos of their flank), made with --verify sift --shortlist 3 on the tiny run with hand-made calibrations, then
    recalibrated."""
    root = tmp_path_factory.mktemp("recalibrate")
    run = calibrated_run(iom_run, root)
    (run / EVALUATION_FOLDER).mkdir()
    write_calibration(run / EVALUATION_FOLDER / CALIBRATION_FILE, {"hamming": MODEL_IMPOSTORS + 0.2,
                                                                    "hamming+sift": MODEL_IMPOSTORS}, {"fish": 12})
    raw = prepared_synthetic.parent / "raw"
    shutil.copytree(raw, root / "raw")
    for line in (raw / "ground_truth.jsonl").read_text().splitlines():
        truth = json.loads(line)
        if truth["photo"] != QUERY:
            folder = root / "known" / f"{truth['fish_id']}_{truth['flank']}"
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(root / "raw" / truth["photo"], folder)
    gallery_path = root / "pond.lgal"
    commands.enroll(gallery_path, root / "known", model=run, session="", verify="sift", shortlist=SHORTLIST)
    return root, run, gallery_path, commands.recalibrate(gallery_path)


def reference(gallery_path):
    """(fish [n], similarity [n, n], compared [n, n], inliers [n, n] NaN where not verified) computed here: Hamming
    similarity as the share of equal codes; every other photo of the flank compared (no sessions); each photo's
    SHORTLIST most similar (ties: gallery order) verified, a pair matched once, lower index first."""
    gallery = load_gallery(gallery_path)
    codes = unpack_codes(gallery.codes, gallery.m)
    similarity = (codes[:, None, :] == codes[None, :, :]).mean(axis=2)
    fish = np.array([entry["fish_id"] for entry in gallery.entries])
    flanks = np.array([entry["flank"] for entry in gallery.entries])
    compared = (flanks[:, None] == flanks[None, :]) & ~np.eye(len(fish), dtype=bool)
    features = [load_features(sidecar_folder(gallery_path) / f"{entry['sha256']}.npz") for entry in gallery.entries]
    inliers = np.full(similarity.shape, np.nan)
    for i in range(len(fish)):
        for j in sorted(np.flatnonzero(compared[i]), key=lambda j: -similarity[i, j])[:SHORTLIST]:
            inliers[i, j] = local_score(features[min(i, j)], features[max(i, j)], 4)  # cv2.NORM_L2 == 4
    return fish, similarity, compared, inliers


def impostor_best_loop(fish, scores, compared):
    """Each photo's best score against each other fish it is compared with, one at a time."""
    best = []
    for i in range(len(fish)):
        for other in sorted(set(fish) - {fish[i]}):
            columns = compared[i] & (fish == other)
            if columns.any():
                best.append(scores[i, columns].max())
    return np.sort(best)


def stored(gallery_path, score):
    _, about = read_calibration(calibration_file(gallery_path), "hamming")
    calibration = about["calibrations"][score]
    return np.asarray(calibration["knots"]), np.asarray(calibration["probabilities"])


def isotonic(values, genuine):
    return IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(values, genuine)


def cross_fitted_reference(gallery_path):
    """(fish, fused [n, n], compared): each photo's fused scores with scikit-learn's isotonic fits of the pairs of the
    other fold's fish (the folds: the code's seeded draw of fish), the global probability where not verified."""
    fish, similarity, compared, inliers = reference(gallery_path)
    folds = fish_folds(fish, compared)
    same_fish = fish[:, None] == fish[None, :]
    verified = ~np.isnan(inliers)
    fused = np.empty_like(similarity)
    for fold in (0, 1):
        other = folds != fold
        inside = compared & other[:, None] & other[None, :]
        upper, checked = np.triu(inside, 1), inside & verified
        global_fit = isotonic(similarity[upper], same_fish[upper].astype(float))
        local_fit = isotonic(inliers[checked], same_fish[checked].astype(float))
        for row in np.flatnonzero(folds == fold):
            probability = global_fit.predict(similarity[row])
            local = local_fit.predict(np.nan_to_num(inliers[row]))
            fused[row] = np.where(verified[row], (probability + local) / 2, probability)
    return fish, fused, compared


@pytest.mark.kernels
def test_the_calibrations_are_scikit_learns_isotonic_fits_of_the_gallerys_own_pairs(recalibrated):
    _, _, gallery_path, summary = recalibrated
    fish, similarity, compared, inliers = reference(gallery_path)
    same_fish = fish[:, None] == fish[None, :]
    upper = np.triu(compared, 1)
    verified = ~np.isnan(inliers)
    assert (summary["pairs"], summary["genuine"], summary["verified"]) == (upper.sum(), same_fish[upper].sum(),
                                                                           verified.sum())
    grid = np.linspace(0.0, 1.0, 201)
    expected = isotonic(similarity[upper], same_fish[upper].astype(float)).predict(grid)
    np.testing.assert_allclose(np.interp(grid, *stored(gallery_path, "hamming")), expected, atol=1e-9)
    grid = np.arange(0.0, np.nanmax(inliers) + 2.0, 0.5)
    expected = isotonic(inliers[verified], same_fish[verified].astype(float)).predict(grid)
    np.testing.assert_allclose(np.interp(grid, *stored(gallery_path, "sift")), expected, atol=1e-9)
    header = load_gallery(gallery_path).header["calibration"]
    counted = {name for name in fish if (same_fish & compared)[fish == name].any()}
    assert (header["fish"], header["photos"]) == (len(counted), len(fish)) and len(counted) >= MIN_CALIBRATION_FISH


@pytest.mark.kernels
def test_the_impostor_best_scores_are_each_photos_best_against_every_other_fish(recalibrated):
    _, _, gallery_path, _ = recalibrated
    fish, similarity, compared, _ = reference(gallery_path)
    np.testing.assert_allclose(np.sort(read_calibration(calibration_file(gallery_path), "hamming")[0]),
                               impostor_best_loop(fish, similarity, compared), atol=1e-6)
    fish, fused, compared = cross_fitted_reference(gallery_path)
    np.testing.assert_allclose(np.sort(read_calibration(calibration_file(gallery_path), "hamming+sift")[0]),
                               impostor_best_loop(fish, fused, compared), atol=1e-6)


@pytest.mark.kernels
def test_identify_decides_on_the_gallerys_own_calibration_after_recalibrate(recalibrated, tmp_path):
    root, _, gallery_path, _ = recalibrated
    query = root / "raw" / QUERY
    out = tmp_path / "out.json"
    assert main(["identify", "--gallery", str(gallery_path), "--input", str(query), "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    result = summary["results"][0]
    assert "the gallery's own calibration" in summary["thresholds"]
    # As the calibration file stores them (float32): a tail fitted far beyond the data moves with the last bits.
    impostors = impostor_best_loop(*cross_fitted_reference(gallery_path)).astype(np.float32)
    for key, fpir in (("accept_threshold", 0.01), ("review_threshold", 0.1)):
        assert result[key] == pytest.approx(threshold_at_fpir(impostors, fpir, result["fish_searched"])[0], abs=1e-6)
    own = (stored(gallery_path, "hamming"), stored(gallery_path, "sift"))
    expected = expected_fish_scores(gallery_path, query, own, SHORTLIST)
    for candidate in result["candidates"]:
        assert candidate["score"] == pytest.approx(expected[candidate["fish_id"]], abs=1e-6)


def copy_of(gallery_path, folder):
    """A copy of the gallery with its local features and its calibration file."""
    copy = folder / gallery_path.name
    shutil.copy(gallery_path, copy)
    shutil.copytree(sidecar_folder(gallery_path), sidecar_folder(copy))
    shutil.copy(calibration_file(gallery_path), calibration_file(copy))
    return copy


def test_too_few_fish_are_refused_naming_the_count_before_tensorflow_loads(recalibrated, tmp_path):
    _, _, gallery_path, _ = recalibrated
    copy = copy_of(gallery_path, tmp_path)
    fish = sorted({entry["fish_id"] for entry in load_gallery(copy).entries})
    commands.remove(copy, fish[:8])
    entries = load_gallery(copy).entries
    pairs = {(e["fish_id"], e["flank"]) for e in entries for other in entries
             if other is not e and (other["fish_id"], other["flank"]) == (e["fish_id"], e["flank"])}
    left = len({name for name, _ in pairs})
    before = copy.read_bytes()
    program = ("import sys\nfrom lateral.gallery.__main__ import main\n"
               f"code = main(['recalibrate', '--gallery', {str(copy)!r}])\nprint(code, 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert f"has {left} fish with at least 2 photos" in done.stderr and str(MIN_CALIBRATION_FISH) in done.stderr
    assert copy.read_bytes() == before


def left_out_loop(fish, scores, compared, fpir):
    """(false positives, searches), one search at a time: each fish in turn left out; the impostor scores of the
    others (each photo's best against each other fish but the one left out) set lateral.fpir's threshold for the
    number of other fish with a photo the search is compared with; a search is a false positive when its best
    score against any other fish reaches it."""
    wrong = searches = 0
    for left in sorted(set(fish)):
        others = sorted(set(fish) - {left})
        calibration = [scores[i, compared[i] & (fish == other)].max() for i in np.flatnonzero(fish != left)
                       for other in others if other != fish[i] and (compared[i] & (fish == other)).any()]
        for i in np.flatnonzero(fish == left):
            best = [scores[i, compared[i] & (fish == other)].max() for other in others
                    if (compared[i] & (fish == other)).any()]
            if best and calibration:
                wrong += int(max(best) >= threshold_at_fpir(np.array(calibration), fpir, len(best))[0])
                searches += 1
    return wrong, searches


@pytest.mark.parametrize("fpir", [0.01, 0.1])
def test_a_left_out_fish_is_searched_at_the_threshold_of_the_others_alone(fpir):
    """Hand-worked: fish A, B, C with two photos each; same fish 0.9, A-B 0.6, A-C 0.2, B-C 0.3. Four impostor
    scores are too few to fit a tail, so lateral.fpir accepts only above the highest. A left out: B and C's scores
    against each other (0.3) set it, and A's photos (0.6 against B) are wrongly matched; B left out: 0.2 (A-C),
    B's 0.6 is matched; C left out: 0.6 (A-B), C's 0.3 is not. 4 of 6 searches, at either FPIR."""
    fish = np.repeat(["A", "B", "C"], 2)
    between = {("A", "A"): 0.9, ("B", "B"): 0.9, ("C", "C"): 0.9, ("A", "B"): 0.6, ("A", "C"): 0.2, ("B", "C"): 0.3}
    similarity = np.array([[between[tuple(sorted((x, y)))] for y in fish] for x in fish])
    allowed = ~np.eye(6, dtype=bool)
    assert left_out_false_positives(similarity, fish, allowed, (fpir,))[fpir] == (4, 6)


def test_a_large_gallery_takes_a_seeded_draw_of_fish_in_turn():
    """60 fish of 2 photos: MAX_FISH_LEFT_OUT (50) of them are taken in turn, so 100 searches; the same draw twice."""
    fish = np.repeat([f"f{i:02d}" for i in range(60)], 2)
    similarity = np.random.default_rng(3).uniform(0, 1, (120, 120))
    allowed = ~np.eye(120, dtype=bool)
    first = left_out_false_positives(similarity, fish, allowed, (0.1,))[0.1]
    again = left_out_false_positives(similarity, fish, allowed, (0.1,))[0.1]
    assert first[1] == 2 * MAX_FISH_LEFT_OUT == 100 and again == first


@pytest.mark.kernels
def test_the_fpir_check_takes_each_fish_in_turn_for_a_new_one(recalibrated, capsys, tmp_path):
    """recalibrate's check of its own thresholds, against a loop over its definition on the scores computed here
    (Hamming; the fused scores cross-fitted), at FPIR 0.01 and 0.1; and the command prints it."""
    _, _, gallery_path, summary = recalibrated
    fish, similarity, compared, _ = reference(gallery_path)
    _, fused, _ = cross_fitted_reference(gallery_path)
    assert set(summary["fpir_check"]) == {"hamming", "hamming+sift"}
    for name, scores in (("hamming", similarity), ("hamming+sift", fused)):
        for fpir in (0.01, 0.1):
            assert tuple(summary["fpir_check"][name][fpir]) == left_out_loop(fish, scores, compared, fpir)
    assert summary["fpir_check"]["hamming"][0.01][1] == len(fish)  # every photo searched once
    copy = copy_of(gallery_path, tmp_path)
    capsys.readouterr()
    assert main(["recalibrate", "--gallery", str(copy)]) == 0
    _, searches = summary["fpir_check"]["hamming"][0.01]
    assert (f"  hamming: at FPIR 0.01, {summary['fpir_check']['hamming'][0.01][0]} of {searches} searches wrongly "
            f"matched") in capsys.readouterr().out


def test_reset_goes_back_to_the_models_calibration(recalibrated, tmp_path, capsys):
    root, _, gallery_path, _ = recalibrated
    copy = copy_of(gallery_path, tmp_path)
    assert main(["recalibrate", "--gallery", str(copy)]) == 0  # again: replaces the first
    assert "identify and review now decide on the gallery's own calibration" in capsys.readouterr().out
    assert main(["recalibrate", "--gallery", str(copy), "--reset", "--reviewer", "tester"]) == 0
    gallery = load_gallery(copy)
    assert "calibration" not in gallery.header and not calibration_file(copy).exists()
    assert [d["action"] for d in gallery.decisions[-3:]] == ["recalibrate", "recalibrate", "reset_calibration"]
    capsys.readouterr()
    assert main(["undo", "--gallery", str(copy), "--decision", str(gallery.decisions[-3]["id"])]) == 2
    assert "recalibrate --reset" in capsys.readouterr().err
    out = tmp_path / "out.json"
    assert main(["identify", "--gallery", str(copy), "--input", str(root / "raw" / QUERY), "--json", str(out)]) == 0
    result = json.loads(out.read_text())["results"][0]
    accept, _ = threshold_at_fpir(MODEL_IMPOSTORS.astype(np.float32), 0.01, result["fish_searched"])
    assert result["accept_threshold"] == pytest.approx(accept)
    capsys.readouterr()
    assert main(["recalibrate", "--gallery", str(copy), "--reset"]) == 2
    assert "was not recalibrated" in capsys.readouterr().err


def review_threshold_of_one_comparison(scores):
    """lateral.fpir's rule at N = 1 and the review FPIR 0.1 (10x the default 0.01), worked here: the smallest T with
    at most floor(0.1 n) of the n impostor scores at or above it (enough of them: no fitted tail): one of the scores,
    or just above the highest when it is tied more often (the tiny model gives many impostors equal codes)."""
    allowed = int(np.floor(0.1 * scores.size + 1e-9))
    assert allowed >= 10  # the empirical rule applies
    return min(value for value in [*np.unique(scores), np.nextafter(scores.max(), np.inf)]
               if (scores >= value).sum() <= allowed)


def test_enroll_judges_its_new_photos_on_the_gallerys_own_calibration_after_recalibrate(recalibrated, tmp_path):
    root, _, gallery_path, _ = recalibrated
    copy = copy_of(gallery_path, tmp_path)
    truth = {json.loads(line)["photo"]: json.loads(line) for line in
             (root / "raw" / "ground_truth.jsonl").read_text().splitlines()}
    fish = f"fish_003_{truth[QUERY]['flank']}"
    summary = commands.enroll(copy, root / "raw" / QUERY, fish=fish)
    with np.load(calibration_file(copy)) as stored:
        own = review_threshold_of_one_comparison(stored["scores_hamming"].astype(np.float64))
    models = review_threshold_of_one_comparison((MODEL_IMPOSTORS + 0.2).astype(np.float32).astype(np.float64))
    assert abs(own - models) > 0.01  # the two calibrations tell apart
    assert summary["unmatched_threshold"]["reject"] == pytest.approx(own, abs=1e-6)
    assert summary["unmatched_threshold"]["origin"].startswith("the gallery's own calibration")
    # The decision at that threshold: the new photo's best Hamming similarity (share of equal codes) against its
    # fish's other photos of its flank.
    gallery = load_gallery(copy)
    codes = unpack_codes(gallery.codes, gallery.m)
    new = gallery.entries[-1]
    others = [i for i, entry in enumerate(gallery.entries[:-1]) if (entry["fish_id"], entry["flank"]) == (
        fish, new["flank"])]
    assert others
    best = max(np.mean(codes[-1] == codes[i]) for i in others)
    assert [(Path(source).name, name) for source, name, _ in summary["unmatched"]] == (
        [(Path(QUERY).name, fish)] if best < own else [])


def test_a_running_review_follows_a_reset_and_a_recalibrate_done_meanwhile(recalibrated, tmp_path):
    """The review page's thresholds and fused scores after ``recalibrate --reset`` and ``recalibrate`` of the gallery
    it shows: each time those computed here from the calibration the gallery names then."""
    root, _, gallery_path, _ = recalibrated
    copy = copy_of(gallery_path, tmp_path)
    query = root / "raw" / QUERY
    workspace = ReviewWorkspace(copy, [query], None, follow=GalleryFpir(copy, "hamming+sift"))
    client = create_app(workspace, token="token").test_client()

    def check(impostors, calibrations, origin):
        row = client.get("/api/queue").get_json()["rows"][0]
        page = client.get(f"/api/photo/{row['id']}").get_json()
        for view in (row["suggestion"], page):
            assert (view["accept"], view["reject"]) == (
                pytest.approx(threshold_at_fpir(impostors, 0.01, row["suggestion"]["fish"])[0], abs=1e-6),
                pytest.approx(threshold_at_fpir(impostors, 0.1, row["suggestion"]["fish"])[0], abs=1e-6))
            assert origin in view["thresholds"]
        expected = expected_fish_scores(copy, query, *calibrations, shortlist=SHORTLIST)
        assert {c["fish_id"]: c["score"] for c in page["candidates"]} == {
            c["fish_id"]: pytest.approx(expected[c["fish_id"]], abs=1e-4) for c in page["candidates"]}

    def own_file():
        with np.load(calibration_file(copy)) as saved:
            return saved["scores_hamming+sift"], ((stored(copy, "hamming"), stored(copy, "sift")),)

    check(*own_file(), "the gallery's own calibration")
    commands.reset_calibration(copy)  # as another process would: only the file changes under the running page
    check(MODEL_IMPOSTORS.astype(np.float32), (), str(EVALUATION_FOLDER))  # the model's: the hand-made ones
    commands.recalibrate(copy)
    check(*own_file(), "the gallery's own calibration")


def test_review_follows_the_gallerys_calibration_only_when_no_flag_fixes_the_thresholds(recalibrated):
    _, _, gallery_path, _ = recalibrated
    given = {(): GalleryFpir(str(gallery_path), "hamming+sift", 0.01, None, None),
             ("--fpir", "0.05", "--review_fpir", "0.2"): GalleryFpir(str(gallery_path), "hamming+sift", 0.05, 0.2,
                                                                     None),
             ("--threshold", "0.5"): None,
             ("--calibration", str(calibration_file(gallery_path)), "--fpir", "0.05"): None}
    for flags, expected in given.items():
        args = build_parser().parse_args(["review", "--gallery", str(gallery_path), "--input", "x.jpg", *flags])
        _thresholds(args)
        assert _following(args) == expected, flags
