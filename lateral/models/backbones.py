"""Backbones by name, from ``keras.applications``, each with its own pixel normalisation.

``weights``: ``imagenet`` (downloaded by Keras on first use, cached in
``~/.keras/models``), ``none`` (random initialisation), or the path of a local
``.h5`` / ``.weights.h5`` file holding the backbone's weights (for machines
that cannot download).
"""

import dataclasses
from pathlib import Path

import keras

from lateral.registry import Registry

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


class WeightsError(ValueError):
    pass


def build_backbone(backbone_type, input_shape, weights="none", width=1.0):
    """The named backbone and its normalisation mode; fails naming the weights at fault."""
    spec = BACKBONES.get(backbone_type)
    if weights == "none":
        return spec.build(input_shape, None, width), spec.normalisation
    if weights == "imagenet":
        try:
            return spec.build(input_shape, "imagenet", width), spec.normalisation
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
