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

import numpy as np
import tensorflow as tf

from lateral.config import ConfigError
from lateral.data.augment import switched_on
from lateral.data.pipeline import embed_roi_set
from lateral.losses.iom_objective import build_iom_objective, term_settings
from lateral.measures import hamming_similarity
from lateral.models.iom import IoMProjection, build_codes_model, soft_codes
from lateral.models.saved import load_model, weights_fingerprint
from lateral.runs import CODES_MODEL, EMBEDDING_MODEL, SAVED_MODEL
from lateral.training.driver import Parts, Recipe, train
from lateral.training.engine import StepResult
from lateral.training.run_directory import RunDirectoryError, export_atomically, save_model_atomically
from lateral.training.stage_setup import index_batches_for, training_batches
from lateral.training.validation import rank1_accuracy

ARCHITECTURE_KEYS = ("model.input_size", "iom.m", "iom.q", "iom.hidden_layers", "iom.freeze_backbone",
                     "data.class_by")
STEPS_PER_CALL = 50


def stage_one_model_path(run, checkpoint_root):
    """The stage-one model the run section names: its ``stage_one_model``, or its 1st_sub_name's."""
    if run.stage_one_model:
        return Path(run.stage_one_model)
    if not run.first_sub_name:
        raise ConfigError("missing required key '1st_sub_name' (or 'stage_one_model') for train_twostage.py")
    return Path(checkpoint_root) / run.first_sub_name / EMBEDDING_MODEL


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
                    f"lower base_lr (now {config.optimiser.base_lr:g})")
        settings = term_settings(config.iom)
        keys = dict.fromkeys(key for term in bad_terms for key in settings[term])
        shown = ", ".join(f"{key}={getattr(config.iom, key)!r}" for key in keys)
        return (f"the IoM head's outputs were finite: check that term's settings ({shown}, "
                f"inverse_temperature={config.iom.inverse_temperature!r})")

    return remedy


class StageTwo(Recipe):
    """Stage two's recipe for ``driver.train``: the IoM projection on the stage-one network, the IoM objective,
    and at each epoch's end the validation rank-1 under Hamming similarity of the codes."""

    command = "train_twostage.py"
    architecture_keys = ARCHITECTURE_KEYS

    def check(self, config, strategy_name):
        self.objective = build_iom_objective(config.iom)

    def open(self, config, strategy, checkpoint_root):
        self.stage_one_path = stage_one_model_path(config.run, checkpoint_root)
        with strategy.scope():
            self.embedding_model = load_stage_one(self.stage_one_path, config.model.input_size)
        self.stage_one = weights_fingerprint([self.embedding_model])  # before any training can change the weights

    def check_run(self, run):
        return (run.check_stage_one(self.stage_one_path, self.stage_one),)

    def build(self, setup):
        config, iom, embedding_model = setup.config, setup.config.iom, self.embedding_model
        self.permutation_key = iom.permutation_key
        cached = iom.freeze_backbone and not switched_on(config.augment)
        embedding_model.trainable = not iom.freeze_backbone
        if cached:  # fast path: the frozen network's embeddings, once
            embeddings = tf.constant(embed_roi_set(embedding_model, setup.train_set, config.model.input_size,
                                                   config.evaluation.eval_batch_size))
            labels = tf.constant(setup.train_set.labels)

            def batches(start):
                return index_batches_for(config.data, setup.train_set, config.run.seed, start).map(
                    lambda index: (tf.gather(embeddings, index), tf.gather(labels, index))).prefetch(tf.data.AUTOTUNE)
        else:
            def batches(start):
                return training_batches(config, setup.train_set, start)

        def encode(inputs):
            return inputs if cached else embedding_model(inputs, training=not iom.freeze_backbone)

        with setup.strategy.scope():
            self.projection = IoMProjection(iom.m, iom.q, iom.hidden_layers, config.model.bn_momentum,
                                            name="iom_projection")
            self.projection.build((None, embedding_model.output_shape[-1]))
        trained = [self.projection] if iom.freeze_backbone else [self.projection, embedding_model]

        def replica_step(inputs, batch_labels):
            logits = tf.cast(self.projection(encode(inputs), training=True), tf.float32)
            total, terms = self.objective(batch_labels, logits)
            positive, negative = hardest_distances(batch_labels, soft_codes(logits, iom.inverse_temperature))
            outputs_finite = tf.cast(tf.reduce_all(tf.math.is_finite(logits)), tf.float32)
            return StepResult(total, terms,
                              scalars={"hardest_positive_angle": positive, "hardest_negative_angle": negative,
                                       "outputs_finite": outputs_finite},
                              histograms={"codes": tf.argmax(logits, axis=-1)})

        return Parts(
            trackables=dict(projection=self.projection, **({} if iom.freeze_backbone else
                                                           {"embedding": embedding_model})),
            trained=trained, variables=self.projection.trainable_variables + embedding_model.trainable_variables,
            replica_step=replica_step, batches=batches, remedy=divergence_remedy(config),
            end_epoch=validation_at_epoch_end(setup, build_codes_model(embedding_model, self.projection)),
            engine_options=dict(steps_per_call=STEPS_PER_CALL if cached else 1, description="training IoM head",
                                jit_compile=cached and setup.strategy.num_replicas_in_sync == 1,
                                shown=("hardest_positive_angle", "hardest_negative_angle")),
        )

    def save(self, written):
        self.embedding_model.trainable = False
        # The saved templates use the config's key; training and validation ran with the identity.
        codes_model = build_codes_model(self.embedding_model, self.projection, key=self.permutation_key)
        save_model_atomically(codes_model, written.path / CODES_MODEL)
        save_model_atomically(self.embedding_model, written.embedding_model)
        export_atomically(codes_model, written.path / SAVED_MODEL)
        return [codes_model]


def validation_at_epoch_end(setup, codes_model):
    """(step) -> None: the validation rank-1 of the codes under Hamming similarity, logged and printed."""
    config = setup.config

    def end_epoch(step):
        if setup.validation_set is None:  # none held out, or not the chief
            return
        codes = embed_roi_set(codes_model, setup.validation_set, config.model.input_size,
                              config.evaluation.eval_batch_size)
        codes = codes.astype(np.int64)  # whole numbers: embed_roi_set averages its views in floats
        rank1 = rank1_accuracy(hamming_similarity(codes, codes), setup.validation_set.labels)
        with setup.writer.as_default(step=step):
            tf.summary.scalar("val_rank1_hamming", rank1)
        print(f"epoch {step // setup.cadence.steps_per_epoch}: validation rank-1 (Hamming on IoM codes) {rank1:.3f}")

    return end_epoch


def train_stage_two(config, checkpoint_root="checkpoints", log_root="logs", progress=True, strategy_name="default"):
    """Train (or resume) the IoM head of run ``config.run.sub_name``; returns the per-step history."""
    return train(StageTwo(), config, strategy_name, checkpoint_root, log_root, progress)
