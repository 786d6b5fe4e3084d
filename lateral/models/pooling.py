"""How the backbone's feature map [batch, h, w, c] becomes one vector: the family of pooling layers.

``flatten`` is the original project's output layer (arcface-tf2: Flatten then
Dense): every cell of the map keeps its place, so a fish shifted by one cell
is a different vector. ``avg`` is global average pooling. ``gem`` is
generalised-mean pooling (Radenović, Tolias & Chum 2018, "Fine-tuning CNN
Image Retrieval with No Human Annotation", arXiv 1711.02512):
f_c = (mean over the map of x_c^p)^(1/p) with a learned p (initially 3;
p = 1 is average pooling, p -> inf max pooling), the usual pooling of
re-identification networks.
"""

import keras

from lateral.registry import Registry

POOLINGS = Registry("pooling")
GEM_INITIAL_P = 3.0
GEM_EPSILON = 1e-6  # GeM is defined on non-negative activations; clipping keeps x^p and its gradient finite


@keras.saving.register_keras_serializable(package="lateral")
class GeneralisedMeanPooling(keras.layers.Layer):
    """[batch, h, w, c] -> [batch, c]: (mean_hw max(x, eps)^p)^(1/p), p learned (float32 math)."""

    def __init__(self, initial_p=GEM_INITIAL_P, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.initial_p = float(initial_p)

    def build(self, input_shape):
        self.p = self.add_weight(name="p", shape=(), initializer=keras.initializers.Constant(self.initial_p))

    def call(self, features):
        x = keras.ops.maximum(keras.ops.cast(features, "float32"), GEM_EPSILON)
        return keras.ops.power(keras.ops.mean(keras.ops.power(x, self.p), axis=(1, 2)), 1.0 / self.p)

    def get_config(self):
        return {**super().get_config(), "initial_p": self.initial_p}


POOLINGS.register("flatten")(lambda: keras.layers.Flatten(name="output_flatten"))
POOLINGS.register("avg")(lambda: keras.layers.GlobalAveragePooling2D(name="output_pool"))
POOLINGS.register("gem")(lambda: GeneralisedMeanPooling(name="output_pool"))


def build_pooling(name):
    return POOLINGS.get(name)()
