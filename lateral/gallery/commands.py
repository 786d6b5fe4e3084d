"""The gallery's subcommands as functions: each opens the gallery, checks the key and model, acts, and saves atomically.

Each returns a plain dict (what ``python -m lateral.gallery`` prints). A
user's mistake raises GalleryError naming the file, fish or value at fault;
nothing is written unless the whole command succeeded.
"""

import contextlib
import functools
import re
from pathlib import Path

from lateral.data.layout import photo_files, read_layout, session_from_name
from lateral.fpir import write_calibration
from lateral.gallery import catalogue, imagenet, keys
from lateral.gallery.catalogue import NEW_FISH, next_new_fish
from lateral.gallery.captures import capture_of, compiled, fish_lacking_flanks, link_captures
from lateral.gallery.consistency import unmatched_photos
from lateral.gallery.fpir_thresholds import fpir_thresholds
from lateral.gallery.grouping import new_fish_groups
from lateral.gallery.history import write_capture_history
from lateral.gallery.lock import gallery_lock, holding_gallery_lock
from lateral.gallery.packing import pack_codes
from lateral.gallery.photo_dates import exif_date
from lateral.gallery.recalibration import (HEADER_KEY as CALIBRATION_KEY, calibration_file, check_enough_fish,
                                           open_set_source, recalibration, search_calibrations)
from lateral.gallery.search import GallerySearch, identify as search_photos
from lateral.gallery.spreadsheet import FORMULA_LEADS
from lateral.gallery.store import Gallery, GalleryError, gallery_revision, load_gallery, now, save_gallery
from lateral.gallery.verification import LocalEvidence, check_request, scored_measure, verification_record
from lateral.matching.fusion import DEFAULT_BUDGET
from lateral.models.permutation import PERMUTATION_ALGORITHM

FISH_ID_LENGTH = 100


def check_fish_id(fish):
    """Refuse a fish id that cannot be addressed or exported safely: empty, the reserved ``new``, over-long,
    with control characters, or starting like a spreadsheet formula."""
    shown = repr(fish) if len(fish) <= 40 else repr(fish[:37]) + "..."
    if not fish.strip():
        raise GalleryError("a fish id must not be empty")
    if fish == NEW_FISH:
        raise GalleryError(f"the fish id {NEW_FISH!r} is reserved (`confirm --fish new` asks for the next free "
                           "new_NNNN id); choose another name")
    if len(fish) > FISH_ID_LENGTH:
        raise GalleryError(f"the fish id {shown} is {len(fish)} characters long; at most {FISH_ID_LENGTH}")
    if fish.startswith(FORMULA_LEADS) or any(ord(c) < 32 or ord(c) == 127 for c in fish):
        raise GalleryError(f"the fish id {shown} starts with {fish[0]!r} or holds a control character; a "
                           "spreadsheet would read it as a formula or split it: choose another name")


@contextlib.contextmanager
def changing(gallery_path, known=None, check=None):
    """Every change's frame: hold the gallery's lock, take the gallery as it is on disk (``known``, a gallery read
    before, when the file has not changed since; else read it now), let ``check(gallery)`` refuse it, yield it to
    be changed, and save it (only what changed, ``save_gallery``) when the block ends without an error. After an
    error nothing is saved and ``known`` counts as stale (it may hold part of the change)."""
    with gallery_lock(gallery_path):
        fresh = known is not None and known.revision is not None and known.revision == gallery_revision(gallery_path)
        gallery = known if fresh else load_gallery(gallery_path)
        try:
            if check is not None:
                check(gallery)
            yield gallery
            save_gallery(gallery, gallery_path)
        except BaseException:
            gallery.revision = None
            raise


def _check_key(gallery, key, path):
    if keys.key_matches(gallery.header["key"], key):
        return
    if gallery.header["key"] is None:
        raise GalleryError(f"{path} was built without a key; run without --key/--key_file")
    if key is None:
        raise GalleryError(f"{path} was built with a permutation key; give it with --key or --key_file")
    raise GalleryError(f"{path} was built with a different permutation key; this key does not open it")


def _encoder_for(gallery, path, model, key):
    """The gallery's model (its recorded path, or ``model``) with the gallery's key; refuses any other network."""
    from lateral.gallery.encoder import TemplateEncoder  # TensorFlow: only the commands that need the model load it

    recorded = gallery.header["model"]
    imagenet.check_model(recorded["path"], model, path)
    model = Path(model) if model is not None else Path(recorded["path"])
    if not imagenet.is_imagenet(model) and not model.exists():
        raise GalleryError(f"{path} was built with the model at {model}, which is no longer there; give its new "
                           "place with --model")
    encoder = TemplateEncoder(model, keys.permutation_seed(key), gallery.permutation,
                              flip_tta=recorded.get("flip_tta", False))  # templates compare only made alike
    if encoder.fingerprint != recorded["fingerprint"]:
        raise GalleryError(f"{model} is not the model {path} was built with (weights fingerprint "
                           f"{encoder.fingerprint[:12]}…, gallery has {recorded['fingerprint'][:12]}…); templates of "
                           "different networks cannot be compared")
    return encoder


def open_gallery(path, key, model=None):
    """(gallery, encoder) of an existing gallery, after checking its key and model."""
    gallery, encoder, _ = open_verified(path, key, model)
    return gallery, encoder


def open_verified(path, key, model=None, measure=None, verify=None, shortlist=None):
    """(gallery, encoder, LocalEvidence or None) of an existing gallery: ``verified_parts`` of it, read now."""
    gallery = load_gallery(path)
    return (gallery, *verified_parts(gallery, path, key, model, measure, verify, shortlist))


def verified_parts(gallery, path, key, model=None, measure=None, verify=None, shortlist=None):
    """(encoder, LocalEvidence or None) of ``gallery``, after checking its key, its local verification (a matcher
    it was not made with is refused) and its model. With ``measure`` (a search), the calibrations of the fused
    score are read too (the gallery's own after ``recalibrate``, else the model's); all before the model (and
    TensorFlow) loads."""
    _check_key(gallery, key, path)
    record = check_request(gallery.header, path, verify, shortlist)
    imagenet.check_model(gallery.header["model"]["path"], model, path)
    evidence = None
    if record is not None:
        model_folder = Path(model) if model is not None else Path(gallery.header["model"]["path"])
        evidence = LocalEvidence(path, record, None if measure is None else search_calibrations(
            gallery.header, path, model_folder, measure, record["matcher"]))
    encoder = _encoder_for(gallery, path, model, key)
    if evidence is not None:
        evidence.read_corners = lambda source, mode: encoder.read_photo(source, mode).roi_corners
    return encoder, evidence


def _session_of(path, session, session_pattern):
    if session is not None:
        return session
    return session_from_name(re.compile(session_pattern), Path(path).name) if session_pattern else ""


def _enrol(gallery, encoder, labelled, mode, how, capture_regex=None, evidence=None):
    """Add (path, fish_id, session) photos (with their capture id, if ``capture_regex`` finds one); returns the
    summary. Already-enrolled photos are skipped. A verifying gallery's ``evidence`` stores their local features."""
    for fish in sorted({fish for _, fish, _ in labelled}):
        check_fish_id(fish)
    known = gallery.entry_by_sha()
    photos, rejected = encoder.read_photos([path for path, _, _ in labelled], mode)
    by_source = {str(Path(path).resolve()): (fish, session) for path, fish, session in labelled}
    fresh, already, conflicts, seen = [], [], [], {}
    for photo in photos:
        fish, session = by_source[photo.source]
        previous = known.get(photo.sha256) or seen.get(photo.sha256)
        if previous is None:
            seen[photo.sha256] = {"fish_id": fish, "source": photo.source}
            fresh.append((photo, fish, session))
        elif previous["fish_id"] == fish:
            already.append(photo.source)
        else:
            conflicts.append((photo.source, previous["fish_id"], fish, previous["source"]))
    codes, embeddings = encoder.encode([photo for photo, _, _ in fresh])
    if evidence is not None:
        evidence.store([photo for photo, _, _ in fresh])
    stamp = now()
    entries = [{"fish_id": fish, "source": photo.source, "sha256": photo.sha256, "session": session,
                "flank": photo.flank, "mode": photo.mode, "added": stamp, "how": how}
               for photo, fish, session in fresh]
    for entry in entries:
        capture = capture_of(entry["source"], capture_regex)
        if capture is not None:
            entry["capture"] = capture
    gallery.add(entries, pack_codes(codes, gallery.q), embeddings)
    _date_from_exif(gallery, entries)
    return {"added": len(entries), "fish": sorted({e["fish_id"] for e in entries}), "already_enrolled": already,
            "conflicts": conflicts, "rejected": rejected, "templates": len(gallery), "codes": codes,
            "shas": [photo.sha256 for photo in photos]}


def _date_from_exif(gallery, entries):
    """Each new photo's EXIF capture date as its ``date`` (unless it has one), and an undated session the earliest
    of its new photos' dates (logged; ``sessions --date`` or ``--csv`` replaces it)."""
    earliest = {}
    for entry in entries:
        date = exif_date(entry["source"])
        if date is None:
            continue
        fields = gallery.metadata.setdefault(entry["sha256"], {})
        fields.setdefault("date", date)
        session = entry["session"]
        if session and (session not in earliest or date < earliest[session][0]):
            earliest[session] = (date, Path(entry["source"]).name)
    for session, (date, name) in sorted(earliest.items()):
        if gallery.sessions.get(session) is None:
            catalogue.set_session_date(gallery, session, date, "the gallery",
                                       source=f"EXIF DateTimeOriginal of {name}")


@holding_gallery_lock
def enroll(gallery_path, input_path, model=None, key=None, fish=None, session=None, session_pattern=None,
           store_embeddings=False, mode="auto", flip_tta=False, capture_pattern=None, verify=None, shortlist=None):
    """Add photos: ``input_path`` laid out RAW/<fish_id>/* (or RAW/<session>/<fish_id>/*), or, with
    ``fish``, files or a folder of one fish. A new gallery needs ``model``; ``verify`` (a matcher) makes it verify
    each search's ``shortlist`` locally (lateral.gallery.verification), storing every photo's local features."""
    if fish is not None:
        check_fish_id(fish)
    gallery_path = Path(gallery_path)
    if gallery_path.exists():
        gallery, encoder, evidence = open_verified(gallery_path, key, model, verify=verify)
        if shortlist is not None and evidence is not None and shortlist != evidence.record["shortlist"]:
            raise GalleryError(f"{gallery_path} was created with --shortlist {evidence.record['shortlist']}; --shortlist "
                               "applies to enroll only when a gallery is created (identify and review take it)")
        if store_embeddings and not gallery.header["stores_embeddings"]:
            raise GalleryError(f"{gallery_path} was created without float embeddings; --store_embeddings applies "
                               "only when a gallery is created")
        if flip_tta and not encoder.flip_tta:
            raise GalleryError(f"{gallery_path} was created without flip test-time augmentation; --flip_tta applies "
                               "only when a gallery is created")
    else:
        if model is None:
            raise GalleryError(f"{gallery_path} does not exist yet: give --model (a train_twostage.py run folder, "
                               "or imagenet before any training) to create it")
        from lateral.gallery.encoder import TemplateEncoder

        record = None if verify is None else verification_record(verify, DEFAULT_BUDGET if shortlist is None
                                                                  else shortlist)
        if record is None and shortlist is not None:
            raise GalleryError("--shortlist goes with --verify (e.g. --verify sift)")
        encoder = TemplateEncoder(model, keys.permutation_seed(key), flip_tta=flip_tta)
        gallery = Gallery.new(encoder.model_record(), keys.make_verifier(key), store_embeddings)
        evidence = None
        if record is not None:
            gallery.header["verify"] = record
            evidence = LocalEvidence(gallery_path, record)
    pattern = session_pattern if session_pattern is not None else encoder.config.data.session_pattern
    if fish is not None:
        labelled = [(path, fish, _session_of(path, session, pattern)) for path in photo_files([input_path])]
    else:
        root = Path(input_path)
        if not root.exists():
            raise GalleryError(f"{root}: no such folder")
        if not root.is_dir():
            raise GalleryError(f"{root}: expected a folder laid out <fish_id>/<photos> (or give --fish)")
        labelled = [(root / entry.source, entry.label, session if session is not None else entry.session)
                    for entry in read_layout(root, pattern).photos]
    if not labelled:
        raise GalleryError(f"no photos found in {input_path}")
    open_set = open_set_source(gallery.header, gallery_path, model)  # a recalibrated gallery's file gone: refused here
    summary = _enrol(gallery, encoder, labelled, mode, "enroll", compiled(capture_pattern), evidence)
    if summary["added"]:
        save_gallery(gallery, gallery_path)
    summary["unmatched"], summary["unmatched_threshold"] = _unmatched_new_photos(gallery, open_set, summary["added"])
    for internal in ("codes", "shas"):
        summary.pop(internal)
    return summary


def _unmatched_new_photos(gallery, open_set, added):
    """([(photo, fish, best score)], {"reject": the threshold, "origin": where its scores came from}) of the
    ``added`` photos just enrolled (the last ones) that match none of their fish's other photos of the same flank, at
    the review threshold of a one-to-one comparison at the default FPIR on the ``open_set`` calibration
    (``recalibration.open_set_source``'s (file, origin), as identify's: the gallery's own after ``recalibrate``, else
    the model's): several fish in one fish's folder, or bad photos. (None, None) without a calibration file."""
    calibration, origin = open_set
    if not added or not Path(calibration).is_file():
        return None, None
    scored = fpir_thresholds(calibration, "hamming", origin=origin)
    threshold = scored.for_fish(1).reject
    search, new = GallerySearch(gallery), range(len(gallery) - added, len(gallery))
    by_fish = {}
    for index, entry in enumerate(gallery.entries):
        by_fish.setdefault(entry["fish_id"], []).append(index)
    unmatched = {}
    for fish in {gallery.entries[index]["fish_id"] for index in new}:
        unmatched.update(unmatched_photos(gallery, search, by_fish[fish], threshold))
    named = [(gallery.entries[index]["source"], gallery.entries[index]["fish_id"], round(best, 4))
             for index, best in sorted(unmatched.items()) if index in new]
    return named, {"reject": threshold, "origin": scored.origin}


def identify(gallery_path, inputs, thresholds, key=None, model=None, top_k=5, measure="hamming", mode="auto",
             capture_pattern=None, verify=None, shortlist=None):
    """Search the gallery for every photo in ``inputs`` (files or folders); returns results and rejections. A
    verifying gallery ranks and decides on the fused P(same fish) (``thresholds`` are on it: the scores named
    ``<measure>+<matcher>`` of the run's open-set calibration)."""
    if top_k < 1:
        raise GalleryError(f"top_k must be at least 1, not {top_k}: the decision is made on the best candidate")
    capture_regex = compiled(capture_pattern)
    files = photo_files(inputs)
    if not files:
        raise GalleryError(f"no photos found in {', '.join(map(str, inputs))}")
    gallery, encoder, evidence = open_verified(gallery_path, key, model, measure, verify, shortlist)
    search = GallerySearch(gallery, measure)
    photos, rejected = encoder.read_photos(files, mode)
    codes, embeddings = encoder.encode(photos)
    scores = None if evidence is None else [
        evidence.search_scores(search, code, embedding, photo.flank, evidence.photo_features(photo))
        for photo, code, embedding in zip(photos, codes, embeddings)]
    results = search_photos(search, photos, codes, embeddings, thresholds, top_k, scores)
    sessions = [_session_of(photo.source, None, encoder.config.data.session_pattern) for photo in photos]
    # New photos are grouped by matching them with each other: the threshold for a search of that many (by the
    # global score alone when the gallery verifies: the global score that reaches the fused threshold by itself).
    new_photos = sum(result["decision"] == "new" for result in results)
    within_session = thresholds.for_fish(max(new_photos - 1, 1)).accept
    if evidence is not None:
        within_session = evidence.global_threshold(within_session)
    lacking = fish_lacking_flanks(gallery, {result["flank"] for result in results})
    for result, group in zip(results, new_fish_groups(results, codes, embeddings, sessions, within_session,
                                                      measure)):
        result["new_group"] = group  # photos of one new fish in one session share a group (lateral.gallery.grouping)
        result["fish_lacking_flank"] = len(lacking[result["flank"]])
    link_captures(results, [capture_of(photo.source, capture_regex) for photo in photos], lacking)
    return {"results": results, "rejected": rejected, "thresholds": thresholds.source,
            "measure": scored_measure(measure, None if evidence is None else evidence.record),
            "templates": len(gallery), "fish": len(gallery.fish_ids())}


def confirm(gallery_path, photo, fish, key=None, model=None, session=None, mode="auto", note="", new=False,
            reviewer=None, session_date=None, capture_pattern=None):
    """Record a person's decision on ``photo`` (a known fish id, "new", or with ``new`` a new fish's name) and enrol
    the photo under it, in a session (given, or found in its file name; ``session_date`` dates it). ``photo`` may be
    a list: the photos of one fish (a group that ``identify`` proposes as one new fish), each logged."""
    if fish != NEW_FISH:
        check_fish_id(fish)
    with changing(gallery_path) as gallery:
        encoder, evidence = verified_parts(gallery, gallery_path, key, model)
        photos = [photo] if isinstance(photo, (str, Path)) else list(photo)
        summary = record_confirmation(gallery, encoder, photos[0], fish, session, mode, note, new, reviewer,
                                      session_date, capture_pattern, evidence)
        for other in photos[1:]:  # the others of a group or capture go to the fish the first one named or started
            summary = {**record_confirmation(gallery, encoder, other, summary["fish_id"], session, mode, note,
                                             reviewer=reviewer, capture_pattern=capture_pattern, evidence=evidence),
                       "new_fish": summary["new_fish"]}
    return {**summary, "photos": len(photos)}


def review_decision(gallery_path, encoder, photo, fish, review, session=None, note="", reviewer=None, known=None,
                    check=None, evidence=None):
    """The review page's decision on ``photo`` (an ``encoder.Photo`` it read): enrolled under ``fish`` as
    ``confirm`` does, or, with ``fish`` None, a verdict that enrols nothing (logged as action ``verdict``); its
    ``review`` record (the model's suggestion then, the verdict) kept in the log entry. ``known``, ``check``: as
    ``changing``; ``evidence``: a verifying gallery's (it stores the photo's local features). Returns (summary,
    the decision logged)."""
    with changing(gallery_path, known, check) as gallery:
        if fish is not None:
            summary = record_confirmation(gallery, encoder, photo.source, fish, session, photo.mode, note,
                                          reviewer=reviewer, evidence=evidence)
            decision = gallery.decisions[-1]
            decision["review"] = review
        else:
            enrolled = gallery.entry_by_sha().get(photo.sha256)
            if enrolled is not None:
                raise GalleryError(f"{Path(photo.source).name} is enrolled as fish {enrolled['fish_id']}; undo that "
                                   "first (nothing was recorded)")
            decision = catalogue.log(gallery, "verdict", {}, {}, reviewer, note, photo=photo.source, review=review)
            summary = {"fish_id": None, "new_fish": False}
    return summary, decision


def move(gallery_path, sha256, fish, reviewer=None, note="", known=None):
    """Put the template of one photo (content hash) under another fish (``new``: the next free id); returns the
    decision logged and the fish it came from."""
    with changing(gallery_path, known) as gallery:
        previous = next((e["fish_id"] for e in gallery.entries if e["sha256"] == sha256), None)
        if previous is None:
            raise GalleryError(f"no photo {sha256} in {gallery_path}")
        fish_id, is_new = resolve_fish(gallery, fish)
        decision = catalogue.move(gallery, sha256, fish_id, is_new, reviewer, note)
    return decision, previous


def resolve_fish(gallery, fish, new=False):
    """(fish id, is it new to the gallery) for a person's answer: a known fish id, ``new`` for the next free id, or,
    with ``new``, a name for a new fish (so that a typo never starts a fish)."""
    if fish == NEW_FISH:
        return next_new_fish(gallery), True
    check_fish_id(fish)
    known = fish in gallery.fish_ids()
    if new and known:
        raise GalleryError(f"fish {fish} is already in the gallery; leave out --new to add this photo to it")
    if not (new or known):
        raise GalleryError(f"the gallery has no fish {fish}; give --new to start a new fish of that name, or --fish "
                           f"{NEW_FISH} for the next free id (nothing was recorded)")
    return fish, not known


def record_confirmation(gallery, encoder, photo, fish, session=None, mode="auto", note="", new=False, reviewer=None,
                        session_date=None, capture_pattern=None, evidence=None):
    """``confirm`` on a gallery in memory (the caller holds the lock, loaded it inside the lock, and saves it); a
    verifying gallery's ``evidence`` stores the photo's local features."""
    fish_id, is_new = resolve_fish(gallery, fish, new)
    session = _session_of(photo, session, encoder.config.data.session_pattern)
    if session_date is not None and session:  # before the photo is enrolled: a date given wins over the photo's EXIF date
        catalogue.set_session_date(gallery, session, session_date, "the gallery", reviewer)
    summary = _enrol(gallery, encoder, [(Path(photo), fish_id, session)], mode, "confirm", compiled(capture_pattern),
                     evidence)
    summary.pop("codes")
    if summary["rejected"]:
        _, reason, detail = summary["rejected"][0]
        raise GalleryError(f"{photo}: cannot be enrolled ({reason}: {detail}); nothing was recorded")
    if summary["conflicts"]:
        _, previous, _, previous_source = summary["conflicts"][0]
        same = "" if Path(previous_source) == Path(photo).resolve() else f" (the same photo as {previous_source})"
        raise GalleryError(f"{photo} is already enrolled as fish {previous}{same}; remove that fish or choose it "
                           "(nothing was recorded)")
    if summary["added"] and not session:
        raise GalleryError(f"{photo}: no session (a capture occasion) is given or found in its file name; give "
                           "--session NAME (and --session_date YYYY-MM-DD); nothing was recorded")
    source = str(Path(photo).resolve())
    sha256 = summary.pop("shas")[0]
    catalogue.log(gallery, "confirm", {sha256: None if summary["added"] else fish_id}, {sha256: fish_id}, reviewer,
                  note, photo=source, fish_id=fish_id, new_fish=is_new)
    return {**summary, "fish_id": fish_id, "new_fish": is_new}


def history(gallery_path, out_path):
    """Write the capture history CSV; returns (sessions, rows)."""
    gallery = load_gallery(gallery_path)
    if not len(gallery):
        raise GalleryError(f"{gallery_path} holds no templates yet")
    sessions, rows = write_capture_history(gallery, out_path)
    return {"sessions": sessions, "fish": len(rows), "out": str(out_path)}


def describe(gallery_path):
    """The header and one line per fish: templates, sessions and flanks."""
    gallery = load_gallery(gallery_path)
    fish = {}
    for entry in gallery.entries:
        record = fish.setdefault(entry["fish_id"], {"templates": 0, "sessions": set(), "flanks": set()})
        record["templates"] += 1
        record["sessions"].add(entry["session"] or "-")
        record["flanks"].add(entry["flank"])
    rows = [{"fish_id": name, "templates": r["templates"], "sessions": sorted(r["sessions"]),
             "flanks": sorted(r["flanks"])} for name, r in sorted(fish.items())]
    return {"header": gallery.header, "fish": rows, "templates": len(gallery), "decisions": len(gallery.decisions)}


@holding_gallery_lock
def remove(gallery_path, fish_ids, reviewer=None, note=""):
    """Drop every template of the named fish (a person's decision is kept in the log)."""
    gallery = load_gallery(gallery_path)
    unknown = sorted(set(fish_ids) - set(gallery.fish_ids()))
    if unknown:
        raise GalleryError(f"{gallery_path} has no fish {', '.join(unknown)} (`list` shows the "
                           f"{len(gallery.fish_ids())} it has); nothing was removed")
    keep = [entry["fish_id"] not in set(fish_ids) for entry in gallery.entries]
    removed = len(keep) - sum(keep)
    before = {e["sha256"]: e["fish_id"] for e in gallery.entries if e["fish_id"] in set(fish_ids)}
    gallery.keep(keep)
    catalogue.log(gallery, "remove", before, dict.fromkeys(before), reviewer, note, fish_id=", ".join(sorted(fish_ids)))
    save_gallery(gallery, gallery_path)
    return {"removed": removed, "fish": sorted(set(fish_ids)), "templates": len(gallery)}


@holding_gallery_lock
def revoke(gallery_path, new_key, model=None, drop_missing=False, mode=None, key=None):
    """Re-enrol every template under ``new_key`` from its recorded source photo; the old templates are gone.

    Only the holder of the current ``key`` may revoke. A photo that is
    missing, changed since enrolment, or no longer readable stops the
    revocation (nothing changes) unless ``drop_missing``, which leaves its
    template out. The new templates use the current permutation algorithm
    (so a gallery of the legacy algorithm may also be re-enrolled under its
    own key).
    """
    gallery = load_gallery(gallery_path)
    _check_key(gallery, key, gallery_path)
    if keys.key_matches(gallery.header["key"], new_key) and gallery.permutation == PERMUTATION_ALGORITHM:
        raise GalleryError(f"{gallery_path} already uses this key; revoking needs a new one")
    gallery.header["permutation"] = PERMUTATION_ALGORITHM
    encoder = _encoder_for(gallery, gallery_path, model, new_key)
    photos, kept, missing, rejected = [], [], [], []
    for index, entry in enumerate(gallery.entries):
        if not Path(entry["source"]).is_file():
            missing.append((entry["source"], "not found"))
            continue
        try:
            photo = encoder.read_photo(entry["source"], mode or entry["mode"])
        except Exception as error:  # noqa: BLE001  (PhotoRejected and unreadable files alike)
            rejected.append((entry["source"], str(error)))
            continue
        if photo.sha256 != entry["sha256"]:
            missing.append((entry["source"], "changed since enrolment"))
            continue
        photos.append(photo)
        kept.append(index)
    lost = missing + rejected
    if lost and not drop_missing:
        listing = "; ".join(f"{source} ({why})" for source, why in lost[:10])
        raise GalleryError(f"{len(lost)} of {len(gallery)} source photos cannot be re-enrolled: {listing}"
                           f"{' …' if len(lost) > 10 else ''}. Nothing changed; restore them, or pass --drop_missing "
                           "to revoke without their templates")
    codes, embeddings = encoder.encode(photos)
    entries = [{**gallery.entries[index], "flank": photo.flank, "how": "revoke"} for index, photo in zip(kept, photos)]
    fish_before = set(gallery.fish_ids())
    gallery.entries, gallery.codes = entries, pack_codes(codes, gallery.q)
    gallery.stored = None  # every template re-made: the save compares them all, not only the changed fields
    if gallery.embeddings is not None:
        gallery.embeddings = embeddings
    gallery.header["key"] = keys.make_verifier(new_key)
    gallery.header.setdefault("revoked", []).append(now())
    save_gallery(gallery, gallery_path)
    return {"reenrolled": len(entries), "dropped": lost, "fish_without_templates": sorted(
        fish_before - set(gallery.fish_ids()))}


def recalibrate(gallery_path, key=None, model=None, reviewer=None, note=""):
    """Fit the gallery's decisions on its own labelled photos (``lateral.gallery.recalibration``) and decide on them
    from now on: ``G.lgal.calibration.npz`` beside it, recorded in its header and log. Refused (before the model
    loads) when fewer than MIN_CALIBRATION_FISH fish have a genuine pair; the model loads only for photos whose
    local features are not stored."""
    with changing(gallery_path) as gallery:
        allowed = check_enough_fish(gallery, gallery_path)
        _check_key(gallery, key, gallery_path)
        record = check_request(gallery.header, gallery_path)
        imagenet.check_model(gallery.header["model"]["path"], model, gallery_path)
        evidence = None
        if record is not None:
            encoder = functools.cache(lambda: _encoder_for(gallery, gallery_path, model, key))
            evidence = LocalEvidence(gallery_path, record,
                                     read_corners=lambda source, mode: encoder().read_photo(source, mode).roi_corners)
        impostors, about, summary = recalibration(gallery, allowed, evidence, model)
        write_calibration(calibration_file(gallery_path), impostors, about)
        gallery.header[CALIBRATION_KEY] = {"fitted": now(), **{name: summary[name] for name in (
            "fish", "photos", "pairs", "verified")}}
        catalogue.log(gallery, catalogue.RECALIBRATE, {}, {}, reviewer, note or (
            f"decisions on the gallery's own calibration: {summary['fish']} fish, {summary['photos']} photos, "
            f"{summary['pairs']} pairs"))
    return {**summary, "file": str(calibration_file(gallery_path))}


def reset_calibration(gallery_path, reviewer=None, note=""):
    """Back to the model's calibration: the header's record and the log say so, and the gallery's file is removed."""
    with changing(gallery_path) as gallery:
        record = gallery.header.pop(CALIBRATION_KEY, None)
        if record is None:
            raise GalleryError(f"{gallery_path} was not recalibrated: it decides on its model's calibration already")
        catalogue.log(gallery, catalogue.RESET_CALIBRATION, {}, {}, reviewer, note or (
            f"back to the model's calibration (the gallery's own, fitted {record.get('fitted')}, removed)"))
    calibration_file(gallery_path).unlink(missing_ok=True)
    return {"fitted": record.get("fitted")}
