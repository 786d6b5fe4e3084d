"""Both flanks of one capture: photos linked by a capture id taken from their file names, each flank searched alone.

A fish is photographed on its left and right flank at one capture; the two
flanks carry different patterns, so each photo is compared only with
templates of its own flank (``lateral.gallery.search``). A capture id
(``--capture_pattern``, a regex with a ``(?P<capture>...)`` group, e.g.
``(?P<capture>.+)_[LR]\\.jpg``) ties the photos of one capture together: it is
stored with each enrolled photo, and when one flank of a capture matches a
fish, the capture's other photos are linked to that fish, also when that
fish has no template of their flank yet (which ``identify`` reports, since
such a fish cannot be found from that flank).
"""

import re
from pathlib import Path

from lateral.gallery.errors import GalleryError


def compiled(pattern):
    """The capture pattern compiled, refusing one without a ``capture`` group."""
    if pattern is None:
        return None
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise GalleryError(f"--capture_pattern {pattern!r} is not a regular expression ({error})") from None
    if "capture" not in regex.groupindex:
        raise GalleryError(f"--capture_pattern {pattern!r} has no (?P<capture>...) group")
    return regex


def capture_of(path, regex):
    """The capture id in ``path``'s file name, or None (no pattern, or no match)."""
    match = regex.search(Path(path).name) if regex is not None else None
    return match.group("capture") if match else None


def link_captures(results, captures, lacking=None):
    """Decide each capture's photos together: ``capture_decision`` ("match", "review" or "new") and
    ``capture_fish`` (``capture_decision_of``) on each photo of a capture; a photo on its own keeps its decision.

    ``captures`` are the capture ids of ``results`` (None: a photo on its own); ``lacking``: {flank: fish with no
    template of that flank} (their photos of that flank cannot vote for them).
    """
    by_capture = {}
    for result, capture in zip(results, captures):
        result["capture"] = capture
        if capture is not None:
            by_capture.setdefault(capture, []).append(result)
    for result, capture in zip(results, captures):
        if capture is None:
            result["capture_fish"], result["capture_decision"] = None, result["decision"]
        else:
            result["capture_fish"], result["capture_decision"] = capture_decision_of(by_capture[capture], lacking)
    return results


def capture_decision_of(results, lacking=None):
    """(fish or None, decision) of one capture's photos (``identify`` results): its flanks vote together.

    - A photo matched: its best-scoring match's fish, a "match" only if every other photo has that fish first
      too (a photo of a flank the fish lacks does not vote), else "review".
    - None matched, all "new": "new".
    - None matched, photos of two flanks all in the review band with one fish first: that fish, "match".
    - Otherwise "review".

    Why it keeps the catalogue clean: for a fish not in the gallery, a flank reaches a score band with
    probability its FPIR (at the gallery's N fish), and the other flank, an independent pattern, has the same
    fish first by chance about once in N. A wrong match needs both: about FPIR x 1 / N for a match (instead of
    FPIR), review_fpir^2 / N for two review photos (0.25% at 0.5 and N = 100)."""
    lacking = lacking or {}
    matches = [result for result in results if result["decision"] == "match"]
    if matches:
        fish = max(matches, key=lambda result: result["candidates"][0]["score"])["candidates"][0]["fish_id"]
        voters = [result for result in results if fish not in lacking.get(result["flank"], ())]
        agree = all(result["candidates"] and result["candidates"][0]["fish_id"] == fish for result in voters)
        return fish, "match" if agree else "review"
    if all(result["decision"] == "new" for result in results):
        return None, "new"
    firsts = {result["candidates"][0]["fish_id"] for result in results if result["candidates"]}
    flanks = {result["flank"] for result in results}
    if len(firsts) == 1 and len(flanks) > 1 and all(result["decision"] == "review" for result in results):
        return firsts.pop(), "match"
    return None, "review"


def flanks_disagree(result):
    """Whether a photo's capture (``link_captures``) had a flank match a fish while another of its photos had
    another fish first (the capture goes to review)."""
    return result["capture_decision"] == "review" and result["capture_fish"] is not None


def capture_summary(result):
    """How a photo's capture decided (``link_captures``), in words: identify's table and the review page."""
    decision, fish = result["capture_decision"], result["capture_fish"]
    if decision == "match":
        return f"match {fish}"
    return f"review (best match {fish}; the flanks disagree)" if flanks_disagree(result) else decision


def fish_lacking_flanks(gallery, flanks):
    """{flank: the fish with no template of it (a search of that flank cannot find them)} for each of ``flanks``
    (``link_captures``' ``lacking``); one pass over the gallery."""
    seen = {}
    for entry in gallery.entries:
        seen.setdefault(entry["fish_id"], set()).add(entry["flank"])
    return {flank: {fish for fish, theirs in seen.items() if flank not in theirs} for flank in flanks}
