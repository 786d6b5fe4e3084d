"""``checkpoints/<sub_name>/``: a run's checkpoints, config snapshot, label map and trained models.

A run resumes from its newest readable checkpoint: a damaged newest one (a
truncated or unreadable file) falls back to the one before, with a warning;
an unreadable or missing state file ``ckpt/checkpoint`` is bypassed by
scanning ``ckpt/`` for checkpoints. A folder that holds a trained model but no
checkpoint to resume from is refused: training would start again at step 0
and overwrite that model. So is a folder holding a run of a different
architecture (naming the key that differs) and, for stage two, one built on
another stage-one model. A refusal changes nothing in the folder.

Every file is written whole or not at all (``lateral.atomic_write``), so a
kill at any moment leaves the previous version. The SavedModel export is a
folder, swapped in by two renames: a kill between them leaves the previous
export as ``<name>.previous``, put back by the next export
(``export_atomically``).

One process trains a run folder at a time: ``hold_run_folder`` takes the OS
file lock ``<sub_name>.lock`` beside it (the gallery's kind of lock,
``filelock``) until the process ends; a second training of the same folder is
refused naming the holder's PID and start time. In a multi-worker job only
the chief takes it, so the job's own workers are never refused.
"""

import datetime
import json
import os
import re
import shutil
import sys
from pathlib import Path

import filelock
import tensorflow as tf
import yaml

from lateral.atomic_write import replacing, sync_folder, write_atomically
from lateral.config import ConfigError, build_config, snapshot
from lateral.runs import (  # noqa: F401  (re-exported: the run folder's file names live in lateral.runs)
    CHECKPOINT_FOLDER, CHECKPOINT_PREFIX, CODES_MODEL, CONFIG_SNAPSHOT, EMBEDDING_MODEL, LABEL_MAP, SAVED_MODEL,
    STAGE_ONE_RECORD, TRAINED_MODELS, RunFolderError,
)

START_OVER = "to train from scratch choose another sub_name, or move this folder away"

# What restoring a damaged checkpoint raises: a truncated file (IndexError), a missing or unreadable
# one (tf.errors.OpError: DataLossError, NotFoundError, ...).
DAMAGED_CHECKPOINT_ERRORS = (tf.errors.OpError, IndexError, OSError)
# What restoring a readable checkpoint of another model raises.
MISMATCH_ERRORS = (AssertionError, ValueError)


class RunDirectoryError(RunFolderError):
    """A run folder that training refuses (another architecture, nothing to resume, ...)."""


def warn(message):
    print(f"warning: {message}", file=sys.stderr)


def save_model_atomically(model, path):
    """``model.save(path)``, through a temporary file: a kill mid-save leaves the previous model."""
    with replacing(path, suffix=path.suffix) as temporary:  # Keras wants the .keras suffix
        model.save(temporary)


def export_atomically(model, path):
    """``model.export(path)`` (a SavedModel folder), exported beside it and then swapped in by two renames.

    A kill between the renames leaves the previous export as ``<name>.previous``
    and none at ``path``: the next export puts it back before it starts, so a
    failed export still leaves it in place.
    """
    partial = path.with_name(path.name + ".partial")
    previous = path.with_name(path.name + ".previous")
    if previous.exists() and not path.exists():
        os.replace(previous, path)
    shutil.rmtree(partial, ignore_errors=True)  # a leftover of an export that was killed
    model.export(str(partial), verbose=False)
    if path.exists():
        shutil.rmtree(previous, ignore_errors=True)
        os.replace(path, previous)
        os.replace(partial, path)
        shutil.rmtree(previous)
    else:
        os.replace(partial, path)
    sync_folder(path.parent)


_HELD = {}  # lock file -> its FileLock, held until this process ends


def _is_chief():
    """Whether this process is the chief of its tf.distribute job (a process without TF_CONFIG is its own)."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    except ValueError:
        return True  # TensorFlow itself refuses a malformed TF_CONFIG
    task = config.get("task") or {}
    if not task:
        return True
    has_chief = "chief" in (config.get("cluster") or {})
    return task.get("type") == "chief" or (task.get("type") == "worker" and int(task.get("index", 0)) == 0
                                           and not has_chief)


def hold_run_folder(path):
    """Lock the run folder ``path`` for this process (the chief only), or raise naming the process holding it."""
    if not _is_chief():
        return
    lock_file = Path(path).with_name(Path(path).name + ".lock")
    if str(lock_file) in _HELD:
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        holder = lock_file.read_text().strip()  # read before trying: an older filelock truncates on open
    except OSError:
        holder = ""
    lock = filelock.FileLock(lock_file, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise RunDirectoryError(f"{path} is being trained by another process ({holder or 'unknown PID'}; lock "
                                f"{lock_file}); wait for it to finish or choose another sub_name (nothing was "
                                "changed)") from None
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    lock_file.write_text(f"PID {os.getpid()}, started {started}\n")
    _HELD[str(lock_file)] = lock


class RunDirectory:
    def __init__(self, root, sub_name):
        self.path = Path(root) / sub_name
        self.sub_name = sub_name

    @property
    def embedding_model(self):
        return self.path / EMBEDDING_MODEL

    @property
    def checkpoint_folder(self):
        return self.path / CHECKPOINT_FOLDER

    def trained_models(self):
        return [name for name in TRAINED_MODELS if (self.path / name).is_file()]

    def checkpoint_prefixes(self):
        """Every checkpoint in ``ckpt/`` (by its index file), newest first, whatever the state file says."""
        if not self.checkpoint_folder.is_dir():
            return []
        numbered = []
        for index_file in self.checkpoint_folder.glob(f"{CHECKPOINT_PREFIX}-*.index"):
            match = re.fullmatch(rf"{CHECKPOINT_PREFIX}-(\d+)\.index", index_file.name)
            if match:
                numbered.append((int(match.group(1)), str(index_file.with_suffix(""))))
        return [prefix for _, prefix in sorted(numbered, reverse=True)]

    def check_compatible(self, config, architecture_keys, num_classes):
        """Raise if this folder holds a run whose architecture differs (``architecture_keys``: "section.key"), or
        a trained model with nothing to resume."""
        self.check_resumable()
        snapshot_file = self.path / CONFIG_SNAPSHOT
        if not snapshot_file.exists():
            return
        try:
            previous = yaml.safe_load(snapshot_file.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise RunDirectoryError(f"{snapshot_file} is damaged ({error}); {START_OVER}") from None
        try:  # flat or in sections, old names too; a key newer than the run has its default
            previous = build_config(previous, snapshot_file)
        except ConfigError as error:
            raise RunDirectoryError(f"{snapshot_file} is damaged ({error}); {START_OVER}") from None
        for path in architecture_keys:
            section, key = path.split(".")
            before, now = getattr(getattr(previous, section), key), getattr(getattr(config, section), key)
            if before != now:
                raise RunDirectoryError(
                    f"{self.path} holds a run with {key}={before!r}, this config has {now!r}; "
                    "choose another sub_name (nothing was changed)"
                )
        label_map_file = self.path / LABEL_MAP
        if label_map_file.exists():
            try:
                previous_classes = len(json.loads(label_map_file.read_text()))
            except (ValueError, TypeError) as error:
                raise RunDirectoryError(f"{label_map_file} is damaged ({error}); {START_OVER}") from None
            if previous_classes != num_classes:
                raise RunDirectoryError(
                    f"{self.path} holds a run trained on {previous_classes} classes; this training set has "
                    f"{num_classes}; choose another sub_name (nothing was changed)"
                )

    def check_resumable(self):
        """A trained model with no checkpoint at all beside it: training would restart at 0 and overwrite it."""
        models = self.trained_models()
        if models and not self.checkpoint_prefixes():
            raise RunDirectoryError(
                f"{self.path} holds a trained model ({', '.join(models)}) but no checkpoint in "
                f"{self.checkpoint_folder} to resume from; {START_OVER} (nothing was changed)"
            )

    def check_stage_one(self, stage_one_path, fingerprint):
        """Stage two: refuse a folder whose head was trained on another stage-one model.

        Returns the record of this model, which ``write_metadata`` keeps in the folder.
        """
        record_file = self.path / STAGE_ONE_RECORD
        current = {"path": str(Path(stage_one_path).resolve()), "fingerprint": fingerprint}
        if record_file.is_file():
            try:
                recorded = json.loads(record_file.read_text())
                recorded_fingerprint, recorded_path = recorded["fingerprint"], recorded["path"]
            except (ValueError, KeyError, TypeError) as error:
                raise RunDirectoryError(f"{record_file} is damaged ({error}); {START_OVER}") from None
            if recorded_fingerprint != fingerprint:
                raise RunDirectoryError(
                    f"{self.path} holds an IoM head trained on the stage-one model {recorded_path} (weights "
                    f"{recorded_fingerprint[:12]}…), but this config points to {current['path']} (weights "
                    f"{fingerprint[:12]}…), a different model: resuming would put the old head on another "
                    "network. Use another sub_name for a head on the new model (nothing was changed)"
                )
            return current
        if self.trained_models() or self.checkpoint_prefixes():
            raise RunDirectoryError(
                f"{self.path} holds a stage-two run that does not record which stage-one model it was built on "
                f"({STAGE_ONE_RECORD} is missing); it cannot be resumed safely: {START_OVER} (nothing was changed)"
            )
        return current

    def write_metadata(self, config, label_map, stage_one=None):
        """The config snapshot and label map (and, for stage two, the stage-one record), each written whole."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path / CONFIG_SNAPSHOT, yaml.safe_dump(snapshot(config), sort_keys=False))
        write_atomically(self.path / LABEL_MAP, json.dumps(label_map, indent=2) + "\n")
        if stage_one is not None:
            write_atomically(self.path / STAGE_ONE_RECORD, json.dumps(stage_one, indent=2) + "\n")

    def resume(self, max_to_keep=3, writer=None, **trackables):
        """A CheckpointManager for ``trackables``, restored from the newest readable checkpoint if there is one.

        Returns (manager, restored prefix or None). Keeps ``max_to_keep`` checkpoints, so a damaged newest
        one leaves older ones to fall back on. The manager saves into ``writer`` (a RunDirectory: a
        multi-worker job's non-chief worker restores from the run folder and saves into a temporary one,
        ``lateral.training.workers``), by default into this folder.
        """
        checkpoint = tf.train.Checkpoint(**trackables)
        restored = self._restore_newest_readable(checkpoint)
        if writer is not None and writer.path != self.path:
            manager = tf.train.CheckpointManager(checkpoint, str(writer.checkpoint_folder), max_to_keep=max_to_keep)
            return manager, restored
        return self._manager(checkpoint, max_to_keep, restored), restored

    def _restore_newest_readable(self, checkpoint):
        prefixes = self.checkpoint_prefixes()
        listed = self._listed_latest()
        if prefixes and listed is None:
            warn(f"{self.checkpoint_folder / 'checkpoint'} is missing or unreadable; "
                 f"found the checkpoints by their files")
        damaged = []
        for prefix in prefixes:
            try:
                checkpoint.restore(prefix).assert_existing_objects_matched()
            except DAMAGED_CHECKPOINT_ERRORS as error:
                damaged.append(f"{Path(prefix).name} ({str(error).splitlines()[0][:120]})")
                continue
            except MISMATCH_ERRORS as error:
                raise RunDirectoryError(
                    f"checkpoint {prefix} does not fit this model: {str(error).splitlines()[0]}"
                ) from None
            if damaged:
                warn(f"damaged checkpoint(s) in {self.checkpoint_folder}: {'; '.join(damaged)}; "
                     f"resuming from {Path(prefix).name}, the newest readable one")
            return prefix
        if damaged:
            raise RunDirectoryError(
                f"none of the checkpoints in {self.checkpoint_folder} can be read ({'; '.join(damaged)}); "
                f"{START_OVER} (nothing was changed)"
            )
        return None

    def _listed_latest(self):
        """The newest checkpoint the state file ``ckpt/checkpoint`` names, or None if it names none or is unreadable."""
        try:
            state = tf.train.get_checkpoint_state(str(self.checkpoint_folder))
        except (ValueError, tf.errors.OpError):  # an empty state file (a garbled one is logged and ignored)
            return None
        return state.model_checkpoint_path if state and state.model_checkpoint_path else None

    def _manager(self, checkpoint, max_to_keep, restored):
        if self._listed_latest() is None:
            state_file = self.checkpoint_folder / "checkpoint"
            if state_file.exists():  # kept aside: a user's file is never deleted
                os.replace(state_file, state_file.with_name("checkpoint.unreadable"))
                warn(f"{state_file} was unreadable; kept as {state_file.name}.unreadable, a new one is started")
            if restored:  # a new state file naming the checkpoints found, for every tool that reads it
                prefixes = self.checkpoint_prefixes()
                kept = list(reversed(prefixes[prefixes.index(restored):]))
                tf.compat.v1.train.update_checkpoint_state(
                    str(self.checkpoint_folder), Path(restored).name,
                    all_model_checkpoint_paths=[Path(prefix).name for prefix in kept],
                    all_model_checkpoint_timestamps=[os.path.getmtime(prefix + ".index") for prefix in kept],
                )
        return tf.train.CheckpointManager(checkpoint, str(self.checkpoint_folder), max_to_keep=max_to_keep)
