"""``lateral COMMAND ...``: one command for the whole pipeline, from photos to a gallery.

A command's module is imported only when it is chosen, so ``lateral --help``
and every command's ``--help`` answer at once.
"""

import importlib
import sys

from lateral.cli import USER_ERROR

# name: (module with main(argv, prog), what it does). A table, not a registry: registering would import them all.
COMMANDS = {
    "prepare": ("lateral.console.prepare", "photos -> lateral ROIs, manifest and TFRecords (python prepare_data.py)"),
    "train": ("lateral.console.train", "stage one: train the embedding network (python train.py)"),
    "train-iom": ("lateral.console.train_iom", "stage two: train the IoM hashing head (python train_twostage.py)"),
    "evaluate": ("lateral.console.evaluate", "EER, AUC, thresholds, rank-1, mAP and plots (python test_iom.py)"),
    "gallery": ("lateral.gallery.__main__", "enrol, identify, review and manage a gallery of known fish"),
    "embed": ("lateral.embed", "embeddings and IoM codes of every image, for other tools"),
    "demo": ("lateral.demo", "the whole pipeline on synthetic fish (make demo)"),
}

USAGE = "usage: lateral COMMAND [--help] ...\n\nIdentify individual fish from photos of their lateral skin.\n\n" \
        "commands:\n" + "".join(f"  {name:10s} {summary}\n" for name, (_, summary) in COMMANDS.items()) + """
Your own photos, in order:
  lateral prepare --input_dir my_photos --output_dir my_prepared --cfg_path configs/my_fish_stage1.yaml
  lateral train --cfg_path configs/my_fish_stage1.yaml
  lateral train-iom --cfg_path configs/my_fish_stage2.yaml
  lateral evaluate --cfg_path configs/my_fish_stage2.yaml
  lateral gallery enroll --gallery pond.lgal --model checkpoints/my_fish_iom --input my_photos

`lateral COMMAND --help` shows a command's flags and an example.
"""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else USER_ERROR
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: lateral: unknown command {name!r}; the commands are {', '.join(COMMANDS)} (see lateral "
              "--help)", file=sys.stderr)
        return USER_ERROR
    return importlib.import_module(COMMANDS[name][0]).main(rest, prog=f"lateral {name}")


if __name__ == "__main__":
    sys.exit(main())
