"""The photo layout (lateral/data/layout.py): stray and system folders, links and odd names, in-process.

Each test builds a folder tree by hand and states the expected photos and
ignored items literally.
"""

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from lateral.config import PreprocessConfig
from lateral.data.layout import FLAT, SESSIONS, LayoutError, describe_ignored, read_layout
from lateral.data.prepare import prepare


def touch(root, *relative_paths):
    for relative in relative_paths:
        path = Path(root) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def photos_of(layout):
    return {(entry.source, entry.label, entry.session) for entry in layout.photos}


def ignored_of(layout):
    return {item.path: item.reason for item in layout.ignored}


def test_a_stray_sub_folder_in_a_fish_folder_is_ignored_and_reported(tmp_path):
    touch(tmp_path, *[f"fish_A/a{i}.jpg" for i in range(3)], *[f"fish_B/b{i}.jpg" for i in range(6)],
          "fish_B/old/b_old.jpg")
    layout = read_layout(tmp_path, report=False)
    assert layout.kind == FLAT
    assert photos_of(layout) == ({(f"fish_A/a{i}.jpg", "fish_A", "") for i in range(3)}
                                 | {(f"fish_B/b{i}.jpg", "fish_B", "") for i in range(6)})
    assert ignored_of(layout) == {"fish_B/old/": "a folder inside a fish folder (1 file in it not used)"}
    lines = describe_ignored(layout)
    assert lines[0].startswith("ignored 1 item") and "fish_B/old/" in lines[1]


def test_nas_and_macos_system_folders_and_files_do_not_change_the_layout(tmp_path):
    photos = [f"fish_{fish}/{fish}{i}.jpg" for fish in "ABCDEF" for i in range(6)]  # 36 photos
    touch(tmp_path, *photos, "@eaDir/fish_A/SYNOPHOTO_THUMB_M.jpg", "fish_A/@eaDir/A0.jpg/SYNOFILE_THUMB.jpg",
          "__MACOSX/fish_A/._A0.jpg", "__MACOSX/fish_B/._B0.jpg", ".DS_Store", "fish_C/.DS_Store",
          "fish_D/Thumbs.db", "fish_E/._E0.jpg")
    layout = read_layout(tmp_path, report=False)
    assert layout.kind == FLAT
    assert photos_of(layout) == {(path, path.split("/")[0], "") for path in photos}
    assert ignored_of(layout) == {"@eaDir/": "system item", "fish_A/@eaDir/": "system item",
                                  "__MACOSX/": "system item", ".DS_Store": "hidden", "fish_C/.DS_Store": "hidden",
                                  "fish_D/Thumbs.db": "system item", "fish_E/._E0.jpg": "hidden"}
    assert describe_ignored(layout) == [
        "ignored 7 hidden or system items: .DS_Store x2, ._E0.jpg, @eaDir x2, Thumbs.db, __MACOSX"]


def test_the_session_layout_survives_macosx_and_a_loose_file(tmp_path):
    photos = [f"session_{s}/fish_{f}/{f}{s}{i}.jpg" for s in (1, 2) for f in "AB" for i in range(3)]
    touch(tmp_path, *photos, "__MACOSX/session_1/fish_A/._A10.jpg", "session_1/notes.txt", "ground_truth.jsonl",
          "session_2/fish_B/rejects/B20.jpg")
    layout = read_layout(tmp_path, report=False)
    assert layout.kind == SESSIONS
    assert photos_of(layout) == {(path, path.split("/")[1], path.split("/")[0]) for path in photos}
    assert ignored_of(layout) == {"__MACOSX/": "system item",
                                  "session_1/notes.txt": "a file directly in a session folder",
                                  "ground_truth.jsonl": "a file outside any fish folder",
                                  "session_2/fish_B/rejects/": "a folder inside a fish folder"}


def test_a_mixed_layout_follows_the_majority_and_reports_the_rest(tmp_path):
    touch(tmp_path, *[f"s1/fish_A/{i}.jpg" for i in range(4)], "fish_B/0.jpg", "fish_B/1.jpg")
    layout = read_layout(tmp_path, report=False)
    assert layout.kind == SESSIONS
    assert photos_of(layout) == {(f"s1/fish_A/{i}.jpg", "fish_A", "s1") for i in range(4)}
    assert ignored_of(layout) == {"fish_B/0.jpg": "a file directly in a session folder",
                                  "fish_B/1.jpg": "a file directly in a session folder"}


def test_an_even_mix_of_layouts_is_an_error(tmp_path):
    touch(tmp_path, "s1/fish_A/0.jpg", "s1/fish_A/1.jpg", "fish_B/0.jpg", "fish_B/1.jpg")
    with pytest.raises(LayoutError, match="2 files in RAW/<fish_id>/<photo> and as many"):
        read_layout(tmp_path, report=False)


def test_the_report_goes_to_stderr(tmp_path, capsys):
    touch(tmp_path, "fish_A/0.jpg", "fish_A/1.jpg", "fish_A/old/2.jpg", "fish_A/.DS_Store")
    read_layout(tmp_path)
    assert capsys.readouterr().err.splitlines() == [
        "ignored 1 item (layout RAW/<fish_id>/<photo>):",
        "  fish_A/old/: a folder inside a fish folder (1 file in it not used)",
        "ignored 1 hidden or system item: .DS_Store",
    ]


def test_dangling_links_and_link_loops_are_reported_and_folder_links_followed(tmp_path):
    raw, elsewhere = tmp_path / "raw", tmp_path / "elsewhere"
    touch(raw, "fish_A/0.jpg", "fish_A/1.jpg")
    touch(elsewhere, "fish_B/0.jpg")
    (raw / "fish_B").symlink_to(elsewhere / "fish_B")
    (raw / "fish_A" / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    (raw / "fish_A" / "loop.jpg").symlink_to("loop.jpg")
    (raw / "fish_A" / "up").symlink_to("..")  # a folder loop: a sub-folder, not followed into
    layout = read_layout(raw, report=False)
    assert photos_of(layout) == {("fish_A/0.jpg", "fish_A", ""), ("fish_A/1.jpg", "fish_A", ""),
                                 ("fish_B/0.jpg", "fish_B", "")}
    assert ignored_of(layout) == {
        "fish_A/gone.jpg": f"dangling link: its target {tmp_path / 'missing.jpg'} does not exist",
        "fish_A/loop.jpg": "symbolic link loop",
        "fish_A/up/": "a folder inside a fish folder",
    }


def test_an_unreadable_fish_folder_is_a_layout_error_naming_it(tmp_path, monkeypatch):
    touch(tmp_path, "fish_A/0.jpg", "fish_B/0.jpg", "fish_B/old/1.jpg")
    unreadable = {tmp_path / "fish_A", tmp_path / "fish_B" / "old"}
    real_iterdir = Path.iterdir

    def iterdir(self):  # root reads every folder, so permission bits cannot make one unreadable here
        if self in unreadable:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    with pytest.raises(LayoutError, match=f"^{tmp_path / 'fish_A'}: cannot read this folder \\(Permission denied\\)$"):
        read_layout(tmp_path, report=False)
    unreadable.remove(tmp_path / "fish_A")  # an unreadable folder the layout ignores is no error
    assert photos_of(read_layout(tmp_path, report=False)) == {("fish_A/0.jpg", "fish_A", ""),
                                                              ("fish_B/0.jpg", "fish_B", "")}


def noise_photo(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (80, 160, 3), np.uint8)
    path.write_bytes(cv2.imencode(".png", pixels)[1].tobytes())


def test_a_file_name_that_is_not_utf8_is_reported_and_the_rest_reach_the_tfrecords(tmp_path, capsys):
    raw = tmp_path / "raw"
    for fish in "AB":
        for index in range(2):
            noise_photo(raw / f"fish_{fish}" / f"{fish}{index}.png", ord(fish) + index)
    bad_name = os.fsdecode(b"fish_A/caf\xe9.png")  # Latin-1 bytes, as an old camera or a Windows share writes them
    noise_photo(raw / bad_name, 9)
    layout = read_layout(raw, report=False)
    assert ignored_of(layout) == {bad_name: "name is not valid UTF-8: rename it to use it"}
    assert describe_ignored(layout)[1] == "  fish_A/caf\\xe9.png: name is not valid UTF-8: rename it to use it"

    out = tmp_path / "out"
    for _ in range(2):  # the rerun too
        summary = prepare(raw, out, PreprocessConfig(), (32, 64), segment=False, progress=False)
        assert summary["ok"] == 4 and summary["shards"]
        assert summary["ignored"] == [{"path": "fish_A/caf\\xe9.png", "reason": "name is not valid UTF-8: rename it to use it"}]
    assert "caf\\xe9.png" in capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["layout"] == FLAT
