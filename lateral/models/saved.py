"""Loading saved lateral models: every custom layer is registered before Keras reads the file."""

import zipfile

import keras

from lateral.models import embedding, heads, iom  # noqa: F401  (importing registers the custom layers)


class ModelFileError(ValueError):
    """A saved model file that cannot be read (truncated, damaged, or not a Keras model)."""


def load_model(path):
    try:
        return keras.models.load_model(path)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ModelFileError(f"{path} cannot be loaded, it may be truncated or damaged ({reason}); restore it or "
                             "train again") from None
