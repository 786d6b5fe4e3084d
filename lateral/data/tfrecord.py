"""Sharded TFRecords of ROI images: one ``tf.train.Example`` per ROI.

Features: ``image`` (the encoded ROI file's bytes, unchanged), ``label``
(int64, from ``label_map.json``), ``fish_id``, ``session``, ``source`` (path
relative to the photo folder) and ``flank`` (``left``, ``right`` or
``unknown``), all bytes.
"""

from pathlib import Path

import tensorflow as tf

from lateral.atomic_write import replacing

SHARD_PATTERN = "rois-{index:05d}-of-{count:05d}.tfrecord"
SHARD_GLOB = "rois-*-of-*.tfrecord"

FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
    "fish_id": tf.io.FixedLenFeature([], tf.string),
    "session": tf.io.FixedLenFeature([], tf.string),
    "source": tf.io.FixedLenFeature([], tf.string),
    "flank": tf.io.FixedLenFeature([], tf.string),
}


def serialize_example(image_bytes, label, fish_id, session, source, flank):
    def as_bytes(value):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    feature = {
        "image": as_bytes(image_bytes),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "fish_id": as_bytes(fish_id.encode()),
        "session": as_bytes(session.encode()),
        "source": as_bytes(source.encode()),
        "flank": as_bytes(flank.encode()),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def parse_example(serialized):
    return tf.io.parse_single_example(serialized, FEATURES)


def write_shards(examples, out_dir, records_per_shard):
    """Write serialized examples into shards; replaces this writer's own old shards only.

    Each shard is written through ``lateral.atomic_write.replacing``, so an
    interrupted run never leaves a half-written shard under a real name.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    count = max(1, -(-len(examples) // records_per_shard))
    written = []
    for index in range(count):
        path = out_dir / SHARD_PATTERN.format(index=index, count=count)
        with replacing(path) as temporary, tf.io.TFRecordWriter(str(temporary)) as writer:
            for example in examples[index * records_per_shard : (index + 1) * records_per_shard]:
                writer.write(example)
        written.append(path)
    for stale in set(out_dir.glob(SHARD_GLOB)) - set(written):
        stale.unlink()
    return written
