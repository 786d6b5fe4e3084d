"""The Nyala calibration half (the individuals ``bench/matching_dev.py --dataset nyala`` calibrates on, seed 0) as
one folder per individual and flank, of symbolic links to the photos (nothing is copied), for ``lateral prepare
--no_segment`` and a training run whose model ``bench/matching_dev.py --run`` then measures on the held-out half.

    python bench/nyala_calibration_half.py --photos ../shared/datasets/nyala-train --out nyala_dev/raw
    lateral prepare --input_dir nyala_dev/raw --output_dir nyala_dev/prepared_128 --cfg_path configs/nyala_stage1.yaml --no_segment
    lateral train --cfg_path configs/nyala_stage1.yaml
    python bench/matching_dev.py --dataset nyala --photos ../shared/datasets/nyala-train --run checkpoints/nyala_stage1

The two flanks of a nyala carry different stripes, so each (individual, flank) is its own folder: ``ID_L``, ``ID_R``.
"""

import argparse
import os
from pathlib import Path

import numpy as np

from matching_dev import list_photos, shuffle_and_split


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", required=True, help="the nyala-train folder")
    parser.add_argument("--out", required=True, help="a new folder for the links")
    parser.add_argument("--seed", type=int, default=0, help="matching_dev.py's --seed")
    args = parser.parse_args()
    paths, fish, _, flanks = list_photos("nyala", args.photos, 1)
    _, chosen = shuffle_and_split(fish, np.random.default_rng(args.seed))
    links = 0
    for path, individual, flank in zip(paths, fish, flanks):
        if individual in chosen:
            folder = Path(args.out) / f"{individual}_{flank}"
            folder.mkdir(parents=True, exist_ok=True)
            link = folder / path.name
            if not link.exists():
                os.symlink(path.resolve(), link)
            links += 1
    print(f"{len(chosen)} individuals, {links} photos linked under {args.out}")


if __name__ == "__main__":
    main()
