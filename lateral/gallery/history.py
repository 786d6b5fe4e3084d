"""Capture histories for mark-recapture analysis: one row per fish, one 1/0 column per session."""

import csv

from lateral.atomic_write import replacing
from lateral.gallery.catalogue import session_order
from lateral.gallery.spreadsheet import safe_row

NO_SESSION = "no_session"


def capture_history(gallery):
    """(sessions, rows): sessions in time order (dated by date, then undated by name, then photos of no session),
    rows of (fish_id, [0/1 per session]) sorted by fish id."""
    seen = {}
    for entry in gallery.entries:
        seen.setdefault(entry["fish_id"], set()).add(entry["session"] or NO_SESSION)
    used = {session for fish_sessions in seen.values() for session in fish_sessions}
    sessions = [name for name, _ in session_order(gallery) if name in used] + [NO_SESSION] * (NO_SESSION in used)
    rows = [(fish, [int(session in seen[fish]) for session in sessions]) for fish in sorted(seen)]
    return sessions, rows


def write_capture_history(gallery, path):
    """CSV: ``fish_id``, one column per session, and ``ch``, the history as one string (MARK's input style).

    Every text cell is quoted (``ch`` too: it is a string of digits, read in R with
    ``colClasses = c(ch = "character")``, as RMark's ``import.chdata`` does) and none runs as a
    spreadsheet formula (``lateral.gallery.spreadsheet``)."""
    sessions, rows = capture_history(gallery)
    with replacing(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow(safe_row(["fish_id", *sessions, "ch"]))
        for fish, marks in rows:
            writer.writerow(safe_row([fish, *marks, "".join(map(str, marks))]))
    return sessions, rows
