"""What a gallery's ``meta`` JSON must hold, field by field, checked once when the file is read.

A hand-edited or otherwise damaged header, entry or decision is refused
with the file and the field named (``header field 'model.m' must be a
positive integer``), instead of failing later on a missing key. Fields not
listed here are kept as they are.
"""

import string

from lateral.gallery.errors import GalleryError
from lateral.matching.local_features import MATCHERS
from lateral.models.permutation import PERMUTATIONS


def _text(value):
    return isinstance(value, str)


def _positive(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _flag(value):
    return isinstance(value, bool)


def _hex(value):
    return isinstance(value, str) and value != "" and len(value) % 2 == 0 and all(c in string.hexdigits for c in value)


def _input_size(value):
    return isinstance(value, list) and len(value) == 2 and all(map(_positive, value))


def _texts(value):
    return isinstance(value, list) and all(map(_text, value))


def _mapping(value):
    return isinstance(value, dict)


def _algorithm(value):
    return isinstance(value, str) and value in PERMUTATIONS


def _within(low, high):
    """An integer in [low, high]: a crafted header cannot ask for a huge array or hours of key stretching."""
    return (lambda value: _positive(value) and low <= value <= high), f"an integer in [{low}, {high}]"


# How a photo is read (``--mode``): auto (a green-tent photo is segmented, any other taken as already cropped),
# tent or cropped; an entry's ``mode`` records which of the last two was used.
PHOTO_MODES = ("auto", "tent", "cropped")
SIZE_LIMIT = 65_536  # m, q, embedding size and each side of the input: far above any trained model's
ITERATIONS = (10_000, 2_000_000)  # PBKDF2 iterations a gallery may ask for (lateral writes keys.ITERATIONS)
HEX = (_hex, "a hexadecimal string of whole bytes")
MODEL = {"path": (_text, "a string"), "fingerprint": HEX, "m": _within(1, SIZE_LIMIT), "q": _within(2, SIZE_LIMIT),
         "embedding_size": _within(1, SIZE_LIMIT),
         "input_size": (lambda value: _input_size(value) and max(value) <= SIZE_LIMIT,
                        f"a list of two positive integers up to {SIZE_LIMIT}")}
VERIFIER = {"kdf": (lambda value: value == "pbkdf2-sha256", '"pbkdf2-sha256"'),
            "iterations": _within(*ITERATIONS), "salt": HEX, "digest": HEX}
HEADER = {"created": (_text, "a string"), "updated": (_text, "a string"), "model": (_mapping, "an object"),
          "key": (lambda value: value is None or _mapping(value), "null or an object"),
          "stores_embeddings": (_flag, "true or false")}
HEADER_V2 = {"permutation": (_algorithm, f"one of {', '.join(PERMUTATIONS.names())}")}
OPTIONAL_MODEL = {"flip_tta": (_flag, "true or false")}  # galleries made before it: false
OPTIONAL_HEADER = {"revoked": (_texts, "a list of strings"), "migrated": (_mapping, "an object"),
                   "verify": (_mapping, "an object"),  # galleries made without local verification have none
                   "calibration": (_mapping, "an object")}  # only a gallery recalibrated on its own photos
VERIFY = {"matcher": (lambda value: isinstance(value, str) and value in MATCHERS, f"one of {', '.join(MATCHERS.names())}"),
          "shortlist": (lambda value: value == 0 or _positive(value), "an integer of at least 0"),
          "long_side": _within(16, SIZE_LIMIT)}
ENTRY = {**{name: (_text, "a string") for name in ("fish_id", "source", "sha256", "flank", "mode", "added", "how")},
         "session": (lambda value: value is None or _text(value), "a string or null")}
DECISION = {"photo": (_text, "a string"), "fish_id": (_text, "a string"), "new_fish": (_flag, "true or false"),
            "decided": (_text, "a string"), "note": (_text, "a string")}


def _check_fields(record, fields, where, path, prefix="", optional=False):
    for name, (valid, expected) in fields.items():
        if name not in record:
            if optional:
                continue
            raise GalleryError(f"{path} is damaged: {where} field '{prefix}{name}' is missing")
        if not valid(record[name]):
            shown = repr(record[name])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise GalleryError(f"{path} is damaged: {where} field '{prefix}{name}' must be {expected}, not {shown}")


def check_meta(meta, version, path):
    """Raise GalleryError naming ``path`` and the field unless ``meta`` (of format ``version``) is well formed."""
    for name, kind in (("header", dict), ("entries", list), ("decisions", list)):
        if not isinstance(meta.get(name), kind):
            raise GalleryError(f"{path} is damaged: its '{name}' is missing or not a JSON "
                               f"{'object' if kind is dict else 'list'}")
    header = meta["header"]
    _check_fields(header, {**HEADER, **(HEADER_V2 if version >= 2 else {})}, "header", path)
    _check_fields(header, OPTIONAL_HEADER, "header", path, optional=True)
    _check_fields(header["model"], MODEL, "header", path, prefix="model.")
    _check_fields(header["model"], OPTIONAL_MODEL, "header", path, prefix="model.", optional=True)
    if header["key"] is not None:
        _check_fields(header["key"], VERIFIER, "header", path, prefix="key.")
    if "verify" in header:
        _check_fields(header["verify"], VERIFY, "header", path, prefix="verify.")
    for kind, records, fields in (("entries", meta["entries"], ENTRY), ("decisions", meta["decisions"], DECISION)):
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise GalleryError(f"{path} is damaged: {kind}[{index}] is not a JSON object")
            _check_fields(record, fields, f"{kind}[{index}]", path)
