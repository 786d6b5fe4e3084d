"""A layer that passes values through unchanged and multiplies the gradient flowing back through it.

Placed between the backbone and the output layer, it gives the backbone's
weights a gradient ``scale`` times their own: with SGD that is a learning
rate ``scale`` times the output layer's (discriminative fine-tuning, Howard &
Ruder 2018, arXiv 1801.06146: a pretrained backbone moves slowly while the
new layers learn). At inference it is the identity.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="lateral")
class GradientScale(keras.layers.Layer):
    def __init__(self, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs):
        scale = self.scale

        @tf.custom_gradient
        def scaled(x):
            return tf.identity(x), lambda upstream: upstream * tf.cast(scale, upstream.dtype)

        return scaled(inputs)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}
