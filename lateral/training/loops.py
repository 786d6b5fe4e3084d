"""The two stage-one training loops: Keras ``fit`` and a ``tf.GradientTape`` loop.

Both run the same model, loss and optimiser, set the head's margin schedule
before each step, save the same checkpoints, log the same TensorBoard
scalars, and resume at the optimiser's step count: the epoch and the position
in it follow from ``optimizer.iterations``.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from lateral.registry import Registry
from lateral.measures import cosine_similarity
from lateral.training.divergence import check_finite
from lateral.training.run_directory import save_model_atomically
from lateral.training.validation import rank1_accuracy

LOOPS = Registry("training mode")
LOG_STEPS = 10


@dataclasses.dataclass
class TrainingJob:
    strategy: object
    model: keras.Model  # [pixels, labels] -> float32 logits
    embedding: keras.Model  # pixels -> float32 embeddings
    optimizer: keras.optimizers.Optimizer
    dataset: tf.data.Dataset  # endless (images, labels) batches
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

    def loss_function(self):
        return cross_entropy(self.label_smoothing)

    def before_step(self, step):
        if self.margin_schedule is not None:
            self.margin_schedule(step)

    @property
    def total_steps(self):
        return self.epochs * self.steps_per_epoch

    def step(self):
        return int(self.optimizer.iterations.numpy())

    # One place decides what happens after a step.
    def after_step(self, step, loss, accuracy):
        check_finite(step, {self.loss_name: loss}, self.remedy)  # before saving: the last checkpoint stays finite
        if step % LOG_STEPS == 0 or step == self.total_steps:
            with self.writer.as_default(step=step):
                tf.summary.scalar("loss", loss)
                tf.summary.scalar("accuracy", accuracy)
                tf.summary.scalar("learning_rate", float(keras.ops.convert_to_numpy(self.optimizer.learning_rate)))
                if self.margin_schedule is not None:
                    tf.summary.scalar("margin", self.margin_schedule.current)
        epoch_ends = step % self.steps_per_epoch == 0
        if step % self.save_steps == 0 or epoch_ends:
            self.checkpoints.save(checkpoint_number=step)
        if epoch_ends:
            self.end_epoch(step)

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


def cross_entropy(label_smoothing=0.0):
    """Per-example softmax cross-entropy of integer labels [batch] and logits [batch, classes].

    With label smoothing (Szegedy et al. 2016, arXiv 1512.00567, section 7) the
    target is (1 - e) on the true class plus e / classes on every class.
    """

    def loss(labels, logits):
        targets = tf.one_hot(tf.reshape(tf.cast(labels, tf.int32), [-1]), tf.shape(logits)[-1])
        return keras.losses.categorical_crossentropy(targets, logits, from_logits=True, label_smoothing=label_smoothing)

    return loss


def make_train_step(strategy, model, optimizer, global_batch, per_example_loss):
    """A compiled step over one (distributed) batch: returns (loss, accuracy) over the global batch."""
    variables = model.trainable_variables

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            logits = tf.cast(model([images, labels], training=True), tf.float32)
            loss = tf.nn.compute_average_loss(per_example_loss(labels, logits), global_batch_size=global_batch)
            scaled_loss = optimizer.scale_loss(loss)  # loss scaling under mixed_float16
        gradients = tape.gradient(scaled_loss, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, axis=-1), labels), tf.float32))
        return loss, correct

    @tf.function
    def train_step(images, labels):
        loss, correct = strategy.run(replica_step, args=(images, labels))
        total = strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
        return total, strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None) / global_batch

    return train_step


@LOOPS.register("eager_tf")
def eager_loop(job):
    train_step = make_train_step(job.strategy, job.model, job.optimizer, job.global_batch, job.loss_function())
    batches = iter(job.strategy.experimental_distribute_dataset(job.dataset))
    history = {"loss": [], "accuracy": []}
    start = job.step()
    with tqdm(total=job.total_steps, initial=start, desc="training", unit="step", disable=not job.progress) as bar:
        for _ in range(start, job.total_steps):
            job.before_step(job.step())
            loss, accuracy = (float(value) for value in train_step(*next(batches)))
            step = job.step()
            history["loss"].append(loss)
            history["accuracy"].append(accuracy)
            bar.update()
            bar.set_postfix(epoch=(step - 1) // job.steps_per_epoch + 1, loss=f"{loss:.3f}", acc=f"{accuracy:.3f}")
            job.after_step(step, loss, accuracy)
    return history


class _StepHooks(keras.callbacks.Callback):
    def __init__(self, job, history):
        super().__init__()
        self.job = job
        self.history_by_step = history

    def on_train_batch_begin(self, batch, logs=None):
        self.job.before_step(self.job.step())

    def on_train_batch_end(self, batch, logs=None):
        step = self.job.step()
        loss, accuracy = float(logs["loss"]), float(logs["accuracy"])
        self.history_by_step["loss"].append(loss)
        self.history_by_step["accuracy"].append(accuracy)
        self.job.after_step(step, loss, accuracy)


@LOOPS.register("fit")
def fit_loop(job):
    with job.strategy.scope():
        job.model.compile(
            optimizer=job.optimizer,
            loss=job.loss_function(),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
    data = job.dataset.map(lambda images, labels: ((images, labels), labels))
    history = {"loss": [], "accuracy": []}
    callbacks = [_StepHooks(job, history)]
    verbose = 1 if job.progress else 0
    start = job.step()
    epoch, offset = divmod(start, job.steps_per_epoch)
    if offset:  # finish the interrupted epoch first
        job.model.fit(data, initial_epoch=epoch, epochs=epoch + 1, steps_per_epoch=job.steps_per_epoch - offset,
                      callbacks=callbacks, verbose=verbose, shuffle=False)
        epoch += 1
    if epoch < job.epochs:
        job.model.fit(data, initial_epoch=epoch, epochs=job.epochs, steps_per_epoch=job.steps_per_epoch,
                      callbacks=callbacks, verbose=verbose, shuffle=False)
    return history
