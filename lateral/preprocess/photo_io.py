"""Reading photos defensively: every way a file can be unusable becomes a reason."""

from pathlib import Path

import cv2
import numpy as np

from lateral.preprocess.rejection import PhotoRejected

# Leading bytes of the formats OpenCV decodes; a file starting otherwise is not an image.
IMAGE_SIGNATURES = {
    b"\xff\xd8\xff": "jpeg",
    b"\x89PNG\r\n\x1a\n": "png",
    b"BM": "bmp",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
    b"RIFF": "webp",
}


def image_format(data):
    for signature, name in IMAGE_SIGNATURES.items():
        if data.startswith(signature):
            return name
    return None


def jpeg_dimensions_if_complete(data):
    """Walk a JPEG's markers to its end-of-image marker.

    Returns (height, width) from the frame header, or None when the file stops
    before EOI (a truncated download or copy: OpenCV would decode it anyway,
    filling the missing rows with grey). Data after EOI (as in phones' motion
    photos) is allowed; an EXIF thumbnail inside APP1 is skipped whole.
    """
    size = len(data)
    dimensions = None
    position = 2
    while position + 1 < size:
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        if marker == 0xD9:
            return dimensions
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            position += 2
            continue
        if position + 4 > size:
            return None
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        segment_end = position + 2 + length
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and position + 9 <= size:
            dimensions = (
                int.from_bytes(data[position + 5 : position + 7], "big"),
                int.from_bytes(data[position + 7 : position + 9], "big"),
            )
        if marker != 0xDA:
            position = segment_end
            continue
        # Entropy-coded data follows a start-of-scan header: skip to the next
        # real marker (0xFF00 is a stuffed byte, 0xFFD0-D7 restart markers).
        position = segment_end
        while True:
            position = data.find(b"\xff", position)
            if position < 0 or position + 1 >= size:
                return None
            following = data[position + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                position += 2
            elif following == 0xFF:
                position += 1
            else:
                break
    return None


def png_dimensions(data):
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[20:24], "big"), int.from_bytes(data[16:20], "big")


def read_colour_photo(path, min_side, max_pixels):
    """Decode ``path`` as an 8-bit, 3-channel BGR image or raise PhotoRejected."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise PhotoRejected("unreadable", f"cannot read the file: {error.strerror or error}") from None
    if not data:
        raise PhotoRejected("not_an_image", "the file is empty")
    kind = image_format(data)
    if kind is None:
        raise PhotoRejected("not_an_image", "the file is not a JPEG, PNG, BMP, TIFF or WebP image")
    header_dimensions = None
    if kind == "jpeg":
        header_dimensions = jpeg_dimensions_if_complete(data)
        if header_dimensions is None:
            raise PhotoRejected("corrupt", "JPEG data ends before its end-of-image marker (truncated file)")
    elif kind == "png":
        header_dimensions = png_dimensions(data)
    if header_dimensions is not None:
        _check_size(*header_dimensions, min_side, max_pixels)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise PhotoRejected("corrupt", f"{kind.upper()} data could not be decoded")
    _check_size(image.shape[0], image.shape[1], min_side, max_pixels)
    if image.dtype != np.uint8:
        raise PhotoRejected("not_8_bit", f"{image.dtype} pixels; save the photo with 8 bits per channel")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels in (1, 2):
        raise PhotoRejected("grayscale", "a grayscale image: colour is needed")
    if channels == 4:
        raise PhotoRejected("alpha_channel", "an image with an alpha channel; save it without transparency")
    return image


def _check_size(height, width, min_side, max_pixels):
    if min(height, width) < min_side:
        raise PhotoRejected("too_small", f"{width}x{height} pixels; at least {min_side} on each side needed")
    if height * width > max_pixels:
        raise PhotoRejected("too_large", f"{width}x{height} pixels; at most {max_pixels} pixels allowed")
