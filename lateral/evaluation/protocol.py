"""Which images may be compared: the verification pairs and the identification gallery.

Genuine pairs show the same fish (and the same flank), impostor pairs
different fish. Left and right flanks carry different patterns and are never
compared unless asked. The cross-session protocol (sessions or cameras) drops
every pair taken in the same session, so a match must survive a change of day
or camera.
"""

import numpy as np

from lateral.user_errors import UserError


class EvaluationError(UserError):
    """The test set cannot be evaluated under the chosen protocol; the message names the data set."""


def comparable(fish_ids, flanks, sessions, cross_session=False, compare_flanks=False):
    """[n, n] bool: may image j answer image i (diagonal excluded)."""
    fish_ids, flanks, sessions = (np.asarray(values) for values in (fish_ids, flanks, sessions))
    allowed = ~np.eye(len(fish_ids), dtype=bool)
    if not compare_flanks:
        allowed &= flanks[:, None] == flanks[None, :]
    if cross_session:
        allowed &= sessions[:, None] != sessions[None, :]
    return allowed


def verification_pairs(fish_ids, allowed, max_pairs=2_000_000, seed=0):
    """(first, second, is_genuine) for every allowed pair i < j, or a seeded sample of ``max_pairs``.

    Sampling keeps every genuine pair (they are few) and samples impostor pairs.
    """
    fish_ids = np.asarray(fish_ids)
    first, second = np.nonzero(np.triu(allowed, k=1))
    genuine = fish_ids[first] == fish_ids[second]
    if first.size > max_pairs:
        impostors = np.flatnonzero(~genuine)
        keep = max(0, max_pairs - int(genuine.sum()))
        chosen = np.random.default_rng(seed).choice(impostors, min(keep, impostors.size), replace=False)
        selected = np.sort(np.concatenate([np.flatnonzero(genuine), chosen]))
        first, second, genuine = first[selected], second[selected], genuine[selected]
    return first, second, genuine


def require_both_kinds(genuine, fish_ids, sessions, cross_session, dataset):
    """An EvaluationError naming ``dataset`` unless the pairs hold genuine and impostor pairs both."""
    if genuine.any() and (~genuine).any():
        return
    missing = "no genuine pair" if not genuine.any() else "no impostor pair"
    protocol = "cross-session" if cross_session else "all-pairs"
    needs = "two photos of one fish's flank from different sessions" if cross_session else "two photos of one fish's flank"
    raise EvaluationError(
        f"{dataset}: {len(fish_ids)} images of {len(set(fish_ids))} fish in {len(set(sessions))} sessions leave "
        f"{missing} under the {protocol} protocol; evaluation needs at least two fish and {needs}"
    )
