"""The quantised deep Index-of-Max (IoM) hashing head, and its training-free original (random projections).

Jin, Hwang, Teoh et al., "Deep index-of-maximum hashing for cancellable face
templates" (the deep IoM of the original project): the embedding, optionally
permuted by a secret key, is projected to ``m`` groups of ``q`` values; each
group's arg-max is one integer code in 0..q-1 and a template is the ``m``
codes. Training replaces the arg-max by its soft version, the expected index
under a softmax with temperature ``T``, so the codes are differentiable.
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


def soft_codes(logits, temperature):
    """Each group's expected index under softmax(T * logits): continuous codes [batch, m] in [0, q-1]."""
    levels = tf.range(tf.shape(logits)[-1], dtype=tf.float32)
    return tf.reduce_sum(tf.nn.softmax(temperature * logits, axis=-1) * levels, axis=-1)


def build_codes_model(embedding_model, projection, key=None, name="iom_codes"):
    """pixels -> stage-one embedding -> keyed permutation -> projection -> integer codes [batch, m]."""
    pixels = keras.Input(embedding_model.input_shape[1:], name="pixels")
    embeddings = embedding_model(pixels)
    codes = HardCodes(name="codes")(projection(KeyedPermutation(key, name="permutation")(embeddings)))
    return keras.Model(pixels, codes, name=name)


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
