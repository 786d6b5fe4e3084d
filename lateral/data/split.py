"""Train/validation split by identity (held-out fish) or by session."""

import numpy as np

from lateral.config import ConfigError


def keep_fish(roi_set, fish, keep, key="held_out_fish"):
    """The images of the named fish (``keep``) or of all others; every named fish must be present."""
    missing = sorted(set(fish) - set(roi_set.fish_ids))
    if missing:
        raise ConfigError(f"{key!r} names fish the dataset does not hold: {', '.join(missing)}")
    chosen = np.isin(roi_set.fish_ids, list(fish))
    return roi_set.subset(np.flatnonzero(chosen if keep else ~chosen)).relabelled()


def split_roi_set(roi_set, split, val_fraction, val_sessions, seed):
    """(train, validation) RoiSets, each labelled 0..C-1; validation is None for ``none``."""
    if split == "none":
        return roi_set.relabelled(), None
    if split == "by_session":
        known = set(roi_set.sessions)
        missing = sorted(set(val_sessions) - known)
        if not val_sessions or missing:
            raise ConfigError(
                f"'val_sessions' must name sessions of the training set ({', '.join(sorted(known)) or 'none'}); "
                f"got {list(val_sessions)}"
            )
        held_out = np.isin(roi_set.sessions, list(val_sessions))
    else:
        fish = np.unique(roi_set.fish_ids)
        count = int(round(val_fraction * fish.size))
        if not 0 < count < fish.size:
            raise ConfigError(
                f"'val_fraction' {val_fraction} of {fish.size} fish leaves {count} for validation; "
                "need at least one fish on each side"
            )
        chosen = np.random.default_rng(seed).choice(fish, count, replace=False)
        held_out = np.isin(roi_set.fish_ids, chosen)
    if held_out.all():
        raise ConfigError("the validation split takes every image; nothing is left to train on")
    train = roi_set.subset(np.flatnonzero(~held_out)).relabelled()
    validation = roi_set.subset(np.flatnonzero(held_out)).relabelled() if held_out.any() else None
    return train, validation
