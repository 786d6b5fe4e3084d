"""Refusals that were missing (issue 27, cases 7 and 9): each is exit 2 naming the value, before any work."""

import pytest

from lateral.gallery.__main__ import build_parser

DECISION_FLAGS = ("--top_k", "--threshold", "--review_threshold", "--far", "--review_far", "--metrics")


def _flags(command):
    parser = build_parser()
    sub = next(action for action in parser._actions if action.dest == "command").choices[command]
    return {option: action for action in sub._actions for option in action.option_strings}


def test_identify_and_review_share_one_decision_flag_set():
    identify, review = _flags("identify"), _flags("review")
    for flag in DECISION_FLAGS:
        assert (identify[flag].type, identify[flag].default) == (review[flag].type, review[flag].default), flag


@pytest.mark.parametrize("command", ["identify", "review"])
@pytest.mark.parametrize("top_k", ["0", "-3"])
def test_top_k_below_one_is_refused_by_both_commands(command, top_k, capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args([command, "--gallery", "g.lgal", "--input", "p.jpg", "--threshold", "0.5",
                                   "--top_k", top_k])
    assert stop.value.code == 2
    assert "--top_k" in capsys.readouterr().err


@pytest.mark.parametrize("flags, named", [
    (["--threshold", "nan"], "--threshold"), (["--threshold", "1.5"], "--threshold"),
    (["--threshold", "0.9", "--review_threshold", "inf"], "--review_threshold"),
    (["--far", "0", "--metrics", "m.json"], "--far"), (["--far", "nan", "--metrics", "m.json"], "--far"),
])
def test_thresholds_outside_the_score_range_are_refused(flags, named, capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["identify", "--gallery", "g.lgal", "--input", "p.jpg", *flags])
    assert stop.value.code == 2
    assert named in capsys.readouterr().err


@pytest.mark.parametrize("fish, why", [("", "must not be empty"), ("  ", "must not be empty"),
                                       ("new", "'new' is reserved"), ("x" * 101, "101 characters long"),
                                       ("=HYPERLINK(1)", "read it as a formula"), ("a\nb", "a control character")])
def test_unusable_fish_ids_are_refused(fish, why, tmp_path, capsys):
    from lateral.gallery.__main__ import main

    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"not read")
    gallery = tmp_path / "g.lgal"
    assert main(["enroll", "--gallery", str(gallery), "--input", str(photo), "--fish", fish]) == 2
    assert why in capsys.readouterr().err
    if fish != "new":  # `confirm --fish new` is how a person asks for a new fish
        assert main(["confirm", "--gallery", str(gallery), "--photo", str(photo), "--fish", fish]) == 2
        assert why in capsys.readouterr().err
    assert not gallery.exists()


def test_a_tie_at_the_top_is_review_not_match():
    import numpy as np

    from lateral.gallery.search import GallerySearch, given_thresholds, identify
    from tests.gallery.test_search import gallery_of, query

    code = [0, 1, 2, 3, 0, 1, 2, 3]
    templates = [("A", "left", code, [1.0, 0.0]), ("B", "left", code, [1.0, 0.0]),
                 ("C", "left", [3, 3, 3, 3, 3, 3, 3, 0], [0.0, 1.0])]
    search = GallerySearch(gallery_of(templates))
    for top_k in (1, 5):
        result = identify(search, [query()], [np.array(code)], [None], given_thresholds(0.9), top_k)[0]
        assert result["decision"] == "review" and len(result["candidates"]) == min(top_k, 3)
    alone = GallerySearch(gallery_of([templates[0], templates[2]]))
    assert identify(alone, [query()], [np.array(code)], [None], given_thresholds(0.9), 1)[0]["decision"] == "match"


def test_identify_of_an_empty_folder_exits_2(tmp_path, capsys):
    from lateral.gallery.__main__ import main
    from tests.gallery.test_main import gallery_path

    empty = tmp_path / "empty"
    empty.mkdir()
    gallery = gallery_path.__wrapped__(tmp_path)
    assert main(["identify", "--gallery", str(gallery), "--input", str(empty), "--threshold", "0.5"]) == 2
    assert f"no photos found in {empty}" in capsys.readouterr().err


def test_the_smallest_input_size_the_config_admits_is_the_backbones_minimum():
    """Keras' own check is the reference: MobileNetV2 builds at MIN_INPUT_SIZE and refuses one pixel less."""
    import keras

    from lateral.config import MIN_INPUT_SIZE, ConfigError, ModelConfig

    ModelConfig(input_size=(MIN_INPUT_SIZE, MIN_INPUT_SIZE))
    keras.applications.MobileNetV2(input_shape=(MIN_INPUT_SIZE, MIN_INPUT_SIZE, 3), weights=None, include_top=False,
                                   alpha=0.35)
    smaller = (MIN_INPUT_SIZE - 1, MIN_INPUT_SIZE)
    with pytest.raises(ValueError, match="at least"):
        keras.applications.MobileNetV2(input_shape=(*smaller, 3), weights=None, include_top=False, alpha=0.35)
    with pytest.raises(ConfigError, match="input_size"):
        ModelConfig(input_size=smaller)
