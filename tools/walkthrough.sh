#!/usr/bin/env bash
# `make walkthrough`: README.md's "Your own photos, step by step", run as written on synthetic tent photos laid
# out as a user's would be (my_photos/<session>/<fish_id>/*.jpg, new photos in one flat folder), in a fresh
# folder. The two training steps get --smoke (a check that the path works, not a model: minutes, not an hour).
# Ends with a gallery, its capture history and the review page answering. Exit code 0 when every step worked.
#
#   tools/walkthrough.sh                 (uses .venv/bin/lateral)
#   LATERAL="python -m lateral" PYTHON=python tools/walkthrough.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
LATERAL=${LATERAL:-$REPO/.venv/bin/lateral}
WORK=$(mktemp -d)
REVIEW_PID=
cleanup() { [ -n "$REVIEW_PID" ] && kill "$REVIEW_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"
step() { echo; echo "==> $*"; }

step "1. photos: 10 fish, sessions 1 and 2 known, session 3 new"
$PYTHON -m lateral.synthetic rendered --ids 10 --sessions 3 --per_id 4 --size 640x480 > /dev/null
mkdir -p my_photos new_photos
mv rendered/session_1 rendered/session_2 my_photos/
find rendered/session_3 -name '*.jpg' -exec mv {} new_photos/ \;

step "2. the starter configs, their 'change this' lines edited"
cp "$REPO/configs/my_fish_stage1.yaml" "$REPO/configs/my_fish_stage2.yaml" .
sed -i "s/^held_out_fish: \[\]/held_out_fish: ['fish_008', 'fish_009']/" my_fish_stage1.yaml my_fish_stage2.yaml
grep -q "fish_008" my_fish_stage1.yaml && grep -q "fish_008" my_fish_stage2.yaml

step "3. prepare"
$LATERAL prepare --input_dir my_photos --output_dir my_prepared --cfg_path my_fish_stage1.yaml --workers 2
step "4. stage one (--smoke)"
$LATERAL train --cfg_path my_fish_stage1.yaml --smoke
step "5. stage two (--smoke)"
$LATERAL train-iom --cfg_path my_fish_stage2.yaml --smoke
MODEL=checkpoints/my_fish_iom_smoke
step "6. evaluate"
$LATERAL evaluate --cfg_path my_fish_stage2.yaml --ckpt "$MODEL" > evaluation.txt
test -s "$MODEL/evaluation/metrics.json"
step "7. enrol"
$LATERAL gallery enroll --gallery pond.lgal --model "$MODEL" --input my_photos
step "8. identify and review"
$LATERAL gallery identify --gallery pond.lgal --input new_photos --far 1e-1 \
    --metrics "$MODEL/evaluation/metrics.json" --csv ids.csv
test -s ids.csv
$LATERAL gallery review --gallery pond.lgal --input new_photos --far 1e-1 \
    --metrics "$MODEL/evaluation/metrics.json" --no_browser --port 0 > review.log 2>&1 &
REVIEW_PID=$!
for _ in $(seq 1 120); do grep -q "http://" review.log && break; sleep 1; done
ADDRESS=$(grep -o "http://[0-9.:]*/" review.log | head -1)
test -n "$ADDRESS" || { cat review.log; exit 1; }
$PYTHON -c "import sys, urllib.request; sys.exit(urllib.request.urlopen(sys.argv[1]).status != 200)" "${ADDRESS}queue"
echo "the review page answers at $ADDRESS"
step "9. records"
PHOTO=$(ls new_photos | head -1)
$LATERAL gallery confirm --gallery pond.lgal --photo "new_photos/$PHOTO" --fish new --session session_3
$LATERAL gallery list --gallery pond.lgal
$LATERAL gallery history --gallery pond.lgal --out captures.csv
test -s captures.csv
echo; echo "walkthrough: every step worked"
