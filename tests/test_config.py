import pytest

from lateral.config import ConfigError, load_config


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_input_size_accepts_an_int_or_height_width(tmp_path):
    assert load_config(write(tmp_path, "sub_name: a\ninput_size: 112\n")).input_size == (112, 112)
    assert load_config(write(tmp_path, "sub_name: a\ninput_size: [56, 128]\n")).input_size == (56, 128)


@pytest.mark.parametrize(
    "text, named",
    [
        ("sub_name: a\nbatch_sise: 4\n", "batch_sise"),
        ("sub_name: a\npreprocess:\n  green_hew: [1, 2]\n", "preprocess.green_hew"),
        ("input_size: 112\n", "sub_name"),
        ("sub_name: a\ninput_size: [1, 2, 3]\n", "input_size"),
        ("sub_name: a\ninput_size: [0, 64]\n", "input_size"),
        ("sub_name: a\ninput_size: big\n", "input_size"),
        ("sub_name: 7\n", "sub_name"),
        ("sub_name: a\npreprocess:\n  min_focus: sharp\n", "preprocess.min_focus"),
        ("sub_name: a\npreprocess:\n  work_size: 5.5\n", "preprocess.work_size"),
        ("sub_name: a\npreprocess:\n  roi_format: gif\n", "preprocess.roi_format"),
        ("sub_name: a\npreprocess: 3\n", "preprocess"),
        ("- a\n- b\n", "mapping"),
        ("sub_name: [unclosed\n", "YAML"),
    ],
)
def test_bad_configs_fail_naming_the_key(tmp_path, text, named):
    with pytest.raises(ConfigError, match=named.replace("[", r"\[")):
        load_config(write(tmp_path, text))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_overrides_change_keys_but_never_add_them(tmp_path):
    path = write(tmp_path, "sub_name: a\n")
    assert load_config(path, {"preprocess.min_focus": 5.0}).preprocess.min_focus == 5.0
    with pytest.raises(ConfigError, match="preprocess.min_fokus"):
        load_config(path, {"preprocess.min_fokus": 5.0})


def test_booleans_are_not_numbers(tmp_path):
    with pytest.raises(ConfigError, match="work_size"):
        load_config(write(tmp_path, "sub_name: a\npreprocess:\n  work_size: true\n"))


def test_keys_that_are_not_python_names_keep_their_yaml_spelling(tmp_path):
    from lateral.config import snapshot

    config = load_config(write(tmp_path, "sub_name: b\n1st_sub_name: a\n"))
    assert config.first_sub_name == "a"
    assert snapshot(config)["1st_sub_name"] == "a" and "first_sub_name" not in snapshot(config)


@pytest.mark.parametrize("pattern", ["^(?P<sesion>C\\d)_", "^(unclosed"])
def test_a_session_pattern_without_a_session_group_fails(tmp_path, pattern):
    with pytest.raises(ConfigError, match="session_pattern"):
        load_config(write(tmp_path, f"sub_name: a\nsession_pattern: '{pattern}'\n"))


def test_loading_every_shipped_config_imports_no_tensorflow():
    """Reading a config is a plain-Python job: the registered names are checked by training, not here."""
    import subprocess
    import sys
    from pathlib import Path

    configs = sorted(str(path) for path in (Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    code = ("import sys; from lateral.config import load_config\n"
            "for path in sys.argv[1:]: load_config(path)\n"
            "print(sorted(name for name in ('tensorflow', 'keras') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, *configs], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(configs) >= 8 and result.stdout.strip() == "[]"
