"""Match measures on hand-made templates."""

import numpy as np
import pytest

from lateral.measures import MEASURES
from lateral.registry import UnknownNameError


def test_hamming_and_jaccard_on_known_codes():
    """a and b agree at positions 0 and 2 of 4: Hamming 2/4; Jaccard 2 / (8 - 2) = 1/3."""
    a = np.array([[1, 2, 3, 0]])
    b = np.array([[1, 0, 3, 1], [1, 2, 3, 0]])
    np.testing.assert_allclose(MEASURES.get("hamming").scores(a, b), [[0.5, 1.0]])
    np.testing.assert_allclose(MEASURES.get("jaccard").scores(a, b), [[1 / 3, 1.0]])


def test_cosine_and_euclidean_on_known_vectors():
    """Unit vectors at 90 degrees: cosine 0, distance sqrt(2); the same vector scaled: 1 and 0."""
    a = np.array([[3.0, 0.0]])
    b = np.array([[0.0, 2.0], [5.0, 0.0]])
    np.testing.assert_allclose(MEASURES.get("cosine").scores(a, b), [[0.0, 1.0]], atol=1e-12)
    np.testing.assert_allclose(MEASURES.get("euclidean").scores(a, b), [[-np.sqrt(2), 0.0]], atol=1e-7)


def test_representations_and_unknown_names():
    assert MEASURES.get("hamming").representation == "codes"
    assert MEASURES.get("cosine").representation == "embeddings"
    with pytest.raises(UnknownNameError, match="hamming"):
        MEASURES.get("manhattan")
