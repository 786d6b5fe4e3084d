"""Splits by identity and session, and fish held out of training, on a hand-made set."""

import numpy as np
import pytest

from lateral.config import ConfigError
from lateral.data.records import RoiSet
from lateral.data.split import keep_fish, split_roi_set


def roi_set():
    fish = np.array(["a", "a", "b", "b", "c", "c"])
    sessions = np.array(["s1", "s2", "s1", "s2", "s1", "s2"])
    images = np.empty(6, object)
    images[:] = [b"x"] * 6
    label_map = {"a": 0, "b": 1, "c": 2}
    return RoiSet(images, np.array([label_map[f] for f in fish]), fish, sessions, np.array([f"{i}.png" for i in range(6)]),
                  np.array(["left"] * 6), label_map)


def test_held_out_fish_leave_training_and_labels_stay_contiguous():
    kept = keep_fish(roi_set(), ["b"], keep=False)
    assert list(kept.fish_ids) == ["a", "a", "c", "c"]
    assert list(kept.labels) == [0, 0, 1, 1] and kept.label_map == {"a": 0, "c": 1}
    assert list(keep_fish(roi_set(), ["b"], keep=True).fish_ids) == ["b", "b"]
    with pytest.raises(ConfigError, match="held_out_fish.*zz"):
        keep_fish(roi_set(), ["zz"], keep=False)


def test_split_by_session_and_by_identity():
    train, validation = split_roi_set(roi_set(), "by_session", 0.0, ("s2",), 0)
    assert set(train.sessions) == {"s1"} and set(validation.sessions) == {"s2"}
    train, validation = split_roi_set(roi_set(), "by_identity", 0.34, (), 0)
    assert len(set(validation.fish_ids)) == 1 and not set(train.fish_ids) & set(validation.fish_ids)
    with pytest.raises(ConfigError, match="val_sessions"):
        split_roi_set(roi_set(), "by_session", 0.0, ("s9",), 0)
