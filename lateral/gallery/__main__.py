"""``lateral gallery COMMAND`` (also ``python -m lateral.gallery COMMAND``): a gallery of known fish.

    enroll   --gallery G.lgal --input RAW [--model RUN|imagenet] [--key K] [--fish ID] [--store_embeddings] [--flip_tta]
             [--verify sift [--shortlist 100]]
    identify --gallery G.lgal --input PHOTOS... [--fpir 0.01 | --threshold T [--review_threshold R] | --far F --metrics M]
    confirm  --gallery G.lgal --photo P [P ...] --fish ID|new [--new] [--session S [--session_date YYYY-MM-DD]]
    history  --gallery G.lgal --out captures.csv
    list     --gallery G.lgal
    remove   --gallery G.lgal --fish ID [ID ...]
    merge    --gallery G.lgal --fish ID --into ID2
    split    --gallery G.lgal --fish ID --photos P [P ...] [--to NEW_ID|new]
    rename   --gallery G.lgal --fish ID --to NEW_ID
    log      --gallery G.lgal
    undo     --gallery G.lgal --decision N
    sessions --gallery G.lgal [--csv sessions.csv] [--date SESSION=YYYY-MM-DD ...]
    metadata --gallery G.lgal --csv photos.csv
    export   --gallery G.lgal [--mark captures.inp] [--rmark captures.csv] [--encounters photos.csv]
    revoke   --gallery G.lgal --key K --new_key K2 [--drop_missing]
    recalibrate --gallery G.lgal [--key K] [--model RUN|imagenet] [--reset]
    review   --gallery G.lgal --input PHOTOS... [--fpir 0.01 | --threshold T [--review_threshold R]
             | --far F --metrics M]
             [--port 8765] [--host 127.0.0.1] [--no_browser]

identify and review decide by default at FPIR 0.01: a fish not in the gallery is wrongly matched in at most
1% of searches at the gallery's current size (docs/open_set.md), from the impostor scores test_iom.py stored
in the model's run folder (evaluation/open_set_calibration.npz; --calibration to read another), or for a
gallery made with --model imagenet (no training) from the calibration shipped with lateral; after `recalibrate`,
from the gallery's own labelled photos (docs/matching.md).

Exit code 2 and one line on stderr for a user's mistake (a wrong key, a
different model, a damaged gallery, a missing photo); nothing is written then.
Flags and photos are checked before the model (and TensorFlow) loads.
"""

from lateral.quiet import quiet_unless_verbose

quiet_unless_verbose()  # before anything imports TensorFlow; --verbose keeps its start-up messages

import contextlib  # noqa: E402
import csv  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from lateral.atomic_write import replacing  # noqa: E402
from lateral.cli import (ArgumentParser, check_outputs_apart, non_negative_int, number_within,  # noqa: E402
                         positive_int)
from lateral.data.layout import photo_files, read_layout  # noqa: E402
from lateral.gallery.captures import capture_summary  # noqa: E402
from lateral.gallery.schema import PHOTO_MODES  # noqa: E402
from lateral.gallery.search import DECISIONS, SEARCHES  # noqa: E402
from lateral.gallery.spreadsheet import safe_row  # noqa: E402
from lateral.gallery.store import GalleryError, load_gallery  # noqa: E402
from lateral.gallery.verification import (DEFAULT_MATCHER, DEFAULT_MEASURE, NO_VERIFICATION,  # noqa: E402
                                          default_matcher)
from lateral.matching.local_features import MATCHERS  # noqa: E402
from lateral.registry import Registry  # noqa: E402


def _key_flags(parser, flag="--key", help_text="the gallery's permutation key (any string)"):
    parser.add_argument(flag, default=None, help=help_text)
    parser.add_argument(f"{flag}_file", default=None, help="read the key from the first line of this file")


DESCRIPTION = "A gallery of known fish: enrol photos, identify new ones (match, review or new fish), decide them " \
              "on a review page, and keep the capture history."
EXAMPLES = {
    "enroll": "lateral gallery enroll --gallery pond.lgal --model checkpoints/my_fish_iom --input my_photos",
    "identify": "lateral gallery identify --gallery pond.lgal --input new_photos",
    "confirm": "lateral gallery confirm --gallery pond.lgal --photo new_photos/IMG_0042.jpg --fish new",
    "history": "lateral gallery history --gallery pond.lgal --out captures.csv",
    "list": "lateral gallery list --gallery pond.lgal",
    "remove": "lateral gallery remove --gallery pond.lgal --fish F07",
    "revoke": "lateral gallery revoke --gallery pond.lgal --key_file old.key --new_key_file new.key",
    "review": "lateral gallery review --gallery pond.lgal --input new_photos --reviewer 'A. Biologist'",
    "merge": "lateral gallery merge --gallery pond.lgal --fish new_0007 --into F03",
    "split": "lateral gallery split --gallery pond.lgal --fish F03 --photos IMG_0042.jpg --to new",
    "rename": "lateral gallery rename --gallery pond.lgal --fish new_0007 --to F12",
    "log": "lateral gallery log --gallery pond.lgal",
    "undo": "lateral gallery undo --gallery pond.lgal --decision 14",
    "sessions": "lateral gallery sessions --gallery pond.lgal --date 'June 2026=2026-06-09'",
    "metadata": "lateral gallery metadata --gallery pond.lgal --csv photos.csv",
    "export": "lateral gallery export --gallery pond.lgal --mark captures.inp --rmark captures.csv",
    "recalibrate": "lateral gallery recalibrate --gallery pond.lgal",
}


def _capture_flag(parser):
    parser.add_argument("--capture_pattern", default=None, help="regex with a (?P<capture>...) group: the capture id "
                                                                "in file names, linking a capture's left and right "
                                                                "photos")


def _reviewer_flag(parser):
    parser.add_argument("--reviewer", default=None, help="who decides, for the decision log (default: "
                                                         "$LATERAL_REVIEWER or the login name)")


def _log_flags(parser):
    _reviewer_flag(parser)
    parser.add_argument("--note", default="", help="why, for the decision log")


# Thresholds on a score (Hamming similarity is in [0, 1], cosine in [-1, 1]) and false-match rates.
_score = number_within("a score", -1.0, 1.0)
_rate = number_within("a rate", 0.0, 1.0, low_included=False)


FAR_NOTE = ("per comparison: over N fish a new fish is wrongly matched in about 1-(1-F)^N of searches (63%% at "
            "F 0.01, N 100); --fpir sizes the threshold to N")


def _decision_flags(sub, verb):
    """The flags of the match/review/new decision, one set shared by ``identify`` and ``review``: --fpir (the
    default), --threshold or --far, and how many candidates are listed."""
    sub.add_argument("--top_k", type=positive_int, default=5, help="candidates listed per photo (at least 1)")
    sub.add_argument("--fpir", type=_rate, default=None,
                     help=f"{verb} a match when a fish not in the gallery would be matched with at most this "
                          "probability at the gallery's current number of fish (default 0.01 when no threshold flag "
                          "is given)")
    sub.add_argument("--review_fpir", type=_rate, default=None,
                     help="below the threshold at this FPIR: a new fish (default 10x --fpir, at most 0.5)")
    sub.add_argument("--calibration", default=None,
                     help="impostor scores for --fpir (default: <model>/evaluation/open_set_calibration.npz, written "
                          "by test_iom.py; for --model imagenet, the one shipped with lateral)")
    sub.add_argument("--threshold", type=_score, default=None, help=f"{verb} a match at or above this score")
    sub.add_argument("--review_threshold", type=_score, default=None,
                     help="below this score: a new fish (default: --threshold, no review band)")
    sub.add_argument("--far", type=_rate, default=None, help=f"accept threshold at this FAR, from --metrics; {FAR_NOTE}")
    sub.add_argument("--review_far", type=_rate, default=None, help="reject threshold at this FAR (default "
                                                                    "10x --far, at most 0.1)")
    sub.add_argument("--metrics", default=None, help="test_iom.py's metrics.json for this model (for --far)")


def _verify_flags(sub, creating=False):
    """--verify and --shortlist (docs/matching.md): chosen when a gallery is created and recorded in it."""
    sub.add_argument("--verify", choices=[*MATCHERS.names(), NO_VERIFICATION] if creating else MATCHERS.names(),
                     default=None,
                     help=f"a new gallery verifies each search's shortlist by this local matcher and stores each "
                          f"photo's local features beside it (not cancellable); default {DEFAULT_MATCHER} when the "
                          f"model has its calibrations (imagenet: shipped), else {NO_VERIFICATION}" if creating else
                     "the gallery's local matcher (default: the one it was created with; another is refused)")
    sub.add_argument("--shortlist", type=non_negative_int, default=None,
                     help="templates verified per search (default 100; 0: all); recorded in a new gallery" if creating
                     else "templates verified per search (default: the gallery's; 0: all)")


def build_parser(prog="lateral gallery"):
    parser = ArgumentParser(prog=prog, description=DESCRIPTION, epilog="examples:\n" + "".join(
        f"  {example}\n" for example in EXAMPLES.values()) + f"\n`{prog} COMMAND --help` shows a command's flags.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, help_text, model=True, key=True, mode=True):
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  epilog=f"example:\n  {EXAMPLES[name]}")
        sub.add_argument("--gallery", required=True, help="the gallery file (.lgal)")
        sub.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up messages")
        if model:
            sub.add_argument("--model", default=None, help="a train_twostage.py run folder, or imagenet (frozen "
                                                           "ImageNet features, no training; docs/matching.md) "
                                                           "(default: the one the gallery was built with)")
        if key:
            _key_flags(sub)
        if mode:
            sub.add_argument("--mode", choices=PHOTO_MODES, default="auto",
                             help="auto: segment green-tent photos, take other photos as already cropped")
        return sub

    enroll = command("enroll", "add photos of known fish (creates the gallery)")
    enroll.add_argument("--input", required=True, help="RAW/<fish_id>/* (or RAW/<session>/<fish_id>/*), or with "
                                                       "--fish a photo or folder of one fish")
    enroll.add_argument("--fish", default=None, help="enrol every photo of --input as this fish")
    enroll.add_argument("--session", default=None, help="session of these photos (default: from the layout or the "
                                                        "model's session_pattern)")
    enroll.add_argument("--session_pattern", default=None, help="regex with a (?P<session>...) group for file names")
    _capture_flag(enroll)
    enroll.add_argument("--store_embeddings", action="store_true",
                        help="also keep float embeddings (for cosine search; they are not cancellable)")
    enroll.add_argument("--flip_tta", action="store_true",
                        help="a new gallery's templates average each photo with its mirror image (flip test-time "
                             "augmentation); recorded in the gallery, so identify and review do the same")
    _verify_flags(enroll, creating=True)

    identify = command("identify", "the most likely known fish for each photo, and match/review/new")
    identify.add_argument("--input", nargs="+", required=True, help="photos or folders of photos")
    _decision_flags(identify, "accept")
    identify.add_argument("--measure", choices=SEARCHES.names(), default=DEFAULT_MEASURE,
                          help="how templates are compared (cosine needs a gallery made with --store_embeddings)")
    _verify_flags(identify)
    _capture_flag(identify)
    identify.add_argument("--csv", default=None, help="write one row per photo and candidate")
    identify.add_argument("--json", default=None, help="write the full results")

    confirm = command("confirm", "record a person's decision for a photo and enrol it")
    confirm.add_argument("--photo", nargs="+", required=True, help="a photo, or the photos of one fish (e.g. a group "
                                                                   "identify proposes as one new fish)")
    confirm.add_argument("--fish", required=True, help="a fish id, or 'new' for a fish not seen before")
    confirm.add_argument("--new", action="store_true", help="--fish names a new fish (without it, an unknown id is "
                                                            "refused, so that a typo never starts a fish)")
    confirm.add_argument("--session", default=None, help="the capture occasion (default: from the file name)")
    confirm.add_argument("--session_date", default=None, help="the session's date, YYYY-MM-DD")
    confirm.add_argument("--note", default="", help="a note kept with the decision")
    _capture_flag(confirm)
    _reviewer_flag(confirm)

    history = command("history", "write the capture history (fish x session, 1/0)", model=False, key=False,
                      mode=False)
    history.add_argument("--out", required=True, help="CSV file to write")

    command("list", "the gallery's model, key status and fish", model=False, key=False, mode=False)

    remove = command("remove", "drop every template of some fish", model=False, key=False, mode=False)
    remove.add_argument("--fish", nargs="+", required=True, help="the fish ids to drop")
    _log_flags(remove)

    merge = command("merge", "two records of one individual: every photo of --fish becomes --into's", model=False,
                    key=False, mode=False)
    merge.add_argument("--fish", required=True, help="the fish whose photos move")
    merge.add_argument("--into", required=True, help="the fish that keeps them")
    _log_flags(merge)

    split = command("split", "some photos of a fish are another individual: they become a new fish", model=False,
                    key=False, mode=False)
    split.add_argument("--fish", required=True, help="the fish to split")
    split.add_argument("--photos", nargs="+", required=True, help="file names, paths or content hashes of its photos")
    split.add_argument("--to", default="new", help="the new fish's id (default: the next free new_NNNN)")
    _log_flags(split)

    rename = command("rename", "give a fish another id", model=False, key=False, mode=False)
    rename.add_argument("--fish", required=True, help="the fish to rename")
    rename.add_argument("--to", required=True, help="its new id")
    _log_flags(rename)

    command("log", "the decision log: every confirm, move, merge, split, rename, removal and undo", model=False,
            key=False, mode=False)

    undo = command("undo", "take back any decision of the log (not only the last)", model=False, key=False,
                   mode=False)
    undo.add_argument("--decision", type=positive_int, required=True, help="its number in `log`")
    _log_flags(undo)

    sessions = command("sessions", "date the sessions and list them in time order", model=False, key=False,
                       mode=False)
    sessions.add_argument("--csv", default=None, help="a CSV with columns session, date (YYYY-MM-DD)")
    sessions.add_argument("--date", nargs="+", default=[], metavar="SESSION=YYYY-MM-DD",
                          help="date sessions, e.g. june=2026-06-09")
    _reviewer_flag(sessions)

    metadata = command("metadata", "import photo metadata (date, site, observer, length, weight) from a CSV",
                       model=False, key=False, mode=False)
    metadata.add_argument("--csv", required=True, help="a CSV with a photo column (file name, path or hash)")
    _reviewer_flag(metadata)

    export = command("export", "capture histories for MARK and RMark, and one row per photo", model=False, key=False,
                     mode=False)
    export.add_argument("--mark", default=None, help="MARK encounter histories (.inp) to write")
    export.add_argument("--rmark", default=None, help="RMark-ready CSV to write")
    export.add_argument("--encounters", default=None, help="CSV of one row per photo-encounter to write")

    revoke = command("revoke", "re-enrol every photo under a new key; old templates stop matching", mode=False)
    _key_flags(revoke, "--new_key", "the new permutation key")
    revoke.add_argument("--drop_missing", action="store_true",
                        help="revoke even if some source photos are gone (their templates are dropped)")

    recalibrate = command("recalibrate", "fit the match probabilities and FPIR thresholds on the gallery's own "
                                         "labelled photos (at least 10 fish with 2 photos of one flank)", mode=False)
    recalibrate.add_argument("--reset", action="store_true", help="go back to the model's calibration")
    _log_flags(recalibrate)

    review = command("review", "a local web page to decide new photos (match, new fish, undo) and check each fish")
    review.add_argument("--input", nargs="+", required=True, help="the new photos: files or folders")
    _decision_flags(review, "suggest")
    review.add_argument("--session", default=None, help="session of the new photos (default: from their file names)")
    _reviewer_flag(review)
    review.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    review.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    review.add_argument("--no_browser", action="store_true", help="only print the address")
    _verify_flags(review)
    _capture_flag(review)
    review.set_defaults(measure="hamming")
    return parser



def _check_output(path, flag):
    """Refuse, before any work is done, an output file that cannot be written: its folder missing, or a folder."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise GalleryError(f"{flag} {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise GalleryError(f"{flag} {path} is a folder; give a file name")
    if not os.access(folder, os.W_OK):
        raise GalleryError(f"{flag} {path}: the folder {folder} is not writable")


def _inputs(args):
    """(flag, path) of every file or folder a command reads: no output may be one of them."""
    given = [("--gallery", args.gallery), *(("--input", path) for path in getattr(args, "input", None) or ())]
    return given + [(flag, getattr(args, flag[2:], None)) for flag in ("--metrics", "--key_file")]


@contextlib.contextmanager
def _writing(path):
    """An output file that still cannot be written (a full disk, a permission) is one line, not a traceback."""
    try:
        yield
    except OSError as error:
        raise GalleryError(f"cannot write {path}: {error.strerror or error}") from None


def _thresholds(args):
    from lateral.gallery.fpir_thresholds import DEFAULT_FPIR
    from lateral.gallery.search import given_thresholds, thresholds_from_metrics

    chosen = [flag for flag in ("fpir", "threshold", "far") if getattr(args, flag) is not None]
    if len(chosen) > 1:
        raise GalleryError(f"give only one of --fpir, --threshold and --far (got --{' and --'.join(chosen)})")
    if not chosen:
        args.fpir = DEFAULT_FPIR
    if args.fpir is not None:
        return _fpir_thresholds(args)
    if args.threshold is not None:
        return given_thresholds(args.threshold, args.review_threshold)
    if args.metrics is None:
        raise GalleryError("--far needs --metrics, the metrics.json that test_iom.py wrote for this model")
    return thresholds_from_metrics(args.metrics, _scored_measure(args), args.far, args.review_far)


def _scored_measure(args):
    """The score decisions rest on: --measure, or a verifying gallery's fused score (``hamming+sift``, as
    test_iom.py --verify names it); a matcher the gallery was not made with is refused here, before the model loads."""
    from lateral.gallery.store import load_gallery
    from lateral.gallery.verification import check_request, scored_measure

    return scored_measure(args.measure, check_request(load_gallery(args.gallery).header, args.gallery, args.verify,
                                                      args.shortlist))


def _fpir_thresholds(args):
    """At ``args.fpir`` from the calibration file: --calibration, the gallery's own after ``recalibrate``, or the one
    in the model's run folder (for ``imagenet``, the one shipped with the package)."""
    from lateral.gallery import imagenet
    from lateral.gallery.fpir_thresholds import fpir_thresholds

    header = load_gallery(args.gallery).header
    imagenet.check_model(header["model"]["path"], args.model, args.gallery)
    if args.calibration is not None:
        return fpir_thresholds(args.calibration, _scored_measure(args), args.fpir, args.review_fpir)
    return _following(args).thresholds(header)


def _following(args):
    """The FPIR thresholds on the calibration the gallery decides on at each moment (``GalleryFpir``: a running review
    follows ``recalibrate``), or None: thresholds fixed by the flags (--threshold, --far, --calibration)."""
    from lateral.gallery.recalibration import GalleryFpir

    if args.fpir is None or args.calibration is not None:
        return None
    return GalleryFpir(args.gallery, _scored_measure(args), args.fpir, args.review_fpir, args.model)


def _shown_threshold(threshold):
    return "-" if threshold is None else f"{threshold:.4f}"  # None: no score is accepted


def _print_rejected(rejected):
    for item in rejected:
        print(f"skipped {item[0]}: {': '.join(item[1:])}")


@dataclasses.dataclass(frozen=True)
class Subcommand:
    work: object  # args -> summary: does the work, prints nothing
    show: object  # (args, summary) -> None: what the user sees; None when ``work`` returns the exit code


SUBCOMMANDS = Registry("gallery command")


def subcommand(name, show):
    def add(work):
        SUBCOMMANDS.register(name)(Subcommand(work, show))
        return work

    return add


def _show_enroll(args, summary):
    print(f"added {summary['added']} templates of {len(summary['fish'])} fish; the gallery holds "
          f"{summary['templates']}")
    if summary["already_enrolled"]:
        print(f"{len(summary['already_enrolled'])} photos were already enrolled (left as they were)")
    for source, previous, wanted, previous_source in summary["conflicts"]:
        same = "" if previous_source == source else f" (the same photo as {previous_source})"
        print(f"not added {source}: already enrolled as fish {previous}{same}, not {wanted}")
    _print_rejected(summary["rejected"])
    if getattr(args, "verification_note", None):
        print(args.verification_note)
    unmatched = summary.get("unmatched") or []
    for fish in sorted({fish for _, fish, _ in unmatched}):
        names = ", ".join(f"{os.path.basename(source)} (best {best:.3f})" for source, other, best in unmatched
                          if other == fish)
        print(f"warning: fish {fish}: {names} match none of its other photos of the same flank: several fish "
              f"enrolled as one, or bad photos? (`split` moves photos to a new fish; below "
              f"{summary['unmatched_threshold']['reject']:.3f}, the review threshold of one comparison on "
              f"{summary['unmatched_threshold']['origin']})", file=sys.stderr)


def _chosen_verification(args):
    """(matcher or None, a line saying why, or None): ``--verify``; for a new gallery without it, the default
    (``default_matcher``); ``--verify none``, no verification (a gallery that verifies keeps verifying)."""
    if args.verify == NO_VERIFICATION:
        if os.path.exists(args.gallery) and load_gallery(args.gallery).header.get("verify"):
            raise GalleryError(f"{args.gallery} was created with local verification: every photo added to it keeps "
                               "its local features (--verify none applies only when a gallery is created)")
        return None, None
    if args.verify is not None or os.path.exists(args.gallery) or args.model is None:
        return args.verify, None
    matcher = default_matcher(args.model)
    if matcher is not None:
        return matcher, (f"local verification: {matcher} (the default when the model has its calibrations; each "
                         f"photo's local features are kept in {args.gallery}.local_features/, not cancellable; "
                         f"--verify {NO_VERIFICATION} keeps none)")
    return None, (f"no local verification: {args.model} has no {DEFAULT_MATCHER} calibrations (lateral evaluate "
                  f"--verify {DEFAULT_MATCHER} --fit_calibration on fish it was not trained on, then a new gallery)")


@subcommand("enroll", _show_enroll)
def _enroll(args):
    from lateral.gallery import commands, keys

    matcher, args.verification_note = _chosen_verification(args)
    return commands.enroll(args.gallery, args.input, args.model, keys.read_key(args.key, args.key_file), args.fish,
                           args.session, args.session_pattern, args.store_embeddings, args.mode, args.flip_tta,
                           args.capture_pattern, matcher, args.shortlist)


# identify --csv: the capture a photo belongs to and how its photos decided together (lateral.gallery.captures)
CAPTURE_COLUMNS = ("capture", "capture_decision", "capture_fish")


def _blank_if_none(value):
    return "" if value is None else value


def _show_identify(args, summary):
    results = summary["results"]
    print(f"{summary['templates']} templates of {summary['fish']} fish, {summary['measure']}; thresholds "
          f"{summary['thresholds']}")
    width = max([len(os.path.basename(r["photo"])) for r in results] + [5])
    print(f"{'photo':{width}s}  {'flank':7s} {'decision':8s}  candidates (fish: score)")
    for result in results:
        candidates = ", ".join(f"{c['fish_id']}: {c['score']:.3f}" for c in result["candidates"]) or "-"
        group = f" #{result['new_group']}" if result.get("new_group") else ""
        if result.get("capture") is not None:
            candidates += f"; its capture: {capture_summary(result)}"
        if result.get("fish_lacking_flank"):
            candidates += f"; {result['fish_lacking_flank']} fish have no {result['flank']} flank to compare"
        print(f"{os.path.basename(result['photo']):{width}s}  {result['flank']:7s} {result['decision'] + group:8s}  "
              f"{candidates}")
    for n_fish, accept, reject in sorted({(r["fish_searched"], r["accept_threshold"], r["review_threshold"])
                                          for r in results}, key=str):
        print(f"against {n_fish} fish: match at >= {_shown_threshold(accept)}, new below {_shown_threshold(reject)}")
    for source, reason, _ in summary["rejected"]:
        print(f"{os.path.basename(source):{width}s}  {'-':7s} rejected: {reason}")
    counts = {decision: sum(r["decision"] == decision for r in results) for decision in DECISIONS}
    print(", ".join(f"{count} {decision}" for decision, count in {**counts, "rejected": len(summary["rejected"])}
                    .items()))
    _print_rejected(summary["rejected"])
    if args.csv:
        with _writing(args.csv), replacing(args.csv) as temporary, \
                open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["photo", "flank", "decision", "rank", "fish_id", "score", "accept_threshold",
                             "review_threshold", "fish_searched", "new_group", *CAPTURE_COLUMNS])
            for result in results:
                rows = result["candidates"] or [{"fish_id": "", "score": ""}]
                for rank, candidate in enumerate(rows, 1):
                    writer.writerow(safe_row([result["photo"], result["flank"], result["decision"],
                                              rank if candidate["fish_id"] else "", candidate["fish_id"],
                                              candidate["score"], result["accept_threshold"],
                                              result["review_threshold"], result["fish_searched"],
                                              result.get("new_group") or "",
                                              *(_blank_if_none(result.get(column)) for column in CAPTURE_COLUMNS)]))
            for source, reason, _ in summary["rejected"]:
                writer.writerow(safe_row([source, "", f"rejected: {reason}", *[""] * (7 + len(CAPTURE_COLUMNS))]))
    if args.json:
        with _writing(args.json), replacing(args.json) as temporary, open(temporary, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2)


@subcommand("identify", _show_identify)
def _identify(args):
    from lateral.gallery import commands, keys

    _check_output(args.csv, "--csv")
    _check_output(args.json, "--json")
    check_outputs_apart([("--csv", args.csv), ("--json", args.json)], _inputs(args))
    return commands.identify(args.gallery, args.input, _thresholds(args), keys.read_key(args.key, args.key_file),
                             args.model, args.top_k, args.measure, args.mode, args.capture_pattern, args.verify,
                             args.shortlist)


def _show_confirm(args, summary):
    state = "new fish" if summary["new_fish"] else "fish"
    print(f"recorded: {' '.join(args.photo)} {'is' if len(args.photo) == 1 else 'are'} {state} {summary['fish_id']}"
          + ("" if summary["added"] else " (the photo was already enrolled)"))


@subcommand("confirm", _show_confirm)
def _confirm(args):
    from lateral.gallery import commands, keys

    return commands.confirm(args.gallery, args.photo, args.fish, keys.read_key(args.key, args.key_file), args.model,
                            args.session, args.mode, args.note, args.new, args.reviewer, args.session_date,
                            args.capture_pattern)


def _show_history(args, summary):
    print(f"wrote {summary['out']}: {summary['fish']} fish x {len(summary['sessions'])} sessions "
          f"({', '.join(summary['sessions'])})")


@subcommand("history", _show_history)
def _history(args):
    from lateral.gallery import commands

    _check_output(args.out, "--out")
    check_outputs_apart([("--out", args.out)], _inputs(args))
    with _writing(args.out):
        return commands.history(args.gallery, args.out)


def _show_list(args, summary):
    header = summary["header"]
    model = header["model"]
    print(f"gallery format {header['version']}, created {header['created']}, updated {header['updated']}; "
          f"permutation {header['permutation']}")
    print(f"model {model['path']} (m={model['m']}, q={model['q']}, weights {model['fingerprint'][:12]}…); "
          f"key: {'set' if header['key'] else 'none'}; float embeddings: "
          f"{'stored' if header['stores_embeddings'] else 'not stored'}")
    if header.get("verify"):
        print(f"local verification: {header['verify']['matcher']}, shortlist {header['verify']['shortlist'] or 'all'}"
              " (local features beside the gallery, not cancellable)")
    if header.get("calibration"):
        record = header["calibration"]
        print(f"calibration: the gallery's own, fitted {record.get('fitted')} on {record.get('fish')} fish and "
              f"{record.get('photos')} photos (`recalibrate --reset` goes back to the model's)")
    print(f"{summary['templates']} templates of {len(summary['fish'])} fish; {summary['decisions']} decisions "
          "recorded")
    for row in summary["fish"]:
        templates = f"{row['templates']} template{'' if row['templates'] == 1 else 's'}"
        print(f"  {row['fish_id']}: {templates}, sessions {' '.join(row['sessions'])}, "
              f"flanks {' '.join(row['flanks'])}")


@subcommand("list", _show_list)
def _list(args):
    from lateral.gallery import commands

    return commands.describe(args.gallery)


def _show_remove(args, summary):
    print(f"removed {summary['removed']} templates of {', '.join(summary['fish'])}; {summary['templates']} left")


@subcommand("remove", _show_remove)
def _remove(args):
    from lateral.gallery import commands

    return commands.remove(args.gallery, args.fish, args.reviewer, args.note)


def _show_decision(args, summary):
    moved = f"{summary['photos']} photo{'s' * (summary['photos'] != 1)}"
    what = {"merge": f"merged {summary.get('from')} into {summary['fish_id']} ({moved})",
            "split": f"split {moved} of {summary.get('from')} into new fish {summary['fish_id']}",
            "rename": f"renamed {summary.get('from')} to {summary['fish_id']} ({moved})",
            "undo": f"undid decision {summary.get('undoes')} ({moved} put back)"}[summary["action"]]
    print(f"decision {summary['decision']}: {what}")


@subcommand("merge", _show_decision)
def _merge(args):
    from lateral.gallery import curation

    return curation.merge(args.gallery, args.fish, args.into, args.reviewer, args.note)


@subcommand("split", _show_decision)
def _split(args):
    from lateral.gallery import curation

    return curation.split(args.gallery, args.fish, args.photos, args.to, args.reviewer, args.note)


@subcommand("rename", _show_decision)
def _rename(args):
    from lateral.gallery import curation

    return curation.rename(args.gallery, args.fish, args.to, args.reviewer, args.note)


@subcommand("undo", _show_decision)
def _undo(args):
    from lateral.gallery import curation

    return curation.undo(args.gallery, args.decision, args.reviewer, args.note)


def _show_log(args, summary):
    for d in summary["decisions"]:
        undoes = f" (undoes {d['undoes']})" if d["undoes"] else ""
        note = f": {d['note']}" if d["note"] else ""
        print(f"{d['id']:4d}  {d['decided']}  {d['reviewer']}  {d['action']}{undoes} {d['fish_id']} "
              f"[{d['photos']} photos]{note}")


@subcommand("log", _show_log)
def _log(args):
    from lateral.gallery import curation

    return curation.decision_log(args.gallery)


def _show_sessions(args, summary):
    if summary["changed"]:
        print(f"dated {summary['changed']} sessions")
    for row in summary["sessions"]:
        print(f"  {row['session']}: {row['date'] or 'no date'}, {row['photos']} photos")


@subcommand("sessions", _show_sessions)
def _sessions(args):
    from lateral.gallery import curation

    dates = curation.read_sessions_csv(args.csv) if args.csv else {}
    for item in args.date:
        name, separator, date = item.partition("=")
        if not separator or not name:
            raise GalleryError(f"--date {item!r}: write SESSION=YYYY-MM-DD")
        dates[name] = date
    return curation.sessions(args.gallery, dates, args.reviewer)


def _show_metadata(args, summary):
    print(f"imported {', '.join(summary['fields']) or 'nothing'} for {summary['photos']} photos")


@subcommand("metadata", _show_metadata)
def _metadata(args):
    from lateral.gallery import curation

    return curation.import_metadata(args.gallery, args.csv, args.reviewer)


def _show_export(args, summary):
    for path, counts in summary["written"].items():
        print(f"wrote {path}: {', '.join(f'{count} {name}' for name, count in counts.items())}")


@subcommand("export", _show_export)
def _export(args):
    from lateral.gallery import curation

    outputs = {"--mark": args.mark, "--rmark": args.rmark, "--encounters": args.encounters}
    if not any(outputs.values()):
        raise GalleryError("export needs at least one of --mark, --rmark, --encounters")
    for flag, path in outputs.items():
        _check_output(path, flag)
    with _writing(", ".join(filter(None, outputs.values()))):
        return curation.export(args.gallery, args.mark, args.rmark, args.encounters)


def _show_revoke(args, summary):
    print(f"re-enrolled {summary['reenrolled']} templates under the new key; old templates no longer match")
    for source, why in summary["dropped"]:
        print(f"dropped {source}: {why}")
    if summary["fish_without_templates"]:
        print(f"fish left without templates: {', '.join(summary['fish_without_templates'])}")


@subcommand("revoke", _show_revoke)
def _revoke(args):
    from lateral.gallery import commands, keys

    new_key = keys.read_key(args.new_key, args.new_key_file)
    if new_key is None:
        raise GalleryError("revoke needs --new_key or --new_key_file")
    return commands.revoke(args.gallery, new_key, args.model, args.drop_missing,
                           key=keys.read_key(args.key, args.key_file))


def _show_recalibrate(args, summary):
    if args.reset:
        print(f"decisions rest on the model's calibration again (the gallery's own of {summary['fitted']} removed)")
        return
    print(f"fitted on {summary['fish']} fish, {summary['photos']} photos: {summary['pairs']} pairs compared "
          f"({summary['genuine']} genuine), {summary['verified']} verified; wrote {summary['file']}")
    if summary["ece"]:
        print("ECE cross-fitted over two folds of fish (fitted on one half, measured on the other's pairs):")
        for score, (pairs, own, theirs) in summary["ece"].items():
            print(f"  {score:8s} {pairs:8d} pairs: the gallery's {own:.3f}, the model's "
                  f"{'-' if theirs is None else f'{theirs:.3f}'}")
    thresholds = summary["thresholds"]
    for name, (own, theirs) in thresholds["accept"].items():
        print(f"{name}: match at >= {_shown_threshold(own)} against {thresholds['fish']} fish at FPIR "
              f"{thresholds['fpir']:g} (the model's calibration: {_shown_threshold(theirs)})")
    if summary["fpir_check"]:
        from lateral.gallery.recalibration import MAX_FISH_LEFT_OUT

        print(f"checked on the gallery's own fish, each (at most {MAX_FISH_LEFT_OUT}, drawn) taken in turn for a new "
              "fish, searched against all the others at the thresholds the others' impostor scores set:")
    for name, by_fpir in summary["fpir_check"].items():
        print(f"  {name}: " + "; ".join(
            f"at FPIR {fpir:g}, {wrong} of {searches} searches wrongly matched "
            f"({wrong / searches if searches else 0:.3f})" for fpir, (wrong, searches) in by_fpir.items()))
    print("identify and review now decide on the gallery's own calibration; `recalibrate --reset` goes back to the "
          "model's")


@subcommand("recalibrate", _show_recalibrate)
def _recalibrate(args):
    from lateral.gallery import commands, keys

    if args.reset:
        return commands.reset_calibration(args.gallery, args.reviewer, args.note)
    return commands.recalibrate(args.gallery, keys.read_key(args.key, args.key_file), args.model, args.reviewer,
                                args.note)


@subcommand("review", show=None)
def _review(args):
    """Serves the review page until stopped; returns the server's exit code."""
    from lateral.gallery import keys
    from lateral.gallery.review.serve import serve
    from lateral.gallery.review.workspace import ReviewWorkspace

    workspace = ReviewWorkspace(args.gallery, args.input, _thresholds(args), keys.read_key(args.key, args.key_file),
                                args.model, args.top_k, args.mode, args.session, args.reviewer, args.verify,
                                args.shortlist, args.capture_pattern, _following(args))
    return serve(workspace, args.host, args.port, not args.no_browser)


def run(args):
    """Do ``args.command``'s work, then show its summary; returns the exit code."""
    chosen = SUBCOMMANDS.get(args.command)
    summary = chosen.work(args)
    if chosen.show is None:
        return summary
    chosen.show(args, summary)
    return 0


def check_inputs(args):
    """The photos named by ``--input`` exist (and an enrolment's folder is laid out per fish): told before the
    model loads."""
    inputs = getattr(args, "input", None)
    if inputs is None:
        return
    if args.command != "enroll" or args.fish is not None:
        photo_files(inputs if isinstance(inputs, list) else [inputs], report=False)
        return
    if not os.path.exists(inputs):
        raise GalleryError(f"--input {inputs}: no such folder")
    if not os.path.isdir(inputs):
        raise GalleryError(f"--input {inputs} is a file: give a folder laid out <fish_id>/<photos>, or --fish ID")
    if not read_layout(inputs, report=False).photos:
        raise GalleryError(f"no photos found in {inputs}")


def main(argv=None, prog="lateral gallery"):
    args = build_parser(prog).parse_args(argv)
    from lateral.cli import run_explaining_errors

    def checked_run():
        check_inputs(args)
        return run(args)

    return run_explaining_errors(checked_run, kept=f"{args.gallery} is as it was before this command (a save "
                                                    "replaces it whole or not at all)")


if __name__ == "__main__":
    sys.exit(main(prog="python -m lateral.gallery"))
