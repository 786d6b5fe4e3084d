#!/usr/bin/env bash
# `make smoke`: both entry scripts' --smoke runs (the smoke() preset of the demo's configs: small input, one
# epoch of two steps) end to end on a few synthetic photos, in a fresh folder; each must finish within
# SMOKE_SECONDS (default 60). Exit code 0 when both trained and saved their models in time.
#
#   tools/smoke.sh                       (uses .venv/bin/python)
#   PYTHON=python tools/smoke.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
LIMIT=${SMOKE_SECONDS:-60}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"  # the demo's configs read demo_run/prepared; checkpoints/ and logs/ go here too

echo "==> photos: 8 synthetic fish, prepared as the demo's config says"
$PYTHON -m lateral.synthetic demo_run/raw --ids 8 --sessions 1 --per_id 4 --size 480x360 > /dev/null
$PYTHON "$REPO/prepare_data.py" --input_dir demo_run/raw --output_dir demo_run/prepared \
  --cfg_path "$REPO/configs/synthetic_stage1.yaml" --workers 2 > /dev/null

timed() {  # timed NAME SAVED_FILE COMMAND...: run it, fail when it errs, is slower than LIMIT or saves nothing
  local name=$1 saved=$2 started seconds
  shift 2
  echo "==> $name"
  started=$(date +%s)
  "$@"
  seconds=$(( $(date +%s) - started ))
  test -s "$saved" || { echo "error: $name saved no $saved" >&2; exit 1; }
  echo "$name: ${seconds} s (limit ${LIMIT} s)"
  [ "$seconds" -le "$LIMIT" ] || { echo "error: $name took ${seconds} s, over ${LIMIT} s" >&2; exit 1; }
}
timed "python train.py --smoke" checkpoints/synthetic_stage1_smoke/embedding.keras \
  $PYTHON "$REPO/train.py" --cfg_path "$REPO/configs/synthetic_stage1.yaml" --smoke
timed "python train_twostage.py --smoke" checkpoints/synthetic_iom_smoke/iom_codes.keras \
  $PYTHON "$REPO/train_twostage.py" --cfg_path "$REPO/configs/synthetic_stage2.yaml" --smoke
