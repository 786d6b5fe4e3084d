"""The one exception of the gallery: a user's gallery, key or input that a command cannot use."""

from lateral.user_errors import UserError


class GalleryError(UserError):
    """A gallery, key or input a command cannot use; the message says which and why."""
