"""``python -m lateral.gallery``'s subcommand registry, and the commands that need no model, on a hand-made gallery."""

import argparse

import numpy as np
import pytest

from lateral.gallery.__main__ import SUBCOMMANDS, build_parser, main
from lateral.gallery.packing import pack_codes
from lateral.gallery.store import Gallery, save_gallery

MODEL = {"path": "/runs/iom", "fingerprint": "ab" * 32, "m": 4, "q": 4, "embedding_size": 2, "input_size": [8, 16]}


@pytest.fixture
def gallery_path(tmp_path):
    """Fish A (two templates, session s1, left) and B (one, session s2, right)."""
    gallery = Gallery.new(MODEL, None, False)
    rows = [("A", "s1", "left"), ("A", "s1", "left"), ("B", "s2", "right")]
    entries = [{"fish_id": fish, "flank": flank, "source": f"/{i}.jpg", "sha256": str(i), "session": session,
                "mode": "tent", "added": "", "how": "enroll"} for i, (fish, session, flank) in enumerate(rows)]
    gallery.add(entries, pack_codes(np.array([[0, 1, 2, 3], [0, 1, 2, 2], [3, 3, 3, 3]]), 4))
    path = tmp_path / "pond.lgal"
    save_gallery(gallery, path)
    return path


def test_every_subcommand_of_the_parser_is_registered():
    parser = build_parser()
    choices = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction)).choices
    assert sorted(choices) == SUBCOMMANDS.names()
    assert SUBCOMMANDS.get("review").show is None  # its exit code is the server's
    assert all(SUBCOMMANDS.get(name).show is not None for name in SUBCOMMANDS.names() if name != "review")


def test_list_remove_and_history_print_their_summaries(gallery_path, tmp_path, capsys):
    assert main(["list", "--gallery", str(gallery_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"model /runs/iom (m=4, q=4, weights {'ab' * 6}…); key: none; float embeddings: not stored"
    assert lines[2:] == ["3 templates of 2 fish; 0 decisions recorded",
                         "  A: 2 templates, sessions s1, flanks left", "  B: 1 template, sessions s2, flanks right"]
    out = tmp_path / "captures.csv"
    assert main(["history", "--gallery", str(gallery_path), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}: 2 fish x 2 sessions (s1, s2)\n"
    assert main(["remove", "--gallery", str(gallery_path), "--fish", "B"]) == 0
    assert capsys.readouterr().out == "removed 1 templates of B; 2 left\n"


def test_a_users_mistake_is_one_line_and_exit_code_2(gallery_path, tmp_path, capsys):
    assert main(["remove", "--gallery", str(gallery_path), "--fish", "Z"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: ") and "has no fish Z" in captured.err
    assert main(["history", "--gallery", str(gallery_path), "--out", str(tmp_path / "missing" / "c.csv")]) == 2
    assert "the folder" in capsys.readouterr().err
    assert main(["revoke", "--gallery", str(gallery_path)]) == 2
    assert capsys.readouterr().err == "error: revoke needs --new_key or --new_key_file\n"


def test_the_identify_csv_carries_each_photo_s_capture_decision(tmp_path):
    """A capture of two photos decided together (review, best fish B), a lone photo (its own decision) and a
    rejected photo: each CSV row carries its photo's capture id, the capture's decision and fish, as given."""
    import csv

    from lateral.gallery.__main__ import _show_identify

    def result(photo, decision, fish, capture, capture_decision, capture_fish):
        return {"photo": photo, "flank": "left", "decision": decision, "candidates": [{"fish_id": fish, "score": 0.5}],
                "accept_threshold": 0.9, "review_threshold": 0.4, "fish_searched": 2, "new_group": None,
                "capture": capture, "capture_decision": capture_decision, "capture_fish": capture_fish}

    summary = {"templates": 3, "fish": 2, "measure": "hamming", "thresholds": "given",
               "results": [result("c7_left.jpg", "match", "A", "7", "review", "B"),
                           result("c7_right.jpg", "review", "B", "7", "review", "B"),
                           result("lone.jpg", "new", "A", None, "new", None)],
               "rejected": [("bad.jpg", "not a photo", "cannot be decoded")]}
    out = tmp_path / "ids.csv"
    _show_identify(argparse.Namespace(csv=str(out), json=None), summary)
    rows = list(csv.DictReader(out.open()))
    assert [(r["photo"], r["capture"], r["capture_decision"], r["capture_fish"]) for r in rows] == [
        ("c7_left.jpg", "7", "review", "B"), ("c7_right.jpg", "7", "review", "B"), ("lone.jpg", "", "new", ""),
        ("bad.jpg", "", "", "")]
    assert rows[3]["decision"] == "rejected: not a photo" and None not in rows[3].values()
