"""The stage-one embedding network: pixels -> [colour constancy] -> normalisation -> backbone -> output layer.

The output layer is the original project's (arcface-tf2's OutputLayer):
BatchNorm, Dropout, Flatten, Dense to ``embedding_size``, BatchNorm; with
``pooling: avg`` or ``gem`` the feature map is pooled first (then BatchNorm,
Dropout, Dense, BatchNorm). ``backbone_lr_scale`` below 1 scales the
gradient reaching the backbone (``models/gradient_scale.py``). With
``bnneck`` the last BatchNorm is the BNNeck of Luo et al. 2019 ("Bag of Tricks
and a Strong Baseline for Deep Person Re-identification", arXiv 1903.07071):
no learned shift, so the embeddings the cosine head trains on and inference
compares stay centred on the origin; the features before it are
``output_dense``'s. The model takes float pixels in 0..255 and returns float32
embeddings whatever the mixed-precision policy, so a saved model needs no
preprocessing outside it.
"""

import keras
import numpy as np

from lateral.models.backbones import build_backbone
from lateral.models.colour_constancy import ColourConstancy
from lateral.models.gradient_scale import GradientScale
from lateral.models.pooling import build_pooling

# keras.applications.imagenet_utils' constants.
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN_RGB = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD_RGB = (0.229 * 255, 0.224 * 255, 0.225 * 255)


@keras.saving.register_keras_serializable(package="lateral")
class PixelNormalisation(keras.layers.Layer):
    """``keras.applications`` preprocess_input modes as a layer: caffe, tf, torch or none."""

    def __init__(self, mode, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("caffe", "tf", "torch", "none"):
            raise ValueError(f"unknown normalisation mode {mode!r}")
        self.mode = mode

    def call(self, images):
        images = keras.ops.cast(images, self.compute_dtype)
        if self.mode == "tf":
            return images / 127.5 - 1.0
        if self.mode == "caffe":
            return images[..., ::-1] - np.array(IMAGENET_MEAN_BGR, "float32").astype(self.compute_dtype)
        if self.mode == "torch":
            mean = np.array(IMAGENET_MEAN_RGB, "float32").astype(self.compute_dtype)
            std = np.array(IMAGENET_STD_RGB, "float32").astype(self.compute_dtype)
            return (images - mean) / std
        return images

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def build_embedding_model(input_size, backbone_type, embedding_size, weights="none", width=1.0, dropout=0.5,
                          bn_momentum=0.9, name="embedding", bnneck=False, colour_constancy="none", pooling="flatten",
                          backbone_lr_scale=1.0):
    """``bn_momentum`` replaces every BatchNorm's momentum, the backbone's included.

    keras.applications build with 0.99-0.999, tuned for hundreds of thousands
    of steps; a run of a few hundred steps would then validate and save a model
    whose moving statistics are still mostly their initial values.
    """
    height, width_px = input_size
    pixels = keras.Input((height, width_px, 3), name="pixels")
    backbone, normalisation = build_backbone(backbone_type, (height, width_px, 3), weights, width)
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = bn_momentum
    corrected = pixels if colour_constancy == "none" else ColourConstancy(colour_constancy, name="colour_constancy")(pixels)
    features = backbone(PixelNormalisation(normalisation, name="normalisation")(corrected))
    if backbone_lr_scale != 1.0:
        features = GradientScale(backbone_lr_scale, name="backbone_gradient_scale")(features)
    if pooling != "flatten":  # GeM pools the backbone's non-negative activations, before any BatchNorm shifts them
        features = build_pooling(pooling)(features)
    x = keras.layers.BatchNormalization(momentum=bn_momentum, name="output_bn_in")(features)
    x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    if pooling == "flatten":
        x = build_pooling(pooling)(x)
    x = keras.layers.Dense(embedding_size, name="output_dense")(x)
    if bnneck:
        x = keras.layers.BatchNormalization(momentum=bn_momentum, center=False, name="bnneck")(x)
    else:
        x = keras.layers.BatchNormalization(momentum=bn_momentum, name="output_bn_out")(x)
    embeddings = keras.layers.Activation("linear", dtype="float32", name="embedding_float32")(x)
    return keras.Model(pixels, embeddings, name=name)


def embedding_model_for(model, weights=None):
    """The embedding network the config's model section (``config.model``) describes.

    ``weights`` overrides its ``weights`` key: ``"none"`` when a checkpoint is restored into it anyway.
    """
    return build_embedding_model(
        model.input_size, model.backbone_type, model.embedding_size, model.weights if weights is None else weights,
        model.backbone_width, model.dropout, model.bn_momentum, bnneck=model.bnneck,
        colour_constancy=model.colour_constancy, pooling=model.pooling, backbone_lr_scale=model.backbone_lr_scale,
    )
