"""Tiny runs for the training tests: MobileNetV2 at width 0.35 on 32x64 synthetic ROIs."""

from lateral.config import AugmentConfig, Config
from lateral.training.stage_one import train_stage_one


def tiny_config(dataset, **changes):
    """A tiny stage-one (and stage-two) config on the prepared synthetic set."""
    settings = dict(
        sub_name="tiny",
        train_dataset=str(dataset),
        input_size=(32, 64),
        backbone_type="MobileNetV2",
        backbone_width=0.35,
        embd_shape=16,
        head_type="ArcHead",
        margin=0.2,
        logist_scale=16.0,
        classes_per_batch=6,
        samples_per_class=3,
        split="by_identity",
        val_fraction=0.2,
        epochs=2,
        steps_per_epoch=20,
        base_lr=0.05,
        lr_schedule="constant",
        save_steps=5,
        mixed_precision="float32",
        augment=AugmentConfig(random_crop=False, saturation=False, brightness=False),
    )
    settings.update(changes)
    return Config(**settings)


def run(config, tmp_path, mode="eager_tf", strategy="default"):
    return train_stage_one(config, mode, strategy, checkpoint_root=tmp_path / "checkpoints",
                           log_root=tmp_path / "logs", progress=False)
