"""What both stages set up the same way: the training split, the sampler, the optimiser, the cadence."""

import keras

from lateral.config import ConfigError
from lateral.data.augment import build_augmentation
from lateral.data.pipeline import training_dataset
from lateral.data.records import load_roi_set
from lateral.data.sampler import balanced_index_batches, shuffled_index_batches
from lateral.data.split import keep_fish, split_roi_set
from lateral.training.engine import Cadence
from lateral.training.optimization import build_optimizer, learning_rate_schedule


def training_split(config):
    """(training set, validation set or None) of ``config.train_dataset``, without the held-out fish."""
    roi_set = keep_fish(load_roi_set(config.train_dataset, config.class_by), config.held_out_fish, keep=False)
    return split_roi_set(roi_set, config.split, config.val_fraction, config.val_sessions, config.seed)


def global_batch_size(data):
    """The batch the data section's sampler yields: P x K (balanced) or ``batch_size``."""
    if data.sampler == "balanced":
        return data.classes_per_batch * data.samples_per_class
    return data.batch_size


def index_batches_for(config, train_set, start_step=0):
    """The sampler the config names, from batch ``start_step`` on (batch s is the same in every run)."""
    if config.sampler == "balanced":
        return balanced_index_batches(train_set.labels, config.classes_per_batch, config.samples_per_class,
                                      config.max_per_class, config.seed, start_step)
    return shuffled_index_batches(len(train_set), config.batch_size, config.seed, start_step)


def training_batches(config, train_set, start_step=0):
    """Augmented (images, labels) batches of the config's sampler, from batch ``start_step`` on.

    Batch s holds the same images with the same augmentation draws in every run with this seed.
    """
    return training_dataset(train_set, index_batches_for(config, train_set, start_step), config.input_size,
                            build_augmentation(config.augment), seed=config.seed, start_step=start_step)


def check_replicas(strategy, global_batch):
    if global_batch % strategy.num_replicas_in_sync:
        raise ConfigError(
            f"the global batch of {global_batch} does not split evenly over {strategy.num_replicas_in_sync} replicas"
        )


def cadence_for(config, train_set):
    """The engine's cadence: ``steps_per_epoch`` (or one pass over the training set), ``epochs``, ``save_steps``."""
    steps_per_epoch = config.steps_per_epoch or max(1, len(train_set) // global_batch_size(config.data))
    return Cadence(steps_per_epoch, config.epochs, config.save_steps)


def training_optimizer(optimiser, cadence, policy, variables):
    """The optimiser section's optimiser and schedule, loss-scaled under mixed_float16, built (call in the strategy's scope).

    Built at once, so a checkpoint restore fills its slots at once.
    """
    warmup_steps = int(optimiser.warmup_epochs * cadence.steps_per_epoch)
    schedule = learning_rate_schedule(optimiser.base_lr, optimiser.lr_schedule, cadence.total_steps, warmup_steps)
    optimizer = build_optimizer(optimiser.optimizer, schedule, optimiser.momentum, optimiser.w_decay)
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(variables)
    return optimizer
