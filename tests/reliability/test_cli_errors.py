"""A user's mistake at the command line: exit code 2, one ``error:`` line naming the file, no traceback,
and none of TensorFlow's start-up chatter unless ``--verbose``.

Real subprocesses of the entry scripts; the cases that import TensorFlow
(about 5 s each) are few, and the pure-Python ones run in-process.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from lateral.cli import run_explaining_errors
from lateral.config import DEFAULT_INPUT_SIZE, PreprocessConfig
from lateral.data.layout import LayoutError
from lateral.data.prepare import Settings
from lateral.registry import Registry

REPO = Path(__file__).resolve().parents[2]
# What TensorFlow 2.21 prints on start-up: absl's preamble, oneDNN, CUDA probing, CPU features, glog-style lines.
CHATTER = ("absl::InitializeLog", "oneDNN", "cuda", "cpu_feature_guard", "I0000 ", "W0000 ", "E0000 ")


def run_entry(*args, cwd):
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("LATERAL_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    environment["PYTHONPATH"] = str(REPO)
    command = [sys.executable, *(str(arg) for arg in args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=environment, timeout=300)


def assert_user_error(result, *names):
    """Exit 2, exactly one ``error:`` line and it names every one of ``names``; no traceback, no chatter."""
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert all(str(name) in errors[0] for name in names), errors[0]
    assert not [word for word in CHATTER if word in result.stderr], result.stderr


def write_roi(path, seed, size=(32, 64)):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), np.uint8)
    path.write_bytes(cv2.imencode(".png", pixels)[1].tobytes())


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "run.yaml"
    path.write_text("sub_name: reliability\n")
    return path


def test_a_missing_required_flag_exits_2_in_one_line(tmp_path):
    result = run_entry(REPO / "prepare_data.py", "--output_dir", tmp_path / "out", cwd=tmp_path)
    assert_user_error(result, "--input_dir")
    assert "--output_dir" not in result.stderr.split("error:")[1].split(";")[0]


def test_a_damaged_settings_file_or_manifest_line_is_named(tmp_path):
    raw = tmp_path / "raw"
    write_roi(raw / "fish_A" / "0.png", 0)
    damaged_settings = tmp_path / "out_settings"
    damaged_settings.mkdir()
    (damaged_settings / "prepare_settings.json").write_text('{"preprocess": {"work_s')  # cut short
    result = run_entry(REPO / "prepare_data.py", "--input_dir", raw, "--output_dir", damaged_settings, cwd=tmp_path)
    assert_user_error(result, damaged_settings / "prepare_settings.json", "damaged")

    damaged_manifest = tmp_path / "out_manifest"
    damaged_manifest.mkdir()
    settings = Settings(PreprocessConfig(), tuple(DEFAULT_INPUT_SIZE), True).as_json()
    (damaged_manifest / "prepare_settings.json").write_text(json.dumps(settings))
    good = {"source": "fish_A/1.png", "label": "fish_A", "session": "", "status": "rejected", "roi_image": None}
    (damaged_manifest / "manifest.jsonl").write_text('{"source": "fish_A/0.png", "sta\n' + json.dumps(good) + "\n")
    result = run_entry(REPO / "prepare_data.py", "--input_dir", raw, "--output_dir", damaged_manifest, cwd=tmp_path)
    assert_user_error(result, damaged_manifest / "manifest.jsonl", "line 1")


def test_embed_into_a_missing_folder_fails_before_any_work(tmp_path, config):
    result = run_entry("-m", "lateral.embed", "--cfg_path", config, "--input", tmp_path,
                       "--output", tmp_path / "missing" / "t.npz", cwd=tmp_path)
    assert_user_error(result, tmp_path / "missing")
    assert "tensorflow" not in result.stderr.lower()


@pytest.fixture(scope="module")
def test_sets(tmp_path_factory):
    """ROI folders: one fish; one image; two fish in one session (with an image that cannot be decoded)."""
    root = tmp_path_factory.mktemp("test_sets")
    write_roi(root / "one_fish" / "fish_A" / "0.png", 0)
    write_roi(root / "one_fish" / "fish_A" / "1.png", 1)
    write_roi(root / "one_image" / "fish_A" / "0.png", 2)
    for fish in "AB":
        for index in range(2):
            write_roi(root / "one_session" / f"fish_{fish}" / f"{index}.png", ord(fish) + index)
    (root / "one_session" / "fish_B" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut off")
    return root


@pytest.mark.parametrize("test_set, protocol, words", [
    ("one_fish", "all", ["2 images of 1 fish", "no impostor pair"]),
    ("one_image", "all", ["1 images of 1 fish", "no genuine pair"]),
    ("one_session", "cross_session", ["4 images of 2 fish in 1 sessions", "no genuine pair", "cross-session"]),
])
def test_test_iom_on_a_set_that_cannot_be_evaluated(test_sets, config, tmp_path, test_set, protocol, words):
    result = run_entry(REPO / "test_iom.py", "--cfg_path", config, "--test_dataset", test_sets / test_set,
                       "--ckpt", tmp_path / "no_run", "--protocol", protocol, "--out", tmp_path / "report",
                       cwd=tmp_path)
    assert_user_error(result, test_sets / test_set, *words)
    if test_set == "one_session":  # the undecodable image is named and skipped, not fatal
        assert f"skipped fish_B/broken.png in {test_sets / test_set}: cannot be decoded as an image" in result.stderr
    assert not (tmp_path / "report").exists()


def test_test_iom_calibration_flags_without_verify(test_sets, config, tmp_path):
    result = run_entry(REPO / "test_iom.py", "--cfg_path", config, "--test_dataset", test_sets / "one_fish",
                       "--ckpt", tmp_path / "no_run", "--fit_calibration", cwd=tmp_path)
    assert_user_error(result, "--fit_calibration", "--verify")


def test_embed_with_a_truncated_codes_model_and_an_undecodable_image(test_sets, config, tmp_path):
    run_folder = tmp_path / "run"
    run_folder.mkdir()
    model = keras.Sequential([keras.Input((32, 64, 3)), keras.layers.GlobalAveragePooling2D()])
    model.save(run_folder / "embedding.keras")
    whole = (run_folder / "embedding.keras").read_bytes()
    (run_folder / "iom_codes.keras").write_bytes(whole[: len(whole) // 2])  # an interrupted copy
    result = run_entry("-m", "lateral.embed", "--cfg_path", config, "--input", test_sets / "one_session",
                       "--output", tmp_path / "t.npz", "--ckpt", run_folder, cwd=tmp_path)
    assert_user_error(result, run_folder / "iom_codes.keras", "truncated or damaged")
    assert "skipped fish_B/broken.png" in result.stderr
    assert not (tmp_path / "t.npz").exists()


STAND_IN_TENSORFLOW = """
import os
os.write(2, b"stand-in chatter from C++\\n")

class config:
    @staticmethod
    def list_physical_devices():
        os.write(2, b"stand-in device probe\\n")
        return []
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_verbose_leaves_tensorflows_start_up_output_and_log_level_alone(tmp_path, verbose):
    """A stand-in ``tensorflow`` package that writes to file descriptor 2 on import, as TensorFlow's C++
    start-up does on some CPUs: quieting hides its lines and sets TF_CPP_MIN_LOG_LEVEL; --verbose shows them
    and leaves the variable unset. Independent of what the real TensorFlow prints on this machine's CPU."""
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(STAND_IN_TENSORFLOW)
    program = ("import os, sys; from lateral.quiet import quiet_unless_verbose; "
               "quiet_unless_verbose(sys.argv[1:]); import tensorflow; "
               "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'))")
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("TF_CPP_MIN_LOG_LEVEL", "LATERAL_VERBOSE")}
    environment["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(REPO)])
    result = subprocess.run([sys.executable, "-c", program, *(["--verbose"] if verbose else [])],
                            capture_output=True, text=True, env=environment, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = "stand-in chatter from C++" in result.stderr and "stand-in device probe" not in result.stderr
    assert shown if verbose else result.stderr == ""
    assert result.stdout.strip() == ("None" if verbose else "2")


def test_layout_and_unknown_name_errors_are_user_errors_but_a_key_error_is_a_bug(capsys):
    def unreadable():
        raise LayoutError("RAW/fish_A: cannot read this folder (Permission denied)")

    assert run_explaining_errors(unreadable) == 2
    assert capsys.readouterr().err == "error: RAW/fish_A: cannot read this folder (Permission denied)\n"

    backbones = Registry("backbone")
    backbones.register("MobileNetV2")(object)
    assert run_explaining_errors(lambda: backbones.get("ResNet5O")) == 2
    assert capsys.readouterr().err == "error: unknown backbone 'ResNet5O'; known: MobileNetV2\n"

    with pytest.raises(KeyError):  # a real bug keeps its traceback
        run_explaining_errors(lambda: {}["status"])


@pytest.mark.parametrize("module, name", [
    ("lateral.config", "ConfigError"), ("lateral.registry", "UnknownNameError"), ("lateral.data.layout", "LayoutError"),
    ("lateral.data.prepare", "PrepareError"), ("lateral.data.records", "DatasetError"),
    ("lateral.data.sampler", "SamplerError"), ("lateral.evaluation.protocol", "EvaluationError"),
    ("lateral.models.saved", "ModelFileError"), ("lateral.models.backbones", "WeightsError"),
    ("lateral.models.torch_legacy", "TorchFileError"), ("lateral.runs", "RunFolderError"),
    ("lateral.training.run_directory", "RunDirectoryError"), ("lateral.gallery.errors", "GalleryError"),
])
def test_every_layers_error_is_one_line_and_exit_2_but_a_plain_value_error_is_a_bug(module, name, capsys):
    error_class = getattr(__import__(module, fromlist=[name]), name)

    def fails():
        raise error_class("photos/fish_\udcff.jpg: cannot be read")

    assert run_explaining_errors(fails) == 2
    assert capsys.readouterr().err == "error: photos/fish_\\xff.jpg: cannot be read\n"
    with pytest.raises(ValueError):  # not every ValueError is the user's
        run_explaining_errors(lambda: int("twelve"))


@pytest.mark.parametrize("share", ["0", "1", "1.5", "nan"])
def test_test_iom_open_set_share_outside_0_to_1_is_refused(test_sets, config, tmp_path, share):
    """Both ends are excluded: a share of 0 enrols no fish and one of 1 leaves no fish to search with."""
    result = run_entry(REPO / "test_iom.py", "--cfg_path", config, "--test_dataset", test_sets / "one_fish",
                       "--ckpt", tmp_path / "no_run", "--open_set_share", share, cwd=tmp_path)
    assert_user_error(result, "--open_set_share", "(0, 1)", share)
