"""Every kind of unusable file becomes a named reason, never a crash or a bogus image."""

import cv2
import numpy as np
import pytest

from lateral.preprocess.photo_io import jpeg_dimensions_if_complete, read_colour_photo
from lateral.preprocess.rejection import PhotoRejected

LIMITS = dict(min_side=64, max_pixels=1_000_000)


def photo(height=120, width=160, channels=3, dtype=np.uint8):
    rng = np.random.default_rng(0)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype)


def save(tmp_path, name, image, *params):
    path = tmp_path / name
    ok, data = cv2.imencode(path.suffix, image, list(params))
    assert ok
    path.write_bytes(data.tobytes())
    return path


def reason_for(path, **limits):
    with pytest.raises(PhotoRejected) as caught:
        read_colour_photo(path, **{**LIMITS, **limits})
    return caught.value.reason


def test_a_good_jpeg_and_png_decode_to_bgr(tmp_path):
    for name in ("a.jpg", "a.png"):
        image = read_colour_photo(save(tmp_path, name, photo()), **LIMITS)
        assert image.shape == (120, 160, 3) and image.dtype == np.uint8


def test_missing_file_is_unreadable(tmp_path):
    assert reason_for(tmp_path / "gone.jpg") == "unreadable"


@pytest.mark.parametrize("content", [b"", b"field notes: fish 12 looked tired\n", b"\x00" * 500])
def test_non_images(tmp_path, content):
    path = tmp_path / "notes.jpg"
    path.write_bytes(content)
    assert reason_for(path) == "not_an_image"


def test_truncated_jpeg_is_corrupt(tmp_path):
    """OpenCV 4 decodes a truncated JPEG, filling the rest with grey; we reject it."""
    data = save(tmp_path, "a.jpg", photo()).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) * 2 // 3])
    assert reason_for(cut) == "corrupt"


def test_jpeg_with_data_after_its_end_marker_is_fine(tmp_path):
    path = save(tmp_path, "a.jpg", photo())
    path.write_bytes(path.read_bytes() + b"\x00\x00ftypmp42" + bytes(range(256)))
    assert read_colour_photo(path, **LIMITS).shape == (120, 160, 3)
    assert jpeg_dimensions_if_complete(path.read_bytes()) == (120, 160)


def test_garbage_after_a_png_signature_is_corrupt(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    assert reason_for(path) == "corrupt"


@pytest.mark.parametrize(
    "name, image, reason",
    [
        ("g.png", photo(channels=1), "grayscale"),
        ("g.jpg", photo(channels=1), "grayscale"),
        ("deep.png", photo(dtype=np.uint16), "not_8_bit"),
        ("alpha.png", photo(channels=4), "alpha_channel"),
        ("tiny.jpg", photo(40, 300), "too_small"),
        ("huge.png", photo(1100, 1000), "too_large"),
        ("huge.jpg", photo(1100, 1000), "too_large"),
    ],
)
def test_unusable_pixels(tmp_path, name, image, reason):
    assert reason_for(save(tmp_path, name, image)) == reason
