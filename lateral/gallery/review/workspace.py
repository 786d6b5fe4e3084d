"""The review session behind the web page: the queue of new photos, their candidates, and the decisions taken.

New photos are read and encoded once, when the session starts. Everything
else is read from the ``.lgal`` file as it is now (reloaded whenever the file
changes, so a ``confirm`` from the command line shows at once). A decision
holds the gallery lock, re-reads the gallery inside it, goes through
``commands.record_confirmation`` (what ``confirm`` runs) and is saved
atomically before the call returns. Photos are known to the page only by
opaque ids (their SHA-256); the server opens only photos it registered.
"""

import contextlib
import dataclasses
import os
import tempfile
from pathlib import Path

from lateral.data.layout import photo_files
from lateral.gallery import catalogue, commands
from lateral.gallery.history import write_capture_history
from lateral.gallery.lock import gallery_lock
from lateral.gallery.review.images import ThumbnailCache, thumbs_folder
from lateral.gallery.search import GallerySearch, decide
from lateral.gallery.store import GalleryError, gallery_revision, load_gallery, now, save_gallery

FILTERS = ("all", "open", "review")  # every photo, the undecided ones, the undecided ones in the review band


@dataclasses.dataclass
class QueuedPhoto:
    id: str
    photo: object  # encoder.Photo
    code: object
    embedding: object

    @property
    def name(self):
        return Path(self.photo.source).name


class NotFound(GalleryError):
    """An id the session does not know (a photo, template or fish)."""


class ReviewWorkspace:
    def __init__(self, gallery_path, inputs, thresholds, key=None, model=None, top_k=5, mode="auto", session=None,
                 reviewer=None):
        self.gallery_path = Path(gallery_path)
        self.reviewer = catalogue.reviewer_name(reviewer)
        gallery, self.encoder = commands.open_gallery(self.gallery_path, key, model)
        self.key_verifier, self.fingerprint = gallery.header["key"], gallery.header["model"]["fingerprint"]
        self.thresholds, self.top_k, self.session = thresholds, top_k, session
        files = photo_files(inputs)
        if not files:
            raise GalleryError(f"no photos found in {', '.join(map(str, inputs))}")
        photos, self.rejected = self.encoder.read_photos(files, mode)
        codes, embeddings = self.encoder.encode(photos)
        self.queue_photos = {}
        for photo, code, embedding in zip(photos, codes, embeddings):
            self.queue_photos.setdefault(photo.sha256, QueuedPhoto(photo.sha256, photo, code, embedding))
        self.order = list(self.queue_photos)
        self.thumbs = ThumbnailCache(thumbs_folder(self.gallery_path), self.encoder.config.preprocess,
                                     self.encoder.input_size)
        self.undo_stack = []  # ids of this session's decisions not undone, newest last
        self._stamp, self._gallery, self._search, self._by_sha, self._by_fish = None, None, None, None, None

    # -- the gallery as it is now ------------------------------------------------------------------------------
    def gallery(self):
        """The gallery file's current content (reloaded when the file changed); refuses a revoked or re-modelled one."""
        stamp = gallery_revision(self.gallery_path)
        if stamp != self._stamp:
            gallery = load_gallery(self.gallery_path)
            self._check_same(gallery)
            self._gallery, self._stamp, self._search = gallery, stamp, None
            self._by_sha = gallery.entry_by_sha()
            self._by_fish = {}
            for entry in gallery.entries:
                self._by_fish.setdefault(entry["fish_id"], []).append(entry)
        return self._gallery

    def _check_same(self, gallery):
        if gallery.header["key"] != self.key_verifier or gallery.header["model"]["fingerprint"] != self.fingerprint:
            raise GalleryError(f"{self.gallery_path} was revoked or rebuilt since this review started; stop the "
                               "review and start it again (with the new key)")

    def search(self):
        gallery = self.gallery()
        if self._search is None:
            self._search = GallerySearch(gallery)
        return self._search

    def entry(self, sha256):
        self.gallery()
        return self._by_sha.get(sha256)

    def entries_of(self, fish_id):
        self.gallery()
        return self._by_fish.get(fish_id, [])

    # -- pages -------------------------------------------------------------------------------------------------
    def queued(self, photo_id):
        if photo_id not in self.queue_photos:
            raise NotFound(f"no photo {photo_id} in this review")
        return self.queue_photos[photo_id]

    def candidates(self, queued, at_least=1):
        search = self.search()
        return search.rank_fish(queued.code, queued.embedding, queued.photo.flank, max(self.top_k, at_least))

    def thresholds_for(self, queued):
        """The thresholds for this photo's search now (sized to the fish it is searched against)."""
        return self.thresholds.for_fish(self.search().fish_searched(queued.photo.flank))

    def row(self, queued):
        """One queue row: the photo, its decision now, and what was recorded for it (if anything)."""
        candidates = self.candidates(queued, at_least=2)  # two, to see a tie
        entry = self.entry(queued.id)
        chosen = self.thresholds_for(queued)
        return {"id": queued.id, "name": queued.name, "flank": queued.photo.flank,
                "decision": decide(chosen, candidates), "thresholds": chosen.source,
                "best": ({"fish_id": candidates[0][0], "score": round(candidates[0][1], 4)} if candidates else None),
                "recorded": entry["fish_id"] if entry else None}

    def queue(self, show="all"):
        if show not in FILTERS:
            raise NotFound(f"unknown filter {show!r}; use one of {', '.join(FILTERS)}")
        rows = [self.row(self.queue_photos[photo_id]) for photo_id in self.order]
        decided = sum(row["recorded"] is not None for row in rows)
        if show != "all":
            rows = [row for row in rows if row["recorded"] is None and (show == "open" or row["decision"] == "review")]
        return {"rows": rows, "decided": decided, "total": len(self.order), "show": show,
                "rejected": [{"photo": Path(path).name, "reason": reason} for path, reason, _ in self.rejected],
                "thresholds": self.thresholds.source}

    def photo_page(self, photo_id, per_fish=8):
        queued = self.queued(photo_id)
        row = self.row(queued)
        candidates = []
        for rank, (fish_id, score, compared) in enumerate(self.candidates(queued), 1):
            entries = self.entries_of(fish_id)
            candidates.append({"rank": rank, "fish_id": fish_id, "score": round(score, 4), "compared": compared,
                               "templates": len(entries), "sessions": sorted({e["session"] or "-" for e in entries}),
                               "entries": [_entry_view(e) for e in _across_sessions(entries, per_fish, queued.photo.flank)]})
        position = self.order.index(photo_id)
        return {**row, "source": queued.photo.source, "candidates": candidates,
                "previous": self.order[position - 1] if position else None,
                "next": self.order[position + 1] if position + 1 < len(self.order) else None,
                "next_open": self.next_open(photo_id), "position": position + 1, **self.progress(),
                "thresholds": self.thresholds.source}

    def progress(self):
        """How many of the queued photos are in the gallery now (decided here or with ``confirm``)."""
        return {"decided": sum(self.entry(photo_id) is not None for photo_id in self.order), "total": len(self.order)}

    def next_open(self, photo_id):
        """The first undecided photo after ``photo_id`` in the queue (wrapping round), or None."""
        position = self.order.index(photo_id)
        rotated = self.order[position + 1:] + self.order[:position]
        return next((photo_id for photo_id in rotated if self.entry(photo_id) is None), None)

    def fish_page(self, fish_id):
        entries = self.entries_of(fish_id)
        if not entries:
            raise NotFound(f"no fish {fish_id} in {self.gallery_path}")
        sessions = {}
        for entry in entries:
            sessions.setdefault(entry["session"] or "-", []).append(_entry_view(entry))
        return {"fish_id": fish_id, "templates": len(entries), "sessions": sorted(sessions.items()), **self.progress(),
                "other_fish": [name for name in self.gallery().fish_ids() if name != fish_id]}

    def image(self, sha256, kind):
        """Bytes of a registered photo's ROI or annotated photo; NotFound for any id not registered."""
        if kind not in ("roi", "photo"):
            raise NotFound(f"no image kind {kind!r}")
        if sha256 in self.queue_photos:
            photo = self.queue_photos[sha256].photo
            source, mode = photo.source, photo.mode
        else:
            entry = self.entry(sha256)
            if entry is None:
                raise NotFound(f"no photo {sha256} in this review or gallery")
            source, mode = entry["source"], entry["mode"]
        return self.thumbs.get(sha256, source, mode, kind)

    def history_csv(self):
        """The capture history CSV exactly as the ``history`` command writes it, from the gallery as it is now."""
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "captures.csv"
            write_capture_history(self.gallery(), out)
            return out.read_text(encoding="utf-8")

    # -- decisions (each: lock, re-read, change, save, then return) ----------------------------------------------
    @contextlib.contextmanager
    def _changing(self):
        """The gallery as it is on disk, under its lock; saved when the block ends without an error."""
        with gallery_lock(self.gallery_path):
            gallery = load_gallery(self.gallery_path)
            self._check_same(gallery)
            yield gallery
            save_gallery(gallery, self.gallery_path)

    def decide(self, photo_id, fish):
        """Record ``fish`` (a known fish's id, or "new") for a queued photo, as ``confirm`` does."""
        queued = self.queued(photo_id)
        suggested = self.thresholds_for(queued).source  # the decision records the thresholds and N it was shown
        with self._changing() as gallery:
            summary = commands.record_confirmation(gallery, self.encoder, queued.photo.source, fish, self.session,
                                                   queued.photo.mode, note=f"review; {suggested}",
                                                   reviewer=self.reviewer)
        self.undo_stack.append(gallery.decisions[-1]["id"])
        return summary

    def move(self, sha256, fish):
        """Put the template of one photo under another fish (``new``: a new fish); recorded as a decision."""
        with self._changing() as gallery:
            previous = next((e["fish_id"] for e in gallery.entries if e["sha256"] == sha256), None)
            if previous is None:
                raise NotFound(f"no template {sha256} in {self.gallery_path}")
            fish_id, is_new = commands.resolve_fish(gallery, fish)
            decision = catalogue.move(gallery, sha256, fish_id, is_new, self.reviewer, f"review: moved from {previous}")
        self.undo_stack.append(decision["id"])
        return {"photo": Path(decision["photo"]).name, "from": previous, "fish_id": fish_id, "new_fish": is_new}

    def merge(self, fish, into):
        """Every photo of ``fish`` becomes ``into``'s; recorded as a decision."""
        with self._changing() as gallery:
            decision = catalogue.merge(gallery, fish, into, self.gallery_path, self.reviewer, "review")
        self.undo_stack.append(decision["id"])
        return {"decision": decision["id"], "fish": fish, "into": into, "photos": len(decision["after"])}

    def decisions(self):
        """The decision log, newest first, each with the decision that undid it (if any)."""
        gallery = self.gallery()
        undone_by = {d["undoes"]: d["id"] for d in gallery.decisions if d.get("undoes")}
        return {"decisions": [{k: d.get(k) for k in ("id", "decided", "reviewer", "action", "fish_id", "note",
                                                      "undoes")}
                              | {"photos": len(catalogue.changes_of(d, gallery)[1]), "undone_by": undone_by.get(d["id"])}
                              for d in reversed(gallery.decisions)]}

    def undo(self, decision_id=None):
        """Take back a decision: the one given (any entry of the log), else this session's last one."""
        if decision_id is None:
            if not self.undo_stack:
                raise NotFound("nothing to undo in this review session")
            decision_id = self.undo_stack[-1]
        with self._changing() as gallery:
            target = next((d for d in gallery.decisions if d.get("id") == decision_id), None)
            decision = catalogue.undo(gallery, decision_id, self.gallery_path, self.reviewer, "review")
        if decision_id in self.undo_stack:
            self.undo_stack.remove(decision_id)
        sha256 = next(iter(decision["before"]))
        return {"action": target.get("action", "confirm"), "decision": decision["id"], "undoes": decision_id,
                "photo": Path(target.get("photo") or "").name or None, "id": sha256}


def _entry_view(entry):
    return {"id": entry["sha256"], "name": Path(entry["source"]).name, "session": entry["session"] or "-",
            "flank": entry["flank"], "how": entry["how"], "fish_id": entry["fish_id"], "source": entry["source"],
            "present": os.path.isfile(entry["source"])}


def _across_sessions(entries, limit, flank):
    """Up to ``limit`` entries, taking the sessions in turn so that every session is shown, ``flank`` first."""
    by_session = {}
    for entry in sorted(entries, key=lambda entry: entry["flank"] != flank):
        by_session.setdefault(entry["session"], []).append(entry)
    chosen, queues = [], [list(group) for _, group in sorted(by_session.items())]
    while len(chosen) < limit and any(queues):
        for group in queues:
            if group and len(chosen) < limit:
                chosen.append(group.pop(0))
    return chosen
