"""The import contracts in .importlinter: they hold, and they catch a module that breaks them."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from importlinter.api import read_configuration

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"
# Highest first, as import-linter lists them: the order docs/development.md and STYLE.md give.
LAYERS = [
    "lateral.console",
    "lateral.embed : lateral.demo",
    "lateral.evaluation | lateral.gallery",
    "lateral.training",
    "lateral.runs",
    "lateral.losses",
    "lateral.models | lateral.matching",
    "lateral.data",
    "lateral.preprocess",
    "lateral.atomic_write : lateral.cli : lateral.config : lateral.config_rules : lateral.fpir : lateral.measures : "
    "lateral.quiet : lateral.registry : lateral.user_errors",
    "lateral.synthetic",
]


def lint_imports(folder):
    """Run this environment's lint-imports on the lateral package in ``folder``: (exit code, its report)."""
    command = [Path(sys.executable).parent / "lint-imports", "--config", CONFIG, "--no-cache", "--no-logo"]
    result = subprocess.run(
        [str(part) for part in command], cwd=folder, env={**os.environ, "PYTHONPATH": str(folder)},
        capture_output=True, text=True,
    )
    return result.returncode, result.stdout + result.stderr


def contracts():
    return {contract["id"]: contract for contract in read_configuration(str(CONFIG))["contracts_options"]}


def test_the_config_names_the_layers_in_order():
    declared = contracts()
    assert declared["layers"]["type"] == "layers"
    assert declared["layers"]["layers"] == LAYERS
    assert declared["trained-runs"]["type"] == "forbidden"
    assert declared["trained-runs"]["source_modules"] == ["lateral.evaluation", "lateral.gallery", "lateral.embed"]
    assert declared["trained-runs"]["forbidden_modules"] == ["lateral.training"]


def test_the_package_keeps_its_import_contracts():
    code, report = lint_imports(ROOT)
    assert code == 0, report
    assert f"Contracts: {len(contracts())} kept, 0 broken." in report, report


def test_imports_against_the_layers_are_caught(tmp_path):
    """A copy of the package with three bad imports: a lower layer importing a higher one, one peer
    importing the other, the gallery importing the training code."""
    copy = tmp_path / "lateral"
    shutil.copytree(ROOT / "lateral", copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "preprocess" / "upward.py").write_text("import lateral.training.engine\n")
    (copy / "evaluation" / "sideways.py").write_text("import lateral.gallery.store\n")
    (copy / "gallery" / "training_code.py").write_text("import lateral.training.engine\n")
    code, report = lint_imports(tmp_path)
    assert code != 0, report
    assert "Contracts: 0 kept, 2 broken." in report, report
    for bad in (
        "lateral.preprocess.upward -> lateral.training.engine",
        "lateral.evaluation.sideways -> lateral.gallery.store",
        "lateral.gallery.training_code -> lateral.training.engine",
    ):
        assert bad in report, report
