"""The quantised deep Index-of-Max (IoM) hashing head, and its training-free original (random projections).

Jin, Hwang, Teoh et al., "Deep index-of-maximum hashing for cancellable face
templates" (the deep IoM of the original project): the embedding, optionally
permuted by a secret key, is projected to ``m`` groups of ``q`` values; each
group's arg-max is one integer code in 0..q-1 and a template is the ``m``
codes. Training replaces the arg-max by its soft version, the expected index
under softmax(inverse_temperature * logits), so the codes are differentiable.
"""

import keras
import numpy as np
import tensorflow as tf

from lateral.models.permutation import LEGACY_ALGORITHM, PERMUTATION_ALGORITHM, PERMUTATIONS, keyed_permutation


@keras.saving.register_keras_serializable(package="lateral")
class KeyedPermutation(keras.layers.Layer):
    """Permute the embedding's entries by the permutation ``key`` gives under ``algorithm`` (identity for key None).

    A new key gives new, unlinkable templates from the same trained network
    (cancellable biometrics); training always runs with the identity. The
    algorithms are specified in ``lateral.models.permutation``; a model saved
    before the algorithm was recorded used the legacy NumPy one.
    """

    def __init__(self, key=None, algorithm=PERMUTATION_ALGORITHM, **kwargs):
        super().__init__(**kwargs)
        PERMUTATIONS.get(algorithm)  # an unknown name fails here, listing the known ones
        self.key, self.algorithm = key, algorithm

    def build(self, input_shape):
        self.order = tf.constant(keyed_permutation(self.key, input_shape[-1], self.algorithm), tf.int32)

    def call(self, embeddings):
        return tf.gather(embeddings, self.order, axis=-1)

    def get_config(self):
        return {**super().get_config(), "key": self.key, "algorithm": self.algorithm}

    @classmethod
    def from_config(cls, config):
        return cls(**{"algorithm": LEGACY_ALGORITHM, **config})


@keras.saving.register_keras_serializable(package="lateral")
class IoMProjection(keras.layers.Layer):
    """``hidden_layers`` Dense+BatchNorm+ReLU layers, then a Dense to ``m * q``: logits [batch, m, q] (float32)."""

    def __init__(self, m, q, hidden_layers=1, bn_momentum=0.9, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.m, self.q, self.hidden_layers, self.bn_momentum = m, q, hidden_layers, bn_momentum
        self.hidden = []
        for index in range(hidden_layers):
            self.hidden += [
                keras.layers.Dense(m * q, name=f"hidden_{index}", dtype="float32"),
                keras.layers.BatchNormalization(momentum=bn_momentum, name=f"hidden_bn_{index}", dtype="float32"),
                keras.layers.ReLU(dtype="float32"),
            ]
        self.projection = keras.layers.Dense(m * q, name="projection", dtype="float32")

    def build(self, input_shape):
        shape = input_shape
        for layer in self.hidden:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.projection.build(shape)

    def call(self, embeddings, training=None):
        x = tf.cast(embeddings, tf.float32)
        for layer in self.hidden:
            x = layer(x, training=training)
        return tf.reshape(self.projection(x), [-1, self.m, self.q])

    def get_config(self):
        return {**super().get_config(), "m": self.m, "q": self.q, "hidden_layers": self.hidden_layers,
                "bn_momentum": self.bn_momentum}


@keras.saving.register_keras_serializable(package="lateral")
class HardCodes(keras.layers.Layer):
    """Each group's arg-max: integer codes [batch, m] in 0..q-1 (int32)."""

    def call(self, logits):
        return tf.argmax(logits, axis=-1, output_type=tf.int32)


def soft_codes(logits, inverse_temperature):
    """Each group's expected index under softmax(inverse_temperature * logits): continuous codes [batch, m] in
    [0, q-1]."""
    levels = tf.range(tf.shape(logits)[-1], dtype=tf.float32)
    return tf.reduce_sum(tf.nn.softmax(inverse_temperature * logits, axis=-1) * levels, axis=-1)


def keyed_codes(embeddings, projection, key=None, algorithm=PERMUTATION_ALGORITHM):
    """The keyed codes head on symbolic ``embeddings``: keyed permutation -> projection -> integer codes [batch, m].

    Its layers are named ``permutation`` and ``codes`` (``lateral.runs`` finds them by name in a saved model).
    """
    return HardCodes(name="codes")(projection(KeyedPermutation(key, algorithm, name="permutation")(embeddings)))


def build_codes_model(embedding_model, projection, key=None, name="iom_codes"):
    """pixels -> stage-one embedding -> ``keyed_codes``: the model stage two saves."""
    pixels = keras.Input(embedding_model.input_shape[1:], name="pixels")
    return keras.Model(pixels, keyed_codes(embedding_model(pixels), projection, key), name=name)


def build_codes_head(embedding_size, projection, key=None, algorithm=PERMUTATION_ALGORITHM, name="codes_head"):
    """embeddings [batch, embedding_size] -> ``keyed_codes``: a trained projection under any key."""
    embeddings = keras.Input((embedding_size,), name="embeddings")
    return keras.Model(embeddings, keyed_codes(embeddings, projection, key, algorithm), name=name)


@keras.saving.register_keras_serializable(package="lateral")
class RandomIoMProjection(keras.layers.Layer):
    """Training-free IoM (Jin, Teoh et al., "Ranking-based locality sensitive hashing-enabled cancelable
    biometrics: Index-of-Max hashing", IEEE TIFS 2018, Gaussian random projection IoM): ``m`` groups of ``q``
    Gaussian random projections, logits [batch, m, q] = x @ W with W [d, m * q] standard normal drawn by
    ``numpy.random.default_rng(seed)``. The seed is public; a gallery's key enters through ``KeyedPermutation``
    before it, which makes the effective projection the key's (``build_codes_model``'s keyed head, unchanged)."""

    def __init__(self, m, q, seed=0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.m, self.q, self.seed = m, q, seed

    def build(self, input_shape):
        weights = np.random.default_rng(self.seed).standard_normal((input_shape[-1], self.m * self.q))
        self.weights_matrix = tf.constant(weights, tf.float32)

    def call(self, embeddings):
        return tf.reshape(tf.matmul(tf.cast(embeddings, tf.float32), self.weights_matrix), [-1, self.m, self.q])

    def get_config(self):
        return {**super().get_config(), "m": self.m, "q": self.q, "seed": self.seed}
