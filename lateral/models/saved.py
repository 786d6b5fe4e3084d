"""Loading saved lateral models (every custom layer registered before Keras reads the file), and telling them apart."""

import hashlib
import zipfile

import keras
import numpy as np

from lateral.models import embedding, heads, iom  # noqa: F401  (importing registers the custom layers)
from lateral.user_errors import UserError


class ModelFileError(UserError):
    """A saved model file that cannot be read (truncated, damaged, or not a Keras model)."""


def load_model(path):
    try:
        return keras.models.load_model(path)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ModelFileError(f"{path} cannot be loaded, it may be truncated or damaged ({reason}); restore it or "
                             "train again") from None


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
