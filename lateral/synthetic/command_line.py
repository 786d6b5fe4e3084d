"""Synthetic photos of single fish lying on their side in a green photo tent.

The command line, ``python -m lateral.synthetic OUT --ids N --sessions S --per_id K``
(examples in the package docstring); the line above is its ``--help`` description.
"""

import argparse
from pathlib import Path

from lateral.synthetic.dataset import GROUND_TRUTH_FILE, render_dataset
from lateral.synthetic.fish import FAINT_FIN, PALETTES
from lateral.synthetic.photo_params import BODY_LENGTH_OF_WIDTH, SMALL_FISH


def _size(text):
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1024x768, not {text!r}") from None
    if width < 64 or height < 64:
        raise argparse.ArgumentTypeError(f"size {text} is too small (at least 64x64)")
    return width, height


def _share_range(text):
    """A range LOW,HIGH of shares in (0, 1]."""
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH such as 0.3,0.45, not {text!r}") from None
    if not 0.0 < low <= high <= 1.0:
        raise argparse.ArgumentTypeError(f"{text}: need 0 < LOW <= HIGH <= 1")
    return low, high


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lateral.synthetic", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--ids", type=int, required=True, help="number of individual fish")
    parser.add_argument("--sessions", type=int, required=True, help="number of photo sessions")
    parser.add_argument("--per_id", type=int, required=True, help="photos per fish per session")
    parser.add_argument("--size", type=_size, default=(1024, 768), help="photo size WIDTHxHEIGHT (default 1024x768)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max_rotation", type=float, default=40.0, help="degrees either way (default 40)")
    parser.add_argument("--upside_down", type=float, default=0.15, help="probability of an extra 180 degree turn")
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset already in OUT")
    parser.add_argument("--palette", choices=PALETTES, default="trout",
                        help="skin colours: trout (brown, default) or greenish (olive to greenish-yellow, "
                             "near the tent)")
    parser.add_argument("--fin_opacity", type=_share_range, default=None, metavar="LOW,HIGH",
                        help=f"dorsal fin opacity range (default 0.9,0.97; faint fins: {FAINT_FIN[0]},{FAINT_FIN[1]})")
    parser.add_argument("--body_share", type=_share_range, default=BODY_LENGTH_OF_WIDTH, metavar="LOW,HIGH",
                        help=f"body length / photo width (default {BODY_LENGTH_OF_WIDTH[0]},{BODY_LENGTH_OF_WIDTH[1]}; "
                             f"small fish: {SMALL_FISH[0]},{SMALL_FISH[1]})")
    args = parser.parse_args(argv)
    for name in ("ids", "sessions", "per_id"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if not 0.0 <= args.upside_down <= 1.0:
        parser.error("--upside_down is a probability, between 0 and 1")
    if not 0.0 <= args.max_rotation <= 180.0:
        parser.error("--max_rotation must be between 0 and 180 degrees")
    if args.seed < 0:
        parser.error("--seed must be at least 0")
    try:
        truths = render_dataset(
            args.out, args.ids, args.sessions, args.per_id, args.size, args.seed,
            args.max_rotation, args.upside_down, args.overwrite, args.palette, args.fin_opacity, args.body_share,
        )
    except FileExistsError as error:
        parser.error(f"{error}; pass --overwrite to replace it")
    print(
        f"wrote {len(truths)} photos ({args.ids} fish x {args.sessions} sessions x {args.per_id}, "
        f"{args.size[0]}x{args.size[1]}) to {args.out}/session_*/fish_*/"
    )
    print(f"ground truth: {args.out / GROUND_TRUTH_FILE}")
    return 0
