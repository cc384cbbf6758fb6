#!/usr/bin/python3
"""Training recipe (the "cloud" side, issue 9): a small CNN classifier for the 6 NEU-DET surface
defect classes, exported to ONNX with its plantfloor manifest.

  /usr/bin/python3 scripts/train/neu_cnn.py OUTDIR [--epochs 30] [--widths 16,32,64,128] [--seed 20261126]

Needs Debian's python3-torch and python3-pil (`bash scripts/install.sh --training`); CPU only. Data:
../shared/data/neu_det/images, split by the committed lists tests/fixtures/splits/neu_{train,val,test}.txt
(scripts/train/make_splits.py). Input: the 200x200 gray image, scaled to [0, 1] and normalized with
the training set's mean and std (written to the manifest, so plantfloor applies the same).
Augmentation: horizontal and vertical flips (the textures have no orientation). The epoch with the
best validation accuracy is kept; test accuracy is measured once, at the end.

Writes OUTDIR/neu_cnn.onnx (opset 13, output "probs" = softmax over the 6 classes, manifest in
metadata_props "pf.manifest"), OUTDIR/neu_cnn.pt (the PyTorch state, for pruning and fine-tuning)
and OUTDIR/neu_cnn.metrics.json (command, seed, split, per-epoch validation accuracy, test accuracy
and confusion matrix).
"""
import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SHARED = os.environ.get("PF_SHARED_DATA", os.path.normpath(os.path.join(ROOT, "..", "shared", "data")))
CLASSES = ["crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches"]


def load_split(part):
    names = [l.strip() for l in open(os.path.join(ROOT, "tests", "fixtures", "splits", f"neu_{part}.txt")) if l.strip()]
    x = np.zeros((len(names), 1, 200, 200), np.float32)
    y = np.zeros(len(names), np.int64)
    for k, n in enumerate(names):
        img = Image.open(os.path.join(SHARED, "neu_det", "images", n)).convert("L")
        if img.size != (200, 200):
            raise SystemExit(f"{n}: {img.size}, expected 200x200")
        x[k, 0] = np.asarray(img, np.float32) / 255.0
        y[k] = CLASSES.index(n[: n.rindex("_")])
    return names, x, y


class Net(nn.Module):
    """Four stride-2 3x3 conv + BN + ReLU blocks, global average pool, linear (~37 M MACs at 200x200
    with the default widths)."""

    def __init__(self, widths):
        super().__init__()
        layers, c_in = [], 1
        for c in widths:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, len(CLASSES))

    def forward(self, x):
        # adaptive_avg_pool2d(1) exports as GlobalAveragePool (which plantfloor runs in int8).
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1))


class Exported(nn.Module):
    """What is exported: normalization stays outside (the manifest carries it), softmax inside."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def accuracy(net, x, y, mean, std, batch=64):
    net.eval()
    pred = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            pred.append(net((torch.from_numpy(x[i:i + batch]) - mean) / std).argmax(1).numpy())
    pred = np.concatenate(pred)
    conf = np.zeros((len(CLASSES), len(CLASSES)), np.int64)
    for t, p in zip(y, pred):
        conf[t, p] += 1
    return float((pred == y).mean()), conf


def graph_sha256(model_proto):
    return hashlib.sha256(model_proto.graph.SerializeToString()).hexdigest()


def export(net, path, mean, std, train_x, name, version, meaning_note):
    import onnx
    wrapped = Exported(net).eval()
    torch.onnx.export(wrapped, torch.zeros(1, 1, 200, 200), path, opset_version=13, input_names=["image"],
                      output_names=["probs"], do_constant_folding=True)
    m = onnx.load(path)
    z = ((train_x - mean) / std).ravel()
    sample = z[:: max(1, len(z) // 2_000_000)]
    manifest = {
        "manifest_version": 1, "name": name, "version": version, "model_sha256": graph_sha256(m),
        "inputs": [{"name": "image", "dtype": "float", "shape": [1, 1, 200, 200],
                    "normalization": {"mean": [float(mean)], "std": [float(std)], "axis": 1},
                    "preprocessing": "8-bit gray 200x200 (NEU-DET), scaled to [0, 1]"}],
        "outputs": [{"name": "probs", "meaning": "probability per NEU-DET surface defect class" + meaning_note,
                     "class_names": CLASSES}],
        "training_data": [{"input": "image", "feature": "channel 0", "count": int(z.size),
                           "mean": float(z.mean()), "std": float(z.std()), "min": float(z.min()),
                           "max": float(z.max()), "p01": float(np.percentile(sample, 1)),
                           "p50": float(np.percentile(sample, 50)), "p99": float(np.percentile(sample, 99))}],
    }
    del m.metadata_props[:]
    p = m.metadata_props.add()
    p.key, p.value = "pf.manifest", json.dumps(manifest, sort_keys=True)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def train(net, xtr, ytr, xva, yva, mean, std, epochs, lr, seed, t0):
    """Adam with a cosine schedule on batches of 32 with random flips; keeps (loads into `net`) the
    weights of the best validation epoch. Returns (best validation accuracy, accuracy per epoch)."""
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    best, best_state, history = -1.0, None, []
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(len(xtr))
        for i in range(0, len(order), 32):
            idx = order[i:i + 32]
            xb = xtr[idx].copy()
            flip_h = rng.random(len(idx)) < 0.5
            flip_v = rng.random(len(idx)) < 0.5
            xb[flip_h] = xb[flip_h, :, :, ::-1]
            xb[flip_v] = xb[flip_v, :, ::-1, :]
            xb = (torch.from_numpy(np.ascontiguousarray(xb)) - mean) / std
            opt.zero_grad()
            loss = loss_fn(net(xb), torch.from_numpy(ytr[idx]))
            loss.backward()
            opt.step()
        sched.step()
        acc, _ = accuracy(net, xva, yva, mean, std)
        history.append(round(acc, 4))
        print(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.3f} val {acc:.4f} ({time.time() - t0:.0f} s)",
              flush=True)
        if acc > best:
            best, best_state = acc, {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return best, history


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--widths", default="16,32,64,128")
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--name", default="neu_cnn")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.outdir, exist_ok=True)
    t0 = time.time()
    _, xtr, ytr = load_split("train")
    _, xva, yva = load_split("val")
    _, xte, yte = load_split("test")
    mean, std = float(xtr.mean()), float(xtr.std())
    widths = [int(w) for w in args.widths.split(",")]
    net = Net(widths)
    best, history = train(net, xtr, ytr, xva, yva, mean, std, args.epochs, 2e-3, args.seed, t0)
    test_acc, conf = accuracy(net, xte, yte, mean, std)
    torch.save({"state": net.state_dict(), "widths": widths, "mean": mean, "std": std},
               os.path.join(args.outdir, f"{args.name}.pt"))
    onnx_path = os.path.join(args.outdir, f"{args.name}.onnx")
    export(net, onnx_path, mean, std, xtr, args.name, "1.0.0", " (trained by scripts/train/neu_cnn.py)")
    metrics = {"command": " ".join(["/usr/bin/python3"] + sys.argv), "seed": args.seed, "widths": widths,
               "split": "tests/fixtures/splits/neu_{train,val,test}.txt", "train": int(len(xtr)), "val": int(len(xva)),
               "test": int(len(xte)), "val_accuracy_per_epoch": history, "best_val_accuracy": best,
               "test_accuracy": test_acc, "confusion_test": conf.tolist(), "classes": CLASSES,
               "normalization": {"mean": mean, "std": std}, "torch": torch.__version__,
               "seconds": round(time.time() - t0, 1)}
    with open(os.path.join(args.outdir, f"{args.name}.metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    print(json.dumps({k: metrics[k] for k in ("best_val_accuracy", "test_accuracy", "seconds")}))


if __name__ == "__main__":
    main()
