"""embed_roi_set's flip test-time augmentation against a NumPy model of the same linear map."""

import cv2
import keras
import numpy as np

from lateral.data.pipeline import embed_roi_set
from lateral.data.records import RoiSet


def test_flip_tta_is_the_mean_of_the_image_and_its_mirror():
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (3, 4, 6, 3), dtype=np.uint8)
    images = np.empty(3, object)
    images[:] = [cv2.imencode(".png", picture)[1].tobytes() for picture in pictures]
    blank = np.array([""] * 3)
    roi_set = RoiSet(images, np.zeros(3, np.int64), blank, blank, blank, blank, {})
    weights = rng.normal(size=(4 * 6 * 3, 5)).astype("float32")
    model = keras.Sequential([keras.Input((4, 6, 3)), keras.layers.Flatten(), keras.layers.Dense(5, use_bias=False)])
    model.layers[-1].set_weights([weights])
    rgb = pictures[..., ::-1].astype("float32")  # the PNG holds BGR, the pipeline decodes RGB
    plain = rgb.reshape(3, -1) @ weights
    mirrored = rgb[:, :, ::-1].reshape(3, -1) @ weights
    np.testing.assert_allclose(embed_roi_set(model, roi_set, (4, 6), 2), plain, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(embed_roi_set(model, roi_set, (4, 6), 2, flip_tta=True), (plain + mirrored) / 2,
                               rtol=1e-4, atol=1e-2)
