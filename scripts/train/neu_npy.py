#!/usr/bin/python3
"""Model-ready .npy inputs of NEU-DET for `plantfloor model quantize --calibration/--eval` (issue 9).

  /usr/bin/python3 scripts/train/neu_npy.py METRICS.json OUTDIR [--calibration-every 5]

Reads the normalization from the training recipe's metrics (neu_cnn.metrics.json), then writes
OUTDIR/calibration/<image>.npy (every Nth image of tests/fixtures/splits/neu_train.txt; training data only)
and OUTDIR/eval/<image>.npy (all of tests/fixtures/splits/neu_test.txt; the class is the file name before the
last '_'), each float32 [1, 1, 200, 200] = (pixel / 255 - mean) / std.
"""
import json
import os
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SHARED = os.environ.get("PF_SHARED_DATA", os.path.normpath(os.path.join(ROOT, "..", "shared", "data")))


def main():
    metrics, outdir = sys.argv[1], sys.argv[2]
    every = int(sys.argv[sys.argv.index("--calibration-every") + 1]) if "--calibration-every" in sys.argv else 5
    norm = json.load(open(metrics))["normalization"]
    for part, folder, step in (("train", "calibration", every), ("test", "eval", 1)):
        names = [l.strip() for l in open(os.path.join(ROOT, "tests", "fixtures", "splits", f"neu_{part}.txt")) if l.strip()]
        os.makedirs(os.path.join(outdir, folder), exist_ok=True)
        for n in names[::step]:
            x = np.asarray(Image.open(os.path.join(SHARED, "neu_det", "images", n)).convert("L"), np.float32) / 255.0
            x = ((x - norm["mean"]) / norm["std"]).astype(np.float32).reshape(1, 1, 200, 200)
            np.save(os.path.join(outdir, folder, n[:-4] + ".npy"), x)
        print(f"{folder}: {len(names[::step])} inputs")


if __name__ == "__main__":
    main()
