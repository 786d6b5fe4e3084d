import pytest

from lateral.config import ConfigError, load_config


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_input_size_accepts_an_int_or_height_width(tmp_path):
    assert load_config(write(tmp_path, "sub_name: a\ninput_size: 112\n")).model.input_size == (112, 112)
    assert load_config(write(tmp_path, "sub_name: a\ninput_size: [56, 128]\n")).model.input_size == (56, 128)


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
    assert config.run.first_sub_name == "a"
    assert snapshot(config)["run"]["1st_sub_name"] == "a" and "first_sub_name" not in snapshot(config)["run"]


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


def test_a_config_builds_on_its_base_and_overrides_keys(tmp_path):
    """Three files: a grandparent in sections, a parent (flat) in a sub-folder, the child; the merge by hand."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "root.yaml").write_text(
        "run: {sub_name: root, seed: 4}\noptimiser: {epochs: 9, base_lr: 0.2}\n"
        "preprocess: {min_focus: 3.0, work_size: 256}\naugment: {hue: true}\n")
    (tmp_path / "shared" / "parent.yaml").write_text(
        "base: root.yaml\nsub_name: parent\nepochs: 4\nm: 16\npreprocess:\n  min_focus: 1.0\n")
    child = write(tmp_path, "base: shared/parent.yaml\nsub_name: child\noptimiser: {base_lr: 0.05}\n")
    expected = write(tmp_path / "shared", (
        "sub_name: child\nseed: 4\nepochs: 4\nbase_lr: 0.05\nm: 16\n"
        "preprocess: {min_focus: 1.0, work_size: 256}\naugment: {hue: true}\n"))
    assert load_config(child) == load_config(expected)


def test_the_imagenet_fs48_config_is_the_fs48_config_with_imagenet_weights():
    from pathlib import Path

    from lateral.config import replace_keys

    configs = Path(__file__).resolve().parents[1] / "configs"
    assert load_config(configs / "fs48_stage1_imagenet.yaml") == replace_keys(
        load_config(configs / "fs48_stage1.yaml"), sub_name="fs48_stage1_imagenet", weights="imagenet")


@pytest.mark.parametrize("files, says", [
    ({"c.yaml": "base: c.yaml\nsub_name: a\n"}, "leads back"),
    ({"c.yaml": "base: b.yaml\nsub_name: a\n", "b.yaml": "base: c.yaml\n"}, "leads back"),
    ({"c.yaml": "base: nowhere.yaml\nsub_name: a\n"}, "'base' nowhere.yaml: no such config file"),
    ({"c.yaml": "base: [b.yaml]\nsub_name: a\n"}, "'base' must be the path of another config file"),
    ({"c.yaml": "base: b.yaml\nsub_name: a\n", "b.yaml": "epochs: 0\n"}, "'epochs' must be >= 1"),
    ({"c.yaml": "base: b.yaml\nsub_name: a\n", "b.yaml": "epocs: 3\n"}, "b.yaml: unknown key 'epocs'"),
])
def test_a_bad_base_is_one_line_naming_the_file(tmp_path, files, says):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "c.yaml")
    message = str(raised.value)
    assert says in message and "\n" not in message and str(tmp_path) in message, message
