#!/usr/bin/python3
"""The inference engine's model set (issue 8): parity with ONNX Runtime and the benchmarks run on it.

Usage: /usr/bin/python3 scripts/make_engine_models.py OUT_DIR

Writes into OUT_DIR, deterministically (fixed seeds; numpy and python3-onnx from Debian, no torch):
  <model>_fp32.onnx, <model>_int8.onnx   for model in small_cnn, mobilenet_v2_like, mlp, cnn1d (opset 13)
  <model>_int8_rr.onnx                   the int8 model with 7-bit ("reduce range") weights
  <model>_input_<k>.npy                  k = 0..3, the float32 inputs both variants are run on
  models.json                            the index the C++ test and benchmark read: per model and variant
                                         the file, input/output names and shapes, MACs, the output
                                         quantization step (int8) and the input files
Weights are random but scaled from the data (each layer's pre-activations are normalized on the
calibration batch, as a trained network's would be), so activations neither vanish nor explode.

The int8 variants are QDQ as ONNX Runtime's static quantizer writes them: activations u8 asymmetric
(MinMax ranges from a numpy forward of the fp32 model on 16 seeded random inputs), weights s8
per-output-channel symmetric ([-127, 127]) stored as int8 initializers behind DequantizeLinear,
biases int32 (scale x_scale * w_scale[c]) behind DequantizeLinear; QuantizeLinear/DequantizeLinear
around Conv, Gemm and Add. Pass-through ops (MaxPool, Flatten) keep their input's quantization.
The int8_rr variant differs only in its weights: symmetric in [-63, 63] (7 bits), the "reduce range"
that CPUs without VNNI need (their u8 x s8 vpmaddubsw pair sums saturate in int16 when |w| > 64 with
large x). ONNX Runtime's quantizer uses [-64, 64] for reduce_range; 63 keeps every weight inside
plantfloor's 7-bit test (dnnl_kernels.h), so its kernels take the weights as they are and the
result can be compared exactly with ONNX Runtime at any ISA.
One difference: Relu / Clip(0, 6) after a Conv stay in the graph between the Conv and its
QuantizeLinear (calibrated on the activation's output), where ONNX Runtime's quantizer drops them;
the two are numerically the same (the u8 range starts at 0 and ends at or below 6), and keeping
them exercises the engine's Conv+activation fusion on QDQ graphs.
Image inputs of the MobileNetV2-like net are image-like (per-image levels, smooth structure), see draw().
The fp32 small_cnn has BatchNormalization after each Conv (the engine folds it); the int8 one is
quantized from the folded network, as ONNX Runtime's quantizer does after its own folding.
The numpy forward below is a test oracle for the calibration only; the engines are compared with
ONNX Runtime, not with it.
"""
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
N_CALIB = 16
N_INPUTS = 4


# ----------------------------------------------------------------------------- numpy forward
def conv_np(x, w, b, stride, pad, group):
    """x (N,C,H,W), w (O,C/g,kh,kw), symmetric pads (ph, pw), stride (sh, sw)."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    sh, sw = stride
    ph, pw = pad
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, o, ho, wo), dtype=np.float64)
    og = o // group
    for i in range(kh):
        for j in range(kw):
            xs = xp[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
            if group == 1:
                out += np.einsum("nchw,oc->nohw", xs, w[:, :, i, j], optimize=True)
            elif cg == 1 and og == 1:  # depthwise
                out += xs * w[:, 0, i, j][None, :, None, None]
            else:
                for g in range(group):
                    out[:, g * og:(g + 1) * og] += np.einsum(
                        "nchw,oc->nohw", xs[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og, :, i, j], optimize=True)
    if b is not None:
        out += b[None, :, None, None]
    return out


def maxpool_np(x, k):
    n, c, h, w = x.shape
    kh, kw = k
    return x[:, :, :h // kh * kh, :w // kw * kw].reshape(n, c, h // kh, kh, w // kw, kw).max(axis=(3, 5))


# ----------------------------------------------------------------------------- the builder
class Net:
    """Builds a network eagerly: every layer is computed in numpy on the calibration batch as it is
    added (for data-dependent scaling and MinMax ranges), and recorded as a small layer list from
    which the fp32 and QDQ ONNX graphs are emitted."""

    def __init__(self, name, rng, x, one_d=False):
        self.name = name
        self.rng = rng
        self.one_d = one_d  # 1-D convs: numpy works on (N,C,1,L), ONNX sees (N,C,L)
        self.layers = []
        self.ranges = {}
        self.macs = 0
        self.count = {}
        self.input_shape = [1] + list(x.shape[1:])
        if one_d:
            x = x[:, :, None, :]
        self.input = self._value("input", x)

    def _value(self, name, v):
        self.ranges[name] = (float(min(0.0, v.min())), float(max(0.0, v.max())))
        return (name, v)

    def _name(self, kind):
        k = self.count.get(kind, 0)
        self.count[kind] = k + 1
        return f"{kind}{k}"

    def conv(self, x, out_c, k, stride=1, group=1, act=None, bn=False, std=1.0, mean=0.0):
        """Conv (+ BatchNormalization) (+ Relu / Clip(0,6)). Pre-activations are scaled so each channel
        has standard deviation `std` and mean `mean` on the calibration batch (about)."""
        xname, xv = x
        in_c = xv.shape[1]
        kh, kw = (1, k) if self.one_d else (k, k)
        sh, sw = (1, stride) if self.one_d else (stride, stride)
        pad = ((kh - 1) // 2, (kw - 1) // 2)
        w = self.rng.standard_normal((out_c, in_c // group, kh, kw))
        raw = conv_np(xv, w, None, (sh, sw), pad, group)
        m = raw.mean(axis=(0, 2, 3))
        s = raw.std(axis=(0, 2, 3)) + 1e-6
        name = self._name("conv")
        layer = {"op": "Conv", "name": name, "in": xname, "stride": (sh, sw), "pad": pad, "group": group,
                 "kernel": (kh, kw)}
        target_std = std * self.rng.uniform(0.7, 1.3, out_c)
        target_mean = mean + self.rng.uniform(-0.3, 0.3, out_c) * std
        if bn:
            # Conv keeps He-like weights; the BatchNormalization (inference statistics close to the
            # batch's, random affine) does the normalizing.
            w = w * np.sqrt(2.0 / (in_c // group * kh * kw))
            raw = raw * np.sqrt(2.0 / (in_c // group * kh * kw))
            m, s = m * np.sqrt(2.0 / (in_c // group * kh * kw)), s * np.sqrt(2.0 / (in_c // group * kh * kw))
            b = self.rng.uniform(-0.1, 0.1, out_c)
            bn_mean = (m + b) * self.rng.uniform(0.9, 1.1, out_c)
            bn_var = (s ** 2) * self.rng.uniform(0.8, 1.2, out_c)
            gamma, beta = target_std, target_mean
            eps = 1e-5
            y = (raw + b[None, :, None, None] - bn_mean[None, :, None, None]) / np.sqrt(bn_var + eps)[None, :, None, None]
            y = y * gamma[None, :, None, None] + beta[None, :, None, None]
            layer.update(w=w, b=b, bn=(gamma, beta, bn_mean, bn_var, eps), out=name + "_bn")
        else:
            w = w * (target_std / s)[:, None, None, None]
            b = target_mean - m * target_std / s
            y = raw * (target_std / s)[None, :, None, None] + b[None, :, None, None]
            layer.update(w=w, b=b, out=name)
        self.macs += y.shape[1] * y.shape[2] * y.shape[3] * (in_c // group) * kh * kw
        self.layers.append(layer)
        out = self._value(layer["out"], y)
        return self._act(out, act)

    def _act(self, x, act):
        if act is None:
            return x
        xname, xv = x
        name = self._name(act.lower())
        if act == "Relu":
            y = np.maximum(xv, 0.0)
        else:  # ReLU6 as Clip(0, 6)
            y = np.clip(xv, 0.0, 6.0)
        self.layers.append({"op": act, "name": name, "in": xname, "out": name})
        return self._value(name, y)

    def maxpool(self, x, k):
        xname, xv = x
        kk = (1, k) if self.one_d else (k, k)
        name = self._name("pool")
        self.layers.append({"op": "MaxPool", "name": name, "in": xname, "out": name, "kernel": kk})
        return self._value(name, maxpool_np(xv, kk))

    def add(self, a, b):
        name = self._name("add")
        self.layers.append({"op": "Add", "name": name, "in": a[0], "in2": b[0], "out": name})
        return self._value(name, a[1] + b[1])

    def gap(self, x):
        name = self._name("gap")
        self.layers.append({"op": "GlobalAveragePool", "name": name, "in": x[0], "out": name})
        return self._value(name, x[1].mean(axis=(2, 3), keepdims=True))

    def flatten(self, x):
        name = self._name("flatten")
        self.layers.append({"op": "Flatten", "name": name, "in": x[0], "out": name})
        return self._value(name, x[1].reshape(x[1].shape[0], -1))

    def gemm(self, x, out_n, act=None, std=1.0, out=None):
        xname, xv = x
        k = xv.shape[1]
        w = self.rng.standard_normal((out_n, k))
        raw = xv @ w.T
        m, s = raw.mean(axis=0), raw.std(axis=0) + 1e-6
        target = std * self.rng.uniform(0.7, 1.3, out_n)
        w = w * (target / s)[:, None]
        b = self.rng.uniform(-0.3, 0.3, out_n) * std - m * target / s
        name = out or self._name("gemm")
        self.layers.append({"op": "Gemm", "name": name, "in": xname, "out": name, "w": w, "b": b})
        self.macs += k * out_n
        return self._act(self._value(name, raw * (target / s) + b), act)

    def finish(self, y):
        self.output = y[0]
        self.output_shape = [1] + list(y[1].shape[1:])


# ----------------------------------------------------------------------------- the models
def small_cnn(rng, x):
    net = Net("small_cnn", rng, x)
    y = net.conv(net.input, 32, 3, act="Relu", bn=True)
    y = net.conv(y, 64, 3, act="Relu", bn=True)
    y = net.maxpool(y, 2)
    y = net.conv(y, 32, 3, act="Relu", bn=True)
    y = net.maxpool(y, 2)
    y = net.flatten(y)
    net.finish(net.gemm(y, 10, std=3.0, out="logits"))
    return net


def mobilenet_v2_like(rng, x):
    """MobileNetV2 1.0 at 224x224: stem, 17 inverted residual blocks, 1x1 to 1280, GAP, classifier."""
    net = Net("mobilenet_v2_like", rng, x)
    y = net.conv(net.input, 32, 3, stride=2, act="Clip", std=2.0, mean=1.0)
    c = 32
    for t, out_c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                           (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            h = y
            if t != 1:
                h = net.conv(h, c * t, 1, act="Clip", std=2.0, mean=1.0)
            h = net.conv(h, c * t, 3, stride=stride, group=c * t, act="Clip", std=2.0, mean=1.0)
            # Linear bottleneck: no activation; the residual sum stays near unit scale.
            h = net.conv(h, out_c, 1, std=0.7 if (stride == 1 and c == out_c) else 1.0)
            if stride == 1 and c == out_c:
                h = net.add(y, h)
            y = h
            c = out_c
    y = net.conv(y, 1280, 1, act="Clip", std=2.0, mean=1.0)
    y = net.flatten(net.gap(y))
    net.finish(net.gemm(y, 1000, std=3.0, out="logits"))
    return net


def mlp(rng, x):
    net = Net("mlp", rng, x)
    y = net.gemm(net.input, 256, act="Relu")
    y = net.gemm(y, 256, act="Relu")
    net.finish(net.gemm(y, 10, std=3.0, out="logits"))
    return net


def cnn1d(rng, x):
    net = Net("cnn1d", rng, x, one_d=True)
    y = net.conv(net.input, 16, 7, act="Relu")
    y = net.maxpool(y, 2)
    y = net.conv(y, 32, 5, stride=2, act="Relu")
    y = net.conv(y, 64, 3, stride=2, act="Relu")
    y = net.conv(y, 64, 3, act="Relu")
    y = net.flatten(net.gap(y))
    net.finish(net.gemm(y, 10, std=3.0, out="logits"))
    return net


MODELS = [  # name, builder, input shape, input distribution, seed
    ("small_cnn", small_cnn, (1, 1, 64, 64), "uniform", 101),
    ("mobilenet_v2_like", mobilenet_v2_like, (1, 3, 224, 224), "image", 102),
    ("mlp", mlp, (1, 64), "normal", 103),
    ("cnn1d", cnn1d, (1, 1, 1024), "normal", 104),
]


def draw(rng, shape, dist, n):
    full = (n,) + tuple(shape[1:])
    if dist == "uniform":
        return rng.uniform(0.0, 1.0, full)
    if dist == "image":
        # Image-like: a per-image, per-channel level, smooth structure (a coarse random field
        # upsampled bilinearly) and a little pixel noise. Images then differ in what the global
        # features see, as real ones do; i.i.d. pixel noise would make every image's pooled
        # features nearly the same, and a classifier scaled to tell them apart would amplify
        # rounding noise instead of signal.
        c, h, w = full[1:]
        coarse = rng.standard_normal((n, c, h // 16 + 1, w // 16 + 1))
        ys, xs = np.linspace(0, h // 16, h), np.linspace(0, w // 16, w)
        y0, x0 = np.floor(ys).astype(int).clip(0, h // 16 - 1), np.floor(xs).astype(int).clip(0, w // 16 - 1)
        fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
        smooth = (coarse[:, :, y0][:, :, :, x0] * (1 - fy) * (1 - fx) + coarse[:, :, y0 + 1][:, :, :, x0] * fy * (1 - fx) +
                  coarse[:, :, y0][:, :, :, x0 + 1] * (1 - fy) * fx + coarse[:, :, y0 + 1][:, :, :, x0 + 1] * fy * fx)
        level = rng.standard_normal((n, c, 1, 1))
        return level + smooth + 0.3 * rng.standard_normal(full)
    return rng.standard_normal(full)


# ----------------------------------------------------------------------------- ONNX emission
def f32(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def conv_attrs(net, layer):
    if net.one_d:
        return dict(kernel_shape=[layer["kernel"][1]], strides=[layer["stride"][1]],
                    pads=[layer["pad"][1], layer["pad"][1]], group=layer["group"])
    return dict(kernel_shape=list(layer["kernel"]), strides=list(layer["stride"]),
                pads=[layer["pad"][0], layer["pad"][1], layer["pad"][0], layer["pad"][1]], group=layer["group"])


def conv_weight(net, w):
    return w[:, :, 0, :] if net.one_d else w


def fold_bn(layer):
    gamma, beta, mean, var, eps = layer["bn"]
    k = gamma / np.sqrt(var + eps)
    return layer["w"] * k[:, None, None, None], (layer["b"] - mean) * k + beta


def manifest(net, variant, graph):
    """The pf.manifest metadata (schema: docs/schema.md "Model manifest", src/engine/manifest.h); the
    hash covers the serialized graph only, so the manifest can sit inside the model it describes."""
    return json.dumps({
        "manifest_version": 1, "name": f"{net.name}_{variant}", "version": "1.0.0",
        "model_sha256": hashlib.sha256(graph.SerializeToString()).hexdigest(),
        "inputs": [{"name": "input", "dtype": "float32", "shape": net.input_shape,
                    "preprocessing": "seeded random test input (scripts/make_engine_models.py)"}],
        "outputs": [{"name": net.output, "meaning": "scores of a random-weight test network (no trained meaning)"}],
    }, sort_keys=True)


def make_model(net, variant, nodes, inits):
    graph = helper.make_graph(
        nodes, f"{net.name}_{variant}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, net.input_shape)],
        [helper.make_tensor_value_info(net.output, TensorProto.FLOAT, net.output_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="plantfloor make_engine_models.py")
    model.ir_version = 7
    helper.set_model_props(model, {"pf.manifest": manifest(net, variant, model.graph)})
    onnx.checker.check_model(model)
    return model


def emit_fp32(net):
    nodes, inits = [], []
    for L in net.layers:
        op, name = L["op"], L["name"]
        if op == "Conv":
            inits += [f32(name + "_w", conv_weight(net, L["w"])), f32(name + "_b", L["b"])]
            conv_out = name if "bn" not in L else name + "_out"
            nodes.append(helper.make_node("Conv", [L["in"], name + "_w", name + "_b"], [conv_out], name=name,
                                          **conv_attrs(net, L)))
            if "bn" in L:
                gamma, beta, mean, var, eps = L["bn"]
                inits += [f32(name + "_gamma", gamma), f32(name + "_beta", beta), f32(name + "_mean", mean),
                          f32(name + "_var", var)]
                nodes.append(helper.make_node(
                    "BatchNormalization", [conv_out, name + "_gamma", name + "_beta", name + "_mean", name + "_var"],
                    [L["out"]], name=name + "_bn", epsilon=eps))
        elif op == "Gemm":
            inits += [f32(name + "_w", L["w"]), f32(name + "_b", L["b"])]
            nodes.append(helper.make_node("Gemm", [L["in"], name + "_w", name + "_b"], [L["out"]], name=name, transB=1))
        elif op == "Clip":
            inits += [f32(name + "_min", 0.0), f32(name + "_max", 6.0)]
            nodes.append(helper.make_node("Clip", [L["in"], name + "_min", name + "_max"], [L["out"]], name=name))
        elif op == "MaxPool":
            k = [L["kernel"][1]] if net.one_d else list(L["kernel"])
            nodes.append(helper.make_node("MaxPool", [L["in"]], [L["out"]], name=name, kernel_shape=k, strides=k))
        elif op == "Add":
            nodes.append(helper.make_node("Add", [L["in"], L["in2"]], [L["out"]], name=name))
        else:  # Relu, GlobalAveragePool, Flatten
            nodes.append(helper.make_node(op, [L["in"]], [L["out"]], name=name))
    return make_model(net, "fp32", nodes, inits)


def act_qparams(rmin, rmax):
    """ONNX Runtime's asymmetric u8: the range widened to hold 0, zero point rounded and clamped."""
    scale = (rmax - rmin) / 255.0
    if scale == 0.0:
        scale = 1.0
    zp = int(np.clip(np.round(0.0 - rmin / scale), 0, 255))
    return np.float32(scale), zp


def weight_qparams(w, qmax=127):
    """s8 symmetric per output channel (axis 0), range [-qmax, qmax] (127, or 63 for reduce range)."""
    absmax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scale = (absmax / float(qmax)).astype(np.float32)
    scale[scale == 0] = 1.0
    shape = (-1,) + (1,) * (w.ndim - 1)
    q = np.clip(np.round(w / scale.reshape(shape).astype(np.float64)), -qmax, qmax).astype(np.int8)
    return scale, q


class QdqWriter:
    def __init__(self, net, weight_qmax=127):
        self.net = net
        self.weight_qmax = weight_qmax
        self.nodes, self.inits = [], []
        self.qparams = {}   # float tensor name -> (scale, zp) of its quantization
        self.deq = {}       # float tensor name -> the name of its dequantized twin

    def quantize(self, name, params=None):
        """Q -> DQ after `name`; returns the DQ output name (what consumers use)."""
        scale, zp = params or act_qparams(*self.net.ranges[name])
        self.qparams[name] = (scale, zp)
        self.inits += [f32(name + "_scale", scale), numpy_helper.from_array(np.array(zp, dtype=np.uint8), name + "_zp")]
        self.nodes.append(helper.make_node("QuantizeLinear", [name, name + "_scale", name + "_zp"],
                                           [name + "_q"], name=name + "_QuantizeLinear"))
        self.nodes.append(helper.make_node("DequantizeLinear", [name + "_q", name + "_scale", name + "_zp"],
                                           [name + "_dq"], name=name + "_DequantizeLinear"))
        self.deq[name] = name + "_dq"
        return name + "_dq"

    def weight(self, name, w, b, x_scale):
        """int8 weight and int32 bias initializers behind DequantizeLinear; returns the two DQ outputs."""
        w_scale, wq = weight_qparams(w, self.weight_qmax)
        n = w.shape[0]
        self.inits += [numpy_helper.from_array(wq, name + "_w_quantized"), f32(name + "_w_scale", w_scale),
                       numpy_helper.from_array(np.zeros(n, dtype=np.int8), name + "_w_zero_point")]
        self.nodes.append(helper.make_node(
            "DequantizeLinear", [name + "_w_quantized", name + "_w_scale", name + "_w_zero_point"], [name + "_w_dq"],
            name=name + "_w_DequantizeLinear", axis=0))
        b_scale = (np.float32(x_scale) * w_scale).astype(np.float32)
        bq = np.round(b / b_scale.astype(np.float64)).astype(np.int32)
        self.inits += [numpy_helper.from_array(bq, name + "_b_quantized"), f32(name + "_b_scale", b_scale),
                       numpy_helper.from_array(np.zeros(n, dtype=np.int32), name + "_b_zero_point")]
        self.nodes.append(helper.make_node(
            "DequantizeLinear", [name + "_b_quantized", name + "_b_scale", name + "_b_zero_point"], [name + "_b_dq"],
            name=name + "_b_DequantizeLinear", axis=0))
        return name + "_w_dq", name + "_b_dq"


def emit_int8(net, variant="int8", weight_qmax=127):
    """The QDQ graph. A Conv/Gemm followed by Relu/Clip keeps the activation between the op and its
    QuantizeLinear (the range calibrated on the activation's output)."""
    q = QdqWriter(net, weight_qmax)
    q.quantize("input")
    consumers = {}
    for L in net.layers:
        consumers.setdefault(L["in"], []).append(L)
        if "in2" in L:
            consumers.setdefault(L["in2"], []).append(L)
    for L in net.layers:
        op, name = L["op"], L["name"]
        if op in ("Conv", "Gemm"):
            w, b = (fold_bn(L) if "bn" in L else (L["w"], L["b"]))
            x_scale = q.qparams[L["in"]][0]
            wdq, bdq = q.weight(name, w if op == "Gemm" else conv_weight(net, w), b, x_scale)
            if op == "Conv":
                q.nodes.append(helper.make_node("Conv", [q.deq[L["in"]], wdq, bdq], [L["out"]], name=name,
                                                **conv_attrs(net, L)))
            else:
                q.nodes.append(helper.make_node("Gemm", [q.deq[L["in"]], wdq, bdq], [L["out"]], name=name,
                                                transB=1))
            nxt = consumers.get(L["out"], [])
            if not (len(nxt) == 1 and nxt[0]["op"] in ("Relu", "Clip")):
                q.quantize(L["out"])
        elif op in ("Relu", "Clip"):
            if op == "Relu":
                q.nodes.append(helper.make_node("Relu", [L["in"]], [L["out"]], name=name))
            else:
                q.inits += [f32(name + "_min", 0.0), f32(name + "_max", 6.0)]
                q.nodes.append(helper.make_node("Clip", [L["in"], name + "_min", name + "_max"], [L["out"]],
                                                name=name))
            q.quantize(L["out"])
        elif op in ("MaxPool", "Flatten"):
            # Pass-through ops keep their input's quantization, as ONNX Runtime's quantizer writes them.
            attrs = {}
            if op == "MaxPool":
                k = [L["kernel"][1]] if net.one_d else list(L["kernel"])
                attrs = dict(kernel_shape=k, strides=k)
            q.nodes.append(helper.make_node(op, [q.deq[L["in"]]], [L["out"]], name=name, **attrs))
            q.quantize(L["out"], q.qparams[L["in"]])
        elif op == "Add":
            q.nodes.append(helper.make_node("Add", [q.deq[L["in"]], q.deq[L["in2"]]], [L["out"]], name=name))
            q.quantize(L["out"])
        elif op == "GlobalAveragePool":
            q.nodes.append(helper.make_node(op, [q.deq[L["in"]]], [L["out"]], name=name))
            q.quantize(L["out"])
        else:
            raise ValueError(f"emit_int8: layer {name}: op {op} not handled")
    # The graph output is the dequantized logits: rename the last DQ's output to the model's output name.
    out_dq = q.deq[net.output]
    for node in q.nodes:
        for k, v in enumerate(node.input):
            if v == net.output:
                node.input[k] = net.output + "_fp"
        for k, v in enumerate(node.output):
            if v == net.output:
                node.output[k] = net.output + "_fp"
            elif v == out_dq:
                node.output[k] = net.output
    model = make_model(net, variant, q.nodes, q.inits)
    return model, float(q.qparams[net.output][0])


def save_npy(path, a):
    with open(path, "wb") as f:
        np.save(f, np.ascontiguousarray(a), allow_pickle=False)


def main():
    if len(sys.argv) != 2:
        print("usage: make_engine_models.py OUT_DIR", file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    index = []
    for name, build, shape, dist, seed in MODELS:
        rng = np.random.default_rng(seed)
        calib = draw(rng, shape, dist, N_CALIB)
        net = build(rng, calib)
        fp32 = emit_fp32(net)
        int8, out_step = emit_int8(net)
        int8_rr, _ = emit_int8(net, "int8_rr", 63)
        inputs = []
        x = draw(rng, shape, dist, N_INPUTS)
        for k in range(N_INPUTS):
            path = f"{name}_input_{k}.npy"
            save_npy(os.path.join(out, path), x[k:k + 1].astype(np.float32))
            inputs.append(path)
        for variant, model in (("fp32", fp32), ("int8", int8), ("int8_rr", int8_rr)):
            path = f"{name}_{variant}.onnx"
            with open(os.path.join(out, path), "wb") as f:
                f.write(model.SerializeToString())
            index.append({"model": name, "variant": variant, "file": path, "input": "input",
                          "input_shape": net.input_shape, "output": net.output, "output_shape": net.output_shape,
                          "macs": int(net.macs), "output_step": 0.0 if variant == "fp32" else out_step,
                          "inputs": inputs, "bytes": len(model.SerializeToString())})
        print(f"{name}: {net.macs / 1e6:.1f} M MACs, {len(fp32.graph.node)} fp32 nodes, "
              f"{len(int8.graph.node)} int8 nodes, output step {out_step:.4g}")
    with open(os.path.join(out, "models.json"), "w") as f:
        json.dump({"models": index}, f, indent=1, sort_keys=True)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
