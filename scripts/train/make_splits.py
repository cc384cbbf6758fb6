#!/usr/bin/python3
"""Fixed train/validation/test file lists for the model-tools recipes (issue 9), written once and
committed under tests/fixtures/splits/ so every recipe, benchmark and the vision station (issue 10) use the
same split. Run from the repository root: /usr/bin/python3 scripts/train/make_splits.py

NEU-DET (../shared/data/neu_det, 1 594 images, 6 classes): split by image, per class, after a seeded
shuffle (seed 20261126): 70 % train, 15 % validation, 15 % test. Each image is in exactly one list.

CWRU (../shared/data/cwru_bearing, manifest.csv): split by recording and motor load, never windows of
one recording on both sides: the 12 kHz drive-end records at 0 and 1 hp train, those at 2 hp test
(another load, other recordings); the 48 kHz records (0 hp) are a second test set after decimation;
the only normal record (97, 48 kHz, 0 hp) can sit on one side only and goes to train, so the test
sets hold fault classes only (a recipe reports that limit).
"""
import csv
import os
import random

SHARED = os.environ.get("PF_SHARED_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data"))
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "splits")
SEED = 20261126


def neu():
    folder = os.path.join(SHARED, "neu_det", "images")
    by_class = {}
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".jpg"):
            continue
        cls = name[: name.rindex("_")]
        by_class.setdefault(cls, []).append(name)
    rng = random.Random(SEED)
    lists = {"train": [], "val": [], "test": []}
    for cls in sorted(by_class):
        names = sorted(by_class[cls], key=lambda n: int(n[n.rindex("_") + 1: -4]))
        rng.shuffle(names)
        n_test = round(0.15 * len(names))
        n_val = round(0.15 * len(names))
        lists["test"] += names[:n_test]
        lists["val"] += names[n_test:n_test + n_val]
        lists["train"] += names[n_test + n_val:]
    for part, names in lists.items():
        with open(os.path.join(OUT, f"neu_{part}.txt"), "w") as f:
            f.write("".join(n + "\n" for n in sorted(names)))
        print(f"neu_{part}.txt: {len(names)} images")


def cwru():
    with open(os.path.join(SHARED, "cwru_bearing", "manifest.csv")) as f:
        rows = list(csv.DictReader(f))
    lists = {"train": [], "test": [], "test48k": []}
    for r in rows:
        path = r["file"]
        folder = path.split("/")[0]
        load = int(float(r["motor_load_hp"]))
        if folder == "48k_normal" or (folder == "12k_DE" and load in (0, 1)):
            lists["train"].append(path)
        elif folder == "12k_DE":
            lists["test"].append(path)
        else:
            lists["test48k"].append(path)
    for part, paths in lists.items():
        with open(os.path.join(OUT, f"cwru_{part}.txt"), "w") as f:
            f.write("".join(p + "\n" for p in sorted(paths)))
        print(f"cwru_{part}.txt: {len(paths)} recordings")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    neu()
    cwru()
