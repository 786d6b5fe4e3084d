"""Stage two: train the IoM hashing head on the (frozen) stage-one embedding network.

With the backbone frozen and augmentation off, every training image's
embedding is computed once and the head trains on those (the fast path);
otherwise images flow through the embedding network at every step.
"""

import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from lateral.config import ConfigError, require
from lateral.data.augment import build_augmentation
from lateral.data.pipeline import evaluation_dataset, training_dataset
from lateral.data.records import load_roi_set
from lateral.data.split import keep_fish, split_roi_set
from lateral.losses.iom_objective import build_iom_objective, term_settings
from lateral.models.iom import IoMProjection, build_codes_model, soft_codes
from lateral.models.saved import load_model, weights_fingerprint
from lateral.training.optimization import build_optimizer, learning_rate_schedule
from lateral.training.precision import apply_policy
from lateral.training.divergence import check_finite
from lateral.training.run_directory import (
    CODES_MODEL, EMBEDDING_MODEL, SAVED_MODEL, RunDirectory, RunDirectoryError, export_atomically,
    save_model_atomically,
)
from lateral.training.stage_one import index_batches_for
from lateral.measures import hamming_similarity
from lateral.training.validation import rank1_accuracy

ARCHITECTURE_KEYS = ("input_size", "m", "q", "hidden_layer_remark", "freeze_backbone", "class_by")
LOG_STEPS = 10


def stage_one_model_path(config, checkpoint_root):
    if config.stage_one_model:
        return Path(config.stage_one_model)
    if not config.first_sub_name:
        raise ConfigError("missing required key '1st_sub_name' (or 'stage_one_model') for train_twostage.py")
    return Path(checkpoint_root) / config.first_sub_name / EMBEDDING_MODEL


def load_stage_one(path, input_size):
    if not path.is_file():
        raise RunDirectoryError(f"stage-one model not found: {path} (train stage one first: python train.py ...)")
    try:
        model = load_model(path)
    except Exception as error:
        raise RunDirectoryError(f"{path} is not a loadable stage-one model: {error}") from None
    if tuple(model.input_shape[1:3]) != tuple(input_size):
        raise ConfigError(f"'input_size' {list(input_size)} differs from the stage-one model's {list(model.input_shape[1:3])} ({path})")
    if len(model.output_shape) != 2:
        raise RunDirectoryError(f"{path} does not output [batch, embedding] vectors: {model.output_shape}")
    return model


def embed(model, roi_set, input_size, batch_size):
    return np.concatenate([model(images, training=False).numpy()
                           for images, _ in evaluation_dataset(roi_set, input_size, batch_size)])


def hardest_distances(labels, codes):
    """Mean over anchors of the hardest positive and the hardest negative angle between code vectors."""
    unit = tf.math.l2_normalize(codes, axis=1)
    angles = tf.acos(tf.clip_by_value(tf.matmul(unit, unit, transpose_b=True), -1 + 1e-7, 1 - 1e-7))
    same = tf.equal(labels[:, None], labels[None, :])
    positive = tf.reduce_max(tf.where(same, angles, 0.0), axis=1)
    negative = tf.reduce_min(tf.where(same, np.pi, angles), axis=1)
    return tf.reduce_mean(positive), tf.reduce_mean(negative)


def divergence_remedy(config, outputs_finite):
    """What to change when stage-two loss terms stop being finite: (non-finite term names) -> advice."""

    def remedy(bad_terms):
        if not outputs_finite:
            return (f"the IoM head's outputs were not finite (its weights diverged): "
                    f"lower base_lr (now {config.base_lr:g})")
        settings = term_settings(config)
        keys = dict.fromkeys(key for term in bad_terms for key in settings[term])
        shown = ", ".join(f"{key}={getattr(config, key)!r}" for key in keys)
        return f"the IoM head's outputs were finite: check that term's settings ({shown}, T={config.T!r})"

    return remedy


def train_stage_two(config, checkpoint_root="checkpoints", log_root="logs", progress=True):
    """Train (or resume) the IoM head of run ``config.sub_name``; returns the per-step history."""
    require(config, ["train_dataset"], "train_twostage.py")
    objective = build_iom_objective(config)
    apply_policy(config.mixed_precision)
    keras.utils.set_random_seed(config.seed)  # initial weights and augmentation draws repeat with the seed
    stage_one_path = stage_one_model_path(config, checkpoint_root)
    embedding_model = load_stage_one(stage_one_path, config.input_size)
    stage_one = weights_fingerprint([embedding_model])  # before any training can change the weights
    roi_set = keep_fish(load_roi_set(config.train_dataset, config.class_by), config.held_out_fish, keep=False)
    train_set, validation_set = split_roi_set(roi_set, config.split, config.val_fraction, config.val_sessions,
                                              config.seed)
    index_batches, global_batch = index_batches_for(config, train_set)
    steps_per_epoch = config.steps_per_epoch or max(1, len(train_set) // global_batch)
    total_steps = config.epochs * steps_per_epoch
    run = RunDirectory(checkpoint_root, config.sub_name)
    run.check_compatible(config, ARCHITECTURE_KEYS, len(train_set.label_map))
    stage_one_record = run.check_stage_one(stage_one_path, stage_one)

    augment = build_augmentation(config.augment)
    cached = config.freeze_backbone and augment is None
    embedding_model.trainable = not config.freeze_backbone
    if cached:  # fast path: the frozen network's embeddings, once
        embeddings = tf.constant(embed(embedding_model, train_set, config.input_size, config.eval_batch_size))
        labels = tf.constant(train_set.labels)
        batches = index_batches.map(lambda index: (tf.gather(embeddings, index), tf.gather(labels, index))).prefetch(
            tf.data.AUTOTUNE
        )
        encode = tf.identity
    else:
        batches = training_dataset(train_set, index_batches, config.input_size, augment)

        def encode(images):
            return embedding_model(images, training=not config.freeze_backbone)

    projection = IoMProjection(config.m, config.q, int(config.hidden_layer_remark), config.bn_momentum,
                               name="iom_projection")
    projection.build((None, embedding_model.output_shape[-1]))
    warmup_steps = int(config.warmup_epochs * steps_per_epoch)
    schedule = learning_rate_schedule(config.base_lr, config.lr_schedule, total_steps, warmup_steps)
    optimizer = build_optimizer(config.optimizer, schedule, config.momentum, config.w_decay)
    variables = projection.trainable_variables + embedding_model.trainable_variables
    optimizer.build(variables)
    trackables = dict(projection=projection, optimizer=optimizer)
    if not config.freeze_backbone:
        trackables["embedding"] = embedding_model
    manager, restored = run.resume(**trackables)
    if restored:
        print(f"resuming {run.path} at step {int(optimizer.iterations.numpy())}")
    run.write_metadata(config, train_set.label_map, stage_one_record)

    @tf.function
    def train_step(inputs, batch_labels):
        with tf.GradientTape() as tape:
            logits = projection(encode(inputs), training=True)
            total, terms = objective(batch_labels, logits)
        optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
        positive, negative = hardest_distances(batch_labels, soft_codes(logits, config.T))
        outputs_finite = tf.reduce_all(tf.math.is_finite(logits))
        return total, terms, positive, negative, tf.argmax(logits, axis=-1), outputs_finite

    writer = tf.summary.create_file_writer(f"{log_root}/{config.sub_name}")
    codes_model = build_codes_model(embedding_model, projection)
    history = {"loss": [], "seconds": []}
    iterator = iter(batches)
    start = int(optimizer.iterations.numpy())
    with tqdm(total=total_steps, initial=start, desc="training IoM head", unit="step", disable=not progress) as bar:
        for _ in range(start, total_steps):
            began = time.perf_counter()
            total, terms, positive, negative, hard_codes, outputs_finite = train_step(*next(iterator))
            loss = float(total)
            history["seconds"].append(time.perf_counter() - began)
            step = int(optimizer.iterations.numpy())
            check_finite(step, {name: float(value) for name, value in terms.items()},
                         divergence_remedy(config, bool(outputs_finite)))
            history["loss"].append(loss)
            bar.update()
            bar.set_postfix(loss=f"{loss:.3f}", positive=f"{float(positive):.2f}", negative=f"{float(negative):.2f}")
            if step % LOG_STEPS == 0 or step == total_steps:
                with writer.as_default(step=step):
                    tf.summary.scalar("loss", loss)
                    for name, value in terms.items():
                        tf.summary.scalar(name, value)
                    tf.summary.scalar("hardest_positive_angle", positive)
                    tf.summary.scalar("hardest_negative_angle", negative)
                    tf.summary.histogram("codes", hard_codes)
            epoch_ends = step % steps_per_epoch == 0
            if step % config.save_steps == 0 or epoch_ends:
                manager.save(checkpoint_number=step)
            if epoch_ends and validation_set is not None:
                codes = codes_model.predict(evaluation_dataset(validation_set, config.input_size,
                                                               config.eval_batch_size).map(lambda x, _: x), verbose=0)
                rank1 = rank1_accuracy(hamming_similarity(codes, codes), validation_set.labels)
                with writer.as_default(step=step):
                    tf.summary.scalar("val_rank1_hamming", rank1)
                print(f"epoch {step // steps_per_epoch}: validation rank-1 (Hamming on IoM codes) {rank1:.3f}")
    embedding_model.trainable = False
    # The saved templates use the config's key; training and validation ran with the identity.
    codes_model = build_codes_model(embedding_model, projection, key=config.permutation_key)
    save_model_atomically(codes_model, run.path / CODES_MODEL)
    save_model_atomically(embedding_model, run.embedding_model)
    export_atomically(codes_model, run.path / SAVED_MODEL)
    return history
