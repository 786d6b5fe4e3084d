"""Sampler invariants over a grid of shapes (as pytorch-metric-learning tests its samplers)."""

import numpy as np
import pytest

from lateral.data.sampler import SamplerError, balanced_index_batches, shuffled_index_batches

# Class sizes from 1 to 9 images: some identities must be sampled with replacement.
LABELS = np.repeat(np.arange(7), [1, 2, 3, 5, 8, 9, 4])


@pytest.mark.parametrize("classes_per_batch, samples_per_class", [(1, 1), (2, 4), (3, 3), (7, 2), (5, 6)])
def test_every_batch_holds_p_identities_with_k_images_each(classes_per_batch, samples_per_class):
    for batch in balanced_index_batches(LABELS, classes_per_batch, samples_per_class, seed=3).take(20):
        labels = LABELS[batch.numpy()]
        assert labels.size == classes_per_batch * samples_per_class
        identities, counts = np.unique(labels, return_counts=True)
        assert identities.size == classes_per_batch
        assert (counts == samples_per_class).all()
        # Grouped: each identity's images are contiguous (loss code may rely on it).
        assert all(len(set(group)) == 1 for group in labels.reshape(classes_per_batch, samples_per_class))


def test_identities_with_enough_images_are_sampled_without_replacement():
    for batch in balanced_index_batches(LABELS, 3, 4, seed=0).take(30):
        for group in batch.numpy().reshape(3, 4):
            if np.count_nonzero(LABELS == LABELS[group[0]]) >= 4:
                assert len(set(group)) == 4


def test_cap_limits_each_identity_to_a_fixed_subset():
    seen = {}
    for batch in balanced_index_batches(LABELS, 7, 2, max_per_class=3, seed=5).take(40):
        for index in batch.numpy():
            seen.setdefault(LABELS[index], set()).add(index)
    assert max(len(indices) for indices in seen.values()) == 3


def test_all_identities_get_drawn_and_runs_repeat_with_the_seed():
    first = [b.numpy() for b in balanced_index_batches(LABELS, 2, 2, seed=9).take(30)]
    again = [b.numpy() for b in balanced_index_batches(LABELS, 2, 2, seed=9).take(30)]
    assert all((a == b).all() for a, b in zip(first, again))
    assert set(LABELS[np.concatenate(first)]) == set(range(7))


@pytest.mark.parametrize("classes_per_batch, samples_per_class", [(8, 2), (0, 2), (2, 0)])
def test_impossible_batches_are_refused(classes_per_batch, samples_per_class):
    with pytest.raises(SamplerError):
        balanced_index_batches(LABELS, classes_per_batch, samples_per_class)


def test_shuffled_batches_cover_every_image_once_per_pass():
    batches = [b.numpy() for b in shuffled_index_batches(12, 4, seed=1).take(3)]
    assert sorted(np.concatenate(batches)) == list(range(12))
    with pytest.raises(SamplerError):
        shuffled_index_batches(3, 4)
