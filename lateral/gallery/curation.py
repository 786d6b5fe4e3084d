"""The catalogue's commands: merge, split, rename, undo, the decision log, session dates, photo metadata, exports.

Each changing command runs in ``commands.changing`` (the gallery lock, the
gallery as it is on disk, one SQLite transaction), changes it through
``lateral.gallery.catalogue`` (one decision-log entry); a refusal writes
nothing. ``known``: a gallery the caller read before (the review page's),
used instead of a new read when the file has not changed since. None needs
the model or the key: they move photos between fish, never make templates.
"""

import csv
from pathlib import Path

from lateral.gallery import catalogue, exports
from lateral.gallery.commands import changing, check_fish_id
from lateral.gallery.lock import holding_gallery_lock
from lateral.gallery.store import GalleryError, load_gallery, save_gallery

METADATA_FIELDS = ("date", "site", "observer", "length", "weight")  # the usual ones; any other column is kept too
NUMERIC_FIELDS = ("length", "weight")


def _decide(gallery_path, known, change, shown=None):
    """One decision under the gallery's lock (``change(gallery)``, a catalogue function; ``known``: the gallery
    the caller holds, used when the file has not changed since): the decision and ``shown`` (a dict, or a
    function of the gallery before the change), for the command to print."""
    with changing(gallery_path, known) as gallery:
        extra = shown(gallery) if callable(shown) else (shown or {})
        decision = change(gallery)
    return {"decision": decision["id"], "action": decision["action"], "photos": len(decision["after"]),
            "fish_id": decision["fish_id"], **extra}


def merge(gallery_path, fish, into, reviewer=None, note="", known=None):
    """Every photo of ``fish`` becomes ``into``'s."""
    return _decide(gallery_path, known,
                   lambda gallery: catalogue.merge(gallery, fish, into, gallery_path, reviewer, note), {"from": fish})


def split(gallery_path, fish, photos, to="new", reviewer=None, note="", known=None):
    """``photos`` (file names, paths or hashes) of ``fish`` become a new fish: ``to``, or the next free id."""
    if to != catalogue.NEW_FISH:
        check_fish_id(to)

    def change(gallery):
        new_fish = catalogue.next_new_fish(gallery) if to == catalogue.NEW_FISH else to
        return catalogue.split(gallery, fish, photos, new_fish, gallery_path, reviewer, note)

    return _decide(gallery_path, known, change, {"from": fish})


def rename(gallery_path, fish, to, reviewer=None, note="", known=None):
    """``fish`` is called ``to`` from now on."""
    check_fish_id(to)
    return _decide(gallery_path, known,
                   lambda gallery: catalogue.rename(gallery, fish, to, gallery_path, reviewer, note), {"from": fish})


def undo(gallery_path, decision_id, reviewer=None, note="", known=None):
    """Take back any entry of the decision log (``log`` lists them)."""
    def undone(gallery):
        return {"undoes": decision_id,
                "undone": next((d for d in gallery.decisions if d.get("id") == decision_id), None)}

    return _decide(gallery_path, known,
                   lambda gallery: catalogue.undo(gallery, decision_id, gallery_path, reviewer, note), undone)


def decision_log(gallery_path):
    """Every decision, oldest first: number, time, reviewer, action, fish, photos changed, what it undoes, note."""
    gallery = load_gallery(gallery_path)
    return {"decisions": [{"id": d["id"], "decided": d["decided"], "reviewer": d["reviewer"] or "-",
                           "action": d["action"], "fish_id": d["fish_id"],
                           "photos": len(catalogue.changes_of(d, gallery)[1]), "undoes": d["undoes"],
                           "note": d["note"]} for d in gallery.decisions]}


def read_sessions_csv(path):
    """{session: date} from a CSV with columns ``session`` and ``date`` (YYYY-MM-DD)."""
    rows = _read_csv(path, ("session", "date"))
    dates = {}
    for line, row in rows:
        name = row["session"].strip()
        if not name:
            raise GalleryError(f"{path}, line {line}: the session name is empty")
        dates[name] = catalogue.iso_date(row["date"], f"{path}, line {line}")
    return dates


@holding_gallery_lock
def sessions(gallery_path, dates=None, reviewer=None):
    """Set session dates (``{session: YYYY-MM-DD}``, replacing earlier ones; each change logged); list them in order."""
    gallery = load_gallery(gallery_path)
    changed = [catalogue.set_session_date(gallery, name, date, gallery_path, reviewer, replace=True)
               for name, date in (dates or {}).items()]
    if any(changed):
        save_gallery(gallery, gallery_path)
    photos = {}
    for entry in gallery.entries:
        photos[entry["session"]] = photos.get(entry["session"], 0) + 1
    return {"sessions": [{"session": name, "date": date, "photos": photos.get(name, 0)}
                         for name, date in catalogue.session_order(gallery)],
            "changed": sum(map(bool, changed))}


def _read_csv(path, required):
    """[(line number, row dict)] of a CSV with a header holding ``required``; GalleryError names file and line."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [name for name in required if name not in (reader.fieldnames or [])]
            if missing:
                raise GalleryError(f"{path}: no column {', '.join(missing)} in its first line (it has "
                                   f"{', '.join(reader.fieldnames or []) or 'none'})")
            return [(reader.line_num, {k: (v or "") for k, v in row.items() if k is not None}) for row in reader]
    except OSError as error:
        raise GalleryError(f"cannot read {path}: {error.strerror or error}") from None
    except (csv.Error, UnicodeDecodeError) as error:
        raise GalleryError(f"{path} is not a readable CSV file ({error})") from None


@holding_gallery_lock
def import_metadata(gallery_path, csv_path, reviewer=None):
    """Photo metadata from a CSV: a ``photo`` column (file name, path or content hash of an enrolled photo) and any
    of date, site, observer, length, weight (others kept as they are). Every row must name one enrolled photo."""
    gallery = load_gallery(gallery_path)
    rows = _read_csv(csv_path, ("photo",))
    by_key = {}
    for entry in gallery.entries:
        for key in (entry["sha256"], entry["source"], Path(entry["source"]).name):
            by_key.setdefault(key, set()).add(entry["sha256"])
    imported = {}
    for line, row in rows:
        photo = row.pop("photo").strip()
        key = photo if photo in by_key else str((Path(csv_path).parent / photo).resolve())
        found = by_key.get(key, set())
        if len(found) != 1:
            raise GalleryError(f"{csv_path}, line {line}: {photo!r} is {'no' if not found else 'more than one'} "
                               f"enrolled photo of {gallery_path}" + (" (give its path)" if found else "")
                               + "; nothing was imported")
        fields = {name.strip(): value.strip() for name, value in row.items() if name.strip() and value.strip()}
        if "date" in fields:
            fields["date"] = catalogue.iso_date(fields["date"], f"{csv_path}, line {line}, date")
        for name in NUMERIC_FIELDS:
            if name in fields:
                try:
                    float(fields[name])
                except ValueError:
                    raise GalleryError(f"{csv_path}, line {line}: {name} {fields[name]!r} is not a number; nothing "
                                       "was imported") from None
        imported.setdefault(found.pop(), {}).update(fields)
    for sha256, fields in imported.items():
        gallery.metadata[sha256] = {**gallery.metadata.get(sha256, {}), **fields}
    catalogue.log(gallery, "metadata", {}, {}, reviewer, note=f"{len(imported)} photos from {Path(csv_path).name}")
    save_gallery(gallery, gallery_path)
    return {"photos": len(imported), "fields": sorted({name for fields in imported.values() for name in fields})}


def export(gallery_path, mark=None, rmark=None, encounters=None):
    """Write the MARK ``.inp``, the RMark CSV and the one-row-per-photo encounters CSV (those asked for)."""
    gallery = load_gallery(gallery_path)
    if not len(gallery):
        raise GalleryError(f"{gallery_path} holds no templates yet")
    written = {}
    for path, write in ((mark, exports.write_mark_inp), (rmark, exports.write_rmark_csv),
                        (encounters, exports.write_encounters_csv)):
        if path is not None:
            written[str(path)] = write(gallery, path)
    return {"written": written}
