"""Match measures on hand-made templates."""

import numpy as np
import pytest

from lateral.gallery.packing import HammingIndex, pack_codes
from lateral.measures import MEASURES, CosineIndex, unit_rows
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


def loop_equal_shares(a, b):
    """Share of equal codes, one pair and one position at a time (the slow reference)."""
    return np.array([[np.mean([x == y for x, y in zip(row_a, row_b)]) for row_b in b] for row_a in a])


def loop_cosines(a, b):
    """Cosines one pair at a time (NaN for a zero vector)."""
    with np.errstate(invalid="ignore"):
            return np.array([[x @ y / np.linalg.norm(x) / np.linalg.norm(y) for y in b] for x in a])


@pytest.mark.parametrize("m, q", [(8, 4), (70, 8), (64, 2), (9, 5)])
def test_the_packed_gallery_index_scores_as_the_hamming_measure(m, q):
    rng = np.random.default_rng(m * q)
    gallery, queries = rng.integers(0, q, (40, m)), rng.integers(0, q, (5, m))
    gallery[:3] = queries[:3]  # some perfect matches
    expected = loop_equal_shares(queries, gallery)
    np.testing.assert_allclose(MEASURES.get("hamming").scores(queries, gallery), expected, rtol=1e-6)
    index = HammingIndex(pack_codes(gallery, q), m)
    packed = np.array([index.similarities(pack_codes(query[None], q)[0]) for query in queries])
    np.testing.assert_allclose(packed, expected, rtol=1e-6)


def test_the_cosine_index_scores_as_the_cosine_measure():
    rng = np.random.default_rng(3)
    templates, queries = rng.normal(size=(30, 16)), rng.normal(size=(4, 16))
    templates[5] = 0.0  # a zero row scores 0, not NaN
    expected = np.nan_to_num(loop_cosines(queries, templates))
    np.testing.assert_allclose(MEASURES.get("cosine").scores(queries, templates), expected, atol=1e-12)
    index = CosineIndex(templates)
    np.testing.assert_allclose([index.scores(query) for query in queries], expected, atol=1e-6)


def test_unit_rows_keep_their_dtype_and_a_zero_row():
    rows = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    unit = unit_rows(rows)
    assert unit.dtype == np.float32
    np.testing.assert_allclose(unit, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-7)
