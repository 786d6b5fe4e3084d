"""The training engine: one loop for every stage.

A stage is a recipe: its model, its data, a per-replica step returning the
loss and what to log, and what to save at the end of an epoch. The engine
owns the rest, the same for every stage:

- the step, compiled (``tf.function``) and run under the distribution
  strategy, with loss scaling when the optimiser is a ``LossScaleOptimizer``
  (mixed_float16). Each call runs up to ``steps_per_call`` steps in the graph
  (like Keras' ``steps_per_execution``), never across a save or an epoch end,
  and returns every step's values, so the history and the logs stay per step;
- the non-finite guard: after each call, the first step whose loss terms are
  not all finite raises ``TrainingDiverged`` naming the term and the step,
  before anything is saved (the last checkpoint stays finite);
- the cadence (``Cadence``): log every ``LOG_STEPS`` steps and at the last,
  checkpoint every ``save_steps`` steps and at every epoch's end, then run
  the recipe's end-of-epoch work (save the model, validate);
- with several replicas, the state each replica updates on its own
  (``replica_state``: BatchNorm's moving statistics) averaged over the
  replicas before each save (``average_over_replicas``), so every replica,
  every worker of a multi-worker job and every checkpoint hold the same values;
- exact resume: the engine's step count is part of the checkpoint, and so is
  every variable of the trained layers (``untracked_state``: dropout's seed
  state and BatchNorm statistics too); the recipe's data is a function of the first
  step (the samplers start at a given batch of their sequence), so a run
  resumed at step s trains on the batches s + 1, s + 2, ... an uninterrupted
  run does, with the same dropout draws and (seeded per image by
  ``stage_setup.training_batches``) the same augmentation draws.

The count of finished steps is the engine's own ``step`` variable, not
``optimizer.iterations``: a LossScaleOptimizer skips (and does not count) a
step whose scaled gradients overflow, yet that step consumed a batch.
"""

import dataclasses
import time

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from lateral.training.divergence import check_finite

LOG_STEPS = 10


@dataclasses.dataclass(frozen=True)
class StepResult:
    """What a recipe's replica step returns: all float32, computed on that replica's share of the batch.

    ``loss`` is minimised; ``terms`` ({name: scalar}) are the parts the non-finite guard names;
    ``scalars`` ({name: scalar}) are logged; ``histograms`` ({name: [batch, ...]}) are logged as
    histograms. The scalars are averaged over replicas, the histograms' tensors concatenated.
    """

    loss: tf.Tensor
    terms: dict
    scalars: dict = dataclasses.field(default_factory=dict)
    histograms: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Cadence:
    """The one helper that decides when to log, checkpoint and end an epoch (steps count from 1)."""

    steps_per_epoch: int
    epochs: int
    save_steps: int
    log_steps: int = LOG_STEPS

    @property
    def total_steps(self):
        return self.epochs * self.steps_per_epoch

    def logs(self, step):
        return step % self.log_steps == 0 or step == self.total_steps

    def ends_epoch(self, step):
        return step % self.steps_per_epoch == 0

    def saves(self, step):
        return step % self.save_steps == 0 or self.ends_epoch(step)

    def steps_in_call(self, done, most):
        """How many steps the next call runs after ``done`` steps: up to ``most``, stopping at a save or epoch end."""
        count = 1
        while count < most and done + count < self.total_steps and not self.saves(done + count):
            count += 1
        return count


def untracked_state(trackables, *layers):
    """The variables of ``layers`` that a checkpoint of ``trackables`` ({name: object}) would miss.

    A ``tf.train.Checkpoint`` of a functional Keras 3 model holds its weights and BatchNorm statistics
    but not its dropout layers' seed-generator state; of a layer built outside a model (the IoM
    projection) only what the optimiser tracks. Checkpointed beside ``trackables`` (the variables
    already held keep their names), this list lets a resumed run draw the dropout masks and normalise
    with the statistics an uninterrupted one does.
    """
    reachable = {id(node) for trackable in trackables.values()
                 for node in tf.train.TrackableView(trackable).descendants()}
    return [variable for layer in layers for variable in layer.variables if id(variable) not in reachable]


def step_counter():
    """The engine's count of finished steps, to checkpoint with the run; -1 until ``resumed_step`` sets it."""
    return tf.Variable(-1, dtype=tf.int64, trainable=False, name="step")


def resumed_step(counter, optimizer):
    """The step a run starts at, after its checkpoint (if any) was restored into ``counter``.

    A fresh run starts at 0; a checkpoint written before the engine kept its own count restores
    none, and starts at the optimiser's step count, which it then was.
    """
    if int(counter.numpy()) < 0:
        counter.assign(int(optimizer.iterations.numpy()))
    return int(counter.numpy())


@dataclasses.dataclass
class Engine:
    strategy: object  # tf.distribute strategy whose scope holds the variables
    optimizer: object  # a Keras optimizer (a LossScaleOptimizer under mixed_float16)
    variables: list  # the trainable variables
    replica_step: object  # (*batch) -> StepResult, called in replica context
    cadence: Cadence
    checkpoints: tf.train.CheckpointManager  # of a checkpoint holding ``counter``
    writer: object  # tf.summary writer
    counter: tf.Variable  # from step_counter()
    remedy: object  # (names of non-finite terms, {name: value} at that step) -> what to change
    end_epoch: object = None  # (step) -> None: save the models, validate
    replica_state: list = ()  # float variables each replica updates on its own (BatchNorm statistics)
    before_step: object = None  # (step) -> None, in Python before every step: forces one step per call
    steps_per_call: int = 1
    jit_compile: bool = False  # compile the step with XLA (one replica only); see compile_steps
    progress: bool = True
    description: str = "training"
    shown: tuple = ()  # scalars shown beside the loss on the progress bar

    def __post_init__(self):
        self._average = average_over_replicas(self.strategy, self.replica_state)

    @property
    def step(self):
        return int(self.counter.numpy())

    def train(self, batches):
        """Run from the current step to the last; ``batches`` is the dataset of the steps still to run.

        Returns the history: per step, the loss, every logged scalar and the seconds it took
        (a call's time shared equally by its steps).
        """
        most = 1 if self.before_step is not None else self.steps_per_call
        run_steps = compile_steps(self.strategy, self.optimizer, self.variables, self.replica_step, most,
                                  self.jit_compile)
        iterator = iter(self.strategy.experimental_distribute_dataset(batches))
        history = {name: [] for name in ("loss", *self.shown, "seconds")}
        total = self.cadence.total_steps
        with tqdm(total=total, initial=self.step, desc=self.description, unit="step", disable=not self.progress) as bar:
            while self.step < total:
                done = self.step
                count = self.cadence.steps_in_call(done, most)
                if self.before_step is not None:
                    self.before_step(done)
                began = time.perf_counter()
                terms, scalars, histograms = tf.nest.map_structure(
                    lambda value: value.numpy(), run_steps(iterator, tf.constant(count)))
                scalars["seconds"] = np.full(count, (time.perf_counter() - began) / count)
                for name, values in scalars.items():
                    history.setdefault(name, []).extend(float(value) for value in values)
                bar.update(count)
                bar.set_postfix(epoch=(done + count - 1) // self.cadence.steps_per_epoch + 1,
                                **{name: f"{scalars[name][-1]:.3f}" for name in ("loss", *self.shown)})
                self.after_steps(done + 1, terms, scalars, histograms)
        return history

    # One place decides what happens after steps, whichever loop ran them.
    def after_steps(self, first, terms, scalars, histograms=None):
        """After the steps ``first``, ``first + 1``, ...: per-step arrays of the terms, scalars and histograms."""
        histograms = histograms or {}
        count = len(scalars["loss"])
        for offset in range(count):
            at_step = {name: float(values[offset]) for name, values in terms.items()}
            check_finite(first + offset, at_step,
                         lambda bad: self.remedy(bad, {name: values[offset] for name, values in scalars.items()}))
        for offset in range(count):
            step = first + offset
            if self.cadence.logs(step):
                with self.writer.as_default(step=step):
                    logged = {**(terms if len(terms) > 1 else {}), **scalars}  # a single term is the loss
                    for name, values in logged.items():
                        if name != "seconds":
                            tf.summary.scalar(name, values[offset])
                    for name, values in histograms.items():
                        tf.summary.histogram(name, values[offset])
        last = first + count - 1
        self.counter.assign(last)
        if self.cadence.saves(last):
            self._average()
            self.checkpoints.save(checkpoint_number=last)
        if self.cadence.ends_epoch(last) and self.end_epoch is not None:
            self.end_epoch(last)


def replica_state(*models):
    """The float variables of ``models`` that no optimiser updates: BatchNorm's moving statistics (and
    values set the same on every replica, such as the ArcHead's margin, which averaging leaves unchanged)."""
    return [variable for model in models for variable in model.non_trainable_variables
            if tf.as_dtype(variable.dtype).is_floating]


def average_over_replicas(strategy, variables):
    """A function that sets each of ``variables`` to its mean over the replicas of ``strategy``.

    Keras 3 creates variables with aggregation "none": a replica updates only its own copy, so
    BatchNorm's moving statistics drift apart as each replica sees its share of the batch, and a save
    would keep one worker's. tf.keras made them ON_READ with MEAN aggregation (each replica updates its
    own, a read averages them). The moving averages are linear in the batch statistics, so averaging them
    before every save gives what averaging at every step would, and the replicas continue from the values
    saved (a resumed run from the same ones as an uninterrupted run).
    """
    if strategy.num_replicas_in_sync == 1 or not variables:
        return lambda: None

    def replica_average():
        means = tf.distribute.get_replica_context().all_reduce(
            tf.distribute.ReduceOp.MEAN, [tf.identity(variable.value) for variable in variables])
        for variable, mean in zip(variables, means):
            variable.assign(mean)

    return tf.function(lambda: strategy.run(replica_average))


def compile_steps(strategy, optimizer, variables, replica_step, most=None, jit_compile=False):
    """A tf.function (iterator, count) -> per-step (terms, scalars, histograms), stacked along a first axis.

    Each of the ``count`` steps takes the next batch of ``iterator`` (of a distributed dataset of
    ``strategy``), runs ``replica_step`` on every replica and applies the gradients of its loss.
    With ``most`` 1 (one step per call) the function holds one step and no loop, so it traces
    the step once instead of twice.

    ``jit_compile`` compiles the step (forward, gradients and the optimiser's update) with XLA,
    which fuses the optimiser's element-wise passes over the weights: on a small network whose step
    is bound by memory traffic rather than arithmetic (stage two's head on cached embeddings) that
    is about twice as fast. XLA cannot compile a cross-replica sum, so it needs a single replica.
    """
    replicas = strategy.num_replicas_in_sync
    if jit_compile and replicas > 1:
        raise ValueError(f"jit_compile needs a single replica, not {replicas}")

    def replica_train(*batch):
        learning_rate = tf.cast(optimizer.learning_rate, tf.float32)  # the rate this step uses
        with tf.GradientTape() as tape:
            result = replica_step(*batch)
            # Gradients are summed over replicas: each replica's mean counts 1 / replicas.
            scaled_loss = optimizer.scale_loss(result.loss / replicas)  # loss scaling under mixed_float16
        gradients = tape.gradient(scaled_loss, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        scalars = {"loss": result.loss, **result.scalars, "learning_rate": learning_rate}
        return result.terms, scalars, result.histograms

    if jit_compile:
        replica_train = tf.function(replica_train, jit_compile=True)

    def one_step(iterator):
        terms, scalars, histograms = strategy.run(replica_train, args=next(iterator))
        mean = lambda value: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)  # noqa: E731
        return ({name: mean(value) for name, value in terms.items()},
                {name: mean(value) for name, value in scalars.items()},
                {name: strategy.gather(value, axis=0) for name, value in histograms.items()})

    @tf.function
    def run_steps(iterator, count):
        first = one_step(iterator)
        stacks = tf.nest.map_structure(
            lambda value: tf.TensorArray(value.dtype, size=count, element_shape=value.shape).write(0, value), first)
        for index in tf.range(1, count):
            stacks = tf.nest.map_structure(lambda stack, value: stack.write(index, value), stacks, one_step(iterator))
        return tf.nest.map_structure(lambda stack: stack.stack(), stacks)

    @tf.function
    def run_one_step(iterator, count):
        return tf.nest.map_structure(lambda value: tf.expand_dims(value, 0), one_step(iterator))

    return run_one_step if most == 1 else run_steps
