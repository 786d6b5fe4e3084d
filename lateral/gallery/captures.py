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


def link_captures(results, captures):
    """Give the photos of a capture the fish one of them matched (the best-scoring match): ``capture_fish``.

    ``captures`` are the capture ids of ``results`` (None: a photo on its own).
    """
    best = {}
    for result, capture in zip(results, captures):
        result["capture"] = capture
        if capture is None or result["decision"] != "match":
            continue
        score = result["candidates"][0]["score"]
        if capture not in best or score > best[capture][1]:
            best[capture] = (result["candidates"][0]["fish_id"], score)
    for result, capture in zip(results, captures):
        result["capture_fish"] = best[capture][0] if capture in best else None
    return results


def fish_lacking_flank(gallery, flank):
    """The fish with no template of ``flank`` (a search of that flank cannot find them)."""
    flanks = {}
    for entry in gallery.entries:
        flanks.setdefault(entry["fish_id"], set()).add(entry["flank"])
    return sorted(fish for fish, seen in flanks.items() if flank not in seen)
