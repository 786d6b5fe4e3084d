"""Where the photos are: ``RAW/<fish_id>/*`` or ``RAW/<session>/<fish_id>/*``.

Labels are the fish-id folder names; sessions the folder names above them
(``""`` in the flat layout), or, given a ``session_pattern`` (a regular
expression with a group named ``session``), parsed from each file name: FS48's
``ID_CAMERA_seqNNN_frameNNNN.jpg`` gives the camera with
``^[^_]+_(?P<session>[^_]+)_``. A name the pattern does not match gets session ``""``.

The layout is decided by where the files are: files two levels down
(``RAW/x/file``) vote for the flat layout, files three levels down
(``RAW/x/y/file``) for the session layout, and the side with more files wins
(a tie is a ``LayoutError``). So one stray sub-folder (``RAW/fish_B/old/``)
cannot turn the fish folders into sessions, nor one loose file the sessions
into fish. What the chosen layout leaves out is ignored and reported, never
silently: files and folders at the wrong level, hidden and system items
(``.DS_Store``, ``@eaDir``, ``__MACOSX``, ``Thumbs.db``, ...), dangling links,
symbolic-link loops and names that are not valid UTF-8. Every other file in a
fish folder is a candidate photo (a non-image is rejected with a reason
later, not silently skipped). A folder that the layout uses but that cannot be
read is a ``LayoutError``.
"""

import collections
import dataclasses
import errno
import re
import sys
from pathlib import Path

from lateral.user_errors import UserError, printable

# Folders that file servers, operating systems and archivers add on their own.
SYSTEM_FOLDERS = {"@eaDir", "__MACOSX", "#recycle", "#snapshot", "@Recycle", "@Recently-Snapshot", "$RECYCLE.BIN",
                  "System Volume Information", "lost+found"}
SYSTEM_FILES = {"Thumbs.db", "ehthumbs.db", "desktop.ini", "Icon\r"}
FLAT, SESSIONS = "RAW/<fish_id>/<photo>", "RAW/<session>/<fish_id>/<photo>"
REPORTED_ONE_BY_ONE = 20


class LayoutError(UserError):
    """The photo folder cannot be read, or its layout cannot be told."""


@dataclasses.dataclass(frozen=True)
class PhotoEntry:
    source: str  # path relative to RAW, forward slashes
    label: str
    session: str


@dataclasses.dataclass(frozen=True)
class Ignored:
    path: str  # relative to RAW, forward slashes; a folder ends with "/"
    reason: str
    system: bool = False  # hidden or system item: reported as a count, not one by one


@dataclasses.dataclass(frozen=True)
class Layout:
    kind: str  # FLAT or SESSIONS
    photos: tuple  # PhotoEntry, sorted by source
    ignored: tuple  # Ignored, sorted by path


def session_from_name(name_pattern, file_name):
    """The ``session`` group of ``name_pattern`` (a compiled regex) in ``file_name``, or "" when it does not match."""
    match = name_pattern.search(file_name)
    return match.group("session") if match else ""


@dataclasses.dataclass
class _Listing:
    """A folder's usable files and sub-folders, what was left out of it, or why it could not be read."""

    files: list
    folders: list
    ignored: list
    unreadable: str = None


def _skip_reason(child):
    """Why ``child`` is no photo or fish folder: (reason, is_system), or None when it may be one."""
    name = child.name
    if name.startswith("."):
        return "hidden", True
    if name in SYSTEM_FOLDERS or name in SYSTEM_FILES:
        return "system item", True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "name is not valid UTF-8: rename it to use it", False
    try:
        child.stat()
    except FileNotFoundError:
        return f"dangling link: its target {printable(str(child.readlink()))} does not exist", False
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symbolic link loop", False
        return f"cannot be read ({error.strerror or error})", False
    if not child.is_dir() and not child.is_file():
        return "not a regular file or folder", False
    return None


def _list(folder, raw_dir):
    try:
        children = sorted(folder.iterdir())
    except OSError as error:
        return _Listing([], [], [], error.strerror or str(error))
    listing = _Listing([], [], [])
    for child in children:
        skip = _skip_reason(child)
        if skip is not None:
            listing.ignored.append(Ignored(_relative(child, raw_dir, child.is_dir()), *skip))
        else:
            (listing.folders if child.is_dir() else listing.files).append(child)
    return listing


def _relative(path, raw_dir, is_folder=False):
    return path.relative_to(raw_dir).as_posix() + ("/" if is_folder else "")


def _used(listing, folder, raw_dir):
    if listing.unreadable is not None:
        raise LayoutError(f"{printable(str(folder))}: cannot read this folder ({listing.unreadable})")
    return listing


def read_layout(raw_dir, session_pattern=None, report=True):
    """The photos under ``raw_dir`` and what was ignored; with ``report``, the ignored items go to stderr."""
    raw_dir = Path(raw_dir)
    name_pattern = re.compile(session_pattern) if session_pattern else None
    top = _used(_list(raw_dir, raw_dir), raw_dir, raw_dir)
    if top.files and not top.folders:
        raise LayoutError(f"{printable(str(raw_dir))} holds {len(top.files)} file{'s' * (len(top.files) != 1)} and no "
                          f"fish folders: put each fish's photos in a folder of its own, {FLAT}")
    ignored = top.ignored + [Ignored(_relative(path, raw_dir), "a file outside any fish folder")
                             for path in top.files]
    second = {folder: _list(folder, raw_dir) for folder in top.folders}
    third = {(outer, inner): _list(inner, raw_dir) for outer in top.folders for inner in second[outer].folders}
    flat_votes = sum(len(listing.files) for listing in second.values())
    session_votes = sum(len(listing.files) for listing in third.values())
    if flat_votes and flat_votes == session_votes:
        raise LayoutError(f"{printable(str(raw_dir))} holds {flat_votes} files in {FLAT} and as many in {SESSIONS}: "
                          "use one layout")

    photos = []
    if flat_votes >= session_votes:
        kind = FLAT
        for fish_folder, listing in second.items():
            _used(listing, fish_folder, raw_dir)
            ignored += listing.ignored
            photos += [(path, fish_folder.name, "") for path in listing.files]
            ignored += [Ignored(_relative(inner, raw_dir, True), _left_out("a folder inside a fish folder", third[
                (fish_folder, inner)])) for inner in listing.folders]
    else:
        kind = SESSIONS
        for session_folder, listing in second.items():
            _used(listing, session_folder, raw_dir)
            ignored += listing.ignored
            ignored += [Ignored(_relative(path, raw_dir), "a file directly in a session folder")
                        for path in listing.files]
        for (session_folder, fish_folder), listing in third.items():
            _used(listing, fish_folder, raw_dir)
            ignored += listing.ignored
            photos += [(path, fish_folder.name, session_folder.name) for path in listing.files]
            ignored += [Ignored(_relative(inner, raw_dir, True), "a folder inside a fish folder")
                        for inner in listing.folders]

    entries = tuple(sorted(
        (PhotoEntry(_relative(path, raw_dir), label,
                    session_from_name(name_pattern, path.name) if name_pattern is not None else session)
         for path, label, session in photos), key=lambda entry: entry.source))
    layout = Layout(kind, entries, tuple(sorted(ignored, key=lambda item: item.path)))
    if report and layout.ignored:
        print("\n".join(describe_ignored(layout)), file=sys.stderr)
    return layout


def _left_out(reason, listing):
    count = len(listing.files)
    return f"{reason} ({count} file{'s' * (count != 1)} in it not used)" if count else reason


def describe_ignored(layout):
    """Lines saying what ``layout`` left out: each item with its reason, hidden and system items as one count."""
    plain = [item for item in layout.ignored if not item.system]
    system = [item for item in layout.ignored if item.system]
    lines = []
    if plain:
        lines.append(f"ignored {len(plain)} item{'s' * (len(plain) != 1)} (layout {layout.kind}):")
        lines += [f"  {printable(item.path)}: {item.reason}" for item in plain[:REPORTED_ONE_BY_ONE]]
        if len(plain) > REPORTED_ONE_BY_ONE:
            lines.append(f"  ... and {len(plain) - REPORTED_ONE_BY_ONE} more")
    if system:
        names = collections.Counter(Path(item.path).name for item in system)
        listed = ", ".join(f"{name} x{count}" if count > 1 else name for name, count in sorted(names.items()))
        lines.append(f"ignored {len(system)} hidden or system item{'s' * (len(system) != 1)}: {printable(listed)}")
    return lines


def photo_files(inputs, report=True):
    """Every usable file under the given files and folders (folders searched to any depth), sorted.

    Left out, and with ``report`` said on stderr: hidden and system items,
    dangling links, symbolic-link loops (a folder reached twice), names that
    are not valid UTF-8. A named file or folder that does not exist, or a
    folder that cannot be read, is a ``LayoutError``.
    """
    files, ignored = [], []
    for item in map(Path, inputs):
        if item.is_file():
            files.append(item)
            continue
        if not item.is_dir():
            raise LayoutError(f"{printable(str(item))}: no such file or folder")
        found, pending, visited = [], [item], set()
        while pending:
            folder = pending.pop()
            real = folder.resolve()
            if real in visited:
                ignored.append(Ignored(_relative(folder, item.parent, True), "a folder already searched: a symbolic link loop or a second link to it", False))
                continue
            visited.add(real)
            listing = _used(_list(folder, item.parent), folder, item.parent)
            found += listing.files
            ignored += listing.ignored
            pending += listing.folders
        files += sorted(found)
    if report and ignored:
        print("\n".join(describe_ignored(Layout("files and folders given", [], ignored))), file=sys.stderr)
    return files
