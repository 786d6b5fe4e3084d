"""An output flag naming an input is refused before any work (issue 27 case 1): exit 2 naming both, the input
untouched."""

import os

import pytest

from lateral.gallery.__main__ import main
from tests.gallery.test_main import gallery_path  # noqa: F401  (a fixture: a hand-made gallery, no model needed)


def refused(argv, capsys, *named):
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1, error
    assert all(str(name) in error for name in named), error


def test_history_out_over_its_gallery_is_refused(gallery_path, capsys):  # noqa: F811
    before = gallery_path.read_bytes()
    refused(["history", "--gallery", str(gallery_path), "--out", str(gallery_path)], capsys, "--out", "--gallery")
    link = gallery_path.with_name("link.csv")
    os.symlink(gallery_path, link)  # the same file through a link
    refused(["history", "--gallery", str(gallery_path), "--out", str(link)], capsys, link, gallery_path)
    hard = gallery_path.with_name("hard.csv")
    os.link(gallery_path, hard)  # and through a hard link
    refused(["history", "--gallery", str(gallery_path), "--out", str(hard)], capsys, hard, gallery_path)
    assert gallery_path.read_bytes() == before


@pytest.mark.parametrize("flag", ["--csv", "--json"])
def test_identify_outputs_over_the_gallery_a_photo_or_into_a_photo_folder_are_refused(flag, gallery_path, tmp_path,
                                                                                      capsys):  # noqa: F811
    photos = tmp_path / "photos"
    photos.mkdir()
    photo = photos / "p.jpg"
    photo.write_bytes(b"a photo")
    before = gallery_path.read_bytes()
    common = ["identify", "--gallery", str(gallery_path), "--threshold", "0.5"]
    refused([*common, "--input", str(photo), flag, str(gallery_path)], capsys, flag, "--gallery")
    refused([*common, "--input", str(photo), flag, str(photo)], capsys, flag, "--input", photo)
    refused([*common, "--input", str(photos), flag, str(photos / "out.csv")], capsys, "inside", photos)
    assert gallery_path.read_bytes() == before and photo.read_bytes() == b"a photo"
    assert sorted(os.listdir(photos)) == ["p.jpg"]


def test_embed_output_over_its_config_is_refused(tmp_path, capsys):
    from lateral.embed import main as embed

    config = tmp_path / "run.yaml"
    config.write_text("sub_name: a\n")
    assert embed(["--cfg_path", str(config), "--input", str(tmp_path / "rois"), "--output", str(config)]) == 2
    assert "--output" in capsys.readouterr().err and config.read_text() == "sub_name: a\n"
