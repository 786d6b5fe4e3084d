"""CSV exports never carry a live spreadsheet formula, and the capture history writes ``ch`` as quoted text
(issue 27 case 4)."""

import argparse
import csv

import numpy as np

from lateral.gallery.history import write_capture_history
from lateral.gallery.packing import pack_codes
from lateral.gallery.store import Gallery
from tests.gallery.test_history import MODEL

# OWASP's list: a cell starting with one of these is a formula to a spreadsheet, quoted or not.
LEADS = "=+-@\t\r"
CRAFTED = ['=HYPERLINK("http://evil.invalid","click")', "+1+2", "-3+4", "@SUM(A1)", "\tx", "\rx"]


def gallery_with(fish_sessions):
    """A gallery made without the command line (as an older lateral or a hand edit could leave one)."""
    gallery = Gallery.new(MODEL, None, False)
    entries = [{"fish_id": fish, "session": session, "flank": "left", "source": f"/{i}", "sha256": str(i),
                "mode": "tent", "added": "", "how": "enroll"} for i, (fish, session) in enumerate(fish_sessions)]
    gallery.add(entries, pack_codes(np.zeros((len(entries), 8), int), 4))
    return gallery


def test_capture_history_cells_never_start_a_formula_and_keep_their_text(tmp_path):
    sightings = [(fish, "s1") for fish in CRAFTED] + [("F1", "=s2"), ("F1", "s1")]
    out = tmp_path / "captures.csv"
    write_capture_history(gallery_with(sightings), out)
    rows = list(csv.reader(open(out, newline="", encoding="utf-8")))
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell[:1] in LEADS], cells
    assert rows[0] == ["fish_id", "'=s2", "s1", "ch"]
    shown = {row[0]: row[1:] for row in rows[1:]}
    assert sorted(shown) == sorted(["F1"] + ["'" + fish for fish in CRAFTED])
    assert shown["F1"] == ["1", "1", "11"] and shown["'=HYPERLINK(\"http://evil.invalid\",\"click\")"] == ["0", "1", "01"]


def test_capture_history_ch_is_quoted_text(tmp_path):
    out = tmp_path / "captures.csv"
    write_capture_history(gallery_with([("F1", "s2"), ("F2", "s1")]), out)
    assert out.read_text(encoding="utf-8").splitlines() == [
        '"fish_id","s1","s2","ch"', '"F1",0,1,"01"', '"F2",1,0,"10"']


def test_identify_csv_cells_never_start_a_formula(tmp_path):
    from lateral.gallery.__main__ import _show_identify

    out = tmp_path / "results.csv"
    summary = {"templates": 2, "fish": 2, "measure": "hamming", "thresholds": "given", "rejected": [],
               "results": [{"photo": "-photo.jpg", "flank": "left", "decision": "review", "accept_threshold": 0.9,
                            "review_threshold": 0.4, "fish_searched": 2, "new_group": None, "capture": "=7",
                            "capture_decision": "review", "capture_fish": "@evil",
                            "candidates": [{"fish_id": "@evil", "score": 0.5}, {"fish_id": "A", "score": -0.25}]}]}
    _show_identify(argparse.Namespace(csv=str(out), json=None), summary)
    rows = list(csv.reader(open(out, newline="", encoding="utf-8")))
    capture = ["'=7", "review", "'@evil"]  # the capture's cells are guarded too; numbers (-0.25) stay
    assert rows[1:] == [["'-photo.jpg", "left", "review", "1", "'@evil", "0.5", "0.9", "0.4", "2", "", *capture],
                        ["'-photo.jpg", "left", "review", "2", "A", "-0.25", "0.9", "0.4", "2", "", *capture]]
