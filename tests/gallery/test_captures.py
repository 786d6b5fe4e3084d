"""A capture's photos linked by an id from their file names; fish lacking a flank; hand-worked cases."""

import re

import numpy as np
import pytest

from lateral.gallery.captures import (capture_of, capture_summary, compiled, fish_lacking_flanks, flanks_disagree,
                                      link_captures)
from lateral.gallery.packing import pack_codes
from lateral.gallery.store import Gallery, GalleryError

MODEL = {"path": "/r", "fingerprint": "0" * 64, "m": 4, "q": 4, "embedding_size": 2, "input_size": [8, 16]}


def result(decision, fish, score, flank):
    return {"decision": decision, "flank": flank, "candidates": [{"fish_id": fish, "score": score}]}


def test_a_capture_takes_the_fish_its_best_matching_flank_matched():
    """c1: left matched A (0.9), right found nothing (new) -> both A. c2: left matched B at 0.8 and right matched C at
    0.95 -> C, the better match. c3 matched nothing. p7 has no capture id: left alone."""
    pattern = compiled(r"(?P<capture>c\d+)_[LR]\.jpg")
    names = ["c1_L.jpg", "c1_R.jpg", "c2_L.jpg", "c2_R.jpg", "c3_L.jpg", "c3_R.jpg", "p7.jpg"]
    results = [result("match", "A", 0.9, "left"), result("new", "D", 0.2, "right"),
               result("match", "B", 0.8, "left"), result("match", "C", 0.95, "right"),
               result("review", "E", 0.6, "left"), result("new", "F", 0.1, "right"), result("match", "G", 0.99, "left")]
    link_captures(results, [capture_of(f"/photos/{name}", pattern) for name in names])
    assert [r["capture"] for r in results] == ["c1", "c1", "c2", "c2", "c3", "c3", None]
    assert [r["capture_fish"] for r in results] == ["A", "A", "C", "C", None, None, None]


def test_fish_lacking_a_flank_and_a_pattern_without_its_group():
    gallery = Gallery.new(MODEL, None, False)
    rows = [("A", "left"), ("A", "right"), ("B", "left"), ("C", "right")]
    gallery.add([{"fish_id": fish, "flank": flank, "source": f"/{i}", "sha256": str(i), "session": "s", "mode": "tent",
                  "added": "", "how": "enroll"} for i, (fish, flank) in enumerate(rows)],
                pack_codes(np.zeros((4, 4), int), 4))
    assert fish_lacking_flanks(gallery, ["right", "left"]) == {"right": {"B"}, "left": {"C"}}
    with pytest.raises(GalleryError, match=re.escape("--capture_pattern '(.+)_L' has no (?P<capture>...) group")):
        compiled("(.+)_L")
    with pytest.raises(GalleryError, match="is not a regular expression"):
        compiled("(?P<capture>")
    assert capture_of("/x/c9_L.jpg", None) is None


def results_of(*photos):
    """(decision, first fish, score, flank) per photo."""
    return [result(*photo) for photo in photos]


@pytest.mark.parametrize("photos, lacking, expected", [
    # a match whose other flank has another fish first (even a weak "new" one): the flanks disagree
    ((("match", "A", 0.9, "left"), ("new", "D", 0.2, "right")), None, ("A", "review")),
    # a match the other flank agrees with, however weakly
    ((("match", "A", 0.9, "left"), ("new", "A", 0.2, "right")), None, ("A", "match")),
    # A has no right flank yet: the right photo cannot vote
    ((("match", "A", 0.9, "left"), ("new", "D", 0.2, "right")), {"right": {"A"}}, ("A", "match")),
    # two matches of different fish: the better one named, the decision left to a person
    ((("match", "B", 0.8, "left"), ("match", "C", 0.95, "right")), None, ("C", "review")),
    # both flanks in the review band with one fish first: the pair is that fish
    ((("review", "E", 0.6, "left"), ("review", "E", 0.5, "right")), None, ("E", "match")),
    # two review photos of one flank are not two independent patterns
    ((("review", "E", 0.6, "left"), ("review", "E", 0.5, "left")), None, (None, "review")),
    # one flank in the review band, the other new: review, even with the same fish first
    ((("review", "E", 0.6, "left"), ("new", "E", 0.1, "right")), None, (None, "review")),
    ((("review", "E", 0.6, "left"), ("review", "F", 0.5, "right")), None, (None, "review")),
    ((("new", "E", 0.1, "left"), ("new", "E", 0.1, "right")), None, (None, "new")),
])
def test_a_capture_s_flanks_vote_together(photos, lacking, expected):
    results = results_of(*photos)
    link_captures(results, ["c1"] * len(results), lacking)
    assert {(r["capture_fish"], r["capture_decision"]) for r in results} == {expected}


def test_a_photo_without_a_capture_keeps_its_own_decision():
    results = results_of(("match", "A", 0.9, "left"), ("review", "A", 0.6, "right"))
    link_captures(results, [None, None])
    assert [(r["capture_fish"], r["capture_decision"]) for r in results] == [(None, "match"), (None, "review")]


@pytest.mark.parametrize("decision, fish, shown, disagree", [
    ("match", "A", "match A", False), ("review", "A", "review (best match A; the flanks disagree)", True),
    ("review", None, "review", False), ("new", None, "new", False)])
def test_a_capture_s_decision_in_words_for_identify_s_table_and_the_review_page(decision, fish, shown, disagree):
    result = {"capture_decision": decision, "capture_fish": fish}
    assert (capture_summary(result), flanks_disagree(result)) == (shown, disagree)
