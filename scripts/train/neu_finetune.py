#!/usr/bin/python3
"""Fine-tuning step of the pruning recipe (issue 9 item 3): `plantfloor model prune` removed channels
from the graph; this recovers the accuracy by training the pruned network on the same split.

  /usr/bin/python3 scripts/train/neu_finetune.py PRUNED.onnx OUTDIR [--epochs 30] [--lr 1e-3]

Rebuilds the pruned ONNX graph as a PyTorch module (a chain of Conv, Relu, GlobalAveragePool,
Flatten, Gemm, Softmax: what scripts/train/neu_cnn.py exports, BatchNorm folded into the convs) with
its weights, trains it as neu_cnn.py does (flips, Adam, cosine schedule, the best validation epoch
kept) and exports OUTDIR/<stem>_finetuned.onnx with the manifest of the pruned model (normalization,
class names) and its metrics (test accuracy measured once, at the end).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import neu_cnn  # noqa: E402  (the data, evaluation and export of the recipe)


class Chain(nn.Module):
    """The ONNX chain as modules, in graph order; the final Softmax is left to the export wrapper."""

    def __init__(self, model):
        super().__init__()
        inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        layers = []
        for n in model.graph.node:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            if n.op_type == "Conv":
                w = inits[n.input[1]]
                b = inits[n.input[2]] if len(n.input) > 2 and n.input[2] else None
                pads = attrs.get("pads", [0, 0, 0, 0])
                if pads[0] != pads[2] or pads[1] != pads[3] or attrs.get("group", 1) != 1:
                    raise SystemExit(f"{n.name}: asymmetric pads or groups are not rebuilt here")
                conv = nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), stride=tuple(attrs.get("strides", [1, 1])),
                                 padding=(pads[0], pads[1]), bias=b is not None)
                conv.weight.data = torch.from_numpy(w.copy())
                if b is not None:
                    conv.bias.data = torch.from_numpy(b.copy())
                layers.append(conv)
            elif n.op_type == "Relu":
                layers.append(nn.ReLU())
            elif n.op_type == "GlobalAveragePool":
                layers.append(nn.AdaptiveAvgPool2d(1))
            elif n.op_type == "Flatten":
                layers.append(nn.Flatten(1))
            elif n.op_type == "Gemm":
                w = inits[n.input[1]]
                if attrs.get("transB", 0) != 1:
                    w = w.T
                fc = nn.Linear(w.shape[1], w.shape[0])
                fc.weight.data = torch.from_numpy(np.ascontiguousarray(w))
                fc.bias.data = torch.from_numpy(inits[n.input[2]].copy())
                layers.append(fc)
            elif n.op_type == "Softmax":
                continue
            else:
                raise SystemExit(f"{n.name}: {n.op_type} is not rebuilt here")
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pruned")
    ap.add_argument("outdir")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.outdir, exist_ok=True)
    model = onnx.load(args.pruned)
    manifest = json.loads({p.key: p.value for p in model.metadata_props}["pf.manifest"])
    norm = manifest["inputs"][0]["normalization"]
    mean, std = float(norm["mean"][0]), float(norm["std"][0])
    net = Chain(model)
    t0 = time.time()
    _, xtr, ytr = neu_cnn.load_split("train")
    _, xva, yva = neu_cnn.load_split("val")
    _, xte, yte = neu_cnn.load_split("test")
    before, _ = neu_cnn.accuracy(net, xte, yte, mean, std)
    best, history = neu_cnn.train(net, xtr, ytr, xva, yva, mean, std, args.epochs, args.lr, args.seed, t0)
    test_acc, conf = neu_cnn.accuracy(net, xte, yte, mean, std)
    stem = os.path.splitext(os.path.basename(args.pruned))[0]
    out = os.path.join(args.outdir, f"{stem}_finetuned.onnx")
    neu_cnn.export(net, out, mean, std, xtr, manifest["name"] + "_pruned", manifest["version"],
                   " (pruned by plantfloor model prune, fine-tuned by scripts/train/neu_finetune.py)")
    metrics = {"command": " ".join(["/usr/bin/python3"] + sys.argv), "seed": args.seed, "pruned": args.pruned,
               "test_accuracy_before_finetune": before, "val_accuracy_per_epoch": history,
               "best_val_accuracy": best, "test_accuracy": test_acc, "confusion_test": conf.tolist(),
               "seconds": round(time.time() - t0, 1)}
    with open(os.path.join(args.outdir, f"{stem}_finetuned.metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    print(json.dumps({k: metrics[k] for k in ("test_accuracy_before_finetune", "best_val_accuracy", "test_accuracy")}))


if __name__ == "__main__":
    main()
