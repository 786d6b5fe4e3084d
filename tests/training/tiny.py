"""Tiny runs for the training tests: MobileNetV2 at width 0.35 on 32x64 synthetic ROIs."""

from lateral.config import AugmentConfig, config_from_keys
from lateral.training.stage_one import train_stage_one
from lateral.training.stage_two import train_stage_two


def tiny_config(dataset, **changes):
    """A tiny stage-one (and stage-two) config on the prepared synthetic set."""
    settings = dict(
        sub_name="tiny",
        train_dataset=str(dataset),
        input_size=(32, 64),
        backbone_type="MobileNetV2",
        backbone_width=0.35,
        embedding_size=16,
        head_type="ArcHead",
        margin=0.2,
        logit_scale=16.0,
        classes_per_batch=6,
        samples_per_class=3,
        split="by_identity",
        val_fraction=0.2,
        epochs=2,
        steps_per_epoch=30,
        base_lr=0.05,
        lr_schedule="constant",
        save_steps=5,
        mixed_precision="float32",
        augment=AugmentConfig(random_crop=False, saturation=False, brightness=False),
    )
    settings.update(changes)
    return config_from_keys(**settings)


def run(config, tmp_path, mode="eager_tf", strategy="default"):
    return train_stage_one(config, mode, strategy, checkpoint_root=tmp_path / "checkpoints",
                           log_root=tmp_path / "logs", progress=False)


def stage_two_config(dataset, stage_one_folder, **changes):
    settings = dict(
        sub_name="tiny_iom",
        stage_one_model=str(stage_one_folder / "checkpoints" / "tiny" / "embedding.keras"),
        m=16,
        q=4,
        metric_loss="batch_hard_arc_triplet_loss",
        triplet_margin=0.2,
        bin_lut_loss="tanh",
        algorithm="adam",
        base_lr=0.01,
        epochs=2,
        steps_per_epoch=10,
    )
    settings.update(changes)
    return tiny_config(dataset, **settings)


def train(config, folder):
    return train_stage_two(config, checkpoint_root=folder / "checkpoints", log_root=folder / "logs", progress=False)
