"""``checkpoints/<sub_name>/``: a run's checkpoints, config snapshot and label map.

A run resumes from its latest checkpoint. A folder holding a run of a
different architecture is never overwritten: the run stops before training,
naming the key that differs.
"""

import json
from pathlib import Path

import tensorflow as tf
import yaml

from lateral.config import snapshot

CONFIG_SNAPSHOT = "config.yaml"
LABEL_MAP = "label_map.json"
EMBEDDING_MODEL = "embedding.keras"


class RunDirectoryError(ValueError):
    pass


class RunDirectory:
    def __init__(self, root, sub_name):
        self.path = Path(root) / sub_name
        self.sub_name = sub_name

    @property
    def embedding_model(self):
        return self.path / EMBEDDING_MODEL

    def check_compatible(self, config, architecture_keys, num_classes):
        """Raise if this folder already holds a run whose architecture differs."""
        snapshot_file = self.path / CONFIG_SNAPSHOT
        if not snapshot_file.exists():
            return
        previous = yaml.safe_load(snapshot_file.read_text())
        current = snapshot(config)
        defaults = snapshot(type(config)(sub_name=config.sub_name))  # a key newer than the run: its default
        for key in architecture_keys:
            if previous.get(key, defaults[key]) != current[key]:
                raise RunDirectoryError(
                    f"{self.path} holds a run with {key}={previous.get(key)!r}, this config has {current[key]!r}; "
                    "choose another sub_name (nothing was changed)"
                )
        label_map_file = self.path / LABEL_MAP
        if label_map_file.exists():
            previous_classes = len(json.loads(label_map_file.read_text()))
            if previous_classes != num_classes:
                raise RunDirectoryError(
                    f"{self.path} holds a run trained on {previous_classes} classes; this training set has "
                    f"{num_classes}; choose another sub_name (nothing was changed)"
                )

    def write_metadata(self, config, label_map):
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / CONFIG_SNAPSHOT).write_text(yaml.safe_dump(snapshot(config), sort_keys=False))
        (self.path / LABEL_MAP).write_text(json.dumps(label_map, indent=2) + "\n")

    def checkpoint_manager(self, max_to_keep=3, **trackables):
        checkpoint = tf.train.Checkpoint(**trackables)
        return tf.train.CheckpointManager(checkpoint, str(self.path / "ckpt"), max_to_keep=max_to_keep)

    def restore_latest(self, manager):
        """Restore the newest checkpoint if there is one; True when restored."""
        if manager.latest_checkpoint is None:
            return False
        try:
            manager.checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            raise RunDirectoryError(
                f"checkpoint {manager.latest_checkpoint} does not fit this model: {str(error).splitlines()[0]}"
            ) from None
        return True
