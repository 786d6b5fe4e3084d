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


def training_split(data, seed):
    """(training set, validation set or None) of the data section's ``train_dataset``, without the held-out fish."""
    roi_set = keep_fish(load_roi_set(data.train_dataset, data.class_by), data.held_out_fish, keep=False)
    return split_roi_set(roi_set, data.split, data.val_fraction, data.val_sessions, seed)


def global_batch_size(data):
    """The batch the data section's sampler yields: P x K (balanced) or ``batch_size``."""
    if data.sampler == "balanced":
        return data.classes_per_batch * data.samples_per_class
    return data.batch_size


def index_batches_for(data, train_set, seed, start_step=0):
    """The sampler the data section names, from batch ``start_step`` on (batch s is the same in every run)."""
    if data.sampler == "balanced":
        return balanced_index_batches(train_set.labels, data.classes_per_batch, data.samples_per_class,
                                      data.max_per_class, seed, start_step)
    return shuffled_index_batches(len(train_set), data.batch_size, seed, start_step)


def training_batches(config, train_set, start_step=0):
    """Augmented (images, labels) batches of the config's sampler, from batch ``start_step`` on.

    It joins four sections (data: the sampler; model: the input size; augment; run: the seed), so
    it takes the config. Batch s holds the same images with the same augmentation draws in every
    run with this seed.
    """
    return training_dataset(train_set, index_batches_for(config.data, train_set, config.run.seed, start_step),
                            config.model.input_size, build_augmentation(config.augment), seed=config.run.seed,
                            start_step=start_step)


def checked_training_data(config, strategy):
    """(training set, validation set or None, cadence) of ``config``, after the checks that need no model.

    A sampler the data cannot fill, or a batch that does not split over the strategy's replicas,
    fails here, before anything is written.
    """
    train_set, validation_set = training_split(config.data, config.run.seed)
    index_batches_for(config.data, train_set, config.run.seed)
    check_replicas(strategy, global_batch_size(config.data))
    return train_set, validation_set, cadence_for(config.optimiser, config.data, train_set)


def check_replicas(strategy, global_batch):
    if global_batch % strategy.num_replicas_in_sync:
        raise ConfigError(
            f"the global batch of {global_batch} does not split evenly over {strategy.num_replicas_in_sync} replicas"
        )


def cadence_for(optimiser, data, train_set):
    """The engine's cadence from the optimiser section: ``steps_per_epoch`` (or one pass over the training
    set in the data section's batches), ``epochs``, ``save_steps``."""
    steps_per_epoch = optimiser.steps_per_epoch or max(1, len(train_set) // global_batch_size(data))
    return Cadence(steps_per_epoch, optimiser.epochs, optimiser.save_steps)


def training_optimizer(optimiser, cadence, policy, variables):
    """The optimiser section's optimiser and schedule, loss-scaled under mixed_float16 (call in the strategy's scope).

    Built at once, so a checkpoint restore fills its slots at once.
    """
    warmup_steps = int(optimiser.warmup_epochs * cadence.steps_per_epoch)
    schedule = learning_rate_schedule(optimiser.base_lr, optimiser.lr_schedule, cadence.total_steps, warmup_steps)
    optimizer = build_optimizer(optimiser.algorithm, schedule, optimiser.momentum, optimiser.weight_decay)
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(variables)
    return optimizer
