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


def test_lut_hamming_on_known_codes():
    """Largest code 3: q = 4, 2 bits each. a = (1, 2, 3, 0) -> 01 10 11 00; b0 = (1, 0, 3, 1) ->
    01 00 11 01: bits differ at positions 3 and 8, so 6 of 8 equal = 0.75 (code Hamming: 0.5).
    b1 = (2, 1, 0, 3) -> 10 01 00 11: every bit differs, 0."""
    a = np.array([[1, 2, 3, 0]])
    b = np.array([[1, 0, 3, 1], [2, 1, 0, 3], [1, 2, 3, 0]])
    np.testing.assert_allclose(MEASURES.get("lut_hamming").scores(a, b), [[0.75, 0.0, 1.0]])


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
