"""Loading a prepared dataset (``prepare_data.py``'s output) into memory.

ROIs are small (tens of kB), so a dataset of tens of thousands of photos fits
in memory as encoded bytes; sampling balanced batches is then index
arithmetic in the graph, with no Python in the hot loop.
"""

import dataclasses
from pathlib import Path

import numpy as np
import tensorflow as tf

from lateral.data.tfrecord import SHARD_GLOB, parse_example
from lateral.user_errors import UserError


class DatasetError(UserError):
    """A dataset is missing, empty or corrupt; the message names the file."""


@dataclasses.dataclass(frozen=True)
class RoiSet:
    images: np.ndarray  # object array of encoded image bytes
    labels: np.ndarray  # int64 class index per image
    fish_ids: np.ndarray  # str
    sessions: np.ndarray  # str
    sources: np.ndarray  # str
    flanks: np.ndarray  # str
    label_map: dict  # class name -> index

    def __len__(self):
        return len(self.labels)

    def subset(self, keep):
        keep = np.asarray(keep)
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return RoiSet(**{k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in fields.items()})

    def relabelled(self):
        """The same images with labels renumbered 0..C-1 over the classes present."""
        names = {index: name for name, index in self.label_map.items()}
        present = sorted({names[label] for label in self.labels})
        label_map = {name: index for index, name in enumerate(present)}
        labels = np.array([label_map[names[label]] for label in self.labels], np.int64)
        return dataclasses.replace(self, labels=labels, label_map=label_map)


def shard_paths(dataset):
    """TFRecord shards of a prepared folder, or of an explicit file or glob."""
    path = Path(dataset)
    if path.is_dir():
        folder = path / "tfrecords" if (path / "tfrecords").is_dir() else path
        shards = sorted(folder.glob(SHARD_GLOB)) or sorted(folder.glob("*.tfrecord"))
    elif path.is_file():
        shards = [path]
    else:
        shards = sorted(Path(p) for p in tf.io.gfile.glob(str(dataset)))
    if not shards:
        raise DatasetError(f"no TFRecord shards found at {dataset} (run prepare_data.py first)")
    return shards


def load_roi_set(dataset, class_by="fish"):
    """Read every record of ``dataset``; classes are fish ids or (fish id, flank) pairs.

    A corrupt shard fails naming the shard.
    """
    rows = {name: [] for name in ("image", "fish_id", "session", "source", "flank")}
    for shard in shard_paths(dataset):
        try:
            for serialized in tf.data.TFRecordDataset(str(shard)):
                example = parse_example(serialized)
                for name in rows:
                    rows[name].append(example[name].numpy())
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
            raise DatasetError(f"corrupt TFRecord shard {shard}: {error.message.splitlines()[0]}") from None
    if not rows["image"]:
        raise DatasetError(f"the TFRecord shards at {dataset} hold no records")
    images = np.empty(len(rows["image"]), object)
    images[:] = rows["image"]
    text = {name: np.array([value.decode() for value in rows[name]]) for name in rows if name != "image"}
    names = class_names(text["fish_id"], text["flank"], class_by)
    label_map = {name: index for index, name in enumerate(sorted(set(names)))}
    labels = np.array([label_map[name] for name in names], np.int64)
    return RoiSet(images, labels, text["fish_id"], text["session"], text["source"], text["flank"], label_map)


def without_undecodable(roi_set):
    """(the images TensorFlow can decode, sources of those it cannot): ``tf.io.decode_image``, the
    pipeline's own decoder, tried on each image once."""
    bad = []
    for index, encoded in enumerate(roi_set.images):
        try:
            tf.io.decode_image(encoded, channels=3, expand_animations=False)
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
            bad.append(index)
    if not bad:
        return roi_set, []
    return roi_set.subset(np.setdiff1d(np.arange(len(roi_set)), bad)).relabelled(), list(roi_set.sources[bad])


def class_names(fish_ids, flanks, class_by):
    if class_by == "fish":
        return list(fish_ids)
    if class_by == "fish_flank":
        return [f"{fish}/{flank}" for fish, flank in zip(fish_ids, flanks)]
    raise ValueError(f"class_by must be 'fish' or 'fish_flank', got {class_by!r}")
