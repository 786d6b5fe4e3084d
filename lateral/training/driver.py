"""One training run, whichever stage: the setup both stages share, around a stage's recipe.

``train(recipe, config, ...)`` checks what can be checked before any work (the
training set is named, the registered names exist, the recipe's own checks),
sets the precision policy, the seed and the strategy, then on each worker: the
data checks, the run folder (held against a second process, checked against
this config's architecture), the model the recipe builds, the optimiser, the
resume from the newest checkpoint, the metadata, the engine, the recipe's
loop, and the final save. A recipe (``stage_one.StageOne``,
``stage_two.StageTwo``) says only what to build, which batches and which
losses.
"""

import dataclasses

import keras

from lateral.config import require
from lateral.training.engine import Engine, replica_state, resumed_step, step_counter, untracked_state
from lateral.training.precision import apply_policy
from lateral.training.registered_names import check_registered_names
from lateral.training.run_directory import RunDirectory, hold_run_folder
from lateral.training.stage_setup import checked_training_data, training_optimizer
from lateral.training.strategies import STRATEGIES
from lateral.training.workers import check_same_start, is_chief, report_weights, summary_writer, worker_session


@dataclasses.dataclass(frozen=True)
class Setup:
    """What the driver hands a recipe's ``build``: the run's config, strategy and checked data."""

    config: object
    strategy: object
    policy: str  # the mixed-precision policy in force
    cadence: object  # engine.Cadence
    train_set: object  # data.records.RoiSet
    validation_set: object  # RoiSet, or None: none held out, or not the chief (the chief alone validates)
    writer: object  # tf.summary writer of this worker
    written: RunDirectory  # where this worker writes the run (workers.worker_session)


@dataclasses.dataclass
class Parts:
    """What a recipe builds: the trained layers, the step, the batches and what to do at each epoch's end."""

    trackables: dict  # checkpointed beside the step counter and the optimiser
    trained: list  # the models and layers whose weights train (their BatchNorm statistics are averaged)
    variables: list  # the trainable variables the optimiser updates
    replica_step: object  # (*batch) -> engine.StepResult
    batches: object  # (start step) -> the dataset of the steps from there on
    remedy: object  # (non-finite term names, the step's scalars) -> what to change
    end_epoch: object = None  # (step) -> None
    before_step: object = None  # (step) -> None, before every step (stage one's margin schedule)
    engine_options: dict = dataclasses.field(default_factory=dict)  # steps_per_call, jit_compile, shown, ...


class Recipe:
    """A stage: ``build`` (in ``Parts``) and ``save`` what it trains; the other steps do nothing unless a stage
    needs them."""

    command = "training"  # the entry script, as a message names it
    architecture_keys = ()  # "section.key" of the keys a run folder must share to be resumed

    def check(self, config, strategy_name):
        """Before the strategy exists: what the config and flags alone can refuse."""

    def open(self, config, strategy, checkpoint_root):
        """Before the data: what the stage reads first (stage two: the stage-one model)."""

    def check_data(self, config, train_set):
        """After the data checks, before the run folder is touched."""

    def check_run(self, run):
        """With the run folder held: the extra records ``RunDirectory.write_metadata`` takes, as a tuple."""
        return ()

    def build(self, setup):
        raise NotImplementedError

    def run(self, engine, batches):
        return engine.train(batches)

    def save(self, written):
        """The final save into ``written``; returns the saved models (their weights are reported)."""
        raise NotImplementedError


def train(recipe, config, strategy_name="default", checkpoint_root="checkpoints", log_root="logs", progress=True):
    """Train (or resume) the run ``config.run.sub_name`` with ``recipe``; returns the per-step history."""
    require(config.data, ["train_dataset"], recipe.command)
    check_registered_names(config)
    recipe.check(config, strategy_name)
    make_strategy = STRATEGIES.get(strategy_name)
    policy = apply_policy(config.optimiser.mixed_precision)
    # Initial weights, dropout and TrivialAugment repeat with the seed; the other augmentation ops are
    # seeded per image (stage_setup.training_batches).
    keras.utils.set_random_seed(config.run.seed)
    strategy = make_strategy()
    with worker_session(strategy, checkpoint_root) as written_root:
        return _train(recipe, config, policy, strategy, checkpoint_root, written_root, log_root, progress)


def _train(recipe, config, policy, strategy, checkpoint_root, written_root, log_root, progress):
    """``train`` once the strategy exists: this worker reads the run under ``checkpoint_root`` and writes it
    under ``written_root`` (``workers.worker_session``)."""
    recipe.open(config, strategy, checkpoint_root)
    train_set, validation_set, cadence = checked_training_data(config, strategy)
    recipe.check_data(config, train_set)
    run = RunDirectory(checkpoint_root, config.run.sub_name)
    hold_run_folder(run.path)
    run.check_compatible(config, recipe.architecture_keys, len(train_set.label_map))
    extra_metadata = recipe.check_run(run)
    written = RunDirectory(written_root, config.run.sub_name)
    writer = summary_writer(strategy, f"{log_root}/{config.run.sub_name}")

    # The chief alone validates, on the whole validation set (a multi-worker job's other workers wait).
    validation_set = validation_set if is_chief(strategy) else None
    parts = recipe.build(Setup(config, strategy, policy, cadence, train_set, validation_set, writer, written))
    with strategy.scope():
        optimizer = training_optimizer(config.optimiser, cadence, policy, parts.variables)
        counter = step_counter()
    trackables = dict(step=counter, optimizer=optimizer, **parts.trackables)
    manager, restored = run.resume(writer=written, **trackables, state=untracked_state(trackables, *parts.trained))
    start = resumed_step(counter, optimizer)
    check_same_start(strategy, start, run.path)
    if restored:
        print(f"resuming {run.path} at step {start}")
    written.write_metadata(config, train_set.label_map, *extra_metadata)

    engine = Engine(
        strategy=strategy, optimizer=optimizer, variables=parts.variables, replica_step=parts.replica_step,
        cadence=cadence, checkpoints=manager, writer=writer, counter=counter, remedy=parts.remedy,
        end_epoch=parts.end_epoch, before_step=parts.before_step, replica_state=replica_state(*parts.trained),
        progress=progress, **parts.engine_options,
    )
    history = recipe.run(engine, parts.batches(start))
    saved = recipe.save(written)
    report_weights(strategy, int(counter.numpy()), saved)
    return history
