#!/bin/bash
# Anomaly mode acceptance (issue 10) on NEU-DET: each of the six classes in turn plays "good"; the
# detector learns from its training images (tests/fixtures/splits/neu_train.txt), sets its threshold
# for a 5 % false-reject rate on its validation images, and is judged on the whole test list.
# Expected: mean AUROC >= 0.90 and above the gray-statistics baseline's mean in the same run, and on
# every class the realised false-reject rate inside the binomial 95 % range of the target.
# Skipped (77) without ../shared/data/neu_det.
set -euo pipefail
pf=$1
src=${PF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
images=${PF_SHARED_DIR:-$src/../shared}/data/neu_det/images
[ -d "$images" ] || { echo "skipped: $images not present"; exit 77; }
s=$src/tests/fixtures/splits
out=$(mktemp); trap 'rm -f "$out"' EXIT
for c in crazing inclusion patches pitted_surface rolled-in_scale scratches; do
  OMP_WAIT_POLICY=passive "$pf" anomaly eval --good-class "$c" --train-list "$s/neu_train.txt" --holdout-list "$s/neu_val.txt" \
    --test-list "$s/neu_test.txt" --image-dir "$images" --target-frr 0.05 --json | tee -a "$out"
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
auroc = sum(r["auroc"] for r in rows) / len(rows)
base = sum(r["baseline_auroc"] for r in rows) / len(rows)
frr_ok = all(r["frr_within_interval"] for r in rows)
print(f"mean AUROC {auroc:.4f}, gray-statistics baseline {base:.4f}; false-reject rates within the binomial range: {frr_ok}")
ok = len(rows) == 6 and auroc >= 0.90 and auroc > base and frr_ok
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
