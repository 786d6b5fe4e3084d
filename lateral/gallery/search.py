"""1:N search of a gallery: each known fish's best score, the top k, and the match/review/new decision.

A photo is compared with the templates of the same flank only (left and right
flanks carry different patterns; photos of unknown flank, such as pre-cropped
ones, are compared with each other). A fish's score is the best score over
its templates. The decision uses two thresholds on the best fish's score:
``match`` at or above ``accept``, ``new`` below ``reject``, ``review`` (for a
person) in between.
"""

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from lateral.gallery.packing import HammingIndex, pack_codes
from lateral.gallery.store import GalleryError
from lateral.measures import CosineIndex
from lateral.registry import Registry

DECISIONS = ("match", "review", "new")
# The measures a gallery searches by: each builds, from a gallery, (code [m], embedding [d]) -> scores [n].
SEARCHES = Registry("gallery measure")


@SEARCHES.register("hamming")
def packed_hamming_search(gallery):
    """IoM Hamming similarity (lateral.measures' "hamming") on the packed codes, by bit operations."""
    index = HammingIndex(gallery.codes, gallery.m)
    return lambda code, embedding: index.similarities(pack_codes(np.asarray(code)[None], gallery.q)[0])


@SEARCHES.register("cosine")
def cosine_search(gallery):
    """Cosine similarity (lateral.measures' "cosine") on the float embeddings, if the gallery stores them."""
    if gallery.embeddings is None:
        raise GalleryError("this gallery stores no float embeddings (enrol with --store_embeddings to compare "
                           "by cosine)")
    index = CosineIndex(gallery.embeddings)
    return lambda code, embedding: index.scores(embedding)


@dataclasses.dataclass(frozen=True)
class Thresholds:
    accept: float
    reject: float
    source: str

    def for_fish(self, n_fish):
        """Fixed thresholds do not depend on the number of fish searched (``FpirThresholds``' do)."""
        return self

    def decide(self, score):
        if score is not None and score >= self.accept:
            return "match"
        if score is None or score < self.reject:
            return "new"
        return "review"


def decide(thresholds, candidates):
    """The decision on ranked ``candidates`` [(fish, score, ...)]: a tie at the top between two fish is never
    a match (a person chooses: review)."""
    best = candidates[0][1] if candidates else None
    decision = thresholds.decide(best)
    if decision == "match" and len(candidates) > 1 and candidates[1][1] == best:
        return "review"
    return decision


def given_thresholds(accept, reject=None):
    reject = accept if reject is None else reject
    if reject > accept:
        raise GalleryError(f"the review threshold {reject} is above the accept threshold {accept}")
    return Thresholds(accept, reject, f"given: accept >= {accept:g}, new < {reject:g}")


def thresholds_from_metrics(metrics_path, measure, far, review_far=None):
    """Thresholds at FAR ``far`` (accept) and ``review_far`` (reject; default 10x ``far``, at most 0.1)
    from test_iom.py's metrics.json."""
    review_far = min(10 * far, 0.1) if review_far is None else review_far
    if review_far < far:
        raise GalleryError(f"--review_far {review_far:g} must not be below --far {far:g}")
    try:
        figures = json.loads(Path(metrics_path).read_text())["measures"][measure]
    except OSError as error:
        raise GalleryError(f"cannot read {metrics_path}: {error.strerror or error}") from None
    except (ValueError, KeyError, TypeError):
        raise GalleryError(f"{metrics_path} has no figures for the {measure} measure (is it test_iom.py's "
                           "metrics.json of this model?)") from None

    def at(rate):
        key = f"threshold_at_far_{rate:g}"
        if key not in figures:
            prefix = "threshold_at_far_"
            available = sorted(k.removeprefix(prefix) for k in figures if k.startswith(prefix))
            raise GalleryError(f"{metrics_path} has no {measure} threshold at FAR {rate:g}; it has FAR "
                               f"{', '.join(available) or 'none'}")
        value = figures[key]
        return math.inf if value is None else float(value)  # null: no threshold reaches that FAR, accept nothing

    return Thresholds(at(far), at(review_far), f"{metrics_path}: {measure} at FAR {far:g} (accept) and "
                                                f"{review_far:g} (reject)")


class GallerySearch:
    """A gallery held for searching by one measure: "hamming" on the IoM codes or "cosine" on stored embeddings."""

    def __init__(self, gallery, measure="hamming"):
        if measure not in SEARCHES:
            raise GalleryError(f"unknown measure {measure!r}; the gallery searches by {' or '.join(SEARCHES.names())}")
        self.template_scores = SEARCHES.get(measure)(gallery)
        self.gallery, self.measure = gallery, measure
        self.fish_names, self.fish_index = np.unique([e["fish_id"] for e in gallery.entries], return_inverse=True)
        self.flanks = np.array([e["flank"] for e in gallery.entries])

    def fish_searched(self, flank, leave_out=()):
        """N: how many fish have a template of ``flank`` (a photo is compared with those only), not counting the
        templates at the indices ``leave_out``."""
        return np.unique(self.fish_index[self.comparable(flank, leave_out)]).size

    def comparable(self, flank, leave_out=()):
        """bool [templates]: those of ``flank``, but the ones at the indices ``leave_out``."""
        comparable = self.flanks == flank
        comparable[list(leave_out)] = False
        return comparable

    def rank_fish(self, code, embedding, flank, top_k, leave_out=(), scores=None):
        """[(fish_id, score, templates compared)] of the ``top_k`` best fish, best first; the templates at the
        indices ``leave_out`` (a photo's own template) are not compared. ``scores`` (one per template, e.g. the
        fused probability of a verifying gallery) replace the measure's."""
        if not len(self.gallery):
            return []
        scores = (self.template_scores(code, embedding) if scores is None else scores).astype(np.float64)
        comparable = self.comparable(flank, leave_out)
        best = np.full(len(self.fish_names), -np.inf)
        np.maximum.at(best, self.fish_index[comparable], scores[comparable])
        compared = np.bincount(self.fish_index[comparable], minlength=len(self.fish_names))
        order = [index for index in np.argsort(-best, kind="stable") if compared[index]][:top_k]
        return [(str(self.fish_names[index]), float(best[index]), int(compared[index])) for index in order]


def _finite(threshold):
    return threshold if math.isfinite(threshold) else None  # JSON has no infinity: null, accept nothing


def identify(search, photos, codes, embeddings, thresholds, top_k=5, scores=None):
    """One result per photo: its candidates, best first, and the decision on the best one with the
    thresholds it used and N, the number of fish searched. ``scores`` (per photo, one per template) replace the
    measure's: a verifying gallery's fused probabilities."""
    results = []
    for index, (photo, code, embedding) in enumerate(zip(photos, codes, embeddings)):
        candidates = search.rank_fish(code, embedding, photo.flank, max(top_k, 2),  # two, to see a tie
                                      scores=None if scores is None else scores[index])
        n_fish = search.fish_searched(photo.flank)
        chosen = thresholds.for_fish(n_fish)
        results.append({
            "photo": photo.source, "flank": photo.flank, "decision": decide(chosen, candidates),
            "accept_threshold": _finite(chosen.accept), "review_threshold": _finite(chosen.reject),
            "fish_searched": n_fish,
            "candidates": [{"fish_id": fish, "score": round(score, 6), "templates": count}
                           for fish, score, count in candidates[:top_k]],
        })
    return results
