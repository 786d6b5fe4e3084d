"""Linkability across keys (lateral.evaluation.protection) against hand-computed cases."""

from lateral.evaluation.protection import linkability


def test_linkability_by_hand():
    # p(mated) = {1: .5, 2: .5}, p(non-mated) = {0: .5, 1: .5}: LR(1) = 1 gives D = 0, LR(2) = inf gives D = 1.
    d_sys, local = linkability([1, 1, 2, 2], [0, 0, 1, 1])
    assert d_sys == 0.5 and local == {0: 0.0, 1: 0.0, 2: 1.0}
    # LR = 3 at score 1: D = 2 * 3 / 4 - 1 = 0.5, weighted by p(mated) = 0.75; LR(0) = 1/3 gives 0.
    d_sys, _ = linkability([1, 1, 1, 0], [0, 0, 0, 1])
    assert d_sys == 0.75 * 0.5
    assert linkability([0, 1, 2, 3], [3, 2, 1, 0])[0] == 0.0  # the same distribution: unlinkable
