"""Where the photos are: ``RAW/<fish_id>/*`` or ``RAW/<session>/<fish_id>/*``.

Labels are the fish-id folder names; sessions the folder names above them
(``""`` in the flat layout), or, given a ``session_pattern`` (a regular
expression with a group named ``session``), parsed from each file name: FS48's
``ID_CAMERA_seqNNN_frameNNNN.jpg`` gives the camera with
``^[^_]+_(?P<session>[^_]+)_``. A name the pattern does not match gets session ``""``. Hidden files and folders are ignored; every other
file in a fish folder is a candidate photo (a non-image is reported, not
silently skipped).
"""

import dataclasses
import re
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class PhotoEntry:
    source: str  # path relative to RAW, forward slashes
    label: str
    session: str


def _visible_children(folder):
    return sorted(child for child in folder.iterdir() if not child.name.startswith("."))


def session_from_name(name_pattern, file_name):
    """The ``session`` group of ``name_pattern`` (a compiled regex) in ``file_name``, or "" when it does not match."""
    match = name_pattern.search(file_name)
    return match.group("session") if match else ""


def discover_photos(raw_dir, session_pattern=None):
    """All candidate photos under ``raw_dir``, sorted by their relative path."""
    name_pattern = re.compile(session_pattern) if session_pattern else None
    raw_dir = Path(raw_dir)
    top_folders = [child for child in _visible_children(raw_dir) if child.is_dir()]
    nested = any(grandchild.is_dir() for folder in top_folders for grandchild in _visible_children(folder))
    entries = []
    for top in top_folders:
        fish_folders = [(top.name, folder) for folder in _visible_children(top) if folder.is_dir()] if nested else [("", top)]
        for session, fish_folder in fish_folders:
            for photo in _visible_children(fish_folder):
                if photo.is_file():
                    source = photo.relative_to(raw_dir).as_posix()
                    if name_pattern is not None:
                        session = session_from_name(name_pattern, photo.name)
                    entries.append(PhotoEntry(source, fish_folder.name, session))
    return entries
