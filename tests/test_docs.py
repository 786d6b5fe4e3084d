"""The documentation site: the configuration reference covers exactly the config's keys, and the site builds
in strict mode (a broken link or anchor fails)."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lateral.config import ALIASES, FLAT_SECTIONS, NESTED_SECTIONS, SECTION_OF_KEY

REPO = Path(__file__).resolve().parents[1]


def docs_hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", REPO / "tools" / "docs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_configuration_reference_lists_every_key_under_its_section():
    listed, section = {}, None
    for line in docs_hooks().config_reference().splitlines():
        if line.startswith("## "):
            named = re.search(r"`(\w+)`", line)
            section = named.group(1) if named else line[3:]
        elif match := re.match(r"^\| `([^`]+)` \|", line):
            listed[match.group(1)] = section
    flat = {key: section for key, section in listed.items() if section in FLAT_SECTIONS}
    assert flat == SECTION_OF_KEY
    assert {key for key, section in listed.items() if section == "Old names"} == set(ALIASES)
    for name, section_class in NESTED_SECTIONS.items():  # nested keys as the YAML writes them: augment.hue
        assert {key for key, section in listed.items() if section == name} == {
            f"{name}.{field}" for field in section_class.__dataclass_fields__}


def test_a_meaning_without_a_key_or_a_key_without_a_meaning_fails(tmp_path):
    hooks = docs_hooks()
    meanings = yaml.safe_load(hooks.MEANINGS.read_text(encoding="utf-8"))
    for change in ("extra", "missing"):
        edited = {section: dict(keys) for section, keys in meanings.items()}
        if change == "extra":
            edited["iom"]["no_such_key"] = "a key the config does not have"
        else:
            del edited["iom"]["quantisation_weight"]
        hooks.MEANINGS = tmp_path / f"{change}.yaml"
        hooks.MEANINGS.write_text(yaml.safe_dump(edited, allow_unicode=True))
        with pytest.raises(ValueError, match="no_such_key" if change == "extra" else "iom.quantisation_weight"):
            hooks.config_reference()


def test_the_site_builds_in_strict_mode(tmp_path):
    environment = {**os.environ, "PYTHONPATH": str(REPO), "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=REPO, env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "configuration" / "index.html").exists()
