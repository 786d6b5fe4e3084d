"""Grouping a session's new photos into new fish, against a hand-worked case and scipy's connected components."""

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from lateral.gallery.grouping import new_fish_groups


def result(decision, flank="left"):
    return {"decision": decision, "flank": flank}


def test_a_hand_worked_session():
    """Codes of 4 positions; accept 0.75 (3 of 4 equal). p0-p1 share 3 codes, p1-p2 share 3 (p0-p2 only 2: linked
    through p1, single linkage), p3 is alone, p4 matches p0 but is a known fish's match, p5 matches p0 on the other
    flank, p6 matches p0 in another session."""
    codes = np.array([[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 1], [3, 3, 3, 3], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    results = [result("new"), result("new"), result("new"), result("new"), result("match"), result("new", "right"),
               result("new")]
    sessions = ["s1"] * 6 + ["s2"]
    assert new_fish_groups(results, codes, None, sessions, 0.75) == [1, 1, 1, 2, None, 3, 4]
    assert new_fish_groups(results, codes, None, sessions, 1.0) == [1, 2, 3, 4, None, 5, 6]
    # p0 and p1 share only 2 codes, but each shares 3 with p2, which comes last: one fish all the same.
    codes = np.array([[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 0]])
    assert new_fish_groups([result("new")] * 3, codes, None, ["s1"] * 3, 0.75) == [1, 1, 1]


@pytest.mark.parametrize("seed", range(5))
def test_groups_are_the_connected_components_of_the_matches(seed):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2, (30, 6))
    results = [result(rng.choice(["new", "new", "review"]), rng.choice(["left", "right"])) for _ in range(30)]
    sessions = rng.choice(["s1", "s2"], 30).tolist()
    labels = new_fish_groups(results, codes, None, sessions, 5 / 6)
    new = [i for i, r in enumerate(results) if r["decision"] == "new"]
    linked = np.array([[sessions[i] == sessions[j] and results[i]["flank"] == results[j]["flank"]
                        and np.sum(codes[i] == codes[j]) >= 5 for j in new] for i in new])
    _, components = connected_components(csr_matrix(linked), directed=False)
    assert [labels[i] for i in range(30) if i not in new] == [None] * (30 - len(new))
    # The same partition: two new photos share a label exactly when they share a component.
    ours = np.array([labels[i] for i in new])
    assert np.array_equal(ours[:, None] == ours[None, :], components[:, None] == components[None, :])
    assert sorted(set(ours)) == list(range(1, len(set(ours)) + 1))
