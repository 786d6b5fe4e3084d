#!/usr/bin/env bash
# `make test-lowest`: install the LOWEST versions setup.py allows (each `name>=x` pinned to `name==x`)
# into a separate venv, then import every lateral module and run a smoke subset of the tests.
# `name==x.*`: the newest patch release of the lowest allowed series (opencv's 4.10 is 4.10.0.84).
# It proves the lower bounds in setup.py are real. Downloads the packages (about 1 GB, a few minutes).
#
#   tools/lowest_versions.sh [VENV_DIR]     (default: .venv-lowest)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${1:-.venv-lowest}
CONSTRAINTS="$VENV/lowest-constraints.txt"

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# Every `name>=version` of setup.py (install_requires and extras) becomes `name==version.*`.
"$VENV/bin/python" - "$CONSTRAINTS" <<'EOF'
import ast, re, sys
tree = ast.parse(open("setup.py").read())
requirements = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
                and re.match(r"^[A-Za-z0-9_.\-\[\]]+>=", node.value)]
pins = [re.sub(r"\[.*\]", "", r.split(">=")[0]) + "==" + re.split(r"[,;\s]", r.split(">=")[1])[0] + ".*"
        for r in requirements]
open(sys.argv[1], "w").write("\n".join(pins) + "\n")
print("lowest allowed versions:", ", ".join(pins))
EOF
"$VENV/bin/python" -m pip install --quiet -c "$CONSTRAINTS" -e ".[test]"
"$VENV/bin/python" -m pip list --format=freeze | grep -iE "^($(sed 's/==.*//' "$CONSTRAINTS" | paste -sd'|'))==" \
    > "$VENV/installed.txt" || true
echo "installed:"; sed 's/^/  /' "$VENV/installed.txt"

# Every module imports (catches an API a lower version lacks at import time) ...
PYTHONPATH=$PWD "$VENV/bin/python" - <<'EOF'
import importlib, pkgutil
import lateral
names = [m.name for m in pkgutil.walk_packages(lateral.__path__, "lateral.")
         if m.name not in ("lateral.__main__", "lateral.demo", "lateral.gallery.__main__", "lateral.embed")]
for name in names:
    importlib.import_module(name)
print(f"imported {len(names)} lateral modules")
EOF
# ... and a smoke subset runs: measures and packing (NumPy 2's bitwise_count), metrics (scikit-learn,
# SciPy), layout and preparation (OpenCV), the distances (TensorFlow), the CLI's error handling.
PYTHONPATH=$PWD "$VENV/bin/python" -m pytest -q -p no:cacheprovider \
    tests/test_measures.py tests/gallery/test_packing.py tests/evaluation/test_metrics.py \
    tests/losses/test_distances.py tests/reliability/test_layout.py tests/data/test_split.py
