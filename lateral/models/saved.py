"""Loading saved lateral models: every custom layer is registered before Keras reads the file."""

import keras

from lateral.models import embedding, heads, iom  # noqa: F401  (importing registers the custom layers)


def load_model(path):
    return keras.models.load_model(path)
