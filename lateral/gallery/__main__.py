"""``python -m lateral.gallery COMMAND``: a gallery of known fish (see ``--help`` of each command).

    enroll   --gallery G.lgal --input RAW [--model RUN] [--key K] [--fish ID] [--store_embeddings] [--flip_tta]
    identify --gallery G.lgal --input PHOTOS... [--fpir 0.01 | --threshold T [--review_threshold R]
             | --far F --metrics M]
    confirm  --gallery G.lgal --photo P --fish ID|new
    history  --gallery G.lgal --out captures.csv
    list     --gallery G.lgal
    remove   --gallery G.lgal --fish ID [ID ...]
    revoke   --gallery G.lgal --key K --new_key K2 [--drop_missing]
    review   --gallery G.lgal --input PHOTOS... [--fpir 0.01 | --threshold T [--review_threshold R]
             | --far F --metrics M]
             [--port 8765] [--host 127.0.0.1] [--no_browser]

identify and review decide by default at FPIR 0.01: a fish not in the gallery is wrongly matched in at most
1% of searches at the gallery's current size (docs/open_set.md), from the impostor scores test_iom.py stored
in the model's run folder (evaluation/open_set_calibration.npz; --calibration to read another).

Exit code 2 and one line on stderr for a user's mistake (a wrong key, a
different model, a damaged gallery, a missing photo); nothing is written then.
"""

from lateral.quiet import quiet_unless_verbose

quiet_unless_verbose()  # before anything imports TensorFlow; --verbose keeps its start-up messages

import argparse  # noqa: E402
import contextlib  # noqa: E402
import csv  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from lateral.gallery.search import DECISIONS, SEARCHES  # noqa: E402
from lateral.gallery.store import GalleryError  # noqa: E402
from lateral.registry import Registry  # noqa: E402


def _key_flags(parser, flag="--key", help_text="the gallery's permutation key (any string)"):
    parser.add_argument(flag, default=None, help=help_text)
    parser.add_argument(f"{flag}_file", default=None, help="read the key from the first line of this file")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m lateral.gallery", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name, help_text, model=True, key=True, mode=True):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--gallery", required=True, help="the gallery file (.lgal)")
        sub.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up messages")
        if model:
            sub.add_argument("--model", default=None, help="a train_twostage.py run folder (default: the one the "
                                                           "gallery was built with)")
        if key:
            _key_flags(sub)
        if mode:
            sub.add_argument("--mode", choices=["auto", "tent", "cropped"], default="auto",
                             help="auto: segment green-tent photos, take other photos as already cropped")
        return sub

    enroll = command("enroll", "add photos of known fish (creates the gallery)")
    enroll.add_argument("--input", required=True, help="RAW/<fish_id>/* (or RAW/<session>/<fish_id>/*), or with "
                                                       "--fish a photo or folder of one fish")
    enroll.add_argument("--fish", default=None, help="enrol every photo of --input as this fish")
    enroll.add_argument("--session", default=None, help="session of these photos (default: from the layout or the "
                                                        "model's session_pattern)")
    enroll.add_argument("--session_pattern", default=None, help="regex with a (?P<session>...) group for file names")
    enroll.add_argument("--store_embeddings", action="store_true",
                        help="also keep float embeddings (for cosine search; they are not cancellable)")
    enroll.add_argument("--flip_tta", action="store_true",
                        help="a new gallery's templates average each photo with its mirror image (flip test-time "
                             "augmentation); recorded in the gallery, so identify and review do the same")

    identify = command("identify", "the most likely known fish for each photo, and match/review/new")
    identify.add_argument("--input", nargs="+", required=True, help="photos or folders of photos")
    identify.add_argument("--top_k", type=_positive_int, default=5, help="candidates listed per photo (at least 1)")
    _decision_flags(identify, "accept")
    identify.add_argument("--measure", choices=SEARCHES.names(), default="hamming")
    identify.add_argument("--csv", default=None, help="write one row per photo and candidate")
    identify.add_argument("--json", default=None, help="write the full results")

    confirm = command("confirm", "record a person's decision for a photo and enrol it")
    confirm.add_argument("--photo", required=True)
    confirm.add_argument("--fish", required=True, help="a fish id, or 'new' for a fish not seen before")
    confirm.add_argument("--session", default=None)
    confirm.add_argument("--note", default="")

    history = command("history", "write the capture history (fish x session, 1/0)", model=False, key=False,
                      mode=False)
    history.add_argument("--out", required=True, help="CSV file to write")

    command("list", "the gallery's model, key status and fish", model=False, key=False, mode=False)

    remove = command("remove", "drop every template of some fish", model=False, key=False, mode=False)
    remove.add_argument("--fish", nargs="+", required=True)

    revoke = command("revoke", "re-enrol every photo under a new key; old templates stop matching", mode=False)
    _key_flags(revoke, "--new_key", "the new permutation key")
    revoke.add_argument("--drop_missing", action="store_true",
                        help="revoke even if some source photos are gone (their templates are dropped)")

    review = command("review", "a local web page to decide new photos (match, new fish, undo) and check each fish")
    review.add_argument("--input", nargs="+", required=True, help="the new photos: files or folders")
    review.add_argument("--top_k", type=int, default=5, help="candidates shown per photo")
    _decision_flags(review, "suggest")
    review.add_argument("--session", default=None, help="session of the new photos (default: from their file names)")
    review.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    review.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    review.add_argument("--no_browser", action="store_true", help="only print the address")
    review.set_defaults(measure="hamming")
    return parser


FAR_NOTE = ("per comparison: over N fish a new fish is wrongly matched in about 1-(1-F)^N of searches (63%% at "
            "F 0.01, N 100); --fpir sizes the threshold to N")


def _decision_flags(sub, verb):
    """--fpir (the default), --threshold or --far: how the match/review/new decision is made."""
    sub.add_argument("--fpir", type=float, default=None,
                     help=f"{verb} a match when a fish not in the gallery would be matched with at most this "
                          "probability at the gallery's current number of fish (default 0.01 when no threshold flag "
                          "is given)")
    sub.add_argument("--review_fpir", type=float, default=None,
                     help="below the threshold at this FPIR: a new fish (default 10x --fpir, at most 0.5)")
    sub.add_argument("--calibration", default=None,
                     help="impostor scores for --fpir (default: <model>/evaluation/open_set_calibration.npz, written "
                          "by test_iom.py)")
    sub.add_argument("--threshold", type=float, default=None, help=f"{verb} a match at or above this score")
    sub.add_argument("--review_threshold", type=float, default=None,
                     help="below this score: a new fish (default: --threshold, no review band)")
    sub.add_argument("--far", type=float, default=None,
                     help=f"accept threshold at this FAR, from --metrics; {FAR_NOTE}")
    sub.add_argument("--review_far", type=float, default=None, help="reject threshold at this FAR (default "
                                                                     "10x --far, at most 0.1)")
    sub.add_argument("--metrics", default=None, help="test_iom.py's metrics.json for this model (for --far)")


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
    return thresholds_from_metrics(args.metrics, args.measure, args.far, args.review_far)


def _fpir_thresholds(args):
    """At ``args.fpir`` from the calibration file: --calibration, or the one in the model's run folder."""
    from lateral.gallery.fpir_thresholds import calibration_path, fpir_thresholds
    from lateral.gallery.store import load_gallery

    calibration = args.calibration
    if calibration is None:
        calibration = calibration_path(args.model or load_gallery(args.gallery).header["model"]["path"])
    return fpir_thresholds(calibration, args.measure, args.fpir, args.review_fpir)


def _score(threshold):
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
    for source, previous, wanted in summary["conflicts"]:
        print(f"not added {source}: already enrolled as fish {previous}, not {wanted}")
    _print_rejected(summary["rejected"])


@subcommand("enroll", _show_enroll)
def _enroll(args):
    from lateral.gallery import commands, keys

    return commands.enroll(args.gallery, args.input, args.model, keys.read_key(args.key, args.key_file), args.fish,
                           args.session, args.session_pattern, args.store_embeddings, args.mode, args.flip_tta)


def _show_identify(args, summary):
    results = summary["results"]
    print(f"{summary['templates']} templates of {summary['fish']} fish, {summary['measure']}; thresholds "
          f"{summary['thresholds']}")
    width = max([len(os.path.basename(r["photo"])) for r in results] + [5])
    print(f"{'photo':{width}s}  {'flank':7s} {'decision':8s}  candidates (fish: score)")
    for result in results:
        candidates = ", ".join(f"{c['fish_id']}: {c['score']:.3f}" for c in result["candidates"]) or "-"
        print(f"{os.path.basename(result['photo']):{width}s}  {result['flank']:7s} {result['decision']:8s}  "
              f"{candidates}")
    for n_fish, accept, reject in sorted({(r["fish_searched"], r["accept_threshold"], r["review_threshold"])
                                          for r in results}, key=str):
        print(f"against {n_fish} fish: match at >= {_score(accept)}, new below {_score(reject)}")
    counts = {decision: sum(r["decision"] == decision for r in results) for decision in DECISIONS}
    print(", ".join(f"{count} {decision}" for decision, count in counts.items()))
    _print_rejected(summary["rejected"])
    if args.csv:
        with _writing(args.csv), open(args.csv, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["photo", "flank", "decision", "rank", "fish_id", "score", "accept_threshold",
                             "review_threshold", "fish_searched"])
            for result in results:
                rows = result["candidates"] or [{"fish_id": "", "score": ""}]
                for rank, candidate in enumerate(rows, 1):
                    writer.writerow([result["photo"], result["flank"], result["decision"],
                                     rank if candidate["fish_id"] else "", candidate["fish_id"], candidate["score"],
                                     result["accept_threshold"], result["review_threshold"],
                                     result["fish_searched"]])
    if args.json:
        with _writing(args.json), open(args.json, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2)


@subcommand("identify", _show_identify)
def _identify(args):
    from lateral.gallery import commands, keys

    _check_output(args.csv, "--csv")
    _check_output(args.json, "--json")
    return commands.identify(args.gallery, args.input, _thresholds(args), keys.read_key(args.key, args.key_file),
                             args.model, args.top_k, args.measure, args.mode)


def _show_confirm(args, summary):
    state = "new fish" if summary["new_fish"] else "fish"
    print(f"recorded: {args.photo} is {state} {summary['fish_id']}"
          + ("" if summary["added"] else " (the photo was already enrolled)"))


@subcommand("confirm", _show_confirm)
def _confirm(args):
    from lateral.gallery import commands, keys

    return commands.confirm(args.gallery, args.photo, args.fish, keys.read_key(args.key, args.key_file), args.model,
                            args.session, args.mode, args.note)


def _show_history(args, summary):
    print(f"wrote {summary['out']}: {summary['fish']} fish x {len(summary['sessions'])} sessions "
          f"({', '.join(summary['sessions'])})")


@subcommand("history", _show_history)
def _history(args):
    from lateral.gallery import commands

    _check_output(args.out, "--out")
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
    print(f"{summary['templates']} templates of {len(summary['fish'])} fish; {summary['decisions']} decisions "
          "recorded")
    for row in summary["fish"]:
        print(f"  {row['fish_id']}: {row['templates']} templates, sessions {' '.join(row['sessions'])}, "
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

    return commands.remove(args.gallery, args.fish)


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


@subcommand("review", show=None)
def _review(args):
    """Serves the review page until stopped; returns the server's exit code."""
    from lateral.gallery import keys
    from lateral.gallery.review.serve import serve
    from lateral.gallery.review.workspace import ReviewWorkspace

    workspace = ReviewWorkspace(args.gallery, args.input, _thresholds(args), keys.read_key(args.key, args.key_file),
                                args.model, args.top_k, args.mode, args.session)
    return serve(workspace, args.host, args.port, not args.no_browser)


def run(args):
    """Do ``args.command``'s work, then show its summary; returns the exit code."""
    chosen = SUBCOMMANDS.get(args.command)
    summary = chosen.work(args)
    if chosen.show is None:
        return summary
    chosen.show(args, summary)
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    from lateral.cli import run_explaining_errors

    return run_explaining_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
