"""``make demo``: the pipeline on built-in synthetic fish, one command at a time.

Each step prints the command it runs, so the demo doubles as a walk-through of
what to type for your own photos. Re-running continues where it stopped
(every stage resumes); ``make clean-demo`` starts afresh. ``--verbose`` shows
TensorFlow's start-up messages in every step.
"""

import shlex
import subprocess
import sys
import time
from pathlib import Path

from lateral.cli import ArgumentParser, add_verbose_flag, run_explaining_errors
from lateral.quiet import quiet_unless_verbose

REPO = Path(__file__).resolve().parents[1]
STAGE_ONE_CONFIG = "configs/synthetic_stage1.yaml"
STAGE_TWO_CONFIG = "configs/synthetic_stage2.yaml"


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
                            epilog="example:\n  make demo")
    add_verbose_flag(parser)
    parser.parse_args(argv)
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


def review_commands():
    """The commands that build a gallery from the demo's held-out fish and open the review page on it."""
    gallery = "demo_run/pond.lgal"
    return [
        ["lateral", "gallery", "enroll", "--gallery", gallery, "--model", "checkpoints/synthetic_iom",
         "--input", "demo_run/test_raw/session_1", "--session", "session_1"],
        ["lateral", "gallery", "review", "--gallery", gallery, "--input", "demo_run/test_raw/session_2",
         "--session", "session_2"],  # decides at FPIR 0.01 from the calibration step 6/6 wrote
    ]


if __name__ == "__main__":
    sys.exit(run_explaining_errors(main, kept="every step done is kept in demo_run/ and checkpoints/; the demo "
                                               "goes on from there when run again"))
