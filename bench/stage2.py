"""Stage-two head training speed with and without the cached-embedding fast path.

    python bench/stage2.py [--steps 250] [--backbone MobileNetV2]

Trains a throw-away stage-one network for one step (weights do not matter for
speed), then the IoM head (one hidden layer, batch-hard arc triplet loss,
Adam, batches of 8 fish x 4 images at 112x112) twice per head size in the
same run: on embeddings computed once (frozen backbone, no augmentation; the
step is XLA-compiled) and on images through the frozen backbone at every step
(what augmentation forces). Two heads: m=256, q=8 (this bench's head since it
was written: 5.2 M parameters) and m=64, q=8 (the config's default: 0.5 M).
Prints steps/s of each over the steps after the first compiled call (which
traces the graph; the fast path runs ``STEPS_PER_CALL`` steps a call, the
other one) and their ratio; the whole run's time, set-up and the one-off
embedding pass included, is printed beside it.

On the fast path a step's arithmetic is small (forward and backward of the
head on 32 vectors: under a millisecond); what bounds it is memory traffic.
Adam reads each weight, its gradient and its two moments and writes three of
them back: at least 7 x 4 bytes per parameter per step. The bench measures
this machine's copy bandwidth and prints the ceiling that traffic allows.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from lateral import synthetic
from lateral.config import AugmentConfig, PreprocessConfig, config_from_keys, replace_keys
from lateral.data.prepare import prepare
from lateral.models.iom import IoMProjection
from lateral.training.stage_one import train_stage_one
from lateral.training.stage_two import STEPS_PER_CALL, train_stage_two


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--backbone", default="MobileNetV2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        synthetic.render_dataset(scratch / "raw", ids=16, sessions=1, per_id=6, size=(640, 480))
        prepare(scratch / "raw", scratch / "prepared", PreprocessConfig(), (112, 112), progress=False)
        no_augmentation = AugmentConfig(random_crop=False, saturation=False, brightness=False)
        base = config_from_keys("bench_stage1", train_dataset=str(scratch / "prepared"), input_size=(112, 112),
                                backbone_type=args.backbone, split="none", epochs=1, steps_per_epoch=1,
                                augment=no_augmentation, mixed_precision="float32")
        train_stage_one(base, "eager_tf", checkpoint_root=scratch / "ckpt", log_root=scratch / "logs", progress=False)
        bandwidth = copy_bandwidth()
        print(f"memory copy bandwidth {bandwidth / 1e9:.1f} GB/s (bytes read + written per second, best of 5)")
        for m, q in ((256, 8), (64, 8)):
            parameters = head_parameters(m, q, base.model.embedding_size)
            print(f"\nIoM head m={m}, q={q}: {parameters / 1e6:.1f} M parameters; Adam's traffic allows at most "
                  f"{bandwidth / (7 * 4 * parameters):.0f} steps/s")
            stage_two = replace_keys(base, sub_name="bench_iom", first_sub_name="bench_stage1", m=m, q=q,
                                     steps_per_epoch=args.steps, algorithm="adam", base_lr=1e-3)
            rates = {}
            for name, augment, steps_per_call in (
                    ("cached embeddings", no_augmentation, STEPS_PER_CALL),
                    ("images through the backbone", AugmentConfig(random_crop=True, saturation=False, brightness=False),
                     1)):
                config = replace_keys(stage_two, sub_name=f"bench_iom_{m}_{len(rates)}", augment=augment)
                started = time.perf_counter()
                history = train_stage_two(config, scratch / "ckpt", scratch / "logs", progress=False)
                after_tracing = history["seconds"][min(steps_per_call, args.steps - 1):]
                rates[name] = len(after_tracing) / np.sum(after_tracing)
                print(f"{name:28s} {rates[name]:8.1f} steps/s  "
                      f"(whole run incl. set-up {time.perf_counter() - started:5.1f} s)")
            print(f"fast-path speed-up: {rates['cached embeddings'] / rates['images through the backbone']:.1f}x")


def copy_bandwidth(megabytes=256, repeats=5):
    """Bytes read plus written per second by a NumPy copy of ``megabytes``, the best of ``repeats``."""
    source = np.ones(megabytes * 2**20 // 4, np.float32)
    target = np.empty_like(source)
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        np.copyto(target, source)
        best = min(best, time.perf_counter() - started)
    return 2 * source.nbytes / best


def head_parameters(m, q, embedding_size):
    projection = IoMProjection(m, q, 1)
    projection.build((None, embedding_size))
    return sum(int(np.prod(variable.shape)) for variable in projection.trainable_variables)


if __name__ == "__main__":
    main()
