"""Catalogue edits (merge, split, rename, move, undo), each one entry in the append-only decision log.

An entry records what it changed as photo assignments: ``before`` and
``after`` map each photo's content hash to its fish (null: not in the
catalogue). Undoing entry k puts back its ``before``, provided every photo is
still as k left it (else the later entry that changed it is named, to be
undone first); the undo is itself an entry (``undoes`` k), and an entry is
undone at most once. An entry that took templates out of the catalogue (the
undo of a confirm, ``remove``) cannot be undone: the templates are gone;
enrol the photos again. A ``verdict`` (the review page's "unusable photo" or
"can't tell") changes no photo; undoing it withdraws it. These functions
change a gallery in memory; the commands load and save it under the gallery
lock.
"""

import datetime
import getpass
import os
import re
from pathlib import Path

from lateral.gallery.errors import GalleryError
from lateral.gallery.store import now

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
NEW_FISH = "new"  # a person's answer for a fish not seen before: it gets the next free id
WITHDRAWABLE = ("verdict",)  # actions that change no photo and yet can be undone (withdrawn)
# The gallery's own calibration fitted and dropped (``recalibrate``, ``--reset``): taken back by those, not by undo.
RECALIBRATE, RESET_CALIBRATION = "recalibrate", "reset_calibration"
CALIBRATION_ACTIONS = (RECALIBRATE, RESET_CALIBRATION)


def next_new_fish(gallery):
    taken = set(gallery.fish_ids())
    number = 1
    while f"new_{number:04d}" in taken:
        number += 1
    return f"new_{number:04d}"


def reviewer_name(given=None):
    """Who decides: ``--reviewer``, else $LATERAL_REVIEWER, else the login name."""
    name = given or os.environ.get("LATERAL_REVIEWER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "unknown"


def log(gallery, action, before, after, reviewer=None, note="", photo="", fish_id="", new_fish=False, undoes=None,
        review=None):
    """Append one decision (not yet saved) and return it; ``review``: what the review page adds (a dict, or None)."""
    decision = {"decided": now(), "reviewer": reviewer_name(reviewer), "action": action, "photo": str(photo),
                "fish_id": fish_id, "new_fish": bool(new_fish), "note": note, "before": before, "after": after,
                "undoes": undoes, "review": review}
    gallery.decisions.append(decision)
    return decision


def in_force(decisions):
    """The decisions not undone, oldest first (the undo entries themselves left out)."""
    undone = {d["undoes"] for d in decisions if d.get("undoes") is not None}
    return [d for d in decisions if d.get("action") != "undo" and ("id" not in d or d["id"] not in undone)]


def check_known(gallery, fish, path):
    if fish not in gallery.fish_ids():
        raise GalleryError(f"{path} has no fish {fish} (`list` shows the {len(gallery.fish_ids())} it has); nothing "
                           "was changed")


def check_free(gallery, fish, path):
    if fish in gallery.fish_ids():
        raise GalleryError(f"{path} already has a fish {fish}; choose another name (or `merge` into it)")


def _reassign(gallery, assignments):
    """Put each photo (content hash) under its fish; None takes the photo's template out."""
    for entry in gallery.entries:
        if entry["sha256"] in assignments and assignments[entry["sha256"]] is not None:
            gallery.edit(entry, fish_id=assignments[entry["sha256"]])
    removed = {sha for sha, fish in assignments.items() if fish is None}
    if removed:
        gallery.keep([entry["sha256"] not in removed for entry in gallery.entries])


def merge(gallery, fish, into, path, reviewer=None, note=""):
    """Every photo of ``fish`` becomes ``into``'s (two records of one individual)."""
    check_known(gallery, fish, path)
    check_known(gallery, into, path)
    if fish == into:
        raise GalleryError(f"cannot merge fish {fish} into itself")
    before = {e["sha256"]: fish for e in gallery.entries if e["fish_id"] == fish}
    after = dict.fromkeys(before, into)
    _reassign(gallery, after)
    return log(gallery, "merge", before, after, reviewer, note, fish_id=into)


def rename(gallery, fish, new_name, path, reviewer=None, note=""):
    """``fish`` is called ``new_name`` from now on (a name not yet in the gallery)."""
    check_known(gallery, fish, path)
    check_free(gallery, new_name, path)
    before = {e["sha256"]: fish for e in gallery.entries if e["fish_id"] == fish}
    after = dict.fromkeys(before, new_name)
    _reassign(gallery, after)
    return log(gallery, "rename", before, after, reviewer, note, fish_id=new_name, new_fish=True)


def photo_hashes(gallery, fish, photos, path):
    """Content hashes of ``photos`` (hashes, file names or paths) among ``fish``'s photos; refuses others by name."""
    own = [e for e in gallery.entries if e["fish_id"] == fish]
    chosen = []
    for photo in photos:
        found = [e["sha256"] for e in own if photo in (e["sha256"], e["source"], Path(e["source"]).name,
                                                        str(Path(photo).resolve()))]
        if len(found) != 1:
            names = ", ".join(sorted(Path(e["source"]).name for e in own))
            raise GalleryError(f"{photo} is {'not one' if not found else 'more than one'} of fish {fish}'s photos "
                               f"in {path} ({names}); nothing was changed")
        chosen.append(found[0])
    return chosen


def split(gallery, fish, photos, new_fish, path, reviewer=None, note=""):
    """Some photos of ``fish`` (two individuals taken for one) become a new fish ``new_fish``."""
    check_known(gallery, fish, path)
    check_free(gallery, new_fish, path)
    hashes = photo_hashes(gallery, fish, photos, path)
    if len(set(hashes)) == sum(e["fish_id"] == fish for e in gallery.entries):
        raise GalleryError(f"that is every photo of fish {fish}: use `rename` to give it another name")
    before = dict.fromkeys(hashes, fish)
    after = dict.fromkeys(hashes, new_fish)
    _reassign(gallery, after)
    return log(gallery, "split", before, after, reviewer, note, fish_id=new_fish, new_fish=True)


def move(gallery, sha256, fish, is_new, reviewer=None, note=""):
    """One photo's template goes to ``fish`` (the review page's fish view)."""
    entry = next((e for e in gallery.entries if e["sha256"] == sha256), None)
    if entry is None:
        raise GalleryError(f"no photo {sha256} in the gallery")
    if entry["fish_id"] == fish:
        raise GalleryError(f"{Path(entry['source']).name} is already fish {fish}")
    before, after = {sha256: entry["fish_id"]}, {sha256: fish}
    _reassign(gallery, after)
    return log(gallery, "move", before, after, reviewer, note, photo=entry["source"], fish_id=fish, new_fish=is_new)


def changes_of(decision, gallery):
    """(before, after) assignments of a decision; a confirm logged before format 3 is read from its photo."""
    if decision.get("after") is not None:
        return decision["before"] or {}, decision["after"]
    entry = next((e for e in gallery.entries if e["source"] == decision["photo"]), None)
    if entry is None or decision.get("action", "confirm") != "confirm":
        return {}, {}
    return {entry["sha256"]: None}, {entry["sha256"]: decision["fish_id"]}


def undo(gallery, decision_id, path, reviewer=None, note=""):
    """Take back decision ``decision_id`` (any entry, not only the last); returns the new log entry."""
    by_id = {d.get("id"): d for d in gallery.decisions}
    if decision_id not in by_id:
        logged = [d["id"] for d in gallery.decisions if "id" in d]
        raise GalleryError(f"{path} has no decision {decision_id} (its log holds "
                           f"{f'{min(logged)} to {max(logged)}' if logged else 'none'}; `log` lists them)")
    target = by_id[decision_id]
    undone_by = next((d for d in gallery.decisions if d.get("undoes") == decision_id), None)
    if undone_by is not None:
        raise GalleryError(f"decision {decision_id} was already undone by decision {undone_by['id']}")
    if target.get("action") in CALIBRATION_ACTIONS:
        raise GalleryError(f"decision {decision_id} ({target['action']}) changed the gallery's calibration, not a "
                           "photo: `recalibrate --reset` goes back to the model's calibration, `recalibrate` fits the "
                           "gallery's again")
    before, after = changes_of(target, gallery)
    if not after and target.get("action") not in WITHDRAWABLE:
        raise GalleryError(f"decision {decision_id} ({target.get('action', 'confirm')}) changed no photo that is "
                           "still in the gallery; nothing to undo")
    if any(fish is None for fish in after.values()):
        raise GalleryError(f"decision {decision_id} ({target['action']}) took templates out of the gallery; they "
                           "cannot be put back: enrol the photos again")
    current = {e["sha256"]: e["fish_id"] for e in gallery.entries}
    for sha256, fish in after.items():
        if current.get(sha256) != fish:
            later = next((d for d in reversed(gallery.decisions) if sha256 in (changes_of(d, gallery)[1] or {})
                          and d is not target), None)
            raise GalleryError(f"a photo of decision {decision_id} is now {current.get(sha256) or 'not enrolled'}, "
                               f"not {fish}" + (f" (decision {later['id']} changed it; undo that first)"
                                                if later and "id" in later else ""))
    _reassign(gallery, before)
    return log(gallery, "undo", dict(after), dict(before), reviewer, note, photo=target.get("photo", ""),
               fish_id=target.get("fish_id", ""), undoes=decision_id)


def session_order(gallery):
    """[(session, date or None)] of every session in use or dated: dated ones by date, then undated ones by name."""
    sessions = {entry["session"] or "": None for entry in gallery.entries}
    sessions.pop("", None)
    sessions.update(gallery.sessions)
    return sorted(sessions.items(), key=lambda item: (item[1] is None, item[1] or "", item[0]))


def set_session_date(gallery, session, date, path, reviewer=None, replace=False, source=""):
    """Give ``session`` its ISO date (``YYYY-MM-DD``; ``source`` says where it came from, in the log's note); a
    different date already set is refused unless ``replace``."""
    checked = iso_date(date, f"the date of session {session}")
    previous = gallery.sessions.get(session)
    if previous == checked:
        return None
    if previous is not None and not replace:
        raise GalleryError(f"session {session} of {path} is dated {previous}, not {checked}; change it with "
                           "`sessions --date` (nothing was recorded)")
    gallery.sessions[session] = checked
    return log(gallery, "session_date", {}, {}, reviewer, note=f"session {session}: {previous or 'no date'} -> "
                                                             f"{checked}{f' ({source})' if source else ''}")


def iso_date(text, what):
    """``text`` if it is a calendar date written YYYY-MM-DD, else a GalleryError naming ``what``."""
    text = str(text).strip()
    if DATE.fullmatch(text):
        try:
            return datetime.date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    raise GalleryError(f"{what}: {text!r} is not a date written YYYY-MM-DD")
