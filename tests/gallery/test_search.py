import json

import numpy as np
import pytest

from lateral.gallery.encoder import Photo
from lateral.gallery.packing import pack_codes
from lateral.gallery.search import GallerySearch, given_thresholds, identify, thresholds_from_metrics
from lateral.gallery.store import Gallery, GalleryError

M, Q = 8, 4
MODEL = {"path": "/runs/iom", "fingerprint": "0" * 64, "m": M, "q": Q, "embedding_size": 2, "input_size": [8, 16]}


def gallery_of(templates):
    """templates: (fish_id, flank, codes, embedding)."""
    gallery = Gallery.new(MODEL, None, True)
    entries = [{"fish_id": fish, "flank": flank, "source": f"/{i}.jpg", "sha256": str(i), "session": "",
                "mode": "tent", "added": "", "how": "enroll"} for i, (fish, flank, _, _) in enumerate(templates)]
    gallery.add(entries, pack_codes(np.array([t[2] for t in templates]), Q), np.array([t[3] for t in templates]))
    return gallery


TEMPLATES = [
    ("A", "left", [0, 0, 0, 0, 0, 0, 0, 0], [1.0, 0.0]),
    ("A", "left", [0, 0, 0, 0, 1, 1, 1, 1], [0.8, 0.6]),
    ("B", "left", [0, 0, 1, 1, 2, 2, 3, 3], [0.0, 1.0]),
    ("C", "right", [0, 0, 0, 0, 0, 0, 0, 0], [1.0, 0.0]),  # identical to A's first, but the other flank
]


def query(flank="left"):
    return Photo(source="/q.jpg", sha256="q", roi_png=b"", flank=flank, mode="tent")


def test_each_fish_scores_its_best_template_of_the_same_flank():
    search = GallerySearch(gallery_of(TEMPLATES))
    code = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    # Hand count: A's first 4/8, A's second 6/8, B 2/8 (positions 0, 1); C is the right flank.
    assert search.rank_fish(code, None, "left", top_k=5) == [("A", 0.75, 2), ("B", 0.25, 1)]
    assert search.rank_fish(code, None, "right", top_k=5) == [("C", 0.5, 1)]
    assert search.rank_fish(code, None, "unknown", top_k=5) == []
    assert search.rank_fish(code, None, "left", top_k=1) == [("A", 0.75, 2)]
    # Leaving out a template (a photo's own, once enrolled): A scores its other template, 4/8, and counts one.
    assert search.rank_fish(code, None, "left", top_k=5, leave_out=(1,)) == [("A", 0.5, 1), ("B", 0.25, 1)]
    assert search.rank_fish(code, None, "left", top_k=5, leave_out=(2,)) == [("A", 0.75, 2)]


def test_cosine_search_on_stored_embeddings():
    search = GallerySearch(gallery_of(TEMPLATES), "cosine")
    ranked = search.rank_fish(None, np.array([0.6, 0.8]), "left", top_k=5)
    assert [fish for fish, _, _ in ranked] == ["A", "B"]
    np.testing.assert_allclose([score for _, score, _ in ranked], [0.96, 0.8], rtol=1e-6)  # 0.8*.6+.6*.8; 0.8


def test_cosine_needs_stored_embeddings():
    gallery = gallery_of(TEMPLATES)
    gallery.embeddings = None
    with pytest.raises(GalleryError, match="--store_embeddings"):
        GallerySearch(gallery, "cosine")


@pytest.mark.parametrize("score, decision", [(0.9, "match"), (0.8, "match"), (0.7, "review"), (0.6, "review"),
                                             (0.59, "new"), (None, "new")])
def test_three_way_decision(score, decision):
    assert given_thresholds(0.8, 0.6).decide(score) == decision


def test_a_single_threshold_has_no_review_band():
    thresholds = given_thresholds(0.7)
    assert [thresholds.decide(s) for s in (0.7, 0.69)] == ["match", "new"]
    with pytest.raises(GalleryError, match="above the accept threshold"):
        given_thresholds(0.5, 0.6)


def test_identify_decides_on_the_best_fish():
    search = GallerySearch(gallery_of(TEMPLATES))
    codes = np.array([[0, 0, 0, 0, 1, 1, 2, 2], [3, 3, 3, 3, 3, 3, 3, 3], [0] * 8])
    photos = [query("left"), query("left"), query("unknown")]
    results = identify(search, photos, codes, [None] * 3, given_thresholds(0.7, 0.3), top_k=2)
    assert [r["decision"] for r in results] == ["match", "new", "new"]
    # The second query's best fish is B with 2 equal codes of 8 (0.25 < 0.3): a fish not seen before.
    assert results[1]["candidates"][0] == {"fish_id": "B", "score": 0.25, "templates": 1}
    assert results[2]["candidates"] == []


def metrics_file(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"measures": {"hamming": {"threshold_at_far_0.1": 0.4, "threshold_at_far_0.01": 0.55,
                                                         "threshold_at_far_0.001": 0.7, "threshold_at_far_0.0001": None}}}))
    return path


def test_thresholds_read_from_metrics(tmp_path):
    thresholds = thresholds_from_metrics(metrics_file(tmp_path), "hamming", 1e-3)
    assert (thresholds.accept, thresholds.reject) == (0.7, 0.55)  # review band down to 10x the FAR
    thresholds = thresholds_from_metrics(metrics_file(tmp_path), "hamming", 1e-3, review_far=0.1)
    assert (thresholds.accept, thresholds.reject) == (0.7, 0.4)
    assert thresholds_from_metrics(metrics_file(tmp_path), "hamming", 1e-4).accept == float("inf")


def test_missing_thresholds_are_named(tmp_path):
    with pytest.raises(GalleryError, match=r"no hamming threshold at FAR 0.05; it has FAR 0.0001, 0.001, 0.01, 0.1"):
        thresholds_from_metrics(metrics_file(tmp_path), "hamming", 0.05, 0.1)
    with pytest.raises(GalleryError, match="no figures for the cosine measure"):
        thresholds_from_metrics(metrics_file(tmp_path), "cosine", 1e-3)
    with pytest.raises(GalleryError, match="cannot read"):
        thresholds_from_metrics(tmp_path / "none.json", "hamming", 1e-3)
