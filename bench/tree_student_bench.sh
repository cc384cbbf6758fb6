#!/bin/bash
# Distillation bench (issue 9): features of the CWRU records of the committed split lists through
# `plantfloor vib --features-out`, the committed teacher (tests/fixtures/models/cwru_mlp.onnx) distilled
# by `plantfloor model distill` on the train rows, then tree_student_bench on the test rows.
#   bench/tree_student_bench.sh PLANTFLOOR TREE_STUDENT_BENCH [RUNS]
# Skipped (77) without ../shared/data/cwru_bearing.
set -euo pipefail
pf=$1 bench=$2 runs=${3:-20000}
src=$(cd "$(dirname "$0")/.." && pwd)
data=${PF_SHARED_DIR:-$src/../shared}/data/cwru_bearing
[ -f "$data/manifest.csv" ] || { echo "skipped: $data not present"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for part in train test; do
  while read -r rel; do
    [ -n "$rel" ] || continue
    IFS=, read -r _ _ cls _ _ rpm _ fs _ < <(grep "^$rel," "$data/manifest.csv")
    case $cls in outer_race_6oclock) cls=outer_race ;; esac
    "$pf" vib --input "$data/$rel" --fs "$fs" --rpm "$rpm" --bearing 6205 --features-out "$tmp/$part" \
      --label "$cls" --decimate $((fs / 12000)) >/dev/null
  done < "$src/tests/fixtures/splits/cwru_$part.txt"
done
"$pf" model distill "$tmp/student.json" --teacher "$src/tests/fixtures/models/cwru_mlp.onnx" --data "$tmp/train" \
  --eval "$tmp/test"
"$bench" --teacher "$src/tests/fixtures/models/cwru_mlp.onnx" --student "$tmp/student.json" --data "$tmp/test" --runs "$runs"
