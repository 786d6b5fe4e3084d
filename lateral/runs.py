"""A run folder ``checkpoints/<sub_name>/``: the names of its files, and ``Run.load`` to read a trained run.

Training writes the folder (``lateral/training/run_directory.py`` takes the
names from here); evaluation, ``lateral.embed`` and the gallery read it with
``Run.load``, so none of them needs ``lateral.training``:

    config.yaml             the config snapshot          label_map.json   class name -> training label
    embedding.keras         pixels -> float embeddings   iom_codes.keras  pixels -> int32 IoM codes (stage two)
    iom_codes_savedmodel/   the codes model as a SavedModel (stage two)
    stage_one.json          the stage-one model a stage-two run was built on
    ckpt/                   checkpoints to resume from
    evaluation/             test_iom.py's report (its default --out): metrics.json (the thresholds --far reads) and
                            open_set_calibration.npz (the impostor scores --fpir reads; lateral.fpir)

A file at fault (missing, truncated, not what it should be) raises an error
naming it, which the entry scripts report in one line (``lateral.cli``).
"""

import dataclasses
import json
from pathlib import Path

import keras

from lateral.config import Config, ConfigError, load_config
from lateral.models.iom import IoMProjection, build_codes_head
from lateral.models.saved import load_model, weights_fingerprint
from lateral.user_errors import UserError

CONFIG_SNAPSHOT = "config.yaml"
LABEL_MAP = "label_map.json"
EMBEDDING_MODEL = "embedding.keras"
CODES_MODEL = "iom_codes.keras"
SAVED_MODEL = "iom_codes_savedmodel"
STAGE_ONE_RECORD = "stage_one.json"  # stage two: the stage-one model it was built on
CHECKPOINT_FOLDER = "ckpt"
CHECKPOINT_PREFIX = "ckpt"
TRAINED_MODELS = (CODES_MODEL, EMBEDDING_MODEL)


class RunFolderError(UserError):
    """A run folder that cannot be used: a file missing or damaged (the message names it)."""


def read_config(folder):
    """The run's config snapshot (``config.yaml``) as a Config."""
    path = Path(folder) / CONFIG_SNAPSHOT
    try:
        return load_config(path)
    except ConfigError as error:  # its message names the file already
        raise RunFolderError(str(error)) from None


def read_label_map(folder):
    """The run's ``label_map.json``: {class name: training label}."""
    path = Path(folder) / LABEL_MAP
    try:
        label_map = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunFolderError(f"{path} not found: the run folder is incomplete (train it again)") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise RunFolderError(f"{path} is damaged ({error})") from None
    if not isinstance(label_map, dict) or not all(isinstance(label, int) for label in label_map.values()):
        raise RunFolderError(f"{path} is damaged (not a mapping of class names to integer labels)")
    return label_map


def codes_model_parts(codes_model):
    """(embedding network, IoM projection) inside a saved codes model (``lateral.models.iom.build_codes_model``)."""
    embedding = next((layer for layer in codes_model.layers if isinstance(layer, keras.Model)), None)
    projection = next((layer for layer in codes_model.layers if isinstance(layer, IoMProjection)), None)
    return embedding, projection


def codes_head(codes_model):
    """embeddings -> integer codes: the saved codes model's projection under its own key and algorithm."""
    embedding, projection = codes_model_parts(codes_model)
    permutation = codes_model.get_layer("permutation")
    return build_codes_head(int(embedding.output_shape[-1]), projection, permutation.key, permutation.algorithm)


@dataclasses.dataclass(frozen=True)
class Run:
    """A trained run, read whole: its models, config, label map and weights fingerprints.

    ``codes_model`` is None for a stage-one run. ``config`` and ``label_map``
    are None when the folder holds no ``config.yaml`` / ``label_map.json`` (a
    folder of the bare models, copied by hand, still embeds); a damaged one is
    an error. ``embedding_fingerprint`` identifies the embedding network (as
    ``stage_one.json`` records it), ``codes_fingerprint`` the network inside
    the codes model that makes the codes (as a gallery records it).
    """

    path: Path
    embedding_model: keras.Model
    codes_model: keras.Model | None
    config: Config | None
    label_map: dict | None
    embedding_fingerprint: str
    codes_fingerprint: str | None

    @property
    def input_size(self):
        return tuple(self.embedding_model.input_shape[1:3])

    @classmethod
    def load(cls, path):
        path = Path(path)
        if not path.is_dir():
            raise RunFolderError(f"run folder not found: {path} (train it first: train.py / train_twostage.py)")
        embedding_path = path / EMBEDDING_MODEL
        if not embedding_path.is_file():
            raise RunFolderError(f"no {EMBEDDING_MODEL} in {path}: train it first (train.py / train_twostage.py)")
        embedding_model = load_model(embedding_path)
        codes_path = path / CODES_MODEL
        codes_model = load_model(codes_path) if codes_path.is_file() else None
        codes_fingerprint = None
        if codes_model is not None:
            parts = codes_model_parts(codes_model)
            if None in parts:
                raise RunFolderError(f"{codes_path} is not an IoM codes model (no embedding network and IoM "
                                     "projection inside); train_twostage.py makes one")
            codes_fingerprint = weights_fingerprint(parts)
        config = read_config(path) if (path / CONFIG_SNAPSHOT).exists() else None
        label_map = read_label_map(path) if (path / LABEL_MAP).exists() else None
        return cls(path, embedding_model, codes_model, config, label_map, weights_fingerprint([embedding_model]),
                   codes_fingerprint)
