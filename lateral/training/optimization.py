"""Optimiser and learning-rate schedule from the config.

The original project used SGD, momentum 0.9, Nesterov, ``base_lr`` and weight
decay ``weight_decay``. Weight decay here is the optimiser's decoupled decay.
"""

import keras

from lateral.registry import Registry

OPTIMIZERS = Registry("optimizer")


@OPTIMIZERS.register("sgd")
def sgd(learning_rate, momentum, weight_decay):
    return keras.optimizers.SGD(learning_rate, momentum=momentum, nesterov=True, weight_decay=weight_decay or None)


@OPTIMIZERS.register("adam")
def adam(learning_rate, momentum, weight_decay):
    return keras.optimizers.Adam(learning_rate, beta_1=momentum)


@OPTIMIZERS.register("adamw")
def adamw(learning_rate, momentum, weight_decay):
    return keras.optimizers.AdamW(learning_rate, beta_1=momentum, weight_decay=weight_decay)


def learning_rate_schedule(base_lr, schedule, total_steps, warmup_steps):
    if schedule == "constant":
        return base_lr
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else base_lr,
        decay_steps=max(1, total_steps - warmup_steps),
        warmup_target=base_lr if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def build_optimizer(name, learning_rate, momentum, weight_decay):
    return OPTIMIZERS.get(name)(learning_rate, momentum, weight_decay)
