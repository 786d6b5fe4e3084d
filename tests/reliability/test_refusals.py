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
