"""Embeddings before any training: EfficientNet-Lite0 with its offline ImageNet weights, frozen, its last
feature map average-pooled (1280 floats). What ImageNet features know about textures serves a species
no run was trained on (issue 22: on 15 guppies, rank-1 0.69 frozen against 0.29 fine-tuned on goldfish)."""

import keras

from lateral.models.backbones import build_backbone
from lateral.models.embedding import PixelNormalisation

IMAGENET_INPUT_SIZE = (224, 224)  # the resolution the weights were trained at


def imagenet_features_model(input_size=IMAGENET_INPUT_SIZE):
    """RGB pixels in 0..255 [batch, h, w, 3] -> float32 [batch, 1280]; weights frozen."""
    height, width = input_size
    pixels = keras.Input((height, width, 3), name="pixels")
    backbone, normalisation = build_backbone("EfficientNetLite0", (height, width, 3), "imagenet")
    backbone.trainable = False
    feature_map = backbone(PixelNormalisation(normalisation)(pixels))
    pooled = keras.layers.GlobalAveragePooling2D(name="average_pool")(feature_map)
    features = keras.layers.Activation("linear", dtype="float32", name="features_float32")(pooled)
    return keras.Model(pixels, features, name="imagenet_lite0")
