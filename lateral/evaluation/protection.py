"""How well keys protect templates: linkability across keys (Gomez-Barrero et al. 2018, ISO/IEC 30136).

Two templates of the same fish made with different keys are *mated*; of
different fish, *non-mated*. If their score distributions coincide, the keys
leave nothing to link. The local measure at score s is
``D(s) = max(0, 2 * LR(s) / (1 + LR(s)) - 1)`` with ``LR(s) = p(s | mated) /
p(s | non-mated)`` (equal priors), and the global ``D_sys`` is its mean over
the mated scores: 0 for fully unlinkable templates, 1 for fully linkable ones.
IoM Hamming scores take the values k/m, so the distributions are counted
exactly, without smoothing.

Gomez-Barrero, Galbally, Rathgeb, Busch, "General framework to evaluate
unlinkability in biometric template protection systems", IEEE TIFS 13(6), 2018.
"""

import numpy as np


def linkability(mated, non_mated):
    """(D_sys, {score: D(s)}) from discrete scores (e.g. equal-code counts or shares)."""
    mated, non_mated = np.asarray(mated), np.asarray(non_mated)
    values = np.union1d(mated, non_mated)
    p_mated = np.array([np.mean(mated == value) for value in values])
    p_non_mated = np.array([np.mean(non_mated == value) for value in values])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(p_non_mated > 0, p_mated / p_non_mated, np.inf)
        local = np.where(np.isinf(ratio), 1.0, np.maximum(0.0, 2 * ratio / (1 + ratio) - 1))
    local = np.where(p_mated > 0, local, 0.0)
    return float(np.sum(p_mated * local)), dict(zip(values.tolist(), local.tolist()))
