"""Batches of indices: balanced (P identities x K images) or plainly shuffled.

The balanced sampler follows Fishial's BalancedBatchSampler: every batch holds
exactly ``classes_per_batch`` identities with ``samples_per_class`` images
each; an identity with fewer images is sampled with replacement, and each
identity's pool can be capped (Fishial capped at 50). Sampling is stateless
random ops in the graph, seeded per batch, so it is reproducible.

Both samplers take ``start_step``: the dataset then starts at that batch of
the same sequence (the earlier batches' seeds or indices are skipped, which
costs no image work), so a run resumed at step s draws exactly the batches
s + 1, s + 2, ... an uninterrupted run draws.
"""

import numpy as np
import tensorflow as tf

from lateral.user_errors import UserError


class SamplerError(UserError):
    pass


def balanced_index_batches(labels, classes_per_batch, samples_per_class, max_per_class=0, seed=0, start_step=0):
    """An endless dataset of int64 index vectors of length P*K, grouped by class, from batch ``start_step`` on."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    if classes_per_batch > classes.size:
        raise SamplerError(
            f"classes_per_batch={classes_per_batch} but the training set has only {classes.size} identities"
        )
    if classes_per_batch < 1 or samples_per_class < 1:
        raise SamplerError("classes_per_batch and samples_per_class must be at least 1")
    rng = np.random.default_rng(seed)
    pools = [np.flatnonzero(labels == label) for label in classes]
    if max_per_class:
        pools = [rng.permutation(pool)[:max_per_class] for pool in pools]
    ragged = tf.RaggedTensor.from_row_lengths(
        np.concatenate(pools).astype(np.int64), [len(pool) for pool in pools]
    )
    class_count = classes.size

    def one_batch(batch_seed):
        seed_pair = tf.stack([batch_seed, tf.constant(0, tf.int64)])
        chosen = tf.random.experimental.stateless_shuffle(tf.range(class_count), seed_pair)[:classes_per_batch]

        def images_of(position):
            pool = ragged[chosen[position]]
            size = tf.shape(pool, out_type=tf.int64)[0]
            pool_seed = tf.stack([batch_seed, tf.cast(position, tf.int64) + 1])
            without_replacement = tf.argsort(tf.random.stateless_uniform([size], pool_seed))[:samples_per_class]
            with_replacement = tf.random.stateless_uniform(
                [samples_per_class], pool_seed, minval=0, maxval=size, dtype=tf.int64
            )
            picks = tf.cond(
                size >= samples_per_class,
                lambda: tf.cast(without_replacement, tf.int64),
                lambda: with_replacement,
            )
            return tf.gather(pool, picks)

        per_class = tf.map_fn(
            images_of, tf.range(classes_per_batch), fn_output_signature=tf.TensorSpec([samples_per_class], tf.int64)
        )
        return tf.reshape(per_class, [-1])

    return tf.data.Dataset.random(seed=seed).skip(start_step).map(one_batch)


def shuffled_index_batches(count, batch_size, seed=0, start_step=0):
    """An endless dataset of index vectors, reshuffled every pass over the data, from batch ``start_step`` on."""
    if batch_size > count:
        raise SamplerError(f"batch_size={batch_size} exceeds the {count} training images")
    return (
        tf.data.Dataset.range(count)
        .shuffle(count, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .skip(start_step * batch_size)
        .batch(batch_size, drop_remainder=True)
    )
