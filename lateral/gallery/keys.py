"""The gallery's permutation key: the seed it gives the keyed permutation, and a verifier that is not the key.

A key is any string (a passphrase is best). Its seed is 128 bits of
SHA-256, so a key cannot be guessed by trying small integers; the seed keys
the permutation algorithm the gallery records (``lateral.models.permutation``:
HMAC-SHA-256 driving a Fisher-Yates shuffle, or, for galleries of format
version 1, the legacy NumPy stream). The gallery
stores only a salted PBKDF2 verifier, enough to refuse a wrong key, not
enough to recover it: a leaked gallery does not leak the key.
"""

import hashlib
import hmac
import os

from lateral.gallery.errors import GalleryError

ITERATIONS = 200_000


def read_key(key=None, key_file=None):
    """The key given on the command line or in a file (its first line, without a byte-order mark or trailing
    whitespace, which editors add unseen), or None for no key."""
    if key is not None and key_file is not None:
        raise GalleryError("give --key or --key_file, not both")
    if key_file is not None:
        try:
            key = open(key_file, encoding="utf-8-sig").readline().rstrip()
        except OSError as error:
            raise GalleryError(f"cannot read the key file {key_file}: {error.strerror or error}") from None
        if not key:
            raise GalleryError(f"the key file {key_file} is empty")
    if key is not None and not key:
        raise GalleryError("the key is empty")
    return key


def permutation_seed(key):
    """The keyed permutation's seed for ``key`` (None: the identity permutation)."""
    if key is None:
        return None
    return int.from_bytes(hashlib.sha256(b"lateral-permutation\0" + key.encode("utf-8")).digest()[:16], "big")


def make_verifier(key):
    """What the gallery stores about its key: None for no key, else a salted PBKDF2-SHA256 digest."""
    if key is None:
        return None
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", key.encode("utf-8"), salt, ITERATIONS)
    return {"kdf": "pbkdf2-sha256", "iterations": ITERATIONS, "salt": salt.hex(), "digest": digest.hex()}


def key_matches(verifier, key):
    """Whether ``key`` is the key ``verifier`` was made from (None matches only None)."""
    if verifier is None or key is None:
        return verifier is None and key is None
    digest = hashlib.pbkdf2_hmac("sha256", key.encode("utf-8"), bytes.fromhex(verifier["salt"]),
                                 int(verifier["iterations"]))
    return hmac.compare_digest(digest.hex(), verifier["digest"])
