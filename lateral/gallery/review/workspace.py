"""The review session behind the web page: the queue of new photos, their candidates, and the decisions taken.

New photos are read and encoded once, when the session starts. Everything
else is read from the ``.lgal`` file as it is now (reloaded whenever the file
changes, so a ``confirm`` from the command line shows at once). A decision
holds the gallery lock, re-reads the gallery inside it, goes through
``commands.record_confirmation`` (what ``confirm`` runs) and is saved
atomically before the call returns. Photos are known to the page only by
opaque ids (their SHA-256); the server opens only photos it registered.

What a review decision adds to the gallery's decision log is made in one
place, ``review_record``, and kept in the log entry's ``review`` column: the
model's suggestion at decision time, and the verdict of a photo that enrols
nothing (unusable, can't tell; logged with action ``verdict``). Every change
is a log entry and undo is by entry number (``catalogue.undo``): a logged
entry is never changed.
"""

import dataclasses
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from lateral.data.layout import photo_files
from lateral.gallery import catalogue, commands, curation
from lateral.gallery.captures import (capture_of, capture_summary, compiled, fish_lacking_flanks, flanks_disagree,
                                     link_captures)
from lateral.gallery.consistency import unmatched_photos
from lateral.gallery.history import write_capture_history
from lateral.gallery.recalibration import calibration_state, search_calibrations
from lateral.gallery.review.images import ThumbnailCache, thumbs_folder
from lateral.gallery.search import GallerySearch, decide
from lateral.gallery.store import GalleryError, gallery_revision, load_gallery

FILTERS = ("all", "open", "review")  # every photo, the undecided ones, the undecided ones in the review band
VERDICTS = {"unusable": "unusable photo", "unsure": "can't tell"}  # decisions that enrol nothing
FISH_LISTED = 300  # rows of the fish list; a search narrows it
CLOSE_CALL = 0.05  # an acceptance whose runner-up scored within this of the accepted fish is flagged
UNUSABLE_REASONS = ("blurred or out of focus", "fish partly hidden or cut off", "wrong ROI or landmarks",
                    "glare or bad light", "not a fish of this study", "other")


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
                 reviewer=None, verify=None, shortlist=None, capture_pattern=None, follow=None):
        """``thresholds``: fixed ones, or with ``follow`` (a ``recalibration.GalleryFpir``) the ones it gives now;
        then they follow the gallery's calibration (``recalibrate`` or ``--reset`` in another process) as a verifying
        gallery's fused scores always do."""
        capture_regex = compiled(capture_pattern)
        self.gallery_path = Path(gallery_path)
        self.reviewer = catalogue.reviewer_name(reviewer)
        # A verifying gallery's local evidence (lateral.gallery.verification): scores are its fused probabilities.
        gallery, self.encoder, self.evidence = commands.open_verified(self.gallery_path, key, model, "hamming", verify,
                                                                      shortlist)
        self.key_verifier, self.fingerprint = gallery.header["key"], gallery.header["model"]["fingerprint"]
        self.thresholds, self.top_k, self.session = thresholds, top_k, session
        self.follow, self.model_folder = follow, Path(model if model is not None else gallery.header["model"]["path"])
        self._calibration = calibration_state(gallery.header, self.gallery_path)  # the evidence's, read just now
        if follow is not None:
            self.thresholds = follow.thresholds(gallery.header)
        files = photo_files(inputs)
        if not files:
            raise GalleryError(f"no photos found in {', '.join(map(str, inputs))}")
        photos, self.rejected = self.encoder.read_photos(files, mode)
        codes, embeddings = self.encoder.encode(photos)
        self.queue_photos = {}
        for photo, code, embedding in zip(photos, codes, embeddings):
            self.queue_photos.setdefault(photo.sha256, QueuedPhoto(photo.sha256, photo, code, embedding))
        self.order = list(self.queue_photos)
        self.capture_ids = {photo_id: capture_of(queued.photo.source, capture_regex)
                            for photo_id, queued in self.queue_photos.items()}
        self.thumbs = ThumbnailCache(thumbs_folder(self.gallery_path), self.encoder.config.preprocess,
                                     self.encoder.input_size)
        self.undo_stack = []  # ids of this session's decisions not undone, newest last
        # Local matching's hook: (new photo, gallery entry) -> [((x, y), (x, y))] in fractions of each ROI.
        self.match_lines = None
        if self.evidence is not None:
            self.local = {photo_id: self.evidence.photo_features(queued.photo)
                          for photo_id, queued in self.queue_photos.items()}
            self.match_lines = lambda photo, entry: self.evidence.match_lines(self.local[photo.sha256], entry)
        self._stamp = self._gallery = self._search = None

    # -- the gallery as it is now ------------------------------------------------------------------------------
    def gallery(self):
        """The gallery file's current content (reloaded when the file changed; after this session's own change, the
        gallery it changed and saved); refuses a revoked or re-modelled one."""
        if self._gallery is None or self._gallery.revision != gallery_revision(self.gallery_path):
            gallery = load_gallery(self.gallery_path)
            self._check_same(gallery)
            self._follow_calibration(gallery.header)
            self._gallery = gallery
        if self._stamp is None or self._stamp != self._gallery.revision:
            self._index(self._gallery)
        return self._gallery

    def _follow_calibration(self, header):
        """After ``recalibrate`` or ``--reset`` (any process): decide on the calibration the gallery names now, as a
        review started now would (the FPIR thresholds, when they follow it; a verifying gallery's fused scores)."""
        state = calibration_state(header, self.gallery_path)
        if state == self._calibration:
            return
        if self.follow is not None:
            self.thresholds = self.follow.thresholds(header)
        if self.evidence is not None:
            self.evidence.calibrations = search_calibrations(header, self.gallery_path, self.model_folder, "hamming",
                                                             self.evidence.record["matcher"])
        self._calibration = state

    def _index(self, gallery):
        """The look-ups the pages use, made once per revision of the gallery."""
        self._stamp, self._search = gallery.revision, None
        self._by_sha = gallery.entry_by_sha()
        self._index_by_sha = {entry["sha256"]: index for index, entry in enumerate(gallery.entries)}
        self._by_fish = {}
        for entry in gallery.entries:
            self._by_fish.setdefault(entry["fish_id"], []).append(entry)
        live = catalogue.in_force(gallery.decisions)
        self._latest = {decision["photo"]: decision for decision in live}  # each photo's last decision in force
        self._suggestions = {decision["photo"]: decision["review"]["suggestion"] for decision in live
                             if "suggestion" in (decision.get("review") or {})}
        self._odd, self._scores, self._lacking = {}, {}, {}

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

    def fish_lacking(self, flanks):
        """``captures.fish_lacking_flanks`` of ``flanks``, computed once per flank and gallery revision."""
        gallery = self.gallery()
        missing = set(flanks) - set(self._lacking)
        if missing:
            self._lacking.update(fish_lacking_flanks(gallery, missing))
        return {flank: self._lacking[flank] for flank in flanks}

    def entries_of(self, fish_id):
        self.gallery()
        return self._by_fish.get(fish_id, [])

    # -- pages -------------------------------------------------------------------------------------------------
    def queued(self, photo_id):
        if photo_id not in self.queue_photos:
            raise NotFound(f"no photo {photo_id} in this review")
        return self.queue_photos[photo_id]

    def _own(self, queued):
        """The photo's own template index, to leave out (once decided, the photo is in the gallery)."""
        own = self._index_by_sha.get(queued.id)
        return () if own is None else (own,)

    def template_scores(self, queued):
        """The photo's score against each template now: the measure's, or a verifying gallery's fused P(same fish)
        (computed once per gallery revision)."""
        search = self.search()
        if self.evidence is None:
            return search.template_scores(queued.code, queued.embedding)
        if queued.id not in self._scores:
            self._scores[queued.id] = self.evidence.search_scores(search, queued.code, queued.embedding,
                                                                  queued.photo.flank, self.local[queued.id],
                                                                  self._own(queued))
        return self._scores[queued.id]

    def ranked(self, queued, at_least=1):
        """The candidates [(fish_id, score, compared)]: the photo against the gallery as it is now, never against
        its own template."""
        search = self.search()
        if not len(search.gallery):
            return []
        return search.rank_fish(queued.code, queued.embedding, queued.photo.flank, max(self.top_k, at_least),
                                self._own(queued), self.template_scores(queued))

    def fish_searched(self, queued):
        """N: the fish this photo is searched against now (same flank, its own template left out)."""
        search = self.search()
        return search.fish_searched(queued.photo.flank, self._own(queued)) if len(search.gallery) else 0

    def thresholds_for(self, queued):
        """The thresholds for this photo's search now (sized to the fish it is searched against)."""
        return self.thresholds.for_fish(self.fish_searched(queued))

    def gallery_thresholds(self):
        """The thresholds for a search against every fish of the gallery (the queue's and fish pages' figures)."""
        return self.thresholds.for_fish(len(self.gallery().fish_ids()))

    def suggestion(self, queued):
        """What the model suggests for a photo now: best fish, score, runner-up, the thresholds sized to the N fish
        searched (and the tie rule: ``search.decide``), the gallery's templates and N."""
        candidates = self.ranked(queued, at_least=2)  # two, to see a tie
        chosen = self.thresholds_for(queued)
        best = candidates[0][1] if candidates else None
        return {"decision": decide(chosen, candidates),
                "fish_id": candidates[0][0] if candidates else None,
                "score": None if best is None else round(best, 4),
                "runner_up": ({"fish_id": candidates[1][0], "score": round(candidates[1][1], 4)}
                              if len(candidates) > 1 else None),
                "accept": _finite(chosen.accept), "reject": _finite(chosen.reject),
                "thresholds": chosen.source, "templates": len(self.gallery()), "fish": self.fish_searched(queued)}

    def recorded(self, queued):
        """What is recorded for a queued photo now: its fish (enrolled), an unusable/can't-tell verdict, or None."""
        entry = self.entry(queued.id)
        if entry is not None:
            return {"kind": "fish", "fish_id": entry["fish_id"], "label": entry["fish_id"]}
        review = (self._latest.get(queued.photo.source) or {}).get("review") or {}
        if review.get("verdict") in VERDICTS:
            return {"kind": review["verdict"], "fish_id": None, "label": verdict_label(review)}
        return None

    def row(self, queued):
        """One queue row: the photo, the suggestion (kept from decision time, else as it is now), what is recorded."""
        self.gallery()  # the kept suggestions as the file holds them now
        kept = self._suggestions.get(queued.photo.source)
        suggestion = kept or self.suggestion(queued)
        recorded = self.recorded(queued)
        return {"id": queued.id, "name": queued.name, "flank": queued.photo.flank,
                "decision": suggestion["decision"], "suggestion": suggestion, "suggestion_kept": kept is not None,
                "recorded": recorded, "flags": self.flags(queued, recorded, kept)}

    def with_captures(self, rows):
        """``rows`` (``row``, holding every queued photo of their captures) each with its ``capture``: None for a
        photo on its own, else the capture id, how its photos decide together (``captures.link_captures``, as
        ``identify`` decides them, on the suggestions the rows show), whether its flanks disagree, and its other
        photos."""
        results = [{"decision": row["decision"], "flank": row["flank"], "candidates": [
            {"fish_id": row["suggestion"]["fish_id"], "score": row["suggestion"]["score"]}]
            if row["suggestion"]["fish_id"] is not None else []} for row in rows]
        link_captures(results, [self.capture_ids[row["id"]] for row in rows],
                      self.fish_lacking({row["flank"] for row in rows}))
        for row, result in zip(rows, results):
            row["capture"] = None if result["capture"] is None else {
                "id": result["capture"], "decision": result["capture_decision"], "fish_id": result["capture_fish"],
                "flanks_disagree": flanks_disagree(result), "summary": capture_summary(result),
                "photos": [{"id": other["id"], "name": other["name"], "flank": other["flank"]}
                           for other, theirs in zip(rows, results)
                           if theirs["capture"] == result["capture"] and other is not row]}
        return rows

    def flags(self, queued, recorded, kept):
        """Why a recorded fish deserves a second look: the runner-up came close, or the photo matches none of the
        fish's other photos of its flank."""
        if recorded is None or recorded["kind"] != "fish":
            return []
        flags, fish_id = [], recorded["fish_id"]
        runner_up = (kept or {}).get("runner_up")
        if kept and kept["fish_id"] == fish_id and runner_up and kept["score"] - runner_up["score"] < CLOSE_CALL:
            flags.append(f"close call: runner-up {runner_up['fish_id']} scored {runner_up['score']:.3f}")
        odd = self.odd_photos(fish_id).get(queued.id)
        if odd is not None:
            flags.append(f"matches none of {fish_id}'s other photos (best {odd:.3f})")
        return flags

    def odd_photos(self, fish_id):
        """{sha256: best score} of each photo of ``fish_id`` whose best score against the fish's other photos of
        its flank is below the review threshold: a photo of another fish put under this one, or a bad photo."""
        self.gallery()
        if fish_id not in self._odd:
            gallery = self._gallery
            indices = [self._index_by_sha[entry["sha256"]] for entry in self.entries_of(fish_id)]
            odd = {gallery.entries[index]["sha256"]: round(best, 4) for index, best in unmatched_photos(
                gallery, self.search(), indices, self.gallery_thresholds().reject, self._fused_among).items()}
            self._odd[fish_id] = odd
        return self._odd[fish_id]

    def _fused_among(self, scores, index, others):
        """A template's global ``scores`` fused with its local evidence against the fish's ``others`` (the
        threshold is in fused scores when the gallery verifies), or unchanged."""
        if self.evidence is None:
            return scores
        mask = np.zeros(len(scores), bool)
        mask[others] = True
        entries = self._gallery.entries
        return self.evidence.fused_scores(scores, mask, self.evidence.entry_features(entries[index]), entries)

    def queue(self, show="all"):
        if show not in FILTERS:
            raise NotFound(f"unknown filter {show!r}; use one of {', '.join(FILTERS)}")
        rows = self.with_captures([self.row(self.queue_photos[photo_id]) for photo_id in self.order])
        decided = sum(row["recorded"] is not None for row in rows)
        if show != "all":
            rows = [row for row in rows if row["recorded"] is None and (show == "open" or row["decision"] == "review")]
        return {"rows": rows, "decided": decided, "total": len(self.order), "show": show,
                "rejected": [{"photo": Path(path).name, "reason": reason} for path, reason, _ in self.rejected],
                **self.threshold_view(self.gallery_thresholds())}

    def threshold_view(self, chosen):
        """The thresholds ``chosen`` (a Thresholds) as the pages show them; ``thresholds`` says how they were set."""
        return {"thresholds": chosen.source, "accept": _finite(chosen.accept), "reject": _finite(chosen.reject)}

    def photo_page(self, photo_id, fish=None, shown=None, per_fish=8):
        """One photo, its candidates (same-flank photos with their scores, the one that gave the score first; the
        other flank's photos apart) and the compare view: ``fish``'s photo ``shown`` (default: the best candidate's
        photo that gave its score) beside the new photo."""
        queued = self.queued(photo_id)
        capture = self.capture_ids[photo_id]
        together = self.with_captures([self.row(self.queue_photos[other]) for other in self.order if other == photo_id
                                       or (capture is not None and self.capture_ids[other] == capture)])
        row = next(row for row in together if row["id"] == photo_id)
        ranking = self.ranked(queued)
        chosen = self.thresholds_for(queued)
        scores = self.template_scores(queued) if ranking else []
        candidates = []
        for rank, (fish_id, score, compared) in enumerate(ranking, 1):
            entries = [e for e in self.entries_of(fish_id) if e["sha256"] != queued.id]
            same = sorted((_entry_view(e, scores[self._index_by_sha[e["sha256"]]]) for e in entries
                           if e["flank"] == queued.photo.flank), key=lambda view: (-view["score"], view["session"]))
            same[0]["gave_score"] = True
            candidates.append({"rank": rank, "fish_id": fish_id, "score": round(score, 4), "compared": compared,
                               "odd_photos": len(self.odd_photos(fish_id)),
                               "band": chosen.decide(score), "templates": len(entries),
                               "sessions": sorted({e["session"] or "-" for e in entries}), "photos": same,
                               "entries": same[:per_fish],
                               "other_flank": [_entry_view(e) for e in entries if e["flank"] != queued.photo.flank]})
        position = self.order.index(photo_id)
        return {**row, "source": queued.photo.source, "candidates": candidates,
                "compare": self._compare(queued, candidates, fish, shown),
                "previous": self.order[position - 1] if position else None,
                "next": self.order[position + 1] if position + 1 < len(self.order) else None,
                "next_open": self.next_open(photo_id), "position": position + 1, **self.progress(),
                **self.threshold_view(chosen), "reasons": UNUSABLE_REASONS,
                "roi_ratio": self.thumbs.input_size[0] / self.thumbs.input_size[1]}

    def _compare(self, queued, candidates, fish, shown):
        """The candidate photo shown beside the new one, its neighbours among the fish's same-flank photos, and the
        match lines (point pairs in ROI fractions) when a matcher is set."""
        if not candidates:
            return None
        recorded = self.recorded(queued)
        wanted = fish or (recorded or {}).get("fish_id")
        candidate = next((c for c in candidates if c["fish_id"] == wanted), candidates[0])
        photos = candidate["photos"]
        index = next((i for i, view in enumerate(photos) if view["id"] == shown), 0)
        chosen = photos[index]
        lines = self.match_lines(queued.photo, self.entry(chosen["id"])) if self.match_lines else []
        return {"fish_id": candidate["fish_id"], "rank": candidate["rank"], "photo": chosen, "index": index + 1,
                "count": len(photos), "previous": photos[index - 1]["id"] if index else None,
                "next": photos[index + 1]["id"] if index + 1 < len(photos) else None,
                "lines": [[[float(v) for v in start], [float(v) for v in end]] for start, end in lines]}

    def progress(self):
        """How many of the queued photos are decided now (here or with ``confirm``)."""
        return {"decided": sum(self.recorded(self.queue_photos[photo_id]) is not None for photo_id in self.order),
                "total": len(self.order)}

    def next_open(self, photo_id):
        """The first undecided photo after ``photo_id`` in the queue (wrapping round), or None."""
        position = self.order.index(photo_id)
        rotated = self.order[position + 1:] + self.order[:position]
        return next((photo_id for photo_id in rotated if self.recorded(self.queue_photos[photo_id]) is None), None)

    def fish_page(self, fish_id):
        """Every photo of one fish, flank by flank and session by session, with where and when it was added."""
        entries = self.entries_of(fish_id)
        if not entries:
            raise NotFound(f"no fish {fish_id} in {self.gallery_path}")
        flanks, odd, gallery = {}, self.odd_photos(fish_id), self.gallery()
        order = {name: (index, date) for index, (name, date) in enumerate(catalogue.session_order(gallery))}
        for entry in sorted(entries, key=lambda entry: (order.get(entry["session"], (len(order),))[0], entry["added"],
                                                        entry["source"])):
            view = {**_entry_view(entry), "odd": odd.get(entry["sha256"]),
                    "date": gallery.metadata.get(entry["sha256"], {}).get("date")}
            flanks.setdefault(entry["flank"], {}).setdefault(entry["session"] or "-", []).append(view)
        return {"fish_id": fish_id, "templates": len(entries), "sessions": len({e["session"] or "-" for e in entries}),
                "odd_photos": len(odd), "reject": _finite(self.gallery_thresholds().reject),
                "flanks": [(flank, list(sessions.items())) for flank, sessions in sorted(flanks.items())],
                "session_dates": {name: date for name, (_, date) in order.items() if date},
                **self.progress(), "other_fish": [name for name in self.gallery().fish_ids() if name != fish_id]}

    def fish_list(self, search=""):
        """The fish whose id contains ``search`` (the first ``FISH_LISTED``): photos, sessions, flanks, last added."""
        search = search.strip().lower()
        rows = []
        found = [fish_id for fish_id in self.gallery().fish_ids() if search in fish_id.lower()]
        for fish_id in found[:FISH_LISTED]:
            entries = self.entries_of(fish_id)
            rows.append({"fish_id": fish_id, "templates": len(entries),
                         "sessions": sorted({e["session"] or "-" for e in entries}),
                         "flanks": sorted({e["flank"] for e in entries}),
                         "last_added": max(e["added"] for e in entries)[:10], "photo": entries[-1]["sha256"]})
        return {"fish": rows, "found": len(found), "search": search,
                "count": len(self.gallery().fish_ids()), **self.progress()}

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

    # -- changes (each through the command layer: ``commands.changing``, then return) -----------------------------
    def decide(self, photo_id, fish=None, verdict=None, reason="", note=""):
        """Record a queued photo as ``fish`` (a candidate's id, any known id, or "new"; enrolled as ``confirm``
        does) or as a ``verdict`` ("unusable" with a ``reason``, or "unsure"; nothing enrolled, logged as action
        ``verdict``), keeping the model's suggestion of this moment with the decision. Returns what was recorded
        and a sentence saying it."""
        queued = self.queued(photo_id)
        if (fish is None) == (verdict is None):
            raise GalleryError("give either a fish or a verdict (unusable, unsure)")
        if verdict is not None and verdict not in VERDICTS:
            raise GalleryError(f"unknown verdict {verdict!r}; use one of {', '.join(VERDICTS)}")
        if verdict == "unusable" and reason not in UNUSABLE_REASONS:
            raise GalleryError(f"say why the photo is unusable: one of {', '.join(UNUSABLE_REASONS)}")
        review = review_record(self.suggestion(queued), verdict, reason)
        summary, decision = commands.review_decision(self.gallery_path, self.encoder, queued.photo, fish, review,
                                                     self.session, _note(note), self.reviewer, self._gallery,
                                                     self._check_same, self.evidence)
        self.undo_stack.append(decision["id"])
        label = summary["fish_id"] if verdict is None else verdict_label(review)
        told = label + (" (a new fish)" if summary["new_fish"] else "")
        return {**summary, "verdict": verdict, "label": label, "decision": decision["id"],
                "message": f"{queued.name} → {told} recorded. U to undo"}

    def move(self, sha256, fish):
        """Put the template of one photo under another fish (``new``: a new fish); recorded as a decision."""
        if self.entry(sha256) is None:
            raise NotFound(f"no template {sha256} in {self.gallery_path}")
        decision, previous = commands.move(self.gallery_path, sha256, fish, self.reviewer,
                                           f"review: moved from {self.entry(sha256)['fish_id']}", self._gallery)
        self.undo_stack.append(decision["id"])
        name, fish_id = Path(decision["photo"]).name, decision["fish_id"]
        return {"photo": name, "from": previous, "fish_id": fish_id, "new_fish": decision["new_fish"],
                "message": f"{name} moved from {previous} to {fish_id}"
                           f"{' (a new fish)' if decision['new_fish'] else ''}. U to undo"}

    def merge(self, fish, into):
        """Every photo of ``fish`` becomes ``into``'s; recorded as a decision."""
        summary = curation.merge(self.gallery_path, fish, into, self.reviewer, "review", self._gallery)
        self.undo_stack.append(summary["decision"])
        photos = summary["photos"]
        return {"decision": summary["decision"], "fish": fish, "into": into, "photos": photos,
                "message": f"{fish} merged into {into} ({photos} photo{'s' if photos != 1 else ''}). U to undo"}

    def rename(self, fish, to):
        """``fish`` is called ``to`` from now on; recorded as a decision."""
        summary = curation.rename(self.gallery_path, fish, to.strip(), self.reviewer, "review", self._gallery)
        self.undo_stack.append(summary["decision"])
        return {"decision": summary["decision"], "fish": fish, "fish_id": summary["fish_id"],
                "message": f"{fish} renamed {summary['fish_id']}. U to undo"}

    def split(self, fish, photos, to=catalogue.NEW_FISH):
        """Some photos (content hashes) of ``fish`` become a new fish (``to``, else the next free id); recorded as a
        decision."""
        if not photos:
            raise GalleryError(f"tick the photos of {fish} to split off as another fish")
        summary = curation.split(self.gallery_path, fish, photos, to.strip() or catalogue.NEW_FISH, self.reviewer,
                                 "review", self._gallery)
        self.undo_stack.append(summary["decision"])
        count = summary["photos"]
        return {"decision": summary["decision"], "fish": fish, "fish_id": summary["fish_id"], "photos": count,
                "message": f"{count} photo{'s' if count != 1 else ''} of {fish} split off as {summary['fish_id']} "
                           "(a new fish). U to undo"}

    def decisions(self):
        """The decision log, newest first, each with the decision that undid it (if any)."""
        gallery = self.gallery()
        undone_by = {d["undoes"]: d["id"] for d in gallery.decisions if d.get("undoes")}
        return {"decisions": [{k: d.get(k) for k in ("id", "decided", "reviewer", "action", "fish_id", "note",
                                                      "undoes")}
                              | {"photos": len(catalogue.changes_of(d, gallery)[1]), "undone_by": undone_by.get(d["id"]),
                                 "verdict": verdict_label(d["review"]) if d.get("action") == "verdict" else None}
                              for d in reversed(gallery.decisions)]}

    def undo(self, decision_id=None):
        """Take back a decision (``curation.undo``: a new log entry): the one given (any entry of the log), else
        this session's last one. Returns what was undone and a sentence saying it."""
        if decision_id is None:
            if not self.undo_stack:
                raise NotFound("nothing to undo in this review session")
            decision_id = self.undo_stack[-1]
        summary = curation.undo(self.gallery_path, decision_id, self.reviewer, "review", self._gallery)
        target = summary["undone"]
        if decision_id in self.undo_stack:
            self.undo_stack.remove(decision_id)
        name = Path(target.get("photo") or "").name or None
        sha256 = next(iter(target.get("after") or {}), None)
        if sha256 is None:  # no template: the queued photo it was given on
            sha256 = next((q.id for q in self.queue_photos.values() if q.photo.source == target["photo"]), None)
        back_in = next(iter((target.get("before") or {}).values()), None)  # where the photos are again
        return {"action": target.get("action", "confirm"), "decision": summary["decision"], "undoes": decision_id,
                "photo": name, "id": sha256, "fish": back_in, "message": _undone(target, name)}


def _undone(target, name):
    """The sentence saying that decision ``target`` (on the photo ``name``, if one) was undone."""
    action = target.get("action", "confirm")
    if action == "confirm":
        return f"undone: {name} is undecided again (was {target['fish_id']})"
    if action == "verdict":
        return f"undone: {name} is undecided again (was {verdict_label(target['review'])})"
    if action == "move":
        (before, *_), (after, *_) = target["before"].values(), target["after"].values()
        return f"undone: {name} is back in {before} (was {after})"
    if action == "merge":
        return f"undone: the merge into {target['fish_id']} (decision {target['id']}); its photos are back"
    if action == "rename":
        before = next(iter(target["before"].values()), "?")
        return f"undone: {target['fish_id']} is called {before} again"
    if action == "split":
        before = next(iter(target["before"].values()), "?")
        return f"undone: the {len(target['after'])} photos split off as {target['fish_id']} are back in {before}"
    return f"undone: decision {target['id']} ({action})"


def review_record(suggestion, verdict=None, reason=""):
    """What a review decision keeps in its log entry's ``review`` column: the model's suggestion at decision time
    (``suggestion``: decision, fish_id, score, runner_up, accept, reject, thresholds, templates, fish) and, for a
    photo that enrols nothing, the ``verdict`` ("unusable" with its ``reason``, or "unsure")."""
    return {"suggestion": suggestion, **({"verdict": verdict} if verdict else {}),
            **({"reason": reason} if verdict == "unusable" else {})}


def verdict_label(review):
    """How a verdict (a decision's ``review`` record) reads: "unusable photo (blurred or out of focus)"."""
    label = VERDICTS[review["verdict"]]
    return f"{label} ({review['reason']})" if review.get("reason") else label


def _note(text):
    text = " ".join(str(text).split())[:500]
    return f"review: {text}" if text else "review"


def _finite(value):
    return None if math.isinf(value) else value


def _entry_view(entry, score=None):
    return {"id": entry["sha256"], "name": Path(entry["source"]).name, "session": entry["session"] or "-",
            "flank": entry["flank"], "how": entry["how"], "fish_id": entry["fish_id"], "source": entry["source"],
            "added": entry["added"][:10], "present": os.path.isfile(entry["source"]),
            "score": None if score is None else round(float(score), 4), "gave_score": False}
