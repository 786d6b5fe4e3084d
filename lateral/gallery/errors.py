"""The one exception of the gallery: a user's gallery, key or input that a command cannot use."""


class GalleryError(ValueError):
    """A gallery, key or input a command cannot use; the message says which and why."""
