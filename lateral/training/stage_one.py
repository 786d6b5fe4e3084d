"""Stage one: train the embedding network with an ArcFace (or softmax) head.

The recipe for the training engine (``lateral.training.engine``): the model
(embedding network and head), the batches, a softmax cross-entropy step and,
at each epoch's end, the saved embedding model and the validation rank-1.
Two modes (``train.py --mode``) run it:

- ``eager_tf``: the engine's own compiled loop;
- ``fit``: Keras ``Model.fit`` on the compiled model, with a callback that
  hands each step to the engine (``Engine.after_steps``: the non-finite
  guard, logging, checkpoints, end of epoch). Its per-step history holds
  Keras' running means over the epoch, as ``fit`` reports them.

Everything that can be checked is checked before the first step: the data,
the split, the batch against the replicas, the run folder against the model.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from lateral.config import ConfigError, require
from lateral.data.pipeline import evaluation_dataset
from lateral.measures import cosine_similarity
from lateral.models.embedding import embedding_model_for
from lateral.models.heads import head_for, training_model
from lateral.registry import Registry
from lateral.training.engine import (
    Cadence, Engine, StepResult, replica_state, resumed_step, step_counter, untracked_state,
)
from lateral.training.margin_schedule import margin_schedule_for
from lateral.training.precision import apply_policy
from lateral.training.registered_names import check_registered_names
from lateral.training.run_directory import RunDirectory, hold_run_folder, save_model_atomically
from lateral.training.stage_setup import (
    check_replicas, checked_training_data, global_batch_size, training_batches, training_optimizer,
)
from lateral.training.strategies import STRATEGIES
from lateral.training.validation import rank1_accuracy
from lateral.training.workers import (
    check_same_start, is_chief, report_weights, summary_writer, worker_session,
)

LOOPS = Registry("training mode")

# Keys that change the network's shape: a run folder holding another value
# cannot be resumed.
ARCHITECTURE_KEYS = ("input_size", "backbone_type", "backbone_width", "embd_shape", "head_type", "class_by", "bnneck",
                     "colour_constancy", "pooling")


def cross_entropy(label_smoothing=0.0):
    """Per-example softmax cross-entropy of integer labels [batch] and logits [batch, classes].

    With label smoothing (Szegedy et al. 2016, arXiv 1512.00567, section 7) the
    target is (1 - e) on the true class plus e / classes on every class.
    """

    def loss(labels, logits):
        targets = tf.one_hot(tf.reshape(tf.cast(labels, tf.int32), [-1]), tf.shape(logits)[-1])
        return keras.losses.categorical_crossentropy(targets, logits, from_logits=True, label_smoothing=label_smoothing)

    return loss


def classification_step(model, per_example_loss, loss_name, margin_head=None):
    """The engine's replica step: (images, labels) -> the mean loss, named ``loss_name``, and the accuracy
    (and the ArcHead's current margin, if ``margin_head`` is one)."""

    def replica_step(images, labels):
        logits = tf.cast(model([images, labels], training=True), tf.float32)
        loss = tf.reduce_mean(per_example_loss(labels, logits))
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, axis=-1), labels), tf.float32))
        scalars = {"accuracy": accuracy}
        if margin_head is not None:
            scalars["margin"] = tf.cast(margin_head.current_margin, tf.float32)
        return StepResult(loss, {loss_name: loss}, scalars)

    return replica_step


@dataclasses.dataclass
class TrainingJob:
    """Stage one's recipe for the engine, with everything the engine needs to run it."""

    strategy: object
    model: keras.Model  # [pixels, labels] -> float32 logits
    embedding: keras.Model  # pixels -> float32 embeddings
    optimizer: keras.optimizers.Optimizer
    dataset: tf.data.Dataset  # endless (images, labels) batches, from the run's current step on
    global_batch: int
    steps_per_epoch: int
    epochs: int
    save_steps: int
    checkpoints: tf.train.CheckpointManager
    writer: object  # tf.summary writer
    validation: object  # (images, labels) dataset or None
    embedding_path: object
    loss_name: str  # the loss term, as a NaN names it
    remedy: object  # (names of non-finite terms) -> what to change
    progress: bool = True
    label_smoothing: float = 0.0
    margin_schedule: object = None  # step -> margin (sets ArcHead's current margin), or None
    counter: tf.Variable = None  # the engine's step count, checkpointed by ``checkpoints`` (None: a new one)

    def loss_function(self):
        return cross_entropy(self.label_smoothing)

    def engine(self):
        check_replicas(self.strategy, self.global_batch)
        counter = self.counter if self.counter is not None else step_counter()
        resumed_step(counter, self.optimizer)
        head = self.margin_schedule.head if self.margin_schedule is not None else None
        return Engine(
            strategy=self.strategy, optimizer=self.optimizer, variables=self.model.trainable_variables,
            replica_step=classification_step(self.model, self.loss_function(), self.loss_name, head),
            cadence=Cadence(self.steps_per_epoch, self.epochs, self.save_steps),
            checkpoints=self.checkpoints, writer=self.writer, counter=counter,
            remedy=lambda bad, _: self.remedy(bad), end_epoch=self.end_epoch, before_step=self.margin_schedule,
            replica_state=replica_state(self.model),
            progress=self.progress, shown=("accuracy",),
        )

    def end_epoch(self, step):
        save_model_atomically(self.embedding, self.embedding_path)
        if self.validation is None:
            return None
        embeddings, labels = [], []
        for images, batch_labels in self.validation:
            embeddings.append(self.embedding(images, training=False).numpy())
            labels.append(batch_labels.numpy())
        embeddings = np.concatenate(embeddings)
        rank1 = rank1_accuracy(cosine_similarity(embeddings, embeddings), np.concatenate(labels))
        with self.writer.as_default(step=step):
            tf.summary.scalar("val_rank1", rank1)
        print(f"epoch {step // self.steps_per_epoch}: validation rank-1 {rank1:.3f}")
        return rank1


@LOOPS.register("eager_tf")
def eager_loop(job):
    return job.engine().train(job.dataset)


class _EngineHooks(keras.callbacks.Callback):
    """Hands every step of ``Model.fit`` to the engine: the margin before it, the guard, logs and saves after."""

    def __init__(self, job, engine, history):
        super().__init__()
        self.job = job
        self.engine = engine
        self.history_by_step = history

    def on_train_batch_begin(self, batch, logs=None):
        if self.engine.before_step is not None:
            self.engine.before_step(self.engine.step)

    def on_train_batch_end(self, batch, logs=None):
        loss, accuracy = float(logs["loss"]), float(logs["accuracy"])
        self.history_by_step["loss"].append(loss)
        self.history_by_step["accuracy"].append(accuracy)
        scalars = {"loss": [loss], "accuracy": [accuracy],
                   "learning_rate": [float(keras.ops.convert_to_numpy(self.job.optimizer.learning_rate))]}
        if self.job.margin_schedule is not None:
            scalars["margin"] = [self.job.margin_schedule.current]
        self.engine.after_steps(self.engine.step + 1, {self.job.loss_name: [loss]}, scalars)


@LOOPS.register("fit")
def fit_loop(job):
    engine = job.engine()
    with job.strategy.scope():
        job.model.compile(
            optimizer=job.optimizer,
            loss=job.loss_function(),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
    data = job.dataset.map(lambda images, labels: ((images, labels), labels))
    history = {"loss": [], "accuracy": []}
    callbacks = [_EngineHooks(job, engine, history)]
    verbose = 1 if job.progress else 0
    epoch, offset = divmod(engine.step, job.steps_per_epoch)
    if offset:  # finish the interrupted epoch first
        job.model.fit(data, initial_epoch=epoch, epochs=epoch + 1, steps_per_epoch=job.steps_per_epoch - offset,
                      callbacks=callbacks, verbose=verbose, shuffle=False)
        epoch += 1
    if epoch < job.epochs:
        job.model.fit(data, initial_epoch=epoch, epochs=job.epochs, steps_per_epoch=job.steps_per_epoch,
                      callbacks=callbacks, verbose=verbose, shuffle=False)
    return history


def train_stage_one(config, mode="fit", strategy_name="default", checkpoint_root="checkpoints", log_root="logs",
                    progress=True):
    """Train (or resume) the run ``config.sub_name``; returns the per-step history."""
    require(config, ["train_dataset"], "train.py")
    check_registered_names(config)
    loop = LOOPS.get(mode)
    if mode == "fit" and strategy_name == "multi_worker":
        # Keras 3's fit under MultiWorkerMirroredStrategy fails on per-replica values (TensorFlow 2.21).
        raise ConfigError("--mode fit does not run under --strategy multi_worker: use --mode eager_tf "
                          "(docs/multi_worker.md)")
    make_strategy = STRATEGIES.get(strategy_name)
    policy = apply_policy(config.mixed_precision)
    # Initial weights, dropout and TrivialAugment repeat with the seed; the other augmentation ops are
    # seeded per image (stage_setup.training_batches).
    keras.utils.set_random_seed(config.seed)

    strategy = make_strategy()
    with worker_session(strategy, checkpoint_root) as written_root:
        return _train(config, loop, policy, strategy, checkpoint_root, written_root, log_root, progress)


def _train(config, loop, policy, strategy, checkpoint_root, written_root, log_root, progress):
    """``train_stage_one`` once the strategy exists: this worker reads the run under ``checkpoint_root``
    and writes it under ``written_root`` (``workers.worker_session``)."""
    train_set, validation_set, cadence = checked_training_data(config, strategy)
    num_classes = len(train_set.label_map)
    if config.num_classes is not None and config.num_classes != num_classes:
        raise ConfigError(
            f"'num_classes' is {config.num_classes} but the training set of {config.train_dataset} "
            f"(after the validation split) has {num_classes} classes"
        )
    run = RunDirectory(checkpoint_root, config.sub_name)
    hold_run_folder(run.path)
    run.check_compatible(config, ARCHITECTURE_KEYS, num_classes)
    written = RunDirectory(written_root, config.sub_name)

    with strategy.scope():
        embedding = embedding_model_for(config.model)
        head = head_for(config.head, num_classes)
        model = training_model(embedding, head, config.input_size)
        optimizer = training_optimizer(config.optimiser, cadence, policy, model.trainable_variables)
        counter = step_counter()
    trackables = dict(step=counter, model=model, optimizer=optimizer)
    manager, restored = run.resume(writer=written, **trackables, state=untracked_state(trackables, model))
    start = resumed_step(counter, optimizer)
    check_same_start(strategy, start, run.path)
    if restored:
        print(f"resuming {run.path} at step {start}")
    written.write_metadata(config, train_set.label_map)

    # The chief alone validates, on the whole validation set (a multi-worker job's other workers wait).
    validation = (
        evaluation_dataset(validation_set, config.input_size, config.eval_batch_size)
        if validation_set and is_chief(strategy) else None
    )
    job = TrainingJob(
        strategy=strategy,
        model=model,
        embedding=embedding,
        optimizer=optimizer,
        dataset=training_batches(config, train_set, start),
        global_batch=global_batch_size(config.data),
        steps_per_epoch=cadence.steps_per_epoch,
        epochs=config.epochs,
        save_steps=config.save_steps,
        checkpoints=manager,
        writer=summary_writer(strategy, f"{log_root}/{config.sub_name}"),
        validation=validation,
        embedding_path=written.embedding_model,
        loss_name=f"{config.head_type} cross-entropy",
        remedy=lambda _: f"lower base_lr (now {config.base_lr:g}) or check the data",
        progress=progress,
        label_smoothing=config.label_smoothing,
        margin_schedule=margin_schedule_for(head, config, cadence.steps_per_epoch),
        counter=counter,
    )
    history = loop(job)
    save_model_atomically(embedding, written.embedding_model)
    report_weights(strategy, int(counter.numpy()), [embedding])
    return history
