"""Camera-aware normalisation: remove each session's (camera's) mean embedding, then re-normalise.

Photos from one camera share its colour cast and optics, which pulls their
embeddings towards a common offset; subtracting the mean embedding of each
camera over the evaluated images (no labels used) removes that offset, as
camera-based batch normalisation and per-camera mean removal do in cross-camera
re-identification (e.g. Zhuang et al. 2020, "Rethinking the Distribution Gap of
Person Re-identification with Camera-based Batch Normalization", arXiv 2001.08680).
For float embeddings only; IoM codes are left as they are.
"""

import numpy as np

from lateral.measures import unit_rows


def camera_normalise(embeddings, sessions):
    """[n, d] unit vectors: each row L2-normalised, its session's mean subtracted, L2-normalised again."""
    unit = unit_rows(np.asarray(embeddings, np.float64))
    sessions = np.asarray(sessions)
    centred = np.empty_like(unit)
    for session in np.unique(sessions):
        rows = sessions == session
        centred[rows] = unit[rows] - unit[rows].mean(axis=0)
    return unit_rows(centred)
