"""The command lines answer a mistake or ``--help`` before TensorFlow loads, show every flag with help text,
and the ``lateral`` command reaches each of them.

Each case runs the entry point in a fresh interpreter through ``runpy``, with
an ``atexit`` hook that writes which heavy libraries were imported when the
process ended: after a user's error nothing else runs, so this is the state at
the moment of the error.
"""

import argparse
import ast
import importlib
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lateral.console.main import COMMANDS

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras")
RUNNER = """
import atexit, runpy, sys
atexit.register(lambda: sys.stderr.write("\\nimported: " + repr([m for m in {heavy!r} if m in sys.modules]) + "\\n"))
target, sys.argv = sys.argv[1], sys.argv[1:]
if target.endswith(".py"):
    runpy.run_path(target, run_name="__main__")
else:
    runpy.run_module(target, run_name="__main__", alter_sys=True)
"""


def run(target, *args, cwd):
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    environment.pop("LATERAL_VERBOSE", None)
    command = [sys.executable, "-c", RUNNER.format(heavy=HEAVY), target, *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=environment, timeout=120)
    marker = result.stderr.rstrip().rsplit("\nimported: ", 1)
    assert len(marker) == 2, result.stderr  # the hook ran
    return result, ast.literal_eval(marker[1])


def user_errors(tmp_path):
    """(entry point, arguments, a word the one error line must hold): missing inputs of every command line."""
    config = tmp_path / "run.yaml"
    config.write_text("sub_name: fast\n")  # no train_dataset, no test_dataset
    nowhere = tmp_path / "nowhere.yaml"
    nowhere.write_text(f"sub_name: fast\ntrain_dataset: {tmp_path / 'nowhere'}\n")
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "IMG_1.jpg").write_bytes(b"x")
    gallery = tmp_path / "pond.lgal"
    return [
        ("lateral.gallery", ["identify", "--gallery", gallery, "--input", tmp_path / "missing", "--threshold", "0.5"],
         "missing: no such file or folder"),
        ("lateral.gallery", ["enroll", "--gallery", gallery, "--input", tmp_path / "missing", "--model", tmp_path],
         "missing: no such folder"),
        ("lateral.gallery", ["enroll", "--gallery", gallery, "--input", flat, "--model", tmp_path], "no fish folders"),
        ("lateral.gallery", ["list", "--gallery", gallery], "no such gallery"),
        ("lateral.gallery", ["history", "--gallery", gallery, "--out", tmp_path / "c.csv"], "no such gallery"),
        ("lateral.gallery", ["identify", "--gallery", gallery, "--input", flat, "--top_k", "0"], "--top_k"),
        (REPO / "train.py", ["--cfg_path", tmp_path / "missing.yaml"], "missing.yaml"),
        (REPO / "train.py", [], "--cfg_path"),
        (REPO / "train_twostage.py", ["--cfg_path", tmp_path / "missing.yaml"], "missing.yaml"),
        (REPO / "test_iom.py", ["--cfg_path", tmp_path / "missing.yaml"], "missing.yaml"),
        (REPO / "test_iom.py", ["--cfg_path", config, "--rerank_lambda", "2"], "--rerank_lambda"),
        (REPO / "prepare_data.py", ["--input_dir", tmp_path / "missing", "--output_dir", tmp_path / "out"], "missing"),
        (REPO / "prepare_data.py", ["--input_dir", flat, "--output_dir", tmp_path / "out"], "no fish folders"),
        ("lateral", ["train", "--cfg_path", tmp_path / "missing.yaml"], "missing.yaml"),
        (REPO / "train.py", ["--cfg_path", config], "missing required key 'train_dataset'"),
        (REPO / "train_twostage.py", ["--cfg_path", config], "missing required key 'train_dataset'"),
        ("lateral", ["train-iom", "--cfg_path", config], "missing required key 'train_dataset'"),
        ("lateral", ["train", "--cfg_path", nowhere], "nowhere: no such file or folder"),
        (REPO / "train_twostage.py", ["--cfg_path", nowhere], "nowhere: no such file or folder"),
        (REPO / "test_iom.py", ["--cfg_path", config], "missing required key 'test_dataset'"),
        (REPO / "test_iom.py", ["--cfg_path", config, "--test_dataset", tmp_path / "nowhere"], "no such file"),
        ("lateral", ["trian"], "unknown command 'trian'"),
    ]


def test_every_user_error_is_answered_before_tensorflow_loads(tmp_path):
    for target, args, says in user_errors(tmp_path):
        result, loaded = run(str(target), *args, cwd=tmp_path)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert result.returncode == 2 and len(errors) == 1 and says in errors[0], (target, args, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        assert loaded == [], (target, args, f"imported {loaded} before the error")


@pytest.mark.parametrize("target, args, flags", [
    (REPO / "train.py", [], ["--cfg_path", "--mode", "--strategy", "example:"]),
    (REPO / "train_twostage.py", [], ["--cfg_path", "--freeze_backbone", "example:"]),
    (REPO / "test_iom.py", [], ["--cfg_path", "--measure", "--rerank_lambda", "(default: 0.3)", "examples:"]),
    (REPO / "prepare_data.py", [], ["--input_dir", "--no_segment", "(default: 1)", "examples:"]),
    ("lateral.gallery", [], ["enroll", "review", "examples:"]),
    ("lateral.gallery", ["identify"], ["--input", "--far", "(default: hamming)", "example:"]),
    ("lateral", [], list(COMMANDS)),
    ("lateral", ["gallery", "list"], ["--gallery", "lateral gallery list --gallery"]),
])
def test_help_shows_the_commands_own_flags_and_exits_0_without_tensorflow(target, args, flags, tmp_path):
    result, loaded = run(str(target), *args, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert all(flag in result.stdout for flag in flags), result.stdout
    assert "``" not in result.stdout and "--[no]" not in result.stdout, result.stdout  # no raw reST, no absl
    assert loaded == []


def parsers():
    """(name, parser) of every command line and, for the gallery, every subcommand."""
    found = []
    for name, (module, _) in COMMANDS.items():
        builder = importlib.import_module(module)
        if not hasattr(builder, "build_parser"):  # embed and demo build theirs inside main: checked by --help
            continue
        parser = builder.build_parser(f"lateral {name}")
        found.append((name, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                found += [(f"{name} {sub}", subparser) for sub, subparser in action.choices.items()]
    return found


def test_every_flag_has_help_text_and_every_command_an_example():
    names = []
    for name, parser in parsers():
        names.append(name)
        assert "example" in (parser.epilog or ""), name
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"lateral {name} {action.option_strings[0]} has no help text"
    assert {"prepare", "train", "train-iom", "evaluate", "gallery", "gallery enroll", "gallery review"} <= set(names)


def test_setup_py_declares_the_lateral_command_and_it_resolves():
    call = next(node for node in ast.walk(ast.parse((REPO / "setup.py").read_text()))
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setup")
    entry_points = ast.literal_eval(next(keyword.value for keyword in call.keywords if keyword.arg == "entry_points"))
    scripts = entry_points["console_scripts"]
    assert scripts == ["lateral = lateral.console.main:main"]
    module, function = scripts[0].split(" = ")[1].split(":")
    assert getattr(importlib.import_module(module), function) is importlib.import_module("lateral.console.main").main


def test_the_demos_printed_commands_are_lateral_commands_the_parsers_accept():
    from lateral.demo import review_commands
    from lateral.gallery.__main__ import build_parser

    for command in review_commands():
        assert command[:2] == ["lateral", "gallery"], command
        build_parser().parse_args(command[2:])  # a renamed or missing flag exits 2 here


def readme_commands():
    """Every `lateral ...` command in README.md's code blocks, continuation lines joined."""
    text = (REPO / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    blocks = text.split("```")[1::2]
    return [shlex.split(line.split("#")[0].strip()) for block in blocks for line in block.splitlines()
            if line.strip().startswith("lateral ")]


def test_the_readmes_commands_are_accepted_by_their_parsers():
    commands = readme_commands()
    assert {command[1] for command in commands} >= {"prepare", "train", "train-iom", "evaluate", "gallery"}
    for command in commands:
        module = importlib.import_module(COMMANDS[command[1]][0])
        module.build_parser(f"lateral {command[1]}").parse_args(command[2:])  # a stale flag exits 2 here


def test_smoke_shrinks_the_training_config(tmp_path):
    from lateral.console.common import training_config
    from lateral.console.train import build_parser

    (tmp_path / "prepared").mkdir()
    config_path = tmp_path / "run.yaml"
    config_path.write_text(f"sub_name: mine\ntrain_dataset: {tmp_path / 'prepared'}\nepochs: 30\n")
    plain = training_config(build_parser("lateral train").parse_args(["--cfg_path", str(config_path)]))
    small = training_config(build_parser("lateral train").parse_args(["--cfg_path", str(config_path), "--smoke"]))
    assert (plain.run.sub_name, plain.optimiser.epochs) == ("mine", 30)
    assert (small.run.sub_name, small.optimiser.epochs, small.optimiser.steps_per_epoch) == ("mine_smoke", 1, 2)
