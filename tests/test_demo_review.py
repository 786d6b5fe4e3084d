"""The demo's review material: neutral photo names with the truth kept aside, and the score of the decisions."""

import csv

from lateral import demo
from lateral.demo import neutral_copies, score_review
from lateral.gallery import catalogue
from lateral.gallery.store import save_gallery
from tests.gallery.test_store import small_gallery


def test_neutral_copies_hide_the_fish_and_keep_the_truth(tmp_path):
    session = tmp_path / "session_2"
    written = {}
    for fish in ("fish_000", "fish_001"):
        (session / fish).mkdir(parents=True)
        for number in range(3):
            data = f"{fish}/{number}".encode()
            (session / fish / f"{fish}_{number}.JPG").write_bytes(data)
            written[data] = fish
    rows = neutral_copies(session, tmp_path / "new", tmp_path / "truth.csv", seed=3)
    names = sorted(path.name for path in (tmp_path / "new").iterdir())
    assert names == [f"IMG_{n:04d}.jpg" for n in range(1, 7)]
    with open(tmp_path / "truth.csv", newline="") as handle:
        truth = {row["photo"]: row["fish_id"] for row in csv.DictReader(handle)}
    # Each copy's truth is the folder its bytes came from; the order is shuffled (not fish by fish).
    assert truth == {name: written[(tmp_path / "new" / name).read_bytes()] for name in names} == dict(rows)
    assert [truth[name] for name in names] != sorted(truth[name] for name in names)


def test_the_score_counts_right_wrong_set_aside_and_undecided(tmp_path):
    new, old = tmp_path / "new", tmp_path / "old"
    entries = [{"source": str(old / "a.jpg"), "fish_id": "fish_000"},
               {"source": str(old / "b.jpg"), "fish_id": "fish_001"},
               {"source": str(new / "IMG_0001.jpg"), "fish_id": "fish_000"},  # right
               {"source": str(new / "IMG_0002.jpg"), "fish_id": "fish_000"},  # wrong: fish_001
               {"source": str(new / "IMG_0003.jpg"), "fish_id": "new_0001"},  # wrong: new_0001 mixes fish_009 ...
               {"source": str(new / "IMG_0004.jpg"), "fish_id": "new_0002"},  # wrong: fish_001 was enrolled
               {"source": str(new / "IMG_0005.jpg"), "fish_id": "new_0001"},  # ... and fish_010
               {"source": str(new / "IMG_0008.jpg"), "fish_id": "new_0003"}]  # right: fish_011, not enrolled before
    decisions = [{"id": 1, "action": "verdict", "photo": str(new / "IMG_0006.jpg"), "review": {"verdict": "unusable"}},
                 {"id": 2, "action": "verdict", "photo": str(new / "IMG_0007.jpg"), "review": {"verdict": "unsure"}},
                 {"id": 3, "action": "undo", "photo": str(new / "IMG_0007.jpg"), "undoes": 2}]  # withdrawn
    truth = {"IMG_0001.jpg": "fish_000", "IMG_0002.jpg": "fish_001", "IMG_0003.jpg": "fish_009",
             "IMG_0004.jpg": "fish_001", "IMG_0005.jpg": "fish_010", "IMG_0006.jpg": "fish_000",
             "IMG_0007.jpg": "fish_000", "IMG_0008.jpg": "fish_011"}
    assert score_review(entries, decisions, truth, new) == {"right": 2, "wrong": 4, "set aside": 1, "undecided": 1}


def test_score_reads_the_demo_gallery_and_its_log(tmp_path, monkeypatch, capsys):
    """``lateral demo score`` on a saved catalogue: enrolled photos, a verdict in force, a verdict withdrawn."""
    monkeypatch.setattr(demo, "REPO", tmp_path)
    assert demo.main(["score"], prog="lateral demo") == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {demo.NEW_PHOTOS_TRUTH} not found: run `make demo`, then "
                                                    "the two commands it prints, first"]
    new = tmp_path / demo.NEW_PHOTOS
    gallery, _ = small_gallery()  # fish_0..fish_2, photos in /photos: enrolled before
    gallery.entries[2]["source"] = str(new / "IMG_0001.jpg")  # decided as fish_2: right
    catalogue.log(gallery, "verdict", {}, {}, "ana", photo=new / "IMG_0002.jpg", review={"verdict": "unusable"})
    withdrawn = catalogue.log(gallery, "verdict", {}, {}, "ana", photo=new / "IMG_0003.jpg",
                              review={"verdict": "unsure"})
    save_gallery(gallery, tmp_path / demo.GALLERY)
    catalogue.undo(gallery, withdrawn["id"], "g", "ana")
    save_gallery(gallery, tmp_path / demo.GALLERY)
    (tmp_path / demo.NEW_PHOTOS_TRUTH).write_text("photo,fish_id\nIMG_0001.jpg,fish_2\nIMG_0002.jpg,fish_0\n"
                                                  "IMG_0003.jpg,fish_1\n")
    assert demo.main(["score"], prog="lateral demo") in (0, None)
    assert capsys.readouterr().out == "3 new photos: 1 right, 0 wrong, 1 set aside, 1 undecided\n"
