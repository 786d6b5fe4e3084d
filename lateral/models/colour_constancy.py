"""Colour-constancy preprocessing as a layer of the embedding model: grey world and shades of grey.

Each image's illuminant is estimated per channel as the Minkowski p-mean of
its pixels, e_c = (mean I_c^p)^(1/p) (Finlayson & Trezzi 2004, "Shades of
Gray and Colour Constancy"; p = 1 is grey world, Buchsbaum 1980), and each
channel is scaled by mean(e) / e_c (a von Kries diagonal correction), so the
estimated illuminant becomes grey of the same brightness. Inside the model,
training, evaluation, lateral.embed and the gallery all see the same
correction, and a saved model carries it.
"""

import keras

MINKOWSKI_P = {"none": None, "grey_world": 1.0, "shades_of_grey": 6.0}


@keras.saving.register_keras_serializable(package="lateral")
class ColourConstancy(keras.layers.Layer):
    """Pixels 0..255 [batch, h, w, 3] -> colour-corrected pixels 0..255 (float32 math: x^6 overflows float16)."""

    def __init__(self, mode, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if mode not in MINKOWSKI_P:
            raise ValueError(f"unknown colour_constancy {mode!r}; known: {', '.join(MINKOWSKI_P)}")
        self.mode = mode

    def call(self, images):
        images = keras.ops.cast(images, "float32")
        p = MINKOWSKI_P[self.mode]
        if p is None:
            return images
        unit = images / 255.0
        illuminant = keras.ops.power(keras.ops.mean(keras.ops.power(unit, p), axis=(1, 2), keepdims=True), 1.0 / p)
        illuminant = keras.ops.maximum(illuminant, 1e-6)  # no division by 0; a black channel stays black (0 x gain)
        gains = keras.ops.mean(illuminant, axis=-1, keepdims=True) / illuminant
        return keras.ops.clip(images * gains, 0.0, 255.0)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
