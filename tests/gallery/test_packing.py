import numpy as np
import pytest

from lateral.gallery.packing import HammingIndex, bits_per_code, pack_codes, unpack_codes


@pytest.mark.parametrize("q, bits", [(2, 1), (3, 2), (4, 2), (5, 3), (8, 3), (16, 4), (32, 5)])
def test_bits_per_code(q, bits):
    assert bits_per_code(q) == bits


@pytest.mark.parametrize("m, q", [(1, 2), (7, 5), (16, 4), (64, 8), (100, 16), (130, 32)])
def test_pack_round_trip_and_size(m, q):
    codes = np.random.default_rng(m * q).integers(0, q, (37, m))
    packed = pack_codes(codes, q)
    assert packed.dtype == np.uint8
    assert packed.shape == (37, int(np.ceil(np.log2(q))), -(-m // 8))  # m codes of ceil(log2 q) bits
    np.testing.assert_array_equal(unpack_codes(packed, m), codes)


def test_a_hand_packed_template():
    # codes 5 = 0b101 and 2 = 0b010 (q=8): plane 0 holds bits 1,0; plane 1 bits 0,1; plane 2 bits 1,0.
    packed = pack_codes(np.array([[5, 2]]), 8)
    np.testing.assert_array_equal(packed[0, :, 0], [0b10000000, 0b01000000, 0b10000000])


@pytest.mark.parametrize("m, q", [(16, 4), (64, 8), (100, 16), (200, 2)])
def test_equal_counts_match_a_code_by_code_count(m, q):
    rng = np.random.default_rng(7)
    gallery = rng.integers(0, q, (500, m))
    query = gallery[3].copy()
    query[: m // 3] = rng.integers(0, q, m // 3)
    gallery[10] = query  # one exact match
    index = HammingIndex(pack_codes(gallery, q), m)
    expected = (gallery == query).sum(axis=1)
    counts = index.equal_counts(pack_codes(query[None], q)[0])
    np.testing.assert_array_equal(counts, expected)
    assert counts[10] == m
    np.testing.assert_allclose(index.similarities(pack_codes(query[None], q)[0]), expected / m, rtol=1e-6)


def held_bytes(index):
    return sum(value.nbytes for value in vars(index).values() if isinstance(value, np.ndarray))


@pytest.mark.parametrize("m, q", [(64, 8), (100, 16), (512, 4), (256, 2)])
def test_the_index_holds_ceil_log2_q_planes_of_whole_64_bit_words(m, q):
    """Each template takes ceil(log2 q) planes of m bits, each plane padded to whole 64-bit words;
    the index's size is what its arrays really hold."""
    index = HammingIndex(pack_codes(np.random.default_rng(m).integers(0, q, (1000, m)), q), m)
    planes, words = int(np.ceil(np.log2(q))), int(np.ceil(m / 64))
    assert index.nbytes == held_bytes(index) == 1000 * planes * words * 8


def test_the_default_index_is_at_least_tenfold_smaller_than_float_embeddings():
    """m = 64, q = 8 (3 words a template) against 128 float32 values an embedding."""
    index = HammingIndex(pack_codes(np.random.default_rng(0).integers(0, 8, (1000, 64)), 8), 64)
    assert np.zeros((1000, 128), np.float32).nbytes / held_bytes(index) >= 10


def test_out_of_range_codes_are_refused():
    with pytest.raises(ValueError, match="0..3"):
        pack_codes(np.array([[0, 4]]), 4)


@pytest.mark.parametrize("m, q, k", [(16, 4, 5), (64, 8, 10), (300, 2, 3), (8, 2, 50)])
def test_top_k_matches_a_full_sort(m, q, k):
    rng = np.random.default_rng(m + k)
    gallery = rng.integers(0, q, (40, m))
    query = gallery[5]
    index = HammingIndex(pack_codes(gallery, q), m)
    equal = (gallery == query).sum(axis=1)
    expected = np.lexsort((np.arange(40), -equal))[:k]  # most equal codes first, ties by index
    chosen, counts = index.top_k(pack_codes(query[None], q)[0], k)
    np.testing.assert_array_equal(chosen, expected)
    np.testing.assert_array_equal(counts, equal[expected])


def test_mismatches_are_counted_across_blocks():
    rng = np.random.default_rng(3)
    gallery = rng.integers(0, 8, (1000, 70))
    index = HammingIndex(pack_codes(gallery, 8), 70)
    np.testing.assert_array_equal(index.mismatches(pack_codes(gallery[:1], 8)[0], block=64),
                                  (gallery != gallery[0]).sum(axis=1))
