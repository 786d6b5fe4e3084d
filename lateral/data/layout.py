"""Where the photos are: ``RAW/<fish_id>/*`` or ``RAW/<session>/<fish_id>/*``.

Labels are the fish-id folder names; sessions the folder names above them
(``""`` in the flat layout). Hidden files and folders are ignored; every other
file in a fish folder is a candidate photo (a non-image is reported, not
silently skipped).
"""

import dataclasses
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class PhotoEntry:
    source: str  # path relative to RAW, forward slashes
    label: str
    session: str


def _visible_children(folder):
    return sorted(child for child in folder.iterdir() if not child.name.startswith("."))


def discover_photos(raw_dir):
    """All candidate photos under ``raw_dir``, sorted by their relative path."""
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
                    entries.append(PhotoEntry(source, fish_folder.name, session))
    return entries
