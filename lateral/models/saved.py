"""Loading saved lateral models (every custom layer registered before Keras reads the file), and telling them apart."""

import hashlib

import keras
import numpy as np

from lateral.models import embedding, heads, iom  # noqa: F401  (importing registers the custom layers)


def load_model(path):
    return keras.models.load_model(path)


def weights_fingerprint(layers):
    """SHA-256 over the shapes, dtypes and bytes of every weight of ``layers``: the same network gives the
    same value, however it was saved (a .keras file's bytes also hold the date it was saved)."""
    digest = hashlib.sha256()
    for layer in layers:
        for weight in layer.weights:
            value = np.ascontiguousarray(keras.ops.convert_to_numpy(weight))
            digest.update(str(value.shape).encode() + value.dtype.str.encode())
            digest.update(value.tobytes())
    return digest.hexdigest()
