"""Capture dates from EXIF DateTimeOriginal, on JPEGs whose EXIF block the test writes byte by byte (TIFF 6.0 §2,
EXIF 2.32 §4.6): the reader, then sessions and photos dated by ``enroll`` and ``confirm`` and carried into the
encounters export."""

import csv
import shutil
import struct

import cv2
import numpy as np
import pytest

from lateral.gallery import commands, curation
from lateral.gallery.photo_dates import exif_date
from lateral.gallery.store import load_gallery
from tests.gallery.test_commands import KNOWN, model_folder  # noqa: F401  (the module's tiny model)


def exif_segment(date_time):
    """An APP1 Exif segment: a little-endian TIFF header, IFD0 holding only the Exif IFD pointer (tag 0x8769, LONG),
    the Exif IFD holding only DateTimeOriginal (tag 0x9003, ASCII, NUL-terminated)."""
    value = date_time.encode("ascii") + b"\x00"
    ifd0, exif_ifd = 8, 8 + 2 + 12 + 4  # each IFD: entry count, one 12-byte entry, next-IFD offset
    data = exif_ifd + 2 + 12 + 4
    tiff = (b"II*\x00" + struct.pack("<I", ifd0)
            + struct.pack("<HHHII", 1, 0x8769, 4, 1, exif_ifd) + struct.pack("<I", 0)
            + struct.pack("<HHHII", 1, 0x9003, 2, len(value), data) + struct.pack("<I", 0) + value)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def write_dated(source, target, date_time):
    """``source`` re-encoded as a JPEG at ``target`` with the EXIF DateTimeOriginal ``date_time`` (after SOI)."""
    jpeg = cv2.imencode(".jpg", cv2.imread(str(source)))[1].tobytes()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(jpeg[:2] + exif_segment(date_time) + jpeg[2:])


def test_the_exif_capture_date_is_read_and_a_missing_or_unset_one_is_none(tmp_path):
    image = np.full((16, 24, 3), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "plain.jpg"), image)
    write_dated(tmp_path / "plain.jpg", tmp_path / "dated.jpg", "2026:05:04 10:11:12")
    write_dated(tmp_path / "plain.jpg", tmp_path / "unset.jpg", "0000:00:00 00:00:00")
    cv2.imwrite(str(tmp_path / "plain.png"), image)
    (tmp_path / "not_a_photo.jpg").write_bytes(b"hello")
    assert exif_date(tmp_path / "dated.jpg") == "2026-05-04"
    assert [exif_date(tmp_path / name) for name in ("plain.jpg", "unset.jpg", "plain.png", "not_a_photo.jpg")] == [
        None] * 4


@pytest.fixture
def dated_photos(prepared_synthetic, tmp_path):
    """known/<fish>/ for 2 fish, session 1 dated 2026-05-04 but one photo 2026-05-03; one session-2 photo of the first
    fish dated 2026-06-09; one photo without EXIF."""
    raw = prepared_synthetic.parent / "raw"
    for number, fish in enumerate(KNOWN[:2]):
        for index, photo in enumerate(sorted((raw / "session_1" / fish).glob("*.jpg"))[:2]):
            day = "03" if (number, index) == (1, 1) else "04"
            write_dated(photo, tmp_path / "known" / fish / photo.name, f"2026:05:{day} 08:00:00")
    later = sorted((raw / "session_2" / KNOWN[0]).glob("*.jpg"))
    write_dated(later[0], tmp_path / "later" / later[0].name, "2026:06:09 07:30:00")
    shutil.copyfile(later[1], tmp_path / "later" / later[1].name)
    return tmp_path


def test_enrol_and_confirm_date_sessions_and_photos_from_exif_unless_a_date_is_given(dated_photos, model_folder):
    root = dated_photos
    gallery_path = root / "pond.lgal"
    commands.enroll(gallery_path, root / "known", model=model_folder, session="s1")
    gallery = load_gallery(gallery_path)
    assert gallery.sessions == {"s1": "2026-05-03"}  # the earliest photo of the session
    written = {path.name: "2026-05-03" if path.parent.name == KNOWN[1] and path.name == sorted(
        other.name for other in path.parent.glob("*.jpg"))[1] else "2026-05-04"
        for path in (root / "known").glob("*/*.jpg")}  # as the fixture wrote them
    assert {e["source"].split("/")[-1]: gallery.metadata[e["sha256"]]["date"] for e in gallery.entries} == written
    assert gallery.decisions[-1]["action"] == "session_date"
    assert "EXIF DateTimeOriginal" in gallery.decisions[-1]["note"]
    dated, undated = sorted((root / "later").glob("*.jpg"), key=lambda p: exif_date(p) is None)
    # A date given with confirm wins over the photo's EXIF date; the photo keeps its own date.
    commands.confirm(gallery_path, dated, KNOWN[0], session="s2", session_date="2026-06-01")
    commands.confirm(gallery_path, undated, KNOWN[0], session="s3")
    gallery = load_gallery(gallery_path)
    assert gallery.sessions == {"s1": "2026-05-03", "s2": "2026-06-01", "s3": None}
    curation.export(gallery_path, encounters=root / "encounters.csv")
    rows = {row["photo"]: row for row in csv.DictReader(open(root / "encounters.csv", newline=""))}
    assert (rows[dated.name]["session_date"], rows[dated.name]["date"]) == ("2026-06-01", "2026-06-09")
    assert (rows[undated.name]["session_date"], rows[undated.name]["date"]) == ("", "")
    assert {row["date"] for name, row in rows.items() if name not in (dated.name, undated.name)} == {
        "2026-05-03", "2026-05-04"}
