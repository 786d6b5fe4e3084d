"""Stage one: train the embedding network with an ArcFace (or softmax) head.

Everything that can be checked is checked before the first step: the data,
the split, the batch against the replicas, the run folder against the model.
"""

import keras
import tensorflow as tf

from lateral.config import ConfigError, require
from lateral.data.augment import build_augmentation
from lateral.data.pipeline import evaluation_dataset, training_dataset
from lateral.data.records import load_roi_set
from lateral.data.sampler import balanced_index_batches, shuffled_index_batches
from lateral.data.split import keep_fish, split_roi_set
from lateral.models.embedding import build_embedding_model
from lateral.models.heads import build_head
from lateral.training.loops import LOOPS, TrainingJob
from lateral.training.margin_schedule import margin_schedule_for
from lateral.training.optimization import build_optimizer, learning_rate_schedule
from lateral.training.precision import apply_policy
from lateral.training.run_directory import RunDirectory, save_model_atomically
from lateral.training.strategies import STRATEGIES

# Keys that change the network's shape: a run folder holding another value
# cannot be resumed.
ARCHITECTURE_KEYS = ("input_size", "backbone_type", "backbone_width", "embd_shape", "head_type", "class_by", "bnneck",
                     "colour_constancy", "pooling")


def index_batches_for(config, train_set):
    """The sampler the config names, and the global batch size it yields."""
    if config.sampler == "balanced":
        batches = balanced_index_batches(
            train_set.labels, config.classes_per_batch, config.samples_per_class, config.max_per_class, config.seed
        )
        return batches, config.classes_per_batch * config.samples_per_class
    return shuffled_index_batches(len(train_set), config.batch_size, config.seed), config.batch_size


def training_model(embedding, head, input_size):
    pixels = keras.Input((*input_size, 3), name="pixels")
    labels = keras.Input((), dtype="int64", name="labels")
    logits = head([embedding(pixels), labels])
    return keras.Model([pixels, labels], logits, name="stage_one")


def train_stage_one(config, mode="fit", strategy_name="default", checkpoint_root="checkpoints", log_root="logs",
                    progress=True):
    """Train (or resume) the run ``config.sub_name``; returns the per-step history."""
    require(config, ["train_dataset"], "train.py")
    loop = LOOPS.get(mode)
    make_strategy = STRATEGIES.get(strategy_name)
    policy = apply_policy(config.mixed_precision)
    keras.utils.set_random_seed(config.seed)  # initial weights and augmentation draws repeat with the seed

    roi_set = keep_fish(load_roi_set(config.train_dataset, config.class_by), config.held_out_fish, keep=False)
    train_set, validation_set = split_roi_set(roi_set, config.split, config.val_fraction, config.val_sessions,
                                              config.seed)
    num_classes = len(train_set.label_map)
    if config.num_classes is not None and config.num_classes != num_classes:
        raise ConfigError(
            f"'num_classes' is {config.num_classes} but the training set of {config.train_dataset} "
            f"(after the validation split) has {num_classes} classes"
        )
    index_batches, global_batch = index_batches_for(config, train_set)
    strategy = make_strategy()
    if global_batch % strategy.num_replicas_in_sync:
        raise ConfigError(
            f"the global batch of {global_batch} does not split evenly over {strategy.num_replicas_in_sync} replicas"
        )
    steps_per_epoch = config.steps_per_epoch or max(1, len(train_set) // global_batch)
    run = RunDirectory(checkpoint_root, config.sub_name)
    run.check_compatible(config, ARCHITECTURE_KEYS, num_classes)

    dataset = training_dataset(train_set, index_batches, config.input_size, build_augmentation(config.augment))
    with strategy.scope():
        embedding = build_embedding_model(
            config.input_size, config.backbone_type, config.embd_shape, config.weights, config.backbone_width,
            config.dropout, config.bn_momentum, bnneck=config.bnneck, colour_constancy=config.colour_constancy,
            pooling=config.pooling, backbone_lr_scale=config.backbone_lr_scale,
        )
        head = build_head(config.head_type, num_classes, margin=config.margin, logist_scale=config.logist_scale)
        model = training_model(embedding, head, config.input_size)
        total_steps = config.epochs * steps_per_epoch
        warmup_steps = int(config.warmup_epochs * steps_per_epoch)
        schedule = learning_rate_schedule(config.base_lr, config.lr_schedule, total_steps, warmup_steps)
        optimizer = build_optimizer(config.optimizer, schedule, config.momentum, config.w_decay)
        if policy == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)  # slots exist, so a restore fills them at once
    manager, restored = run.resume(model=model, optimizer=optimizer)
    if restored:
        print(f"resuming {run.path} at step {int(optimizer.iterations.numpy())}")
    run.write_metadata(config, train_set.label_map)

    validation = (
        evaluation_dataset(validation_set, config.input_size, config.eval_batch_size) if validation_set else None
    )
    job = TrainingJob(
        strategy=strategy,
        model=model,
        embedding=embedding,
        optimizer=optimizer,
        dataset=dataset,
        global_batch=global_batch,
        steps_per_epoch=steps_per_epoch,
        epochs=config.epochs,
        save_steps=config.save_steps,
        checkpoints=manager,
        writer=tf.summary.create_file_writer(f"{log_root}/{config.sub_name}"),
        validation=validation,
        embedding_path=run.embedding_model,
        loss_name=f"{config.head_type} cross-entropy",
        remedy=lambda _: f"lower base_lr (now {config.base_lr:g}) or check the data",
        progress=progress,
        label_smoothing=config.label_smoothing,
        margin_schedule=margin_schedule_for(head, config, steps_per_epoch),
    )
    history = loop(job)
    save_model_atomically(embedding, run.embedding_model)
    return history
