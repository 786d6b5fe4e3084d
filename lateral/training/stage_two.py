"""Stage two: train the IoM hashing head on the (frozen) stage-one embedding network.

The recipe for the training engine (``lateral.training.engine``): the IoM
projection on the embedding network, the batches, the IoM objective (its
terms named by the non-finite guard) and, at each epoch's end, the
validation rank-1 under Hamming similarity of the codes.

With the backbone frozen and augmentation off, every training image's
embedding is computed once and the head trains on those (the fast path,
``STEPS_PER_CALL`` steps per compiled call: each is about a millisecond of
arithmetic); otherwise images flow through the embedding network at every
step. Under ``--strategy mirrored`` each replica mines its hardest pairs in
its share of the batch (whole identities: the balanced sampler groups a
batch by identity).
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from lateral.config import ConfigError, require
from lateral.data.augment import switched_on
from lateral.data.pipeline import embed_roi_set
from lateral.losses.iom_objective import build_iom_objective, term_settings
from lateral.measures import hamming_similarity
from lateral.models.iom import IoMProjection, build_codes_model, soft_codes
from lateral.models.saved import load_model, weights_fingerprint
from lateral.training.engine import (
    Engine, StepResult, replica_state, resumed_step, step_counter, untracked_state,
)
from lateral.training.precision import apply_policy
from lateral.training.registered_names import check_registered_names
from lateral.runs import CODES_MODEL, EMBEDDING_MODEL, SAVED_MODEL
from lateral.training.run_directory import (
    RunDirectory, RunDirectoryError, export_atomically, hold_run_folder, save_model_atomically,
)
from lateral.training.stage_setup import (
    checked_training_data, index_batches_for, training_batches, training_optimizer,
)
from lateral.training.strategies import STRATEGIES
from lateral.training.validation import rank1_accuracy
from lateral.training.workers import (
    check_same_start, is_chief, report_weights, summary_writer, worker_session,
)

ARCHITECTURE_KEYS = ("input_size", "m", "q", "hidden_layer_remark", "freeze_backbone", "class_by")
STEPS_PER_CALL = 50


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
        raise ConfigError(f"'input_size' {list(input_size)} differs from the stage-one model's "
                          f"{list(model.input_shape[1:3])} ({path})")
    if len(model.output_shape) != 2:
        raise RunDirectoryError(f"{path} does not output [batch, embedding] vectors: {model.output_shape}")
    return model


def hardest_distances(labels, codes):
    """Mean over anchors of the hardest positive and the hardest negative angle between code vectors."""
    unit = tf.math.l2_normalize(codes, axis=1)
    angles = tf.acos(tf.clip_by_value(tf.matmul(unit, unit, transpose_b=True), -1 + 1e-7, 1 - 1e-7))
    same = tf.equal(labels[:, None], labels[None, :])
    positive = tf.reduce_max(tf.where(same, angles, 0.0), axis=1)
    negative = tf.reduce_min(tf.where(same, np.pi, angles), axis=1)
    return tf.reduce_mean(positive), tf.reduce_mean(negative)


def divergence_remedy(config):
    """What to change when stage-two loss terms stop being finite: (non-finite term names, step's scalars) -> advice."""

    def remedy(bad_terms, scalars):
        if scalars["outputs_finite"] < 1:
            return (f"the IoM head's outputs were not finite (its weights diverged): "
                    f"lower base_lr (now {config.base_lr:g})")
        settings = term_settings(config.iom)
        keys = dict.fromkeys(key for term in bad_terms for key in settings[term])
        shown = ", ".join(f"{key}={getattr(config.iom, key)!r}" for key in keys)
        return f"the IoM head's outputs were finite: check that term's settings ({shown}, T={config.T!r})"

    return remedy


def train_stage_two(config, checkpoint_root="checkpoints", log_root="logs", progress=True, strategy_name="default"):
    """Train (or resume) the IoM head of run ``config.sub_name``; returns the per-step history."""
    require(config, ["train_dataset"], "train_twostage.py")
    check_registered_names(config)
    objective = build_iom_objective(config.iom)
    make_strategy = STRATEGIES.get(strategy_name)
    policy = apply_policy(config.mixed_precision)
    # Initial weights, dropout and TrivialAugment repeat with the seed; the other augmentation ops are
    # seeded per image (stage_setup.training_batches).
    keras.utils.set_random_seed(config.seed)
    strategy = make_strategy()
    with worker_session(strategy, checkpoint_root) as written_root:
        return _train(config, objective, policy, strategy, checkpoint_root, written_root, log_root, progress)


def _train(config, objective, policy, strategy, checkpoint_root, written_root, log_root, progress):
    """``train_stage_two`` once the strategy exists: this worker reads the run under ``checkpoint_root``
    and writes it under ``written_root`` (``workers.worker_session``)."""
    stage_one_path = stage_one_model_path(config, checkpoint_root)
    with strategy.scope():
        embedding_model = load_stage_one(stage_one_path, config.input_size)
    stage_one = weights_fingerprint([embedding_model])  # before any training can change the weights
    train_set, validation_set, cadence = checked_training_data(config, strategy)
    run = RunDirectory(checkpoint_root, config.sub_name)
    hold_run_folder(run.path)
    run.check_compatible(config, ARCHITECTURE_KEYS, len(train_set.label_map))
    stage_one_record = run.check_stage_one(stage_one_path, stage_one)
    written = RunDirectory(written_root, config.sub_name)

    cached = config.freeze_backbone and not switched_on(config.augment)
    embedding_model.trainable = not config.freeze_backbone
    if cached:  # fast path: the frozen network's embeddings, once
        embeddings = tf.constant(embed_roi_set(embedding_model, train_set, config.input_size, config.eval_batch_size))
        labels = tf.constant(train_set.labels)

        def batches(start):
            return index_batches_for(config.data, train_set, config.seed, start).map(
                lambda index: (tf.gather(embeddings, index), tf.gather(labels, index))).prefetch(tf.data.AUTOTUNE)

        def encode(inputs):
            return inputs
    else:
        def batches(start):
            return training_batches(config, train_set, start)

        def encode(images):
            return embedding_model(images, training=not config.freeze_backbone)

    with strategy.scope():
        projection = IoMProjection(config.m, config.q, int(config.hidden_layer_remark), config.bn_momentum,
                                   name="iom_projection")
        projection.build((None, embedding_model.output_shape[-1]))
        variables = projection.trainable_variables + embedding_model.trainable_variables
        optimizer = training_optimizer(config.optimiser, cadence, policy, variables)
        counter = step_counter()
    trackables = dict(step=counter, projection=projection, optimizer=optimizer)
    if not config.freeze_backbone:
        trackables["embedding"] = embedding_model
    trained = [projection] if config.freeze_backbone else [projection, embedding_model]
    manager, restored = run.resume(writer=written, **trackables, state=untracked_state(trackables, *trained))
    start = resumed_step(counter, optimizer)
    check_same_start(strategy, start, run.path)
    if restored:
        print(f"resuming {run.path} at step {start}")
    written.write_metadata(config, train_set.label_map, stage_one_record)

    def replica_step(inputs, batch_labels):
        logits = tf.cast(projection(encode(inputs), training=True), tf.float32)
        total, terms = objective(batch_labels, logits)
        positive, negative = hardest_distances(batch_labels, soft_codes(logits, config.T))
        outputs_finite = tf.cast(tf.reduce_all(tf.math.is_finite(logits)), tf.float32)
        return StepResult(total, terms,
                          scalars={"hardest_positive_angle": positive, "hardest_negative_angle": negative,
                                   "outputs_finite": outputs_finite},
                          histograms={"codes": tf.argmax(logits, axis=-1)})

    writer = summary_writer(strategy, f"{log_root}/{config.sub_name}")
    codes_model = build_codes_model(embedding_model, projection)

    def end_epoch(step):
        # The chief alone validates, on the whole validation set (a multi-worker job's other workers wait).
        if validation_set is None or not is_chief(strategy):
            return
        codes = embed_roi_set(codes_model, validation_set, config.input_size, config.eval_batch_size)
        codes = codes.astype(np.int64)  # whole numbers: embed_roi_set averages its views in floats
        rank1 = rank1_accuracy(hamming_similarity(codes, codes), validation_set.labels)
        with writer.as_default(step=step):
            tf.summary.scalar("val_rank1_hamming", rank1)
        print(f"epoch {step // cadence.steps_per_epoch}: validation rank-1 (Hamming on IoM codes) {rank1:.3f}")

    engine = Engine(
        strategy=strategy, optimizer=optimizer, variables=variables, replica_step=replica_step, cadence=cadence,
        checkpoints=manager, writer=writer, counter=counter, remedy=divergence_remedy(config), end_epoch=end_epoch,
        replica_state=replica_state(*trained),
        steps_per_call=STEPS_PER_CALL if cached else 1, progress=progress, description="training IoM head",
        jit_compile=cached and strategy.num_replicas_in_sync == 1,
        shown=("hardest_positive_angle", "hardest_negative_angle"),
    )
    history = engine.train(batches(start))
    embedding_model.trainable = False
    # The saved templates use the config's key; training and validation ran with the identity.
    codes_model = build_codes_model(embedding_model, projection, key=config.permutation_key)
    save_model_atomically(codes_model, written.path / CODES_MODEL)
    save_model_atomically(embedding_model, written.embedding_model)
    export_atomically(codes_model, written.path / SAVED_MODEL)
    report_weights(strategy, int(counter.numpy()), [codes_model])
    return history
