"""``enroll`` warns, naming the photos, when a folder enrolled as one fish holds photos that match none of its other
photos of the same flank; the expected photos come from Hamming similarities recomputed here in NumPy."""

import shutil

import numpy as np

from lateral.fpir import write_calibration
from lateral.gallery.__main__ import main
from lateral.gallery.fpir_thresholds import calibration_path
from lateral.gallery.packing import unpack_codes
from lateral.gallery.store import load_gallery
from tests.gallery.test_commands import model_folder  # noqa: F401  (the module's tiny model)


def test_a_folder_of_two_fish_enrolled_as_one_is_named_in_a_warning(prepared_synthetic, model_folder, tmp_path,
                                                                     capsys):
    raw = prepared_synthetic.parent / "raw" / "session_1"
    folder = tmp_path / "one_fish"
    folder.mkdir()
    for fish in ("fish_000", "fish_001"):
        for photo in sorted((raw / fish).glob("*.jpg")):
            shutil.copyfile(photo, folder / photo.name)
    model = tmp_path / "model"
    shutil.copytree(model_folder, model)
    gallery_path = tmp_path / "pond.lgal"
    # First without a calibration file: nothing to judge by, no warning.
    assert main(["enroll", "--gallery", str(gallery_path), "--model", str(model), "--input", str(folder),
                 "--fish", "mixed"]) == 0
    assert "warning" not in capsys.readouterr().err
    gallery = load_gallery(gallery_path)
    codes = unpack_codes(gallery.codes, gallery.m)
    flanks = [entry["flank"] for entry in gallery.entries]
    best = {}
    for i, code in enumerate(codes):
        others = [np.mean(code == codes[j]) for j in range(len(codes)) if j != i and flanks[j] == flanks[i]]
        if others:
            best[gallery.entries[i]["source"].split("/")[-1]] = max(others)
    # The review threshold of a one-to-one comparison at the default FPIR (review band to 0.1): with 90 impostor
    # scores of 0 and 10 of t, the smallest T with at most 10% of the scores at or above it is t.
    levels = sorted(set(best.values()))
    threshold = levels[len(levels) // 2]
    (model / "evaluation").mkdir(exist_ok=True)
    write_calibration(calibration_path(model), {"hamming": [0.0] * 90 + [threshold] * 10}, {"made": "by the test"})
    expected = sorted(name for name, score in best.items() if score < threshold)
    assert expected  # the threshold sits among the best scores: some photos fall below it
    gallery_path.unlink()
    assert main(["enroll", "--gallery", str(gallery_path), "--model", str(model), "--input", str(folder),
                 "--fish", "mixed"]) == 0
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("warning: fish mixed: ")
    named = sorted(part.split(" (best ")[0] for part in warning[0].split(": ", 2)[2].split(" match none")[0].split(", "))
    assert named == expected
