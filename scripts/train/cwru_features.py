#!/usr/bin/python3
"""CWRU feature model (issue 9 item 1): the teacher that `plantfloor model distill` distils into trees.

  /usr/bin/python3 scripts/train/cwru_features.py OUTDIR [--plantfloor build/src/cli/plantfloor]
                   [--epochs 300] [--hidden 256,256,128] [--seed 20261126]

1. Features: every record of the committed split lists (tests/fixtures/splits/cwru_{train,test,test48k}.txt;
   split by recording and load: 0-1 hp train, 2 hp test, the 48 kHz records a second test set, normal
   record 97 in train only) goes through `plantfloor vib --features-out` (dsp::BearingFeatureVector:
   4096-sample blocks, half overlapping, 47 values; 48 kHz records decimated by 4 first), so the model
   sees exactly the features the runtime computes. Files: OUTDIR/features/{train,test,test48k}/<class>_<rec>-<k>.npy.
2. Teacher: an MLP (47 -> 256 -> 256 -> 128 -> 4, ReLU, dropout 0.1) on standardized features, class-weighted
   cross-entropy (normal is one record), Adam with a cosine schedule, full-batch epochs, a fixed epoch
   count (no test data seen during training). The standardization is folded into the first layer, so
   the ONNX model takes the raw feature vector [1, 47] and returns class probabilities.
3. Writes OUTDIR/cwru_mlp.onnx with its manifest (class names, the feature recipe), and
   OUTDIR/cwru_mlp.metrics.json (command, seed, split, per-set accuracy and confusion matrices).
Classes: normal, inner_race, outer_race, ball (the fault location; diameters pooled).
"""
import argparse
import csv
import glob
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "..", "shared", "data", "cwru_bearing")
SPLITS = os.path.join(ROOT, "tests", "fixtures", "splits")
CLASSES = ["normal", "inner_race", "outer_race", "ball"]
LOCATION = {"normal": "normal", "inner_race": "inner_race", "outer_race_6oclock": "outer_race", "ball": "ball"}


def manifest_rows():
    with open(os.path.join(DATA, "manifest.csv")) as f:
        return {r["file"]: r for r in csv.DictReader(f)}


def extract(plantfloor, part, outdir):
    rows = manifest_rows()
    dest = os.path.join(outdir, "features", part)
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(SPLITS, f"cwru_{part}.txt")) as f:
        files = [line.strip() for line in f if line.strip()]
    for rel in files:
        r = rows[rel]
        fs = float(r["fs_hz"])
        cmd = [plantfloor, "vib", "--input", os.path.join(DATA, rel), "--fs", r["fs_hz"], "--rpm", r["rpm_in_file"],
               "--bearing", "6205", "--features-out", dest, "--label", LOCATION[r["fault_class"]],
               "--decimate", str(int(round(fs / 12000)))]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return load(dest)


def load(dest):
    xs, ys = [], []
    for p in sorted(glob.glob(os.path.join(dest, "*.npy"))):
        stem = os.path.basename(p)[:-4]
        xs.append(np.load(p).reshape(-1))
        ys.append(CLASSES.index(stem[:stem.rfind("_")]))
    return np.stack(xs).astype(np.float32), np.array(ys, dtype=np.int64)


class Mlp(nn.Module):
    def __init__(self, n_in, hidden, n_out):
        super().__init__()
        layers, prev = [], n_in
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.ReLU(), nn.Dropout(0.1)]
            prev = h
        layers.append(nn.Linear(prev, n_out))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def accuracy(net, x, y):
    net.eval()
    with torch.no_grad():
        pred = net(torch.from_numpy(x)).argmax(1).numpy()
    conf = np.zeros((len(CLASSES), len(CLASSES)), dtype=int)
    for t, p in zip(y, pred):
        conf[t, p] += 1
    return float((pred == y).mean()), conf


class Exported(nn.Module):
    """Raw features in (standardization folded into the first Linear), probabilities out."""

    def __init__(self, net, mean, std):
        super().__init__()
        self.net = net
        first = net.layers[0]
        with torch.no_grad():
            w = first.weight / torch.from_numpy(std)[None, :]
            first.bias -= (w * torch.from_numpy(mean)[None, :]).sum(1)
            first.weight.copy_(w)

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--plantfloor", default=os.path.join(ROOT, "build", "src", "cli", "plantfloor"))
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--hidden", default="256,256,128")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.outdir, exist_ok=True)
    t0 = time.time()
    sets = {part: extract(args.plantfloor, part, args.outdir) for part in ("train", "test", "test48k")}
    xtr, ytr = sets["train"]
    mean, std = xtr.mean(0), xtr.std(0) + 1e-6
    hidden = [int(h) for h in args.hidden.split(",")]
    net = Mlp(xtr.shape[1], hidden, len(CLASSES))
    counts = np.bincount(ytr, minlength=len(CLASSES))
    weight = torch.tensor(len(ytr) / (len(CLASSES) * np.maximum(counts, 1)), dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    z = torch.from_numpy((xtr - mean) / std)
    y = torch.from_numpy(ytr)
    for epoch in range(args.epochs):
        net.train()
        opt.zero_grad()
        loss = loss_fn(net(z), y)
        loss.backward()
        opt.step()
        sched.step()
        if (epoch + 1) % 50 == 0:
            print(f"epoch {epoch + 1}/{args.epochs}: loss {loss.item():.4f} ({time.time() - t0:.0f} s)", flush=True)
    exported = Exported(net, mean, std).eval()
    results = {}
    for part, (x, yy) in sets.items():
        acc, conf = accuracy(nn.Sequential(exported.net), x, yy)
        results[part] = {"samples": int(len(yy)), "accuracy": acc, "confusion": conf.tolist()}
    import onnx
    path = os.path.join(args.outdir, "cwru_mlp.onnx")
    torch.onnx.export(exported, torch.zeros(1, xtr.shape[1]), path, opset_version=13, input_names=["features"],
                      output_names=["probs"], do_constant_folding=True)
    m = onnx.load(path)
    with open(os.path.join(args.outdir, "features", "train", "feature_names.txt")) as f:
        names = [line.strip() for line in f if line.strip()]
    manifest = {
        "manifest_version": 1, "name": "cwru_mlp", "version": "1.0.0",
        "model_sha256": hashlib.sha256(m.graph.SerializeToString()).hexdigest(),
        "inputs": [{"name": "features", "dtype": "float", "shape": [1, int(xtr.shape[1])],
                    "preprocessing": "plantfloor vib --features-out (dsp::BearingFeatureVector): 4096 samples at "
                                     "12 kHz, bearing 6205, shaft speed of the record; features " + ",".join(names)}],
        "outputs": [{"name": "probs", "meaning": "probability per bearing fault location (CWRU drive end, trained by "
                     "scripts/train/cwru_features.py)", "class_names": CLASSES}],
    }
    del m.metadata_props[:]
    p = m.metadata_props.add()
    p.key, p.value = "pf.manifest", json.dumps(manifest, sort_keys=True)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    metrics = {"command": " ".join(["/usr/bin/python3"] + sys.argv), "seed": args.seed, "hidden": hidden,
               "epochs": args.epochs, "split": "tests/fixtures/splits/cwru_{train,test,test48k}.txt", "classes": CLASSES,
               "train_counts": counts.tolist(), "results": results, "torch": torch.__version__,
               "seconds": round(time.time() - t0, 1)}
    with open(os.path.join(args.outdir, "cwru_mlp.metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    print(json.dumps({k: v["accuracy"] for k, v in results.items()}))


if __name__ == "__main__":
    main()
