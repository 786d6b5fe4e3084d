"""Exports for mark-recapture software: MARK's ``.inp``, an RMark-ready CSV, and one row per photo-encounter.

Occasions are the sessions in time order (``catalogue.session_order``:
dated ones by date, then undated ones by name; photos of no session form a
last ``no_session`` occasion). A capture history is one character per
occasion, 1 if any photo of the fish is in it. MARK's input format (Cooch
& White, "Program MARK: a gentle introduction", chapter 2): one line per
individual, ``/* id */ history frequency;``. RMark (Laake 2013) reads the
CSV with ``read.csv(..., colClasses = c(ch = "character"))`` (docs/catalogue.md);
the history also stands as one 0/1 column per occasion, which a spreadsheet
keeps even where it turns ``0101`` into 101. Text cells that a spreadsheet
would run as a formula (starting with = + - @, a tab or a carriage return)
are written with a leading apostrophe (OWASP, "CSV injection").
"""

import csv
import io
from pathlib import Path

from lateral.atomic_write import write_atomically
from lateral.gallery.catalogue import session_order
from lateral.gallery.history import NO_SESSION, capture_history
from lateral.gallery.spreadsheet import safe_row


def _csv_text(header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(safe_row(header))
    writer.writerows([safe_row(row) for row in rows])
    return buffer.getvalue()


def _occasion_names(gallery, sessions):
    dates = dict(session_order(gallery))
    return [f"{name} ({dates[name]})" if dates.get(name) else name for name in sessions]


def write_mark_inp(gallery, path):
    """MARK's encounter-history file: a comment naming the occasions, then ``/* fish */ 0101 1;`` per fish."""
    sessions, rows = capture_history(gallery)
    lines = [f"/* lateral capture histories of {len(rows)} fish; occasions in order: "
             f"{', '.join(_occasion_names(gallery, sessions))} */"]
    lines += [f"/* {fish.replace('*/', '* /')} */ {''.join(map(str, marks))} 1;" for fish, marks in rows]
    write_atomically(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return {"fish": len(rows), "occasions": len(sessions)}


def _first_photo_fields(gallery):
    """{fish: metadata of its first photo in time order} (the capture that marked it)."""
    order = {name: index for index, (name, _) in enumerate(session_order(gallery))}
    first = {}
    for entry in sorted(gallery.entries, key=lambda e: (order.get(e["session"], len(order)), e["added"])):
        first.setdefault(entry["fish_id"], gallery.metadata.get(entry["sha256"], {}))
    return first


def write_rmark_csv(gallery, path):
    """``fish_id``, ``ch`` (the history as text), ``freq`` (1), one 0/1 column per occasion, and the metadata of each
    fish's first photo (its covariates at marking)."""
    sessions, rows = capture_history(gallery)
    first = _first_photo_fields(gallery)
    fields = sorted({name for values in first.values() for name in values})
    occasions = [f"occ_{index + 1}" for index in range(len(sessions))]
    table = [[fish, "".join(map(str, marks)), 1, *marks, *(first[fish].get(name, "") for name in fields)]
             for fish, marks in rows]
    write_atomically(path, _csv_text(["fish_id", "ch", "freq", *occasions, *fields], table).encode("utf-8"))
    return {"fish": len(rows), "occasions": len(sessions)}


def write_encounters_csv(gallery, path):
    """One row per photo: fish, session, session date, photo, content hash, flank, capture, added, how, metadata."""
    dates = dict(session_order(gallery))
    fields = sorted({name for values in gallery.metadata.values() for name in values})
    rows = [[entry["fish_id"], entry["session"] or NO_SESSION, dates.get(entry["session"]) or "",
             Path(entry["source"]).name, entry["source"], entry["sha256"], entry["flank"], entry.get("capture") or "",
             entry["added"], entry["how"], *(gallery.metadata.get(entry["sha256"], {}).get(name, "")
                                             for name in fields)]
            for entry in gallery.entries]
    header = ["fish_id", "session", "session_date", "photo", "source", "sha256", "flank", "capture", "added", "how",
              *fields]
    write_atomically(path, _csv_text(header, rows).encode("utf-8"))
    return {"photos": len(rows)}
