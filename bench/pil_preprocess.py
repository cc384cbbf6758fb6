#!/usr/bin/python3
"""Pillow (and numpy) as the decode + preprocessing peer of plantfloor's vision inspector, driven by
bench/vision_latency_bench.cpp over a line protocol, one command at a time:
  prep <image> <C> <H> <W> <mean|-> <std|-> <out.npy> <x,y,w,h> [<x,y,w,h> ...]
      -> ok <decode_ns> <preprocess_ns>
     decode: Image.open + load (the file read included, as plantfloor's read + decode);
     preprocess per ROI: crop, convert to L / RGB, resize to W x H (Image.BOX when shrinking, the
     area filter, else BILINEAR), scale to 0..1, (x - mean) / std, as float32 [1, C, H, W]; ROI k
     is written to <out.npy> with "-k" before ".npy" when there are several (saving not timed).
  rss -> ok <peak_bytes>   (ru_maxrss)
  quit
Errors answer `err <message>`.
"""
import resource
import sys
import time

import numpy as np
from PIL import Image


def prep(args):
    path, c, h, w, mean, std, out = args[:7]
    rois = [tuple(int(v) for v in r.split(",")) for r in args[7:]]
    c, h, w = int(c), int(h), int(w)
    t0 = time.perf_counter_ns()
    img = Image.open(path)
    img.load()
    t1 = time.perf_counter_ns()
    arrays = []
    for (x, y, rw, rh) in rois or [(0, 0, img.width, img.height)]:
        im = img.crop((x, y, x + rw, y + rh)) if (x, y, rw, rh) != (0, 0, img.width, img.height) else img
        im = im.convert("L" if c == 1 else "RGB")
        shrink = rw > w or rh > h
        if (rw, rh) != (w, h):
            im = im.resize((w, h), Image.BOX if shrink else Image.BILINEAR)
        a = np.asarray(im, dtype=np.float32) * (1.0 / 255.0)
        a = a.reshape(h, w, c).transpose(2, 0, 1)[None]
        if mean != "-":
            m = np.array([float(v) for v in mean.split(",")], dtype=np.float32).reshape(1, c, 1, 1)
            s = np.array([float(v) for v in std.split(",")], dtype=np.float32).reshape(1, c, 1, 1)
            a = (a - m) / s
        arrays.append(np.ascontiguousarray(a, dtype=np.float32))
    t2 = time.perf_counter_ns()
    for k, a in enumerate(arrays):
        np.save(out if len(arrays) == 1 else out.replace(".npy", f"-{k}.npy"), a)
    return f"ok {t1 - t0} {t2 - t1}"


def main():
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == "quit":
                return 0
            if words[0] == "rss":
                reply = f"ok {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}"
            elif words[0] == "prep":
                reply = prep(words[1:])
            else:
                reply = f"err unknown command {words[0]}"
        except Exception as e:  # noqa: BLE001 - every failure is an answer, the runner goes on
            reply = f"err {type(e).__name__}: {e}".replace("\n", " ")
        sys.stdout.write(reply + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
