"""A gallery made with local verification: recorded in its header, local features in a sidecar, its search's fused
probability against an independent computation, its decisions at the fused score's FPIR thresholds, and refusals of a
matcher or model it was not made with (docs/matching.md)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lateral.fpir import CALIBRATION_FILE, threshold_at_fpir, write_calibration
from lateral.gallery import commands
from lateral.gallery.__main__ import main
from lateral.gallery.fpir_thresholds import EVALUATION_FOLDER
from lateral.gallery.packing import unpack_codes
from lateral.gallery.search import given_thresholds
from lateral.gallery.store import GalleryError, load_gallery, save_gallery
from lateral.gallery.verification import sidecar_folder
from lateral.matching.cache import load_features, photo_features
from lateral.matching.calibration import Calibration, calibration_path
from lateral.matching.verify import local_score
from tests.gallery.test_commands import KNOWN

SHORTLIST = 5
# Hand-made calibrations: Hamming similarity 0.5 -> 0, 1 -> 1; 0 inliers -> 0, 20 or more -> 1 (linear between).
HAMMING_KNOTS, SIFT_KNOTS = (0.5, 1.0), (0.0, 20.0)


def calibrated_run(iom_run, folder):
    """A copy of the tiny stage-two run with the hand-made calibrations of its Hamming score and SIFT inliers."""
    run = folder / "run"
    shutil.copytree(iom_run[0] / "checkpoints" / "tiny_iom", run)
    Calibration("run_hamming", HAMMING_KNOTS, (0.0, 1.0)).save(calibration_path(run, "run_hamming"))
    Calibration("run_sift", SIFT_KNOTS, (0.0, 1.0)).save(calibration_path(run, "run_sift"))
    return run


@pytest.fixture(scope="module")
def verifying(prepared_synthetic, iom_run, tmp_path_factory):
    """(root, run folder copy with calibrations, gallery of 6 fish made with --verify sift --shortlist 5)."""
    root = tmp_path_factory.mktemp("verifying")
    run = calibrated_run(iom_run, root)
    shutil.copytree(prepared_synthetic.parent / "raw", root / "raw")
    for fish in KNOWN:
        shutil.copytree(root / "raw" / "session_1" / fish, root / "known" / "session_1" / fish)
    gallery_path = root / "pond.lgal"
    commands.enroll(gallery_path, root / "known", model=run, verify="sift", shortlist=SHORTLIST)
    return root, run, gallery_path


def test_the_header_records_the_matcher_and_each_photo_has_its_features_beside_the_gallery(verifying):
    root, run, gallery_path = verifying
    gallery = load_gallery(gallery_path)
    assert gallery.header["verify"] == {"matcher": "sift", "shortlist": SHORTLIST, "long_side": 320}
    stored = sorted(path.name for path in sidecar_folder(gallery_path).iterdir())
    assert stored == sorted(f"{entry['sha256']}.npz" for entry in gallery.entries)
    entry = gallery.entries[0]
    encoder = commands.open_gallery(gallery_path, None)[1]
    expected = photo_features(entry["source"], encoder.read_photo(entry["source"]).roi_corners, "sift")
    kept = load_features(sidecar_folder(gallery_path) / f"{entry['sha256']}.npz")
    np.testing.assert_array_equal(kept.points, expected.points)
    np.testing.assert_array_equal(kept.descriptors, expected.descriptors)
    assert kept.roi_size == expected.roi_size and max(kept.roi_size) == 320


def expected_fish_scores(gallery_path, photo_path,
                         calibrations=((HAMMING_KNOTS, (0.0, 1.0)), (SIFT_KNOTS, (0.0, 1.0))), shortlist=SHORTLIST):
    """{fish: fused score} computed here: Hamming similarity (share of equal codes), the top ``shortlist`` same-flank
    templates verified, each score mapped by ``calibrations`` ((knots, probabilities) of the Hamming score and of the
    inliers; default the hand-made ones), averaged, best template per fish."""
    (hamming_knots, hamming_probabilities), (sift_knots, sift_probabilities) = calibrations
    gallery, encoder = commands.open_gallery(gallery_path, None)
    photo = encoder.read_photo(photo_path)
    code = encoder.encode([photo])[0][0]
    codes = unpack_codes(gallery.codes, gallery.m)
    similarity = (codes == code[None]).mean(axis=1)
    same_flank = [i for i, entry in enumerate(gallery.entries) if entry["flank"] == photo.flank]
    shortlisted = sorted(same_flank, key=lambda i: -similarity[i])[:shortlist]
    query = photo_features(photo.source, photo.roi_corners, "sift")
    fish = {}
    for i in same_flank:
        probability = np.interp(similarity[i], hamming_knots, hamming_probabilities)
        if i in shortlisted:
            kept = load_features(sidecar_folder(gallery_path) / f"{gallery.entries[i]['sha256']}.npz")
            inliers = local_score(query, kept, 4)  # cv2.NORM_L2 == 4
            probability = (probability + np.interp(inliers, sift_knots, sift_probabilities)) / 2
        name = gallery.entries[i]["fish_id"]
        fish[name] = max(fish.get(name, -1.0), probability)
    return fish


def test_identify_ranks_and_decides_on_the_fused_probability(verifying):
    root, _, gallery_path = verifying
    queries = [sorted((root / "raw" / "session_2" / name).glob("*.jpg"))[0] for name in ("fish_001", "fish_007")]
    summary = commands.identify(gallery_path, queries, given_thresholds(0.9, 0.4), top_k=3)
    assert summary["measure"] == "hamming+sift"
    for query, result in zip(queries, summary["results"]):
        expected = expected_fish_scores(gallery_path, query)
        for candidate in result["candidates"]:
            assert candidate["score"] == pytest.approx(expected[candidate["fish_id"]], abs=1e-6)
        assert [c["score"] for c in result["candidates"]] == pytest.approx(sorted(expected.values(),
                                                                                  reverse=True)[:3], abs=1e-6)
        best = result["candidates"][0]["score"]
        assert result["decision"] == ("match" if best >= 0.9 else "new" if best < 0.4 else "review")


def test_default_fpir_thresholds_come_from_the_fused_scores(verifying, tmp_path, capsys):
    root, run, gallery_path = verifying
    impostors = np.linspace(0.0, 0.8, 400)
    (run / EVALUATION_FOLDER).mkdir(exist_ok=True)
    write_calibration(run / EVALUATION_FOLDER / CALIBRATION_FILE, {"hamming": impostors + 0.2,
                                                                    "hamming+sift": impostors}, {})
    query = sorted((root / "raw" / "session_2" / "fish_001").glob("*.jpg"))[0]
    out = tmp_path / "out.json"
    assert main(["identify", "--gallery", str(gallery_path), "--input", str(query), "--json", str(out)]) == 0
    result = json.loads(out.read_text())["results"][0]
    accept, _ = threshold_at_fpir(impostors, 0.01, result["fish_searched"])
    assert result["accept_threshold"] == pytest.approx(accept)


def refusal(capsys, argv):
    assert main(argv) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_matcher_or_model_the_gallery_was_not_made_with_is_refused(verifying, tmp_path, capsys):
    root, _, gallery_path = verifying
    query = str(sorted((root / "raw" / "session_2" / "fish_001").glob("*.jpg"))[0])
    before = gallery_path.read_bytes()
    for command in (["identify", "--input", query], ["enroll", "--input", query, "--fish", "fish_001"],
                    ["review", "--input", query, "--no_browser"]):
        message = refusal(capsys, [command[0], "--gallery", str(gallery_path), "--verify", "orb", *command[1:]])
        assert str(gallery_path) in message and "--verify sift, not orb" in message
    assert "--shortlist applies to enroll only when a gallery is created" in refusal(
        capsys, ["enroll", "--gallery", str(gallery_path), "--input", query, "--fish", "fish_001", "--shortlist", "9"])
    assert gallery_path.read_bytes() == before
    # Another network: the gallery's fingerprint no longer matches the model's.
    altered = tmp_path / "altered.lgal"
    gallery = load_gallery(gallery_path)
    gallery.header["model"]["fingerprint"] = "f" * 64
    save_gallery(gallery, altered)
    shutil.copytree(sidecar_folder(gallery_path), sidecar_folder(altered))
    with pytest.raises(GalleryError, match="is not the model .* was built with"):
        commands.identify(altered, [query], given_thresholds(0.9, 0.4))


def test_verification_flags_on_a_gallery_made_without_it_are_refused(verifying, tmp_path, capsys):
    root, run, _ = verifying
    plain = tmp_path / "plain.lgal"
    commands.enroll(plain, root / "known" / "session_1" / "fish_000", model=run, fish="fish_000")
    query = str(sorted((root / "raw" / "session_2" / "fish_000").glob("*.jpg"))[0])
    message = refusal(capsys, ["identify", "--gallery", str(plain), "--input", query, "--verify", "sift",
                               "--threshold", "0.9"])
    assert f"{plain} was created without local verification" in message
    assert not sidecar_folder(plain).exists()


def test_the_matcher_refusal_comes_before_tensorflow_loads(verifying):
    root, _, gallery_path = verifying
    query = str(sorted((root / "raw" / "session_2" / "fish_001").glob("*.jpg"))[0])
    program = ("import sys\nfrom lateral.gallery.__main__ import main\n"
               f"code = main(['identify', '--gallery', {str(gallery_path)!r}, '--input', {query!r}, '--verify', 'orb'])\n"
               "print(code, 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert done.stdout.split() == ["2", "False"], done.stderr


def test_a_confirmed_photo_has_its_features_stored_beside_the_gallery(verifying, tmp_path):
    root, _, gallery_path = verifying
    copy = tmp_path / "pond.lgal"
    shutil.copy(gallery_path, copy)
    shutil.copytree(sidecar_folder(gallery_path), sidecar_folder(copy))
    photo = sorted((root / "raw" / "session_2" / "fish_001").glob("*.jpg"))[0]
    commands.confirm(copy, photo, "fish_001", session="session_2")
    entry = next(e for e in load_gallery(copy).entries if e["source"] == str(photo.resolve()))
    encoder = commands.open_gallery(copy, None)[1]
    kept = load_features(sidecar_folder(copy) / f"{entry['sha256']}.npz")
    expected = photo_features(photo, encoder.read_photo(photo).roi_corners, "sift")
    np.testing.assert_array_equal(kept.descriptors, expected.descriptors)


def test_a_new_gallery_verifies_by_default_when_its_model_has_the_calibrations(verifying, iom_run, tmp_path, capsys):
    """The measured best path is the default: no --verify on a new gallery of a run with its Hamming and SIFT
    calibrations gives a SIFT-verifying gallery; a run without them, or --verify none, a plain one."""
    root, run, _ = verifying
    photos = str(root / "known" / "session_1" / "fish_000")
    bare_run = tmp_path / "bare"
    shutil.copytree(iom_run[0] / "checkpoints" / "tiny_iom", bare_run)
    made = {}
    for name, model, extra in (("default", run, []), ("bare", bare_run, []), ("none", run, ["--verify", "none"])):
        path = tmp_path / f"{name}.lgal"
        assert main(["enroll", "--gallery", str(path), "--model", str(model), "--input", photos, "--fish", "fish_000",
                     *extra]) == 0
        made[name] = (load_gallery(path).header.get("verify"), capsys.readouterr().out)
    assert made["default"][0] == {"matcher": "sift", "shortlist": 100, "long_side": 320}
    assert sidecar_folder(tmp_path / "default.lgal").is_dir()
    assert "local verification: sift (the default" in made["default"][1]
    assert made["bare"][0] is None and f"{bare_run} has no sift calibrations" in made["bare"][1]
    assert made["none"][0] is None and not sidecar_folder(tmp_path / "none.lgal").exists()
    # --verify none on a gallery that verifies cannot turn it off: refused, the gallery unchanged.
    before = (tmp_path / "default.lgal").read_bytes()
    message = refusal(capsys, ["enroll", "--gallery", str(tmp_path / "default.lgal"), "--input", photos, "--fish",
                               "fish_000", "--verify", "none"])
    assert "was created with local verification" in message
    assert (tmp_path / "default.lgal").read_bytes() == before
