"""lateral: identify individual fish from photos of their lateral skin."""

__version__ = "0.1.0"
