"""Stage-one training throughput: the real TFRecord pipeline against in-memory tensors.

    python bench/train_throughput.py [--steps 8] [--backbones MobileNetV2 ResNet50] [--input_size 112]

For each backbone at 112x112 (or --input_size; ArcHead, balanced batches of
8 fish x 4 images, augmentation on), times the same compiled train step fed (a) by the pipeline
that reads, decodes, resizes and augments prepared TFRecords and (b) by one
batch already in memory, in blocks that take turns in the same run, and prints
each one's best images/s and the pipeline's cost.
"""

import argparse
import tempfile
import time
from pathlib import Path

import tensorflow as tf

from lateral import synthetic
from lateral.config import AugmentConfig, PreprocessConfig
from lateral.data.augment import build_augmentation
from lateral.data.pipeline import training_dataset
from lateral.data.prepare import prepare
from lateral.data.records import load_roi_set
from lateral.data.sampler import balanced_index_batches
from lateral.models.embedding import build_embedding_model
from lateral.models.heads import build_head
from lateral.training.engine import compile_steps
from lateral.training.optimization import build_optimizer
from lateral.training.stage_one import classification_step, cross_entropy, training_model

CLASSES, SAMPLES = 8, 4
ONE_STEP = tf.constant(1)


def block_rate(train_step, batches, steps):
    """Images/s over ``steps`` consecutive steps, one per call as stage one runs them (the last result
    fetched, so all have finished)."""
    started = time.perf_counter()
    for _ in range(steps):
        _, scalars, _ = train_step(batches, ONE_STEP)
    float(scalars["loss"][0])
    return steps * CLASSES * SAMPLES / (time.perf_counter() - started)


def images_per_second(train_step, sources, steps, rounds=2):
    """Best images/s of each source over ``rounds`` blocks, the sources' blocks taking turns.

    Whole blocks, not single steps, take turns: a pipeline prefetches the next
    batch in the background, which would otherwise run during the other
    source's step. Taking each source's best block discounts other load on the machine.
    """
    train_step(sources[0], ONE_STEP)  # trace and warm up
    best = [0.0] * len(sources)
    for _ in range(rounds):
        for index, batches in enumerate(sources):
            best[index] = max(best[index], block_rate(train_step, batches, steps))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--backbones", nargs="+", default=["MobileNetV2", "ResNet50"])
    parser.add_argument("--input_size", type=int, default=112, help="side of the square input, in pixels")
    args = parser.parse_args()
    input_size = (args.input_size, args.input_size)
    with tempfile.TemporaryDirectory() as scratch:
        raw, prepared = Path(scratch) / "raw", Path(scratch) / "prepared"
        synthetic.render_dataset(raw, ids=16, sessions=1, per_id=6, size=(640, 480))
        prepare(raw, prepared, PreprocessConfig(), input_size, progress=False)
        roi_set = load_roi_set(prepared)
        indices = balanced_index_batches(roi_set.labels, CLASSES, SAMPLES)
        pipeline = training_dataset(roi_set, indices, input_size, build_augmentation(AugmentConfig()))
        in_memory = next(iter(pipeline))
        print(f"{len(roi_set)} ROIs, batches of {CLASSES}x{SAMPLES}, {input_size[0]}x{input_size[1]}, "
              f"{args.steps} timed steps each")
        for backbone in args.backbones:
            embedding = build_embedding_model(input_size, backbone, 512)
            model = training_model(embedding, build_head("ArcHead", len(roi_set.label_map), 0.5, 64), input_size)
            train_step = compile_steps(tf.distribute.get_strategy(), build_optimizer("sgd", 0.01, 0.9, 5e-4),
                                       model.trainable_variables,
                                       classification_step(model, cross_entropy(), "ArcHead cross-entropy"))
            resident_batches = tf.data.Dataset.from_tensors(in_memory).repeat()
            fed, resident = images_per_second(train_step, [iter(pipeline), iter(resident_batches)], args.steps)
            print(f"{backbone:12s} pipeline {fed:7.1f} img/s   in memory {resident:7.1f} img/s   "
                  f"pipeline cost {100 * (1 - fed / resident):5.1f}%")


if __name__ == "__main__":
    main()
