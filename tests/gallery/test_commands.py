"""The gallery commands on a tiny trained model, checked against prepare_data.py's ROIs scored by the saved codes model."""

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from lateral.data.pipeline import evaluation_dataset
from lateral.data.records import load_roi_set
from lateral.gallery import commands
from lateral.gallery.__main__ import main
from lateral.gallery.packing import unpack_codes
from lateral.gallery.search import given_thresholds
from lateral.gallery.store import GalleryError, load_gallery, save_gallery
from lateral.models.saved import load_model

KNOWN = ["fish_000", "fish_001", "fish_002", "fish_003", "fish_004", "fish_005"]


@pytest.fixture(scope="module")
def model_folder(iom_run):
    return iom_run[0] / "checkpoints" / "tiny_iom"


@pytest.fixture(scope="module")
def reference_codes(prepared_synthetic, model_folder):
    """{raw-relative source: codes} from prepare_data.py's ROIs and the saved iom_codes.keras (identity key)."""
    roi_set = load_roi_set(prepared_synthetic)
    codes_model = load_model(model_folder / "iom_codes.keras")
    images = evaluation_dataset(roi_set, (32, 64), 64).map(lambda pixels, _: pixels)
    codes = codes_model.predict(images, verbose=0)
    return {source: (code, flank) for source, code, flank in zip(roi_set.sources, codes, roi_set.flanks)}


@pytest.fixture
def photos(prepared_synthetic, tmp_path):
    """A private copy of the raw photos: known/<session>/<fish>/ for 6 fish, and everything under raw/."""
    raw = tmp_path / "raw"
    shutil.copytree(prepared_synthetic.parent / "raw", raw)
    known = tmp_path / "known"
    for fish in KNOWN:
        shutil.copytree(raw / "session_1" / fish, known / "session_1" / fish)
    return tmp_path


def gallery_codes_by_source(gallery, root):
    codes = unpack_codes(gallery.codes, gallery.m)
    return {str(Path(e["source"]).relative_to(root)): c for e, c in zip(gallery.entries, codes)}


@pytest.mark.kernels
def test_enrol_matches_the_prepared_rois_and_is_idempotent(photos, model_folder, reference_codes):
    gallery_path = photos / "pond.lgal"
    summary = commands.enroll(gallery_path, photos / "known", model=model_folder)
    assert summary["fish"] == KNOWN and not summary["rejected"]
    gallery = load_gallery(gallery_path)
    assert len(gallery) == summary["added"] == 24
    stored = gallery_codes_by_source(gallery, photos / "known")
    for source, codes in stored.items():
        np.testing.assert_array_equal(codes, reference_codes[source][0], err_msg=source)
    assert {e["session"] for e in gallery.entries} == {"session_1"}
    assert {e["flank"] for e in gallery.entries} == {"left", "right"}
    before = gallery_path.read_bytes()
    again = commands.enroll(gallery_path, photos / "known")
    assert again["added"] == 0 and len(again["already_enrolled"]) == 24
    assert gallery_path.read_bytes() == before


@pytest.mark.kernels
def test_identify_finds_enrolled_photos_and_scores_unknown_fish_as_expected(photos, model_folder, reference_codes):
    gallery_path = photos / "pond.lgal"
    commands.enroll(gallery_path, photos / "known", model=model_folder)
    enrolled = sorted((photos / "known" / "session_1" / "fish_002").glob("*.jpg"))[0]
    strangers = sorted((photos / "raw" / "session_2" / "fish_007").glob("*.jpg"))
    thresholds = given_thresholds(0.99, 0.6)
    results = commands.identify(gallery_path, [enrolled, *strangers], thresholds, top_k=3)["results"]
    # A tiny model may give another fish the same codes; the photo's own fish must score 1.0 all the same, and
    # a tie at the top is for a person to decide (review), never a match.
    perfect = [c["fish_id"] for c in results[0]["candidates"] if c["score"] == 1.0]
    assert "fish_002" in perfect and results[0]["candidates"][0]["score"] == 1.0
    assert results[0]["decision"] == ("match" if len(perfect) == 1 else "review")
    known = [(source.split("/")[1], code, flank) for source, (code, flank) in reference_codes.items()
             if source.startswith("session_1/") and source.split("/")[1] in KNOWN]
    for photo, result in zip(strangers, results[1:]):
        code, flank = reference_codes[f"session_2/fish_007/{photo.name}"]
        per_fish = {}
        for fish, other, other_flank in known:
            if other_flank == flank:
                per_fish[fish] = max(per_fish.get(fish, 0.0), np.mean(code == other))
        best = max(per_fish.values())
        expected = thresholds.decide(best)
        if expected == "match" and sum(score == best for score in per_fish.values()) > 1:
            expected = "review"  # two fish tie at the top
        assert result["candidates"][0]["score"] == pytest.approx(best)
        assert result["decision"] == expected
        assert all(c["fish_id"] in KNOWN for c in result["candidates"])


def test_confirm_a_new_fish_then_it_is_recognised(photos, model_folder):
    gallery_path = photos / "pond.lgal"
    commands.enroll(gallery_path, photos / "known", model=model_folder)
    photo = sorted((photos / "raw" / "session_2" / "fish_007").glob("*.jpg"))[0]
    confirmed = commands.confirm(gallery_path, photo, "new", session="session_2")
    assert confirmed["fish_id"] == "new_0001" and confirmed["new_fish"]
    result = commands.identify(gallery_path, [photo], given_thresholds(0.99))["results"][0]
    assert {"fish_id": "new_0001", "score": 1.0, "templates": 1} in result["candidates"]
    gallery = load_gallery(gallery_path)
    assert gallery.decisions[-1]["fish_id"] == "new_0001" and gallery.decisions[-1]["new_fish"]
    with pytest.raises(GalleryError, match="already enrolled as fish new_0001"):
        commands.confirm(gallery_path, photo, "fish_001")
    commands.history(gallery_path, photos / "captures.csv")
    rows = list(csv.reader(open(photos / "captures.csv")))
    assert rows[0] == ["fish_id", "session_1", "session_2", "ch"]
    assert rows[-1] == ["new_0001", "0", "1", "01"] and rows[1] == ["fish_000", "1", "0", "10"]


def test_confirm_asks_for_new_and_a_session_and_the_same_photo_twice_names_both(photos, model_folder):
    gallery_path = photos / "pond.lgal"
    commands.enroll(gallery_path, photos / "known", model=model_folder)
    photo = sorted((photos / "raw" / "session_2" / "fish_007").glob("*.jpg"))[0]
    before = gallery_path.read_bytes()
    with pytest.raises(GalleryError, match="has no fish fish_999; give --new to start a new fish of that name"):
        commands.confirm(gallery_path, photo, "fish_999", session="session_2")
    with pytest.raises(GalleryError, match="fish fish_001 is already in the gallery; leave out --new"):
        commands.confirm(gallery_path, photo, "fish_001", session="session_2", new=True)
    with pytest.raises(GalleryError, match="no session .* give --session NAME"):
        commands.confirm(gallery_path, photo, "new")
    assert gallery_path.read_bytes() == before
    confirmed = commands.confirm(gallery_path, photo, "fish_999", session="session_2", new=True,
                                 session_date="2026-06-09", reviewer="ana")
    assert (confirmed["fish_id"], confirmed["new_fish"]) == ("fish_999", True)
    gallery = load_gallery(gallery_path)
    assert gallery.sessions == {"session_1": None, "session_2": "2026-06-09"}
    logged = gallery.decisions[-1]
    assert (logged["action"], logged["reviewer"], logged["after"]) == ("confirm", "ana", {gallery.entries[-1]["sha256"]:
                                                                                         "fish_999"})
    assert logged["before"] == {gallery.entries[-1]["sha256"]: None}
    copy = photos / "copy_of_it.jpg"
    shutil.copy(photo, copy)
    with pytest.raises(GalleryError, match=f"copy_of_it.jpg is already enrolled as fish fish_999 \\(the same photo "
                                           f"as {photo.resolve()}\\)"):
        commands.confirm(gallery_path, copy, "fish_001", session="session_2")


def test_a_photo_without_a_tent_is_rejected_unless_shaped_like_a_cropped_flank(photos, model_folder, capsys):
    """Noise of a camera frame's 4:3 shape is "rejected: no_green_screen", never a new fish; noise of the ROI's 2:1
    shape is taken as a cropped flank (and --mode cropped takes either)."""
    gallery = photos / "pond.lgal"
    commands.enroll(gallery, photos / "known", model=model_folder)
    rng = np.random.default_rng(0)
    noise, strip = photos / "noise.png", photos / "strip.png"
    for path, shape in ((noise, (360, 480)), (strip, (70, 140))):
        pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        pixels[..., 1] = 0  # no green at all: no tent is found
        cv2.imwrite(str(path), pixels)
    assert main(["identify", "--gallery", str(gallery), "--input", str(noise), str(strip), "--threshold", "0.9",
                 "--csv", str(photos / "ids.csv")]) == 0
    out = capsys.readouterr().out
    assert "noise.png  -       rejected: no_green_screen" in out and "0 match, 0 review, 1 new, 1 rejected" in out
    rows = {Path(r["photo"]).name: r for r in csv.DictReader(open(photos / "ids.csv"))}
    assert rows["noise.png"]["decision"] == "rejected: no_green_screen"
    assert rows["strip.png"]["flank"] == "unknown"
    forced = commands.identify(gallery, [noise], given_thresholds(0.9), mode="cropped")
    assert len(forced["results"]) == 1 and not forced["rejected"]


def test_a_sessions_new_photos_are_grouped_and_a_group_confirmed_as_one_new_fish(photos, model_folder,
                                                                                reference_codes, capsys):
    """Groups are the connected components (scipy) of the "new" photos' matches among themselves, scored here from
    prepare_data.py's ROIs through the saved codes model; confirming a group's photos makes one new fish."""
    from scipy.sparse.csgraph import connected_components

    gallery_path = photos / "pond.lgal"
    commands.enroll(gallery_path, photos / "known", model=model_folder)
    queries = [p for fish in ("fish_006", "fish_007") for p in sorted((photos / "raw" / "session_2" / fish).glob("*"))]
    reference = [reference_codes[str(query.relative_to(photos / "raw"))] for query in queries]
    known = [(code, flank) for source, (code, flank) in reference_codes.items()
             if source.startswith("session_1/") and source.split("/")[1] in KNOWN]
    # Just above every query's best score against the gallery: no query matches a known fish, all are new.
    accept = max(np.mean(code == other) for code, flank in reference for other, other_flank in known
                 if other_flank == flank) + 1e-6
    results = commands.identify(gallery_path, queries, given_thresholds(accept), top_k=1)["results"]
    new = [i for i, r in enumerate(results) if r["decision"] == "new"]
    assert new == list(range(len(queries)))
    linked = np.array([[a[1] == b[1] and np.mean(a[0] == b[0]) >= accept for b in reference] for a in reference])
    _, components = connected_components(linked, directed=False)
    groups = np.array([results[i]["new_group"] for i in new])
    assert np.array_equal(groups[:, None] == groups[None, :], components[:, None] == components[None, :])
    assert all(r["new_group"] is None for r in results if r["decision"] != "new")
    first_group = [str(queries[i]) for i, group in zip(new, groups) if group == 1]
    assert main(["confirm", "--gallery", str(gallery_path), "--photo", *first_group, "--fish", "new", "--session",
                 "session_2"]) == 0
    assert "new fish new_0001" in capsys.readouterr().out
    gallery = load_gallery(gallery_path)
    assert sorted(e["source"] for e in gallery.entries if e["fish_id"] == "new_0001") == sorted(first_group)
    assert [d["fish_id"] for d in gallery.decisions] == ["new_0001"] * len(first_group)


def test_a_capture_id_links_both_flanks_and_fish_lacking_a_flank_are_counted(photos, model_folder, capsys):
    """Capture ids come from the file names (fish_001_session_2_00.jpg -> fish_001_session_2) and are stored; a
    capture's photos all get the fish its best match found; a fish enrolled on one flank only is counted as
    unsearchable from the other."""
    pattern = r"(?P<capture>fish_\d+_session_\d+)_"
    gallery_path = photos / "pond.lgal"
    commands.enroll(gallery_path, photos / "known", model=model_folder, capture_pattern=pattern)
    gallery = load_gallery(gallery_path)
    assert [e["capture"] for e in gallery.entries] == [Path(e["source"]).name[:18] for e in gallery.entries]
    one_flank = [e["sha256"] for e in gallery.entries if e["fish_id"] == "fish_005" and e["flank"] == "right"]
    gallery.keep([e["sha256"] not in one_flank for e in gallery.entries])
    save_gallery(gallery, gallery_path)
    queries = sorted((photos / "raw" / "session_2" / "fish_001").glob("*.jpg"))
    results = commands.identify(gallery_path, queries, given_thresholds(0.5), capture_pattern=pattern)["results"]
    matches = [(r["candidates"][0]["score"], r["candidates"][0]["fish_id"]) for r in results if r["decision"] == "match"]
    best = max(matches, key=lambda match: match[0])[1] if matches else None
    assert [(r["capture"], r["capture_fish"]) for r in results] == [("fish_001_session_2", best)] * len(queries)
    flanks = {fish: {e["flank"] for e in gallery.entries if e["fish_id"] == fish} for fish in gallery.fish_ids()}
    assert "right" not in flanks["fish_005"]
    assert [r["fish_lacking_flank"] for r in results] == [sum(r["flank"] not in seen for seen in flanks.values())
                                                          for r in results]


def test_remove_a_fish(photos, model_folder):
    gallery_path = photos / "pond.lgal"
    commands.enroll(gallery_path, photos / "known", model=model_folder)
    assert commands.remove(gallery_path, ["fish_003"]) == {"removed": 4, "fish": ["fish_003"], "templates": 20}
    photo = sorted((photos / "known" / "session_1" / "fish_003").glob("*.jpg"))[0]
    result = commands.identify(gallery_path, [photo], given_thresholds(0.99), top_k=10)["results"][0]
    assert "fish_003" not in [c["fish_id"] for c in result["candidates"]]
    before = gallery_path.read_bytes()
    with pytest.raises(GalleryError, match="has no fish fish_999"):
        commands.remove(gallery_path, ["fish_999"])
    assert gallery_path.read_bytes() == before


def test_keys_are_checked_and_revocation_replaces_every_template(photos, model_folder):
    gallery_path = photos / "pond.lgal"
    commands.enroll(gallery_path, photos / "known", model=model_folder, key="first key")
    old = load_gallery(gallery_path)
    photo = sorted((photos / "known" / "session_1" / "fish_004").glob("*.jpg"))[1]
    with pytest.raises(GalleryError, match="give it with --key"):
        commands.identify(gallery_path, [photo], given_thresholds(0.99))
    with pytest.raises(GalleryError, match="different permutation key"):
        commands.identify(gallery_path, [photo], given_thresholds(0.99), key="second key")

    (photos / "known" / "session_1" / "fish_000" / sorted(p.name for p in (
        photos / "known" / "session_1" / "fish_000").iterdir())[0]).unlink()
    before = gallery_path.read_bytes()
    with pytest.raises(GalleryError, match="1 of 24 source photos cannot be re-enrolled.*not found.*Nothing changed"):
        commands.revoke(gallery_path, "second key", key="first key")
    assert gallery_path.read_bytes() == before

    summary = commands.revoke(gallery_path, "second key", drop_missing=True, key="first key")
    assert summary["reenrolled"] == 23 and len(summary["dropped"]) == 1
    # Revocation re-enrols every remaining photo under the new key: the templates of a gallery enrolled
    # afresh from the same photos with that key, and not the old key's templates.
    new = load_gallery(gallery_path)
    commands.enroll(photos / "fresh.lgal", photos / "known", model=model_folder, key="second key")
    fresh = load_gallery(photos / "fresh.lgal")

    def codes_by_photo(gallery):
        return {entry["sha256"]: codes for entry, codes in zip(gallery.entries, unpack_codes(gallery.codes, gallery.m))}

    old_codes, new_codes, fresh_codes = codes_by_photo(old), codes_by_photo(new), codes_by_photo(fresh)
    assert set(new_codes) == set(fresh_codes) and len(new_codes) == 23
    for sha256, codes in new_codes.items():
        np.testing.assert_array_equal(codes, fresh_codes[sha256])
    assert any((new_codes[sha256] != old_codes[sha256]).any() for sha256 in new_codes)
    with pytest.raises(GalleryError, match="different permutation key"):
        commands.identify(gallery_path, [photo], given_thresholds(0.99), key="first key")
    result = commands.identify(gallery_path, [photo], given_thresholds(0.99), key="second key")["results"][0]
    assert "fish_004" in [c["fish_id"] for c in result["candidates"] if c["score"] == 1.0]


def test_a_gallery_refuses_another_model(photos, model_folder):
    gallery_path = photos / "pond.lgal"
    commands.enroll(gallery_path, photos / "known" / "session_1" / "fish_000", model=model_folder, fish="fish_000")
    gallery = load_gallery(gallery_path)
    gallery.header["model"]["fingerprint"] = "f" * 64  # as if built by a differently trained network
    save_gallery(gallery, gallery_path)
    with pytest.raises(GalleryError, match="is not the model .* was built with"):
        commands.identify(gallery_path, [photos / "known"], given_thresholds(0.9))
    gallery.header["model"]["path"] = str(photos / "moved_away")
    save_gallery(gallery, gallery_path)
    with pytest.raises(GalleryError, match="no longer there; give its new place with --model"):
        commands.identify(gallery_path, [photos / "known"], given_thresholds(0.9))


def test_a_cli_session(photos, model_folder, capsys):
    gallery = str(photos / "pond.lgal")
    assert main(["enroll", "--gallery", gallery, "--input", str(photos / "known"), "--model", str(model_folder),
                 "--store_embeddings"]) == 0
    assert "added 24 templates of 6 fish" in capsys.readouterr().out
    queries = [str(p) for p in sorted((photos / "raw" / "session_2" / "fish_001").glob("*.jpg"))]
    assert main(["identify", "--gallery", gallery, "--input", *queries, "--threshold", "0.9", "--review_threshold",
                 "0.5", "--csv", str(photos / "ids.csv"), "--json", str(photos / "ids.json")]) == 0
    out = capsys.readouterr().out
    assert "24 templates of 6 fish, hamming" in out and "decision" in out
    rows = list(csv.DictReader(open(photos / "ids.csv")))
    assert len(rows) == 4 * 5 and {r["decision"] for r in rows} <= {"match", "review", "new"}
    assert len(json.loads((photos / "ids.json").read_text())["results"]) == 4
    assert main(["identify", "--gallery", gallery, "--input", *queries, "--threshold", "0.9", "--measure",
                 "cosine"]) == 0
    assert main(["list", "--gallery", gallery]) == 0
    assert "24 templates of 6 fish" in capsys.readouterr().out
    assert main(["identify", "--gallery", gallery, "--input", queries[0], "--threshold", "0.9", "--key", "k"]) == 2
    assert "built without a key" in capsys.readouterr().err
    assert main(["identify", "--gallery", str(photos / "none.lgal"), "--input", queries[0], "--far", "0.001"]) == 2
    assert "--far needs --metrics" in capsys.readouterr().err
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    assert main(["identify", "--gallery", gallery, "--input", str(photos / "broken.jpg"), "--threshold", "0.9"]) == 0
    assert "skipped" in capsys.readouterr().out


@pytest.mark.kernels
def test_a_flip_tta_gallery_makes_a_photo_and_its_mirror_image_one_template(photos, model_folder):
    """With flip test-time augmentation a template averages a photo with its mirror, so the mirror image
    (made here with NumPy) gets the same embedding; the choice is recorded and identify follows it."""
    source = next((photos / "known" / "session_1" / KNOWN[0]).iterdir())
    mirrored = photos / "mirrored" / f"{source.stem}.png"  # lossless: the exact mirror of the decoded photo
    mirrored.parent.mkdir()
    cv2.imwrite(str(mirrored), cv2.imread(str(source))[:, ::-1])
    gallery_path = photos / "flipped.lgal"
    commands.enroll(gallery_path, source, model=model_folder, fish=KNOWN[0], mode="cropped", flip_tta=True)
    gallery = load_gallery(gallery_path)
    assert gallery.header["model"]["flip_tta"] is True
    stored = unpack_codes(gallery.codes, gallery.m)[0]
    _, encoder = commands.open_gallery(gallery_path, None)
    assert encoder.flip_tta
    (original, mirror), _ = encoder.read_photos([source, mirrored], mode="cropped")
    codes, embeddings = encoder.encode([original, mirror])
    np.testing.assert_array_equal(codes[0], stored)
    # The mirror's averaged embedding is the photo's up to float rounding (a convolution of a mirrored
    # image sums in another order); its codes may then differ only where two logits all but tie.
    np.testing.assert_allclose(embeddings[1], embeddings[0], rtol=0, atol=1e-5 * np.abs(embeddings[0]).max())
    commands.enroll(photos / "plain.lgal", source, model=model_folder, fish=KNOWN[0], mode="cropped")
    assert load_gallery(photos / "plain.lgal").header["model"]["flip_tta"] is False
    with pytest.raises(GalleryError, match="without flip test-time augmentation"):
        commands.enroll(photos / "plain.lgal", mirrored, fish=KNOWN[0], mode="cropped", flip_tta=True)
