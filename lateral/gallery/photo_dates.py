"""A photo's capture date from its EXIF ``DateTimeOriginal``: what dates a session and a photo when no one gave a date.

EXIF 2.32 (CIPA DC-008), tag 0x9003 in the Exif IFD (0x8769): the date and
time the picture was taken, written ``YYYY:MM:DD HH:MM:SS``. Read with
Pillow, which opens the file's header without decoding the pixels.
"""

import datetime
import re

from PIL import Image, UnidentifiedImageError

EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL = 0x9003
EXIF_DATE = re.compile(r"(\d{4}):(\d{2}):(\d{2})(?:[ T].*)?")


def exif_date(path):
    """``YYYY-MM-DD`` from the photo's EXIF DateTimeOriginal, or None (no EXIF, no such tag, or not a real date:
    cameras write ``0000:00:00 00:00:00`` when their clock is unset)."""
    try:
        with Image.open(path) as image:
            value = image.getexif().get_ifd(EXIF_IFD).get(DATE_TIME_ORIGINAL)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return None
    match = EXIF_DATE.fullmatch(value.strip("\x00 ")) if isinstance(value, str) else None
    if match is None:
        return None
    try:
        return datetime.date(*map(int, match.groups())).isoformat()
    except ValueError:
        return None
