"""The loss family: its registry and the input contract every loss shares.

Every loss is called as ``loss(labels, embeddings, **params)`` and returns a float32
scalar. ``register_loss`` puts the shared checks in front of the math, so a loss
module holds only its formula:

    @register_loss("batch_hard_triplet")
    def batch_hard_triplet(labels, embeddings, margin=1.0): ...

    LOSSES.get("batch_hard_triplet")(labels, embeddings, margin=0.3)
"""

import functools

import tensorflow as tf

from lateral.registry import Registry

LOSSES = Registry("loss")


def checked_inputs(labels, embeddings):
    """Labels [batch] and embeddings [batch, dim] as float32, or a ValueError naming the problem.

    Embeddings are cast to float32 because a mixed_float16 model emits float16, whose
    range and precision are too small for distance matrices and their sums.
    """
    labels = tf.convert_to_tensor(labels)
    embeddings = tf.cast(embeddings, tf.float32)
    if labels.shape.rank != 1:
        raise ValueError(f"labels must have shape [batch], got {labels.shape}")
    if embeddings.shape.rank != 2:
        raise ValueError(f"embeddings must have shape [batch, dim], got {embeddings.shape}")
    label_count, embedding_count = labels.shape[0], embeddings.shape[0]
    if label_count is not None and embedding_count is not None:
        if label_count != embedding_count:
            raise ValueError(f"{label_count} labels for {embedding_count} embeddings")
    else:  # batch size known only when the graph runs (Keras fit traces with batch None)
        tf.debugging.assert_equal(
            tf.shape(labels)[0], tf.shape(embeddings)[0], message="labels and embeddings differ in batch size"
        )
    return labels, embeddings


def register_loss(name):
    """Register ``math(labels, embeddings, **params)`` under ``name``, behind ``checked_inputs``."""

    def add(math):
        @functools.wraps(math)
        def loss(labels, embeddings, **params):
            return math(*checked_inputs(labels, embeddings), **params)

        return LOSSES.register(name)(loss)

    return add
