"""Typed, validated configuration, in sections.

A YAML file is read with ``yaml.safe_load`` and turned once, at the entry
point, into frozen dataclasses: ``Config`` holds one section per concern
(``config.run``, ``.data``, ``.model``, ``.head``, ``.optimiser``, ``.iom``,
``.evaluation``, ``.preprocess``, ``.augment``) and nothing else. In the file
the first seven sections' keys may sit at the top level (``base_lr: 0.1``,
the original project's flat form) or under their section's name
(``optimiser: {base_lr: 0.1}``); ``preprocess:`` and ``augment:`` are nested
mappings. Each key is mapped onto its section once, when loading. Unknown keys,
wrong types, missing required keys and values out of range fail here, naming
the key, before any work starts: each section checks its own keys on
construction (``__post_init__``), so a config built in code is held to the same
rules as one read from YAML: every key's type, then its rule in the section's
``RULES`` table (``lateral/config_rules.py``), then the ``RELATIONS`` between
keys. A new key goes into one section and needs a rule in its ``RULES`` (bool
and Literal keys excepted; a test checks it). Names that a registry must know
(``backbone_type``, ...) are checked when training starts
(``lateral.training.registered_names``): reading a config loads no TensorFlow.
Functions take the section they need. ``input_size`` may be one int (square)
or ``[height, width]``. ``smoke(config)`` shrinks a config for a smoke run.
"""

import dataclasses
import functools
import math
import types
import typing
import warnings
from pathlib import Path

import yaml

from lateral.config_rules import (
    FRACTION, Each, NonEmpty, Pattern, Registered, Relation, RunName, above, at_least, between,
)
from lateral.user_errors import UserError


DEFAULT_INPUT_SIZE = (64, 128)  # (height, width): the lateral ROI is about twice as wide as high
MIN_INPUT_SIZE = 32  # the smallest side keras.applications backbones accept (obtain_input_shape's min_size)


class ConfigError(UserError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""


class BadValue(ConfigError):
    """One key's value is wrong; ``key`` is its full YAML name (``preprocess.work_size``)."""

    def __init__(self, key, problem):
        super().__init__(f"{key!r} {problem}")
        self.key, self.problem = key, problem


class Validated:
    """Base of the config classes: converts and checks every field when an instance is made."""

    RULES: typing.ClassVar[dict] = {}
    RELATIONS: typing.ClassVar[tuple] = ()

    def __post_init__(self):
        hints = _type_hints(type(self))
        for field in dataclasses.fields(self):
            key = field.metadata.get("key", field.name)
            value = _convert(hints[field.name], getattr(self, field.name), key)
            rule = self.RULES.get(field.name)
            problem = rule.problem(value) if rule else None
            if problem:
                raise BadValue(key, problem)
            object.__setattr__(self, field.name, value)  # frozen: the converted value (a tuple, a float)
        for relation in self.RELATIONS:
            names = [_yaml_key(type(self), name) for name in relation.keys]
            problem = relation.problem([getattr(self, name) for name in relation.keys], names)
            if problem:
                raise BadValue(names[0], problem)


@functools.cache
def _type_hints(cls):
    return typing.get_type_hints(cls)


def _yaml_key(cls, name):
    field = next(field for field in dataclasses.fields(cls) if field.name == name)
    return field.metadata.get("key", name)


def from_dict(cls, raw, prefix=""):
    """Build dataclass ``cls`` from a mapping, checking every key (its type and range: ``Validated``)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping")
    fields = {field.metadata.get("key", field.name): field for field in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key {prefix + unknown[0]!r}; known keys: {', '.join(sorted(fields))}"
        )
    values = {}
    for yaml_key, field in fields.items():
        if yaml_key not in raw:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError(f"missing required key {prefix + yaml_key!r}")
            continue
        values[field.name] = raw[yaml_key]
    try:
        return cls(**values)
    except BadValue as error:
        raise BadValue(prefix + error.key, error.problem) from None


def _convert(hint, value, key):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return value if isinstance(value, hint) else from_dict(hint, value, key + ".")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _convert(option, value, key)
            except BadValue as error:
                errors.append(error)
        if len(errors) == 1:
            raise errors[0]
        wants = [error.problem.removeprefix("must be ").rsplit(", got ", 1)[0] for error in errors]
        raise BadValue(key, f"must be {' or '.join(wants)}, got {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise BadValue(key, f"must be one of {list(args)}, got {value!r}")
        return value
    if origin is tuple:
        if key.endswith("input_size") and isinstance(value, int) and not isinstance(value, bool):
            value = [value, value]
        if not isinstance(value, (list, tuple)):
            raise BadValue(key, f"must be a list, got {value!r}")
        if args and args[-1] is not Ellipsis and len(value) != len(args):
            raise BadValue(key, f"must have {len(args)} items, got {len(value)}")
        item_types = [args[0]] * len(value) if args[-1:] == (Ellipsis,) else args
        return tuple(_convert(t, v, f"{key}[{i}]") for i, (t, v) in enumerate(zip(item_types, value)))
    if hint is bool:
        if not isinstance(value, bool):
            raise BadValue(key, f"must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadValue(key, f"must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadValue(key, f"must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise BadValue(key, f"must be a string, got {value!r}")
        return value
    raise TypeError(f"config type {hint!r} of {key!r} is not supported")


@dataclasses.dataclass(frozen=True)
class PreprocessConfig(Validated):
    """Green-screen segmentation, pose normalisation, ROI and quality gate."""

    # Background: OpenCV HSV (hue 0..179). The range admits yellow-green to
    # blue-green tents under warm and cold light.
    green_hue: tuple[int, int] = (35, 95)
    green_min_saturation: int = 60
    green_min_value: int = 40
    # Fraction of the photo that must be green for it to count as a tent photo.
    min_green_fraction: float = 0.2
    # Segmentation runs on a copy whose long side is at most this; the ROI is
    # cut from the full-resolution photo.
    work_size: int = 512
    # Fish area as a fraction of the photo.
    min_fish_fraction: float = 0.01
    # Quality gate: mask solidity (area / convex hull area), ellipse aspect
    # (major / minor axis), focus (variance of the Laplacian of the ROI, grey
    # levels squared, measured at the ROI's output size).
    min_solidity: float = 0.5
    min_aspect: float = 1.6
    max_aspect: float = 6.0
    min_focus: float = 10.0
    # Image sanity.
    min_image_side: int = 64
    max_image_pixels: int = 60_000_000
    # Output.
    roi_format: typing.Literal["png", "jpg"] = "png"
    records_per_shard: int = 1000

    RULES = {
        "green_hue": Each(between(0, 179), increasing=True),
        "green_min_saturation": between(0, 255),
        "green_min_value": between(0, 255),
        "min_green_fraction": FRACTION,
        "work_size": at_least(64),
        "min_fish_fraction": FRACTION,
        "min_solidity": FRACTION,
        "min_aspect": at_least(1),  # major / minor axis is at least 1
        "max_aspect": at_least(1),
        "min_focus": at_least(0),
        "min_image_side": at_least(1),
        "max_image_pixels": at_least(1),
        "records_per_shard": at_least(1),
    }
    RELATIONS = (
        Relation(("max_aspect", "min_aspect"), lambda high, low: high >= low, "must be >= min_aspect"),
        Relation(("max_image_pixels", "min_image_side"), lambda pixels, side: pixels >= side * side,
                 "must admit a photo of min_image_side x min_image_side"),
    )


@dataclasses.dataclass(frozen=True)
class AugmentConfig(Validated):
    """Training augmentation; each op is switched by its own key (see lateral/data/augment.py)."""

    random_crop: bool = True
    crop_margin: float = 0.1
    # Off by default: a mirrored left flank looks like a right flank's pose.
    flip_horizontal: bool = False
    flip_vertical: bool = False
    saturation: bool = True
    saturation_range: tuple[float, float] = (0.7, 1.3)
    brightness: bool = True
    brightness_delta: float = 0.15
    # Hue jitter: rotate the hue by a uniform draw in [-hue_delta, hue_delta] of a full turn (0..0.5).
    hue: bool = False
    hue_delta: float = 0.05
    trivial_augment: bool = False
    trivial_augment_magnitude: float = 0.5
    # Probability of erasing a box (Fishial: 0.358); 0 switches it off.
    random_erasing: float = 0.0
    erasing_scale: tuple[float, float] = (0.05, 0.4)
    erasing_ratio: tuple[float, float] = (0.05, 6.1)

    RULES = {
        "crop_margin": between(0, 1),
        # tf.image.random_saturation needs 0 <= lower < upper
        "saturation_range": Each(at_least(0), increasing=True, strictly=True),
        "brightness_delta": FRACTION,  # of the 0..255 range
        "trivial_augment_magnitude": FRACTION,
        "random_erasing": FRACTION,
        "erasing_scale": Each(between(0, 1), increasing=True),
        "erasing_ratio": Each(above(0), increasing=True),
        "hue_delta": between(0, 0.5),  # tf.image.random_hue's own limit
    }


@dataclasses.dataclass(frozen=True)
class RunConfig(Validated):
    """Which run this is, which stage-one run it builds on, and its seed."""

    sub_name: str
    # Stage two: the stage-one run (or its saved model) the IoM head is trained on.
    first_sub_name: typing.Optional[str] = dataclasses.field(default=None, metadata={"key": "1st_sub_name"})
    stage_one_model: typing.Optional[str] = None  # explicit path of a stage-one embedding.keras
    seed: int = 0

    RULES = {
        "sub_name": RunName(),
        "first_sub_name": RunName(),
        "stage_one_model": NonEmpty(),
        "seed": at_least(0),
    }
    RELATIONS = (
        Relation(("first_sub_name", "sub_name"), lambda first, sub: first != sub,
                 "must name another run than sub_name (stage two writes its own folder)"),
    )


@dataclasses.dataclass(frozen=True)
class DataConfig(Validated):
    """The training set, its validation split and the batch sampler."""

    train_dataset: typing.Optional[str] = None  # prepare_data.py output folder, or TFRecord file/glob
    # Fish of the training set kept out of both stages; test_iom.py evaluates on just these (a development split).
    held_out_fish: tuple[str, ...] = ()
    # Session (or camera) from each file name: a regex with a group named "session" (prepare_data.py).
    session_pattern: typing.Optional[str] = None
    class_by: typing.Literal["fish", "fish_flank"] = "fish_flank"
    num_classes: typing.Optional[int] = None  # checked against the training set when given
    split: typing.Literal["by_identity", "by_session", "none"] = "by_identity"
    val_fraction: float = 0.2
    val_sessions: tuple[str, ...] = ()
    sampler: typing.Literal["balanced", "shuffled"] = "balanced"
    classes_per_batch: int = 8
    samples_per_class: int = 4
    max_per_class: int = 0  # 0: no cap (Fishial capped at 50)
    batch_size: int = 32  # shuffled sampler; the balanced batch is classes_per_batch x samples_per_class

    RULES = {
        "train_dataset": NonEmpty(),
        "held_out_fish": Each(NonEmpty()),
        "session_pattern": Pattern("session"),
        "num_classes": at_least(2),
        "val_fraction": between(0, 1, high_open=True),
        "val_sessions": Each(NonEmpty()),
        "classes_per_batch": at_least(2),  # a batch of one identity has no negatives
        "samples_per_class": at_least(1),
        "max_per_class": at_least(0),
        "batch_size": at_least(1),
    }


@dataclasses.dataclass(frozen=True)
class ModelConfig(Validated):
    """The embedding network: input size, backbone and embedding layer."""

    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE
    backbone_type: str = "MobileNetV2"
    backbone_width: float = 1.0  # MobileNet width multiplier (alpha)
    weights: str = "none"  # imagenet | none | path to a .h5/.weights.h5 file
    embedding_size: int = 512
    dropout: float = 0.5
    bn_momentum: float = 0.9  # every BatchNorm's; keras.applications' 0.99-0.999 suit only very long runs
    # BNNeck (Luo et al. 2019): the embedding's last BatchNorm without learned shift; inference uses its output.
    bnneck: bool = False
    # Per-image colour correction inside the embedding model (training, evaluation, gallery alike).
    colour_constancy: typing.Literal["none", "grey_world", "shades_of_grey"] = "none"
    # How the backbone's feature map becomes a vector: flatten (the original project's), avg or gem (GeM, p learned).
    pooling: typing.Literal["flatten", "avg", "gem"] = "flatten"
    # The backbone's gradient is multiplied by this (1: one learning rate for all; 0.1: the pretrained backbone
    # learns at a tenth of the output layer's rate).
    backbone_lr_scale: float = 1.0

    RULES = {
        "input_size": Each(at_least(MIN_INPUT_SIZE)),
        "backbone_type": Registered("backbone"),
        "backbone_width": above(0),
        "weights": NonEmpty(),
        "embedding_size": at_least(1),
        "dropout": between(0, 1, high_open=True),
        "bn_momentum": between(0, 1),
        "backbone_lr_scale": between(0, 1),
    }


@dataclasses.dataclass(frozen=True)
class HeadConfig(Validated):
    """Stage one's classification head (ArcFace or softmax) and its margin schedule."""

    head_type: str = "ArcHead"
    margin: float = 0.5
    # ArcHead logit scale: a number, or "auto" for AdaCos' fixed scale sqrt(2) ln(C - 1) of the C training classes.
    logit_scale: typing.Union[float, typing.Literal["auto"]] = 64.0
    # ArcHead schedule: margin 0 (a cosine-softmax) for head_warmup_epochs, then the margin grows linearly
    # from 0 to `margin` over margin_ramp_epochs (0: at once). Both >= 0.
    head_warmup_epochs: float = 0.0
    margin_ramp_epochs: float = 0.0
    label_smoothing: float = 0.0  # stage-one cross-entropy label smoothing, in [0, 1)

    RULES = {
        "head_type": Registered("head"),
        "margin": between(0, math.pi / 2),  # radians; past pi/2 the margin swamps the angle it penalises
        "logit_scale": above(0),  # or "auto" (AdaCos), which the type admits
        "head_warmup_epochs": at_least(0),
        "margin_ramp_epochs": at_least(0),
        "label_smoothing": between(0, 1, high_open=True),
    }


@dataclasses.dataclass(frozen=True)
class OptimiserConfig(Validated):
    """Optimiser, learning-rate schedule, run length, checkpointing and numeric precision (both stages)."""

    epochs: int = 5
    steps_per_epoch: typing.Optional[int] = None  # default: one pass over the training images
    algorithm: typing.Literal["sgd", "adam", "adamw"] = "sgd"
    base_lr: float = 0.01
    lr_schedule: typing.Literal["constant", "cosine"] = "cosine"
    warmup_epochs: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 5e-4
    save_steps: int = 1000
    mixed_precision: typing.Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"] = "auto"

    RULES = {
        "epochs": at_least(1),
        "steps_per_epoch": at_least(1),
        "base_lr": above(0),
        "warmup_epochs": at_least(0),
        "momentum": between(0, 1, high_open=True),
        "weight_decay": between(0, 1, high_open=True),
        "save_steps": at_least(1),
    }
    RELATIONS = (
        Relation(("warmup_epochs", "epochs"), lambda warmup, epochs: warmup <= epochs, "must not exceed epochs"),
    )


@dataclasses.dataclass(frozen=True)
class IomConfig(Validated):
    """Stage two: the deep IoM hashing head on the frozen stage-one network, and its objective."""

    m: int = 64  # number of IoM hashes (codes per template)
    q: int = 8  # levels per hash: each code is an integer in 0..q-1
    # The soft arg-max in training is softmax(inverse_temperature * logits): larger is closer to the arg-max.
    inverse_temperature: float = 1.0
    hidden_layers: int = 1  # hidden Dense+BN layers before the projection
    metric_loss: str = "batch_hard_arc_triplet_loss"
    triplet_margin: float = 0.0  # margin of the triplet losses (the angular margin of the arc ones)
    arc_scale: float = 32.0  # scale of the arc triplet losses
    minimize_dist: bool = True  # arc triplet losses: also shrink the hardest positive angle
    quantisation_loss: bool = True
    quantisation_weight: float = 0.5
    code_balance_loss: bool = True
    code_balance_weight: float = 0.5
    bin_lut_loss: typing.Literal["tanh", "sigmoid", "none"] = "none"
    bin_lut_weight: float = 0.001
    freeze_backbone: bool = True
    permutation_key: typing.Optional[int] = None  # seed of the cancellable-template permutation (None: identity)

    RULES = {
        "m": at_least(1),
        "q": at_least(2),  # one level gives codes that are all 0
        "inverse_temperature": above(0),
        "hidden_layers": between(0, 3),
        "metric_loss": Registered("IoM loss"),
        "triplet_margin": at_least(0),
        "arc_scale": above(0),
        "quantisation_weight": at_least(0),
        "code_balance_weight": at_least(0),
        "bin_lut_weight": at_least(0),
        "permutation_key": at_least(0),
    }


@dataclasses.dataclass(frozen=True)
class EvaluationConfig(Validated):
    """What test_iom.py evaluates on, and the batch of every evaluation pass (validation included)."""

    test_dataset: typing.Optional[str] = None  # read by test_iom.py: prepared TFRecords or ROI folders per fish
    eval_batch_size: int = 64

    RULES = {
        "test_dataset": NonEmpty(),
        "eval_batch_size": at_least(1),
    }


# Sections whose keys may sit at the top level of the YAML file, by their attribute on Config (in YAML order).
FLAT_SECTIONS = {
    "run": RunConfig,
    "data": DataConfig,
    "model": ModelConfig,
    "head": HeadConfig,
    "optimiser": OptimiserConfig,
    "iom": IomConfig,
    "evaluation": EvaluationConfig,
}
# Sections that are always nested mappings in the YAML file (``preprocess:``, ``augment:``).
NESTED_SECTIONS = {"preprocess": PreprocessConfig, "augment": AugmentConfig}
SECTIONS = {**FLAT_SECTIONS, **NESTED_SECTIONS}


@dataclasses.dataclass(frozen=True)
class Config:
    """One run's configuration: its sections, each frozen and validated (its ``RULES`` and ``RELATIONS``).

    Pass a function the section it needs (``config.optimiser``); a key is read through its section only
    (``config.optimiser.base_lr``; there is no flat copy). Build one from a YAML-shaped mapping with
    ``build_config`` (``load_config`` reads a file), in code with ``config_from_keys``, and change keys with
    ``replace_keys``.
    """

    run: RunConfig
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    head: HeadConfig = dataclasses.field(default_factory=HeadConfig)
    optimiser: OptimiserConfig = dataclasses.field(default_factory=OptimiserConfig)
    iom: IomConfig = dataclasses.field(default_factory=IomConfig)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)
    preprocess: PreprocessConfig = dataclasses.field(default_factory=PreprocessConfig)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)

    def __post_init__(self):
        for name, section_class in SECTIONS.items():
            object.__setattr__(self, name, _convert(section_class, getattr(self, name), name))


# Each top-level YAML key's section (``1st_sub_name`` -> ``run``); nested keys belong to their mapping.
SECTION_OF_KEY = {
    _yaml_key(section_class, field.name): name
    for name, section_class in FLAT_SECTIONS.items() for field in dataclasses.fields(section_class)
}
# Old key names (the original project's), read with a warning naming the new one: old -> new.
ALIASES = {
    "T": "inverse_temperature",  # documented as a temperature, used as its inverse
    "logist_scale": "logit_scale",
    "hidden_layer_remark": "hidden_layers",  # was a string, "0".."3"
    "quanti": "quantisation_loss",
    "quanti_weight": "quantisation_weight",
    "loss_fun": "metric_loss",
    "w_decay": "weight_decay",
    "embd_shape": "embedding_size",
    "optimizer": "algorithm",  # optimiser.optimizer
}
# The old spelling of a value, by its new key.
_OLD_VALUES = {"hidden_layers": lambda value: int(value) if isinstance(value, str) and value.isdigit() else value}


class OldNameWarning(UserWarning):
    """A config key under its old name (``ALIASES``): it is read, and the message names the new one."""


# Each flat section's field (its Python name, ``first_sub_name``) -> its section.
_SECTION_OF_FIELD = {
    field.name: name for name, section_class in FLAT_SECTIONS.items() for field in dataclasses.fields(section_class)
}


def build_config(raw, origin="config"):
    """The Config of a YAML-shaped mapping (``sectioned`` says what it may hold)."""
    sections = sectioned(raw, origin)
    return Config(**{name: from_dict(section_class, sections.get(name, {}), _prefix(name))
                     for name, section_class in SECTIONS.items()})


def _prefix(name):
    return f"{name}." if name in NESTED_SECTIONS else ""  # a flat section's keys are unique: named bare


def sectioned(raw, origin="config"):
    """A YAML-shaped mapping as {section: {key: value}}: the flat sections' keys may sit at the top level or
    under their section's name (``iom: {m: 32}``); ``preprocess:`` and ``augment:`` are nested. A key given
    twice, or in another section than its own, is an error; an old name (``ALIASES``) is read as its new one,
    with a warning naming ``origin`` (the file)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping of keys, got {type(raw).__name__}")
    sections = {}
    for key, value in _renamed(raw, origin).items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{key}: expected a mapping")
            for inner, inner_value in (_renamed(value, origin) if key in FLAT_SECTIONS else value).items():
                if key in FLAT_SECTIONS and SECTION_OF_KEY.get(inner) != key:
                    known = sorted(yaml_key for yaml_key, section in SECTION_OF_KEY.items() if section == key)
                    raise ConfigError(f"unknown key {f'{key}.{inner}'!r}; known keys: {', '.join(known)}")
                _put(sections.setdefault(key, {}), inner, inner_value)
        elif key in SECTION_OF_KEY:
            _put(sections.setdefault(SECTION_OF_KEY[key], {}), key, value)
        else:
            known = sorted([*SECTION_OF_KEY, *NESTED_SECTIONS])
            raise ConfigError(f"unknown key {key!r}; known keys: {', '.join(known)}")
    return sections


def _renamed(raw, origin):
    """``raw`` with its old key names replaced by the new ones, warning once per old name."""
    renamed = {}
    for key, value in raw.items():
        if key in ALIASES:
            new = ALIASES[key]
            warnings.warn(f"{origin}: {key!r} is an old name, read as {new!r}: rename it", OldNameWarning,
                          stacklevel=4)
            if new in raw:
                raise ConfigError(f"{key!r} and its new name {new!r} are both given")
            key, value = new, _OLD_VALUES.get(new, lambda same: same)(value)
        renamed[key] = value
    return renamed


def _put(section, key, value):
    if key in section:
        raise ConfigError(f"{key!r} is given twice (at the top level and in its section)")
    section[key] = value


def replace_keys(config, **keys):
    """``config`` with keys changed, by their Python names (``epochs=7``, ``first_sub_name="a"``) or whole
    sections (``augment=AugmentConfig()``); every changed section is checked again."""
    changes = {name: {} for name in SECTIONS}
    for key, value in keys.items():
        if key in SECTIONS:
            changes[key] = value
        elif key in _SECTION_OF_FIELD:
            changes[_SECTION_OF_FIELD[key]][key] = value
        else:
            raise ConfigError(f"unknown key {key!r}")
    return dataclasses.replace(config, **{
        name: change if not isinstance(change, dict) else dataclasses.replace(getattr(config, name), **change)
        for name, change in changes.items() if change != {}
    })


def config_from_keys(sub_name, **keys):
    """A Config from keys by their Python names, the rest at their defaults (``config_from_keys("a", q=4)``)."""
    return replace_keys(Config(run=RunConfig(sub_name=sub_name)), **keys)


def smoke(config):
    """``config`` shrunk for a smoke run (a check that the path works, not a figure): small input, embedding,
    batches and IoM code, one epoch of two steps. The backbone and its weights stay (a width its weights lack
    would fail). The run names get ``_smoke`` so a smoke run never resumes or blocks the real run's folder, and
    a stage-two smoke run builds on the stage-one smoke run (an explicit ``stage_one_model`` must then be a
    smoke model too: its input size is checked)."""
    run, data, optimiser = config.run, config.data, config.optimiser
    return replace_keys(
        config,
        sub_name=f"{run.sub_name}_smoke",
        first_sub_name=run.first_sub_name and f"{run.first_sub_name}_smoke",
        input_size=(32, 64),
        embedding_size=min(config.model.embedding_size, 16),
        classes_per_batch=min(data.classes_per_batch, 4),
        samples_per_class=min(data.samples_per_class, 2),
        batch_size=min(data.batch_size, 8),
        eval_batch_size=min(config.evaluation.eval_batch_size, 8),
        epochs=1,
        steps_per_epoch=2,
        warmup_epochs=min(optimiser.warmup_epochs, 1.0),
        save_steps=1,
        m=min(config.iom.m, 8),
    )


def load_config(path, overrides=None):
    """Read and validate a YAML config (and the ``base:`` configs it builds on); ``overrides`` may change keys,
    never add them."""
    path = Path(path)
    sections = _read_sections(path, ())
    try:
        for key, value in (overrides or {}).items():
            section, _, leaf = key.rpartition(".")
            (leaf, value), = _renamed({leaf: value}, "overrides").items()
            section = section or SECTION_OF_KEY.get(leaf)
            if section not in SECTIONS:
                raise ConfigError(f"unknown key {key!r}")
            sections.setdefault(section, {})[leaf] = value  # an unknown leaf fails in its section
        return build_config(sections, path)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def _read_sections(path, chain):
    """The file's keys in sections, over those of the config its ``base:`` names (a path relative to the file;
    that config may name its own base). ``chain``: the files that led here, to refuse a cycle."""
    raw = _read_yaml(path)
    base = raw.pop("base", None)
    try:
        sections = sectioned(raw, path)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    if base is None:
        return sections
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(f"{path}: 'base' must be the path of another config file, got {base!r}")
    base_path = path.parent / base
    chain = (*chain, path.resolve())
    if base_path.resolve() in chain:
        cycle = " -> ".join(str(step) for step in (*chain, base_path.resolve()))
        raise ConfigError(f"{path}: 'base' {base} leads back to a config already read ({cycle})")
    if not base_path.is_file():
        raise ConfigError(f"{path}: 'base' {base}: no such config file ({base_path})")
    inherited = _read_sections(base_path, chain)
    return {name: {**inherited.get(name, {}), **sections.get(name, {})} for name in {**inherited, **sections}}


def _read_yaml(path):
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a YAML config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a text file (a YAML config is text)") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, got {type(raw).__name__}")
    return raw


def snapshot(config):
    """The config (or one section) as plain YAML-able data, in sections, by YAML names (tuples become lists)."""
    if isinstance(config, Config):
        return {name: snapshot(getattr(config, name)) for name in SECTIONS}
    data = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        data[field.metadata.get("key", field.name)] = _plain(value)
    return data


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def require(section, keys, purpose):
    """Fail naming the first of ``keys`` that ``purpose`` needs but the section leaves unset."""
    for key in keys:
        if getattr(section, key) in (None, "", ()):
            raise ConfigError(f"missing required key {_yaml_key(type(section), key)!r} for {purpose}")
