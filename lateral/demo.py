"""``make demo``: the pipeline on built-in synthetic fish, one command at a time.

Each step prints the command it runs, so the demo doubles as a walk-through of
what to type for your own photos. Re-running continues where it stopped
(every stage resumes); ``make clean-demo`` starts afresh. ``--verbose`` shows
TensorFlow's start-up messages in every step.

The held-out fish's second session is copied for the review page under
neutral names (``IMG_0001.jpg``, ... in a shuffled order), so the page shows
no fish id; which fish each photo shows is kept in ``NEW_PHOTOS_TRUTH``.
``python -m lateral.demo score`` reads it and says how many of the decisions
recorded in the demo's gallery are right.
"""

import csv
import random
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lateral.cli import ArgumentParser, add_verbose_flag, run_explaining_errors
from lateral.gallery.catalogue import in_force
from lateral.gallery.store import load_gallery
from lateral.quiet import quiet_unless_verbose
from lateral.user_errors import UserError

REPO = Path(__file__).resolve().parents[1]
STAGE_ONE_CONFIG = "configs/synthetic_stage1.yaml"
STAGE_TWO_CONFIG = "configs/synthetic_stage2.yaml"
GALLERY = Path("demo_run/pond.lgal")
NEW_PHOTOS, NEW_PHOTOS_TRUTH = Path("demo_run/new_photos"), Path("demo_run/new_photos_truth.csv")


def runnable(command):
    """``lateral ...`` as this interpreter runs it (the console command may not be on PATH); ``python`` as this one."""
    if command[0] == "lateral":
        return [sys.executable, "-m", "lateral", *command[1:]]
    return [sys.executable if part == "python" else part for part in command]


def step(title, command):
    print(f"\n==> {title}\n    $ {shlex.join(command)}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(runnable(command), cwd=REPO)
    if result.returncode:  # the step has said why on stderr; a traceback here would only bury it
        print(f"error: the demo stopped: `{shlex.join(command)}` exited with code {result.returncode}", file=sys.stderr)
        sys.exit(result.returncode)
    print(f"    ({time.perf_counter() - started:.0f} s)", flush=True)


def main(argv=None, prog="python -m lateral.demo"):
    parser = ArgumentParser(prog=prog, description="The pipeline on built-in synthetic fish, one command at a time.",
                            epilog="examples:\n  make demo\n  python -m lateral.demo score")
    parser.add_argument("command", nargs="?", choices=["score"],
                        help="score: how many of the review decisions in the demo's gallery are right")
    add_verbose_flag(parser)
    if parser.parse_args(argv).command == "score":
        return run_explaining_errors(score)  # one line and exit 2 when called from `lateral demo` too
    quiet_unless_verbose(argv)  # with --verbose, LATERAL_VERBOSE=1 makes every step verbose too
    # The demo's config reads demo_run/prepared, so the folder is fixed.
    raw, prepared = Path("demo_run/raw"), Path("demo_run/prepared")
    test_raw, test_prepared = Path("demo_run/test_raw"), Path("demo_run/test_prepared")
    started = time.perf_counter()
    if not (REPO / raw / "ground_truth.jsonl").exists():
        step(
            "1/6 rendering 256 synthetic tent photos: 32 fish, 2 sessions, 4 photos each",
            ["python", "-m", "lateral.synthetic", str(raw), "--ids", "32", "--sessions", "2", "--per_id", "4",
             "--size", "640x480"],
        )
    else:
        print(f"\n==> 1/6 synthetic photos already in {raw}")
    step(
        "2/6 segmenting the green tent, normalising the pose, cutting lateral ROIs into TFRecords",
        ["lateral", "prepare", "--input_dir", str(raw), "--output_dir", str(prepared), "--cfg_path",
         STAGE_ONE_CONFIG, "--workers", "2"],
    )
    step(
        "3/6 stage one: MobileNetV2 (width 0.35) + ArcFace on 24 fish, validated on 8 held-out fish",
        ["lateral", "train", "--cfg_path", STAGE_ONE_CONFIG, "--mode", "fit"],
    )
    step(
        "4/6 stage two: the IoM hashing head (64 codes of 0..7) on the frozen stage-one network",
        ["lateral", "train-iom", "--cfg_path", STAGE_TWO_CONFIG],
    )
    if not (REPO / test_raw / "ground_truth.jsonl").exists():
        step(
            "5/6 rendering 8 fish never seen in training (2 sessions, 4 photos each) and preparing them",
            ["python", "-m", "lateral.synthetic", str(test_raw), "--ids", "8", "--sessions", "2", "--per_id", "4",
             "--size", "640x480", "--seed", "1"],
        )
    step(
        "5/6 preparing the held-out fish",
        ["lateral", "prepare", "--input_dir", str(test_raw), "--output_dir", str(test_prepared),
         "--cfg_path", STAGE_TWO_CONFIG, "--workers", "2"],
    )
    if not (REPO / NEW_PHOTOS_TRUTH).exists():
        neutral_copies(REPO / test_raw / "session_2", REPO / NEW_PHOTOS, REPO / NEW_PHOTOS_TRUTH)
    step(
        "6/6 evaluation on the held-out fish, cross-session: Hamming on IoM codes and cosine on embeddings",
        ["lateral", "evaluate", "--cfg_path", STAGE_TWO_CONFIG, "--protocol", "cross_session"],
    )
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s. Look at {prepared}/montage.png, "
          f"{prepared}/summary.json, checkpoints/synthetic_stage1/, checkpoints/synthetic_iom/ (its evaluation/ "
          "holds the report and plots) and `tensorboard --logdir logs`.")
    print("\nNext, the field tool, in any terminal: enrol the held-out fish's first session, then decide their second "
          "session's photos on the review page (it prints its address; Ctrl+C stops it):")
    print(f"    $ cd {shlex.quote(str(REPO))}")
    activate = Path(sys.prefix) / "bin" / "activate"
    if sys.prefix != sys.base_prefix and activate.exists():  # a new terminal finds `lateral` once the venv is active
        print(f"    $ source {shlex.quote(str(activate))}")
    for command in review_commands():
        print(f"    $ {shlex.join(command)}")
    print(f"and then see how many of your decisions were right ({NEW_PHOTOS_TRUTH} holds the truth):\n"
          "    $ python -m lateral.demo score")


def review_commands():
    """The commands that build a gallery from the demo's held-out fish and open the review page on it."""
    return [
        ["lateral", "gallery", "enroll", "--gallery", str(GALLERY), "--model", "checkpoints/synthetic_iom",
         "--input", "demo_run/test_raw/session_1", "--session", "session_1"],
        ["lateral", "gallery", "review", "--gallery", str(GALLERY), "--input", str(NEW_PHOTOS),
         "--session", "session_2"],  # decides at FPIR 0.01 from the calibration step 6/6 wrote
    ]


def neutral_copies(session_folder, out, truth, seed=0):
    """Copy a session's photos (laid out ``<fish_id>/<photo>``) to ``out`` as ``IMG_0001<suffix>``, ... in a
    shuffled order, and write which fish each shows to the CSV ``truth`` (``photo,fish_id``)."""
    photos = sorted(path for path in Path(session_folder).glob("*/*") if path.is_file())
    random.Random(seed).shuffle(photos)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for number, photo in enumerate(photos, 1):
        name = f"IMG_{number:04d}{photo.suffix.lower()}"
        shutil.copyfile(photo, out / name)
        rows.append((name, photo.parent.name))
    with open(truth, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("photo", "fish_id"), *rows])
    return rows


def score_review(entries, decisions, truth, folder):
    """How the gallery's decisions on the photos in ``folder`` compare with ``truth`` ({photo name: fish id}):
    counts of right, wrong, set aside (unusable or can't tell) and undecided. A photo of a fish enrolled before
    is right under that fish's id only; a photo of another fish is right under a new id that no photo of a
    different fish shares."""
    folder = Path(folder).resolve()
    enrolled = {Path(e["source"]).name: e["fish_id"] for e in entries if Path(e["source"]).parent == folder}
    set_aside = {Path(d["photo"]).name for d in in_force(decisions)
                 if d["action"] == "verdict" and Path(d["photo"]).parent == folder}
    known = {e["fish_id"] for e in entries if Path(e["source"]).parent != folder}
    owners = {}
    for name, fish in enrolled.items():
        owners.setdefault(fish, set()).add(truth[name])
    counts = {"right": 0, "wrong": 0, "set aside": 0, "undecided": 0}
    for name, fish in truth.items():
        if name in enrolled:
            given = enrolled[name]
            right = given == fish if fish in known or given in known else owners[given] == {fish}
            counts["right" if right else "wrong"] += 1
        else:
            counts["set aside" if name in set_aside else "undecided"] += 1
    return counts


def score():
    """``python -m lateral.demo score``: the demo gallery's review decisions against the truth."""
    for needed in (NEW_PHOTOS_TRUTH, GALLERY):
        if not (REPO / needed).is_file():
            raise UserError(f"{needed} not found: run `make demo`, then the two commands it prints, first")
    with open(REPO / NEW_PHOTOS_TRUTH, newline="", encoding="utf-8") as handle:
        truth = {row["photo"]: row["fish_id"] for row in csv.DictReader(handle)}
    gallery = load_gallery(REPO / GALLERY)
    counts = score_review(gallery.entries, gallery.decisions, truth, REPO / NEW_PHOTOS)
    print(f"{len(truth)} new photos: " + ", ".join(f"{count} {what}" for what, count in counts.items()))


if __name__ == "__main__":
    sys.exit(run_explaining_errors(main, kept="every step done is kept in demo_run/ and checkpoints/; the demo "
                                               "goes on from there when run again"))
