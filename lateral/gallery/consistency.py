"""Photos of one fish that match none of its other photos: another individual filed under it, or a bad photo."""

import math

import numpy as np

from lateral.gallery.packing import unpack_codes


def unmatched_photos(gallery, search, indices, threshold, rescore=None):
    """{index: best score} of each template among ``indices`` (one fish's) whose best score against the others of its
    flank among ``indices`` is below ``threshold`` (a score that a search would call a new fish). A photo alone on its
    flank is not judged; nothing is below an infinite threshold. ``rescore(scores, index, others)``: the scores the
    threshold is in (a verifying gallery's fused ones), from the global scores of template ``index``."""
    if math.isinf(threshold):
        return {}
    codes = unpack_codes(gallery.codes[indices], gallery.m)
    unmatched = {}
    for code, index in zip(codes, indices):
        flank = gallery.entries[index]["flank"]
        others = [j for j in indices if j != index and gallery.entries[j]["flank"] == flank]
        if not others:
            continue
        embedding = None if gallery.embeddings is None else gallery.embeddings[index]
        scores = search.template_scores(code, embedding)
        if rescore is not None:
            scores = rescore(scores, index, others)
        best = float(np.max(scores[others]))
        if best < threshold:
            unmatched[index] = best
    return unmatched
