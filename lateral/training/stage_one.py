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

import keras
import numpy as np
import tensorflow as tf

from lateral.config import ConfigError
from lateral.data.pipeline import evaluation_dataset
from lateral.measures import cosine_similarity
from lateral.models.embedding import embedding_model_for
from lateral.models.heads import head_for, training_model
from lateral.registry import Registry
from lateral.training.driver import Parts, Recipe, train
from lateral.training.engine import StepResult
from lateral.training.margin_schedule import margin_schedule_for
from lateral.training.run_directory import save_model_atomically
from lateral.training.stage_setup import training_batches
from lateral.training.validation import rank1_accuracy

LOOPS = Registry("training mode")

# Keys that change the network's shape: a run folder holding another value
# cannot be resumed.
ARCHITECTURE_KEYS = ("model.input_size", "model.backbone_type", "model.backbone_width", "model.embedding_size",
                     "head.head_type", "data.class_by", "model.bnneck", "model.colour_constancy", "model.pooling")


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


@LOOPS.register("eager_tf")
def eager_loop(engine, batches, model, loss, loss_name):
    return engine.train(batches)


class _EngineHooks(keras.callbacks.Callback):
    """Hands every step of ``Model.fit`` to the engine: the margin before it, the guard, logs and saves after."""

    def __init__(self, engine, loss_name, history):
        super().__init__()
        self.engine = engine
        self.loss_name = loss_name
        self.history_by_step = history

    def on_train_batch_begin(self, batch, logs=None):
        if self.engine.before_step is not None:
            self.engine.before_step(self.engine.step)

    def on_train_batch_end(self, batch, logs=None):
        loss, accuracy = float(logs["loss"]), float(logs["accuracy"])
        self.history_by_step["loss"].append(loss)
        self.history_by_step["accuracy"].append(accuracy)
        scalars = {"loss": [loss], "accuracy": [accuracy],
                   "learning_rate": [float(keras.ops.convert_to_numpy(self.engine.optimizer.learning_rate))]}
        if self.engine.before_step is not None:  # the margin schedule
            scalars["margin"] = [self.engine.before_step.current]
        self.engine.after_steps(self.engine.step + 1, {self.loss_name: [loss]}, scalars)


@LOOPS.register("fit")
def fit_loop(engine, batches, model, loss, loss_name):
    with engine.strategy.scope():
        model.compile(optimizer=engine.optimizer, loss=loss,
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    data = batches.map(lambda images, labels: ((images, labels), labels))
    history = {"loss": [], "accuracy": []}
    callbacks = [_EngineHooks(engine, loss_name, history)]
    verbose = 1 if engine.progress else 0
    steps_per_epoch, epochs = engine.cadence.steps_per_epoch, engine.cadence.epochs
    epoch, offset = divmod(engine.step, steps_per_epoch)
    if offset:  # finish the interrupted epoch first
        model.fit(data, initial_epoch=epoch, epochs=epoch + 1, steps_per_epoch=steps_per_epoch - offset,
                  callbacks=callbacks, verbose=verbose, shuffle=False)
        epoch += 1
    if epoch < epochs:
        model.fit(data, initial_epoch=epoch, epochs=epochs, steps_per_epoch=steps_per_epoch,
                  callbacks=callbacks, verbose=verbose, shuffle=False)
    return history


class StageOne(Recipe):
    """Stage one's recipe for ``driver.train``: the embedding network and its head, cross-entropy, and at each
    epoch's end the saved embedding model and the validation rank-1."""

    command = "train.py"
    architecture_keys = ARCHITECTURE_KEYS

    def __init__(self, mode="fit"):
        self.mode = mode
        self.loop = LOOPS.get(mode)

    def check(self, config, strategy_name):
        if self.mode == "fit" and strategy_name == "multi_worker":
            # Keras 3's fit under MultiWorkerMirroredStrategy fails on per-replica values (TensorFlow 2.21).
            raise ConfigError("--mode fit does not run under --strategy multi_worker: use --mode eager_tf "
                              "(docs/multi_worker.md)")

    def check_data(self, config, train_set):
        self.num_classes = len(train_set.label_map)
        if config.data.num_classes is not None and config.data.num_classes != self.num_classes:
            raise ConfigError(
                f"'num_classes' is {config.data.num_classes} but the training set of {config.data.train_dataset} "
                f"(after the validation split) has {self.num_classes} classes"
            )

    def build(self, setup):
        config, strategy = setup.config, setup.strategy
        with strategy.scope():
            self.embedding = embedding_model_for(config.model)
            head = head_for(config.head, self.num_classes)
            self.model = training_model(self.embedding, head, config.model.input_size)
        self.loss, self.loss_name = cross_entropy(config.head.label_smoothing), f"{config.head.head_type} cross-entropy"
        schedule = margin_schedule_for(head, config.head, setup.cadence.steps_per_epoch)
        validation = (evaluation_dataset(setup.validation_set, config.model.input_size,
                                         config.evaluation.eval_batch_size) if setup.validation_set else None)
        self.embedding_path = setup.written.embedding_model
        return Parts(
            trackables=dict(model=self.model), trained=[self.model], variables=self.model.trainable_variables,
            replica_step=classification_step(self.model, self.loss, self.loss_name, schedule and schedule.head),
            batches=lambda start: training_batches(config, setup.train_set, start),
            remedy=lambda bad, _: f"lower base_lr (now {config.optimiser.base_lr:g}) or check the data",
            end_epoch=lambda step: self.end_epoch(step, validation, setup.writer, setup.cadence.steps_per_epoch),
            before_step=schedule, engine_options=dict(shown=("accuracy",)),
        )

    def end_epoch(self, step, validation, writer, steps_per_epoch):
        save_model_atomically(self.embedding, self.embedding_path)
        if validation is None:
            return None
        embeddings, labels = [], []
        for images, batch_labels in validation:
            embeddings.append(self.embedding(images, training=False).numpy())
            labels.append(batch_labels.numpy())
        embeddings = np.concatenate(embeddings)
        rank1 = rank1_accuracy(cosine_similarity(embeddings, embeddings), np.concatenate(labels))
        with writer.as_default(step=step):
            tf.summary.scalar("val_rank1", rank1)
        print(f"epoch {step // steps_per_epoch}: validation rank-1 {rank1:.3f}")
        return rank1

    def run(self, engine, batches):
        return self.loop(engine, batches, self.model, self.loss, self.loss_name)

    def save(self, written):
        save_model_atomically(self.embedding, written.embedding_model)
        return [self.embedding]


def train_stage_one(config, mode="fit", strategy_name="default", checkpoint_root="checkpoints", log_root="logs",
                    progress=True):
    """Train (or resume) the run ``config.run.sub_name``; returns the per-step history."""
    return train(StageOne(mode), config, strategy_name, checkpoint_root, log_root, progress)
