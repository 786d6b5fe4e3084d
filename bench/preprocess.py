"""Preprocessing throughput: photos per second on 1024x768 JPEG tent photos.

    python bench/preprocess.py [--photos 960] [--size 1024x768]

Prints JPEG decoding alone (one core) for scale, then prepare_data with 1 and
2 workers. A warm-up run imports TensorFlow first, so its start-up is not
counted; writing the TFRecords and starting the workers are. (This module must
not import TensorFlow itself: worker processes are spawned and re-import it.)
"""

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from lateral import synthetic
from lateral.config import PreprocessConfig
from lateral.data.prepare import prepare


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=960)
    parser.add_argument("--size", default="1024x768")
    args = parser.parse_args()
    width, height = (int(side) for side in args.size.split("x"))
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "raw"
        per_id = 4
        synthetic.render_dataset(raw, ids=max(1, args.photos // per_id), sessions=1, per_id=per_id, size=(width, height))
        photos = sorted(raw.rglob("*.jpg"))
        start = time.perf_counter()
        for path in photos:
            cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        decode_rate = len(photos) / (time.perf_counter() - start)
        print(f"{len(photos)} photos of {width}x{height}")
        print(f"decode only, 1 core: {decode_rate:7.1f} photos/s")
        warm_up = Path(scratch) / "warm-up"
        synthetic.render_dataset(warm_up, ids=1, sessions=1, per_id=2, size=(width, height), seed=1)
        prepare(warm_up, Path(scratch) / "warm-up-out", PreprocessConfig(), (64, 128), progress=False)
        rates = {}
        for workers in (1, 2):
            start = time.perf_counter()
            summary = prepare(raw, Path(scratch) / f"out{workers}", PreprocessConfig(), (64, 128), workers=workers,
                              progress=False)
            rates[workers] = len(photos) / (time.perf_counter() - start)
            print(f"prepare_data, {workers} worker{'s' if workers > 1 else ' '}: {rates[workers]:7.1f} photos/s "
                  f"({summary['ok']} ok, {summary['rejected']} rejected)")
        print(f"speed-up with 2 workers: {rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
