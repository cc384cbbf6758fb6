// The oneDNN kernels against independent references on random shapes:
//  - fp32 Conv/Gemm/MatMul against the reference kernels of the op table (FindOp(...)->run),
//    with bias, sum and activation applied here in double precision; max abs error <= 1e-4 x max|ref|.
//  - int8 Conv/Gemm against a plain int32 loop in this file (ONNX QLinearConv semantics: int32
//    accumulation of (x - x_zp) * w + B, real = acc * x_scale * w_scale[c], activation on the real
//    value, round half to even, saturate); every element within 1 of the reference, and the share of
//    exact elements is logged (oneDNN associates the fp32 scaling differently, see dnnl_kernels.h).
// Under ONEDNN_MAX_CPU_ISA=AVX2 (no VNNI) the int8 tests draw 7-bit weights, as reduce_range would
// produce, since oneDNN's vpmaddubsw path saturates otherwise; the reduce_range test covers wide weights.
#include "engine/dnnl_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <omp.h>

#include "engine/ops.h"

namespace pf::engine::dnnl_kernels {
namespace {

Attribute Ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
Attribute IntA(int64_t v) {
  Attribute a;
  a.i = v;
  return a;
}
Attribute FloatA(float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  return a;
}
Attribute StrA(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(v);
  return a;
}

// The pf_activation attributes of engine/passes.h for an activation.
void SetActivation(Node* n, const Activation& a) {
  if (a.kind.empty()) return;
  n->attrs["pf_activation"] = StrA(a.kind);
  if (a.kind == "Clip") {
    n->attrs["pf_min"] = FloatA(a.min);
    n->attrs["pf_max"] = FloatA(a.max);
  }
  if (a.kind == "LeakyRelu" || a.kind == "HardSigmoid") n->attrs["pf_alpha"] = FloatA(a.alpha);
  if (a.kind == "HardSigmoid") n->attrs["pf_beta"] = FloatA(a.beta);
}

DType ToDType(DataType t) { return t == DataType::kU8 ? DType::kUint8 : DType::kInt8; }

// Infer then Run through the op table, like the interpreter.
Result<Tensor> RunRef(const Node& n, const std::vector<const Tensor*>& in) {
  const OpDef* def = FindOp(n.op_type);
  if (!def) return NotFound("no op {}", n.op_type);
  std::vector<TensorInfo> infos(in.size());
  std::vector<const TensorInfo*> ptrs;
  for (size_t k = 0; k < in.size(); ++k) {
    infos[k] = in[k] ? TensorInfo{in[k]->dtype, in[k]->shape, in[k]} : TensorInfo{};
    ptrs.push_back(in[k] ? &infos[k] : nullptr);
  }
  PF_ASSIGN_OR_RETURN(auto outs, def->infer(n, ptrs, 13));
  PF_ASSIGN_OR_RETURN(auto ys, def->run(n, in, outs, 13));
  return std::move(ys[0]);
}

double Act(const Activation& a, double x) {
  if (a.kind.empty()) return x;
  if (a.kind == "Relu") return std::max(0.0, x);
  if (a.kind == "LeakyRelu") return x >= 0 ? x : a.alpha * x;
  if (a.kind == "Clip") return std::min<double>(a.max, std::max<double>(a.min, x));
  if (a.kind == "HardSigmoid") return std::clamp(a.alpha * x + a.beta, 0.0, 1.0);
  if (a.kind == "HardSwish") return x * std::clamp(x / 6.0 + 0.5, 0.0, 1.0);
  if (a.kind == "Sigmoid") return 1.0 / (1.0 + std::exp(-x));
  if (a.kind == "Tanh") return std::tanh(x);
  ADD_FAILURE() << "activation " << a.kind;
  return x;
}

Activation RandomActivation(std::mt19937& rng) {
  static const char* kKinds[] = {"", "Relu", "Clip", "LeakyRelu", "HardSigmoid", "HardSwish", "Sigmoid", "Tanh"};
  Activation a;
  a.kind = kKinds[rng() % 8];
  if (a.kind == "Clip") {
    a.min = -0.5f - (rng() % 4) * 0.25f;
    a.max = 0.5f + (rng() % 4) * 0.5f;
  } else if (a.kind == "LeakyRelu") {
    a.alpha = 0.1f;
  } else if (a.kind == "HardSigmoid") {
    a.alpha = 0.2f;
    a.beta = 0.5f;
  }
  return a;
}

std::string SpecString(const ConvSpec& s) {
  return fmt::format("N{} C{} {}x{} -> M{} g{} k{}x{} s{}x{} p{},{},{},{} d{}x{} act'{}' sum{} src{} dst{}",
                     s.batch, s.in_c, s.in_h, s.in_w, s.out_c, s.group, s.kernel_h, s.kernel_w, s.stride_h,
                     s.stride_w, s.pad_top, s.pad_left, s.pad_bottom, s.pad_right, s.dilation_h, s.dilation_w,
                     s.activation.kind, s.sum, static_cast<int>(s.src_type), static_cast<int>(s.dst_type));
}

// A random conv geometry: kind 0 dense, 1 grouped, 2 depthwise; 1-D when one_d.
ConvSpec RandomConv(std::mt19937& rng, int kind, bool one_d) {
  auto r = [&](int lo, int hi) { return static_cast<int64_t>(lo + rng() % (hi - lo + 1)); };
  ConvSpec s;
  s.batch = r(1, 2);
  if (kind == 0) {
    s.group = 1;
    s.in_c = r(1, 24);
    s.out_c = r(1, 24);
  } else if (kind == 1) {
    s.group = r(2, 4);
    s.in_c = s.group * r(1, 6);
    s.out_c = s.group * r(1, 6);
  } else {
    s.group = s.in_c = r(2, 32);
    s.out_c = s.in_c * r(1, 2);
  }
  s.kernel_w = r(1, 5);
  s.stride_w = r(1, 3);
  s.dilation_w = r(1, 2);
  s.pad_left = r(0, 2);
  s.pad_right = r(0, 2);
  s.in_w = (s.kernel_w - 1) * s.dilation_w + 1 + r(0, 16);
  if (!one_d) {
    s.kernel_h = r(1, 5);
    s.stride_h = r(1, 3);
    s.dilation_h = r(1, 2);
    s.pad_top = r(0, 2);
    s.pad_bottom = r(0, 2);
    s.in_h = (s.kernel_h - 1) * s.dilation_h + 1 + r(0, 16);
  }
  return s;
}

Node ConvNode(const ConvSpec& s, bool one_d) {
  Node n;
  n.name = "conv";
  n.op_type = "Conv";
  n.inputs = {"x", "w", "b"};
  n.outputs = {"y"};
  if (one_d) {
    n.attrs["strides"] = Ints({s.stride_w});
    n.attrs["dilations"] = Ints({s.dilation_w});
    n.attrs["pads"] = Ints({s.pad_left, s.pad_right});
  } else {
    n.attrs["strides"] = Ints({s.stride_h, s.stride_w});
    n.attrs["dilations"] = Ints({s.dilation_h, s.dilation_w});
    n.attrs["pads"] = Ints({s.pad_top, s.pad_left, s.pad_bottom, s.pad_right});
  }
  n.attrs["group"] = IntA(s.group);
  return n;
}

std::vector<float> RandomFloats(std::mt19937& rng, size_t count, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(count);
  for (auto& x : v) x = d(rng);
  return v;
}

// The plain int32 QLinearConv loop (ONNX semantics), returning the real (dequantized, pre-activation)
// value per output element; padding contributes real 0.
std::vector<double> Int8ConvReal(const ConvSpec& s, const std::vector<uint8_t>& xbytes, const std::vector<int8_t>& w,
                                 const std::vector<int32_t>& b, const std::vector<float>& wscale) {
  const int64_t oh = s.out_h(), ow = s.out_w(), icg = s.in_c / s.group, ocg = s.out_c / s.group;
  auto xval = [&](size_t k) -> int32_t {
    return s.src_type == DataType::kU8 ? static_cast<int32_t>(xbytes[k]) : static_cast<int32_t>(static_cast<int8_t>(xbytes[k]));
  };
  std::vector<double> out(s.batch * s.out_c * oh * ow);
  for (int64_t n = 0; n < s.batch; ++n)
  for (int64_t oc = 0; oc < s.out_c; ++oc)
  for (int64_t y = 0; y < oh; ++y)
  for (int64_t x = 0; x < ow; ++x) {
    int64_t acc = b.empty() ? 0 : b[oc];
    const int64_t g = oc / ocg;
    for (int64_t ic = 0; ic < icg; ++ic)
    for (int64_t ky = 0; ky < s.kernel_h; ++ky)
    for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
      const int64_t iy = y * s.stride_h - s.pad_top + ky * s.dilation_h;
      const int64_t ix = x * s.stride_w - s.pad_left + kx * s.dilation_w;
      if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w) continue;
      const size_t xi = ((n * s.in_c + g * icg + ic) * s.in_h + iy) * s.in_w + ix;
      const int32_t wv = w[((oc * icg + ic) * s.kernel_h + ky) * s.kernel_w + kx];
      acc += static_cast<int64_t>(xval(xi) - s.src.zero_point) * wv;
    }
    out[((n * s.out_c + oc) * oh + y) * ow + x] =
        static_cast<double>(acc) * s.src.scale * wscale[wscale.size() == 1 ? 0 : oc];
  }
  return out;
}

// Quantizes like ONNX QuantizeLinear (round half to even, saturate).
int32_t Requant(double real, const Quant& q, DataType t) {
  const double v = std::nearbyint(real / q.scale) + q.zero_point;
  return static_cast<int32_t>(t == DataType::kU8 ? std::clamp(v, 0.0, 255.0) : std::clamp(v, -128.0, 127.0));
}

const bool kNarrowWeights = Int8MaySaturate();

// Random conv configs per test: 36 by default, PF_DNNL_TEST_CONFIGS=N for a longer soak.
int ConvConfigs() {
  const char* v = std::getenv("PF_DNNL_TEST_CONFIGS");
  return v ? std::max(1, std::atoi(v)) : 36;
}

// The product default is one inference thread (engine/session.h); the tests run that way (the
// timing too), and DnnlThreads checks other counts explicitly.
const int kTestThreads = [] {
  omp_set_num_threads(1);
  return 1;
}();

std::vector<int8_t> RandomWeights(std::mt19937& rng, size_t count, bool narrow) {
  std::vector<int8_t> w(count);
  const int lo = narrow ? -64 : -128, span = narrow ? 128 : 256;
  for (auto& v : w) v = static_cast<int8_t>(lo + static_cast<int>(rng() % span));
  return w;
}

// Compares int8 kernel output with the reference; returns the share of exact elements.
double CompareQuant(const std::vector<uint8_t>& got, const std::vector<int32_t>& want, DataType t, const std::string& what) {
  int64_t exact = 0, off = 0;
  for (size_t k = 0; k < want.size(); ++k) {
    const int32_t g = t == DataType::kU8 ? got[k] : static_cast<int8_t>(got[k]);
    if (g == want[k]) {
      ++exact;
    } else if (std::abs(g - want[k]) > 1) {
      if (++off <= 3) ADD_FAILURE() << what << ": element " << k << " got " << g << " want " << want[k];
    }
  }
  EXPECT_EQ(off, 0) << what;
  return want.empty() ? 1.0 : static_cast<double>(exact) / want.size();
}

void ExpectClose(const std::vector<float>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double max_ref = 0, max_err = 0;
  for (size_t k = 0; k < want.size(); ++k) {
    max_ref = std::max(max_ref, std::abs(want[k]));
    max_err = std::max(max_err, std::abs(got[k] - want[k]));
  }
  EXPECT_LE(max_err, 1e-4 * std::max(max_ref, 1e-6)) << what << " max_ref " << max_ref;
}

TEST(DnnlConv, Fp32RandomShapesMatchReference) {
  std::mt19937 rng(7);
  std::printf("oneDNN effective ISA: %s\n", EffectiveIsa().c_str());
  for (int t = 0; t < ConvConfigs(); ++t) {
    const bool one_d = t % 6 == 5;
    ConvSpec s = RandomConv(rng, t % 3, one_d);
    s.activation = RandomActivation(rng);
    s.sum = t % 4 == 1;
    const bool bias = t % 5 != 0;
    const int64_t icg = s.in_c / s.group;
    const Shape xs = one_d ? Shape{s.batch, s.in_c, s.in_w} : Shape{s.batch, s.in_c, s.in_h, s.in_w};
    const Shape ws = one_d ? Shape{s.out_c, icg, s.kernel_w} : Shape{s.out_c, icg, s.kernel_h, s.kernel_w};
    Tensor x = Tensor::Float(xs, RandomFloats(rng, NumElements(xs), -1, 1));
    Tensor w = Tensor::Float(ws, RandomFloats(rng, NumElements(ws), -1, 1));
    Tensor b = Tensor::Float({s.out_c}, RandomFloats(rng, s.out_c, -1, 1));
    const std::string what = fmt::format("config {}: {}", t, SpecString(s));
    // The reference Conv with the fusion attributes of engine/passes.h: act(conv + b + s).
    const size_t ny = s.batch * s.out_c * s.out_h() * s.out_w();
    Shape ys = one_d ? Shape{s.batch, s.out_c, s.out_w()} : Shape{s.batch, s.out_c, s.out_h(), s.out_w()};
    Tensor sum_t = Tensor::Float(ys, RandomFloats(rng, ny, -1, 1));
    const std::vector<float>& sum = sum_t.f;
    Node node = ConvNode(s, one_d);
    SetActivation(&node, s.activation);
    if (s.sum) node.attrs["pf_sum"] = IntA(1);
    std::vector<const Tensor*> ins{&x, &w, bias ? &b : nullptr};
    if (s.sum) ins.push_back(&sum_t);
    auto ref = RunRef(node, ins);
    ASSERT_TRUE(ref.ok()) << ref.status().ToString();
    ASSERT_EQ(ref->f.size(), ny) << what;
    const std::vector<double> want(ref->f.begin(), ref->f.end());
    auto kernel = ConvKernel::Create(s, w.f.data(), nullptr, bias ? b.f.data() : nullptr, nullptr);
    ASSERT_TRUE(kernel.ok()) << what << ": " << kernel.status().ToString();
    std::vector<float> y(ny, -7.0f);
    ASSERT_TRUE((*kernel)->Execute(x.f.data(), y.data(), s.sum ? sum.data() : nullptr).ok()) << what;
    ExpectClose(y, want, what + " impl " + (*kernel)->impl());
    if (s.sum) {  // in place: the sum already in dst
      std::vector<float> y2 = sum;
      ASSERT_TRUE((*kernel)->Execute(x.f.data(), y2.data(), y2.data()).ok());
      ExpectClose(y2, want, what + " (sum in place)");
    }
  }
}

// One int8 conv config checked end to end; returns the share of exact elements (quantized dst).
// Quantized dst: against the op table's QLinearConv (engine/ops_quant.cpp, with pf_activation);
// dequantized (fp32) dst, which has no ONNX op: against Int8ConvReal plus the activation here.
double CheckInt8Conv(std::mt19937& rng, ConvSpec s, bool per_channel, bool bias, bool narrow, bool one_d,
                     const std::string& tag_) {
  const int64_t icg = s.in_c / s.group;
  const size_t nx = s.batch * s.in_c * s.in_h * s.in_w, nw = s.out_c * icg * s.kernel_h * s.kernel_w;
  std::vector<uint8_t> x(nx);
  for (auto& v : x) v = static_cast<uint8_t>(rng() % 256);
  std::vector<int8_t> w = RandomWeights(rng, nw, narrow);
  std::vector<int32_t> b;
  if (bias) {
    b.resize(s.out_c);
    for (auto& v : b) v = static_cast<int32_t>(rng() % 20001) - 10000;
  }
  // Weight scales so that the real accumulator spans about [-4, 4], whatever the geometry, and a
  // dst scale that maps that span onto ~130 levels (1/200 for the bounded activations).
  const std::vector<double> acc = Int8ConvReal(s, x, w, b, {1.0f / s.src.scale});
  double max_acc = 1;
  for (double v : acc) max_acc = std::max(max_acc, std::abs(v));
  s.weight_scales.assign(per_channel ? s.out_c : 1, 0.0f);
  for (auto& v : s.weight_scales) v = static_cast<float>(4.0 / (max_acc * s.src.scale) * (0.5 + (rng() % 100) * 0.01));
  if (s.dst_type != DataType::kF32) {
    const bool bounded = s.activation.kind == "Sigmoid" || s.activation.kind == "Tanh" || s.activation.kind == "HardSigmoid";
    s.dst.scale = bounded ? 1.0f / 200 : 0.03f + (rng() % 10) * 0.003f;
  }
  const std::string what = fmt::format("{}: {} zp {} -> {} zp {}", tag_, SpecString(s), s.src.zero_point, s.dst.scale,
                                       s.dst.zero_point);
  std::vector<double> real = Int8ConvReal(s, x, w, b, s.weight_scales);
  std::vector<float> sum;
  if (s.sum) sum = RandomFloats(rng, real.size(), -2, 2);
  auto kernel = ConvKernel::Create(s, nullptr, w.data(), nullptr, bias ? b.data() : nullptr);
  if (!kernel.ok()) {
    ADD_FAILURE() << what << ": " << kernel.status().ToString();
    return 0;
  }
  if (s.dst_type == DataType::kF32) {
    std::vector<float> y(real.size());
    EXPECT_TRUE((*kernel)->Execute(x.data(), y.data(), s.sum ? sum.data() : nullptr).ok());
    std::vector<double> want(real.size());
    for (size_t k = 0; k < real.size(); ++k) want[k] = Act(s.activation, real[k] + (s.sum ? sum[k] : 0.0));
    ExpectClose(y, want, what + " impl " + (*kernel)->impl());
    return 1.0;
  }
  std::vector<uint8_t> y(real.size());
  EXPECT_TRUE((*kernel)->Execute(x.data(), y.data(), nullptr).ok());
  Node node = ConvNode(s, one_d);
  node.op_type = "QLinearConv";
  node.inputs = {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz", bias ? "b" : ""};
  SetActivation(&node, s.activation);
  const Shape xs = one_d ? Shape{s.batch, s.in_c, s.in_w} : Shape{s.batch, s.in_c, s.in_h, s.in_w};
  const Shape ws = one_d ? Shape{s.out_c, icg, s.kernel_w} : Shape{s.out_c, icg, s.kernel_h, s.kernel_w};
  const DType xt = ToDType(s.src_type), yt = ToDType(s.dst_type);
  std::vector<int64_t> xv(nx);
  for (size_t k = 0; k < nx; ++k) xv[k] = xt == DType::kUint8 ? x[k] : static_cast<int8_t>(x[k]);
  const Tensor xq = Tensor::Int(xt, xs, xv), x_scale = Tensor::Float({}, {s.src.scale});
  const Tensor x_zp = Tensor::Int(xt, {}, {s.src.zero_point});
  const Tensor wt = Tensor::Int(DType::kInt8, ws, std::vector<int64_t>(w.begin(), w.end()));
  const Tensor w_scale = Tensor::Float(per_channel ? Shape{s.out_c} : Shape{}, s.weight_scales);
  const Tensor w_zp = Tensor::Int(DType::kInt8, {}, {0});
  const Tensor y_scale = Tensor::Float({}, {s.dst.scale}), y_zp = Tensor::Int(yt, {}, {s.dst.zero_point});
  const Tensor bt = Tensor::Int(DType::kInt32, {s.out_c}, std::vector<int64_t>(b.begin(), b.end()));
  auto ref = RunRef(node, {&xq, &x_scale, &x_zp, &wt, &w_scale, &w_zp, &y_scale, &y_zp, bias ? &bt : nullptr});
  if (!ref.ok()) {
    ADD_FAILURE() << what << ": reference QLinearConv: " << ref.status().ToString();
    return 0;
  }
  const std::vector<int32_t> want(ref->i.begin(), ref->i.end());
  EXPECT_EQ(want.size(), y.size()) << what;
  return CompareQuant(y, want, s.dst_type, what + " impl " + (*kernel)->impl());
}

TEST(DnnlConv, Int8RandomShapesWithinOneOfReference) {
  std::mt19937 rng(11);
  double exact_sum = 0;
  int quantized = 0;
  for (int t = 0; t < ConvConfigs(); ++t) {
    const bool one_d = t % 6 == 5;
    ConvSpec s = RandomConv(rng, t % 3, one_d);
    s.int8 = true;
    s.activation = RandomActivation(rng);
    s.src_type = t % 2 == 0 ? DataType::kU8 : DataType::kS8;
    s.src = {0.01f + (rng() % 10) * 0.005f, s.src_type == DataType::kU8 ? static_cast<int32_t>(rng() % 256)
                                                                          : (t % 4 == 1 ? 0 : static_cast<int32_t>(rng() % 41) - 20)};
    const int dst_kind = t % 3;
    s.dst_type = dst_kind == 0 ? DataType::kU8 : dst_kind == 1 ? DataType::kS8 : DataType::kF32;
    s.dst = {1.0f, s.dst_type == DataType::kU8 ? static_cast<int32_t>(rng() % 256)
                   : s.dst_type == DataType::kS8 ? static_cast<int32_t>(rng() % 41) - 20 : 0};
    s.sum = s.dst_type == DataType::kF32 && t % 4 == 2;
    if (t % 7 == 3) s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = 0;  // the folded-zero-point path
    const double exact = CheckInt8Conv(rng, s, t % 4 != 3, t % 5 != 0, kNarrowWeights, one_d, fmt::format("config {}", t));
    if (s.dst_type != DataType::kF32) {
      exact_sum += exact;
      ++quantized;
    }
  }
  std::printf("int8 conv: %d quantized-dst configs, mean share of exact elements %.6f (rest within 1)\n", quantized,
              exact_sum / quantized);
}

TEST(DnnlConv, ReduceRangeRequantizesWideWeightsToSevenBits) {
  std::mt19937 rng(5);
  ConvSpec s;
  s.in_c = 16;
  s.out_c = 8;
  s.in_h = s.in_w = 10;
  s.kernel_h = s.kernel_w = 3;
  s.pad_top = s.pad_left = 1;
  s.pad_bottom = 2;
  s.int8 = true;
  s.src_type = DataType::kU8;
  s.src = {0.02f, 100};
  s.dst_type = DataType::kF32;
  s.reduce_range = true;
  const int64_t nw = s.out_c * s.in_c * s.kernel_h * s.kernel_w;
  std::vector<int8_t> w = RandomWeights(rng, nw, false);
  w[0] = 127;  // channel 0 is wide for sure
  for (int64_t e = 0; e < nw / s.out_c; ++e) w[nw / s.out_c + e] = static_cast<int8_t>(e % 100 - 50);  // channel 1 is narrow
  s.weight_scales.assign(s.out_c, 0.01f);
  std::vector<uint8_t> x(s.batch * s.in_c * s.in_h * s.in_w);
  for (auto& v : x) v = static_cast<uint8_t>(rng() % 256);
  // Reference on the requantized weights: w' = round_half_even(w / 2) (within [-64, 64]), scale x2,
  // for the channels that exceed kSafeWeight only.
  std::vector<int8_t> w7 = w;
  std::vector<float> sc = s.weight_scales;
  const int64_t per = nw / s.out_c;
  for (int64_t c = 0; c < s.out_c; ++c) {
    bool wide = false;
    for (int64_t e = 0; e < per; ++e) wide |= w[c * per + e] > kSafeWeight || w[c * per + e] < -kSafeWeight;
    if (!wide) continue;
    for (int64_t e = 0; e < per; ++e) {
      w7[c * per + e] = static_cast<int8_t>(std::clamp(std::nearbyint(w[c * per + e] / 2.0), -64.0, 64.0));
    }
    sc[c] *= 2;
  }
  EXPECT_EQ(sc[0], 0.02f);
  EXPECT_EQ(sc[1], 0.01f);
  std::vector<double> want = Int8ConvReal(s, x, w7, {}, sc);
  ASSERT_GT(want.size(), 0u);
  auto kernel = ConvKernel::Create(s, nullptr, w.data(), nullptr, nullptr);
  ASSERT_TRUE(kernel.ok()) << kernel.status().ToString();
  std::vector<float> y(want.size());
  ASSERT_TRUE((*kernel)->Execute(x.data(), y.data(), nullptr).ok());
  ExpectClose(y, want, "reduce_range");
  // And the approximation stays within a few weight steps of the exact result.
  std::vector<double> exact = Int8ConvReal(s, x, w, {}, s.weight_scales);
  double max_diff = 0, max_ref = 0;
  for (size_t k = 0; k < exact.size(); ++k) {
    max_diff = std::max(max_diff, std::abs(exact[k] - y[k]));
    max_ref = std::max(max_ref, std::abs(exact[k]));
  }
  std::printf("reduce_range: max |exact - 7-bit| = %.4f of max |exact| %.4f\n", max_diff, max_ref);
  EXPECT_LT(max_diff, 0.1 * max_ref);
}

TEST(DnnlConv, ChainedNativeLayoutMatchesPlainExecution) {
  std::mt19937 rng(3);
  for (bool int8 : {false, true}) {
    ConvSpec a;
    a.in_c = 16; a.out_c = 32; a.in_h = a.in_w = 14; a.kernel_h = a.kernel_w = 3; a.pad_top = a.pad_left = 1;
    a.pad_bottom = a.pad_right = 1;
    a.activation.kind = "Relu";
    ConvSpec b = a;
    b.in_c = 32; b.out_c = 32; b.group = 32;  // depthwise after dense
    std::vector<float> wa = RandomFloats(rng, a.out_c * a.in_c * 9, -0.5, 0.5);
    std::vector<float> wb = RandomFloats(rng, b.out_c * 9, -0.5, 0.5);
    std::vector<int8_t> qa = RandomWeights(rng, wa.size(), kNarrowWeights), qb = RandomWeights(rng, wb.size(), kNarrowWeights);
    if (int8) {
      a.int8 = b.int8 = true;
      a.src_type = DataType::kU8; a.src = {0.02f, 128};
      // A src zero point on both: b (padded depthwise) takes its src in a's dst layout and copies
      // it into its zero-point-bordered buffer.
      a.dst_type = b.src_type = DataType::kU8; a.dst = b.src = {0.05f, 5};
      b.dst_type = DataType::kU8; b.dst = {0.1f, 3};
      a.weight_scales = {0.01f};
      b.weight_scales.assign(32, 0.0f);
      for (int c = 0; c < 32; ++c) b.weight_scales[c] = 0.005f + c * 0.0002f;
    }
    auto ka = ConvKernel::Create(a, wa.data(), qa.data(), nullptr, nullptr);
    ASSERT_TRUE(ka.ok()) << ka.status().ToString();
    auto kb_plain = ConvKernel::Create(b, wb.data(), qb.data(), nullptr, nullptr);
    ASSERT_TRUE(kb_plain.ok()) << kb_plain.status().ToString();
    b.src_layout = &(*ka)->dst_desc();
    auto kb = ConvKernel::Create(b, wb.data(), qb.data(), nullptr, nullptr);
    ASSERT_TRUE(kb.ok()) << kb.status().ToString();
    EXPECT_TRUE((*kb)->src_desc() == (*ka)->dst_desc());
    const size_t es = int8 ? 1 : 4;
    std::vector<uint8_t> x(a.in_c * 14 * 14 * es);
    if (int8) {
      for (auto& v : x) v = static_cast<uint8_t>(rng() % 256);
    } else {
      auto f = RandomFloats(rng, a.in_c * 14 * 14, -1, 1);
      std::memcpy(x.data(), f.data(), x.size());
    }
    // Plain: two Execute calls through NCHW.
    std::vector<uint8_t> mid(32 * 14 * 14 * es), y_plain(32 * 14 * 14 * es), y_chain(y_plain.size());
    ASSERT_TRUE((*ka)->Execute(x.data(), mid.data(), nullptr).ok());
    ASSERT_TRUE((*kb_plain)->Execute(mid.data(), y_plain.data(), nullptr).ok());
    // Chained: native buffers between the two, reorders at the edges only.
    std::vector<uint8_t> xn((*ka)->src_desc().get_size()), mn((*ka)->dst_desc().get_size()), yn((*kb)->dst_desc().get_size());
    ASSERT_TRUE((*ka)->SrcFromPlain(x.data(), xn.data()).ok());
    ASSERT_TRUE((*ka)->ExecuteNative(xn.data(), mn.data(), nullptr).ok());
    ASSERT_TRUE((*kb)->ExecuteNative(mn.data(), yn.data(), nullptr).ok());
    ASSERT_TRUE((*kb)->DstToPlain(yn.data(), y_chain.data()).ok());
    std::printf("chain %s: conv %s (src %s) -> dw %s\n", int8 ? "int8" : "fp32", (*ka)->impl().c_str(),
                (*ka)->src_desc() == (*ka)->dst_desc() ? "same as dst" : "own", (*kb)->impl().c_str());
    if (int8) {
      EXPECT_EQ(y_chain, y_plain);
    } else {
      const float* p = reinterpret_cast<const float*>(y_plain.data());
      const float* c = reinterpret_cast<const float*>(y_chain.data());
      for (size_t k = 0; k < y_plain.size() / 4; ++k) ASSERT_NEAR(p[k], c[k], 1e-5f * (1 + std::abs(p[k]))) << k;
    }
  }
}

TEST(DnnlConv, RejectsInconsistentSpecs) {
  ConvSpec s;
  s.in_c = 6; s.out_c = 4; s.group = 4; s.in_w = 8;
  std::vector<float> w(64);
  auto k = ConvKernel::Create(s, w.data(), nullptr, nullptr, nullptr);
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(k.status().message().find("divisible by group 4"), std::string::npos) << k.status().message();
  ConvSpec q;
  q.in_c = 4; q.out_c = 4; q.in_w = 8; q.int8 = true; q.src_type = DataType::kU8; q.weight_scales = {0.1f, 0.1f};
  std::vector<int8_t> wq(16);
  auto k2 = ConvKernel::Create(q, nullptr, wq.data(), nullptr, nullptr);
  ASSERT_FALSE(k2.ok());
  EXPECT_EQ(k2.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(k2.status().message().find("2 weight scales for 4 output channels"), std::string::npos);
  q.weight_scales = {0.1f};
  q.activation.kind = "Gelu";
  auto k3 = ConvKernel::Create(q, nullptr, wq.data(), nullptr, nullptr);
  ASSERT_FALSE(k3.ok());
  EXPECT_EQ(k3.status().code(), StatusCode::kUnimplemented);
}

// MaxPool on oneDNN against the reference MaxPool of the op table: random geometries (1-D and 2-D,
// strides, dilations, pads, ceil_mode) and types; src given plain, in a blocked/channels-last layout
// (as a convolution's dst would be), and, for s8, carried as u8 with the sign bit flipped. Max
// pooling only selects values, so every element must be identical.
TEST(DnnlPool, RandomGeometriesEqualTheReference) {
  std::mt19937 rng(29);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(lo + rng() % (hi - lo + 1)); };
  int checked = 0, unimplemented = 0, reference_only = 0;
  for (int t = 0; t < 120; ++t) {
    const bool one_d = t % 4 == 3;
    const DataType type = t % 3 == 0 ? DataType::kF32 : t % 3 == 1 ? DataType::kU8 : DataType::kS8;
    const DType dtype = type == DataType::kF32 ? DType::kFloat : ToDType(type);
    const int r = one_d ? 1 : 2;
    Shape in{pick(1, 2), pick(1, 20)};
    std::vector<int64_t> kernel, strides, dil, pads(2 * r);
    for (int d = 0; d < r; ++d) {
      kernel.push_back(pick(1, 4));
      strides.push_back(pick(1, 3));
      dil.push_back(t % 5 == 0 ? 2 : 1);
      in.push_back(pick((kernel.back() - 1) * dil.back() + 1, 19));
      pads[d] = pick(0, kernel.back() - 1);
      pads[d + r] = pick(0, kernel.back() - 1);
    }
    Node n;
    n.op_type = "MaxPool";
    n.name = "pool";
    n.inputs = {"x"};
    n.outputs = {"y"};
    n.attrs["kernel_shape"] = Ints(kernel);
    n.attrs["strides"] = Ints(strides);
    n.attrs["dilations"] = Ints(dil);
    n.attrs["pads"] = Ints(pads);
    n.attrs["ceil_mode"] = IntA(t % 2);
    const int64_t count = NumElements(in);
    Tensor x = dtype == DType::kFloat ? Tensor::Float(in, RandomFloats(rng, count, -3, 3)) : Tensor::Int(dtype, in);
    if (dtype != DType::kFloat) {
      for (auto& v : x.i) v = dtype == DType::kUint8 ? static_cast<int64_t>(rng() % 256) : static_cast<int64_t>(rng() % 256) - 128;
    }
    auto want = RunRef(n, {&x});
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    PoolSpec ps;
    ps.batch = in[0];
    ps.channels = in[1];
    ps.in_h = one_d ? 1 : in[2];
    ps.in_w = in.back();
    ps.out_h = one_d ? 1 : want->shape[2];
    ps.out_w = want->shape.back();
    ps.kernel_h = one_d ? 1 : kernel[0];
    ps.kernel_w = kernel.back();
    ps.stride_h = one_d ? 1 : strides[0];
    ps.stride_w = strides.back();
    ps.dilation_h = one_d ? 1 : dil[0];
    ps.dilation_w = dil.back();
    ps.pad_top = one_d ? 0 : pads[0];
    ps.pad_left = pads[r - 1];
    ps.type = type;
    const std::string what = fmt::format("config {} {} in [{}] k [{}] s [{}] d [{}] p [{}] ceil {}", t,
                                         type == DataType::kF32 ? "f32" : type == DataType::kU8 ? "u8" : "s8",
                                         fmt::join(in, ","), fmt::join(kernel, ","), fmt::join(strides, ","),
                                         fmt::join(dil, ","), fmt::join(pads, ","), t % 2);
    // Plain bytes of x and of the expected y.
    const size_t es = type == DataType::kF32 ? 4 : 1;
    auto bytes = [&](const Tensor& v) {
      std::vector<uint8_t> b(NumElements(v.shape) * es);
      if (es == 4) {
        std::memcpy(b.data(), v.f.data(), b.size());
      } else {
        for (size_t k = 0; k < b.size(); ++k) b[k] = static_cast<uint8_t>(v.i[k]);
      }
      return b;
    };
    const std::vector<uint8_t> xb = bytes(x), yb = bytes(*want);
    const dnnl::memory::dims xd{ps.batch, ps.channels, ps.in_h, ps.in_w};
    const auto dtn = type == DataType::kF32 ? dnnl::memory::data_type::f32 : type == DataType::kU8
                                                                                  ? dnnl::memory::data_type::u8
                                                                                  : dnnl::memory::data_type::s8;
    for (int layout = 0; layout < (type == DataType::kS8 ? 3 : 2); ++layout) {
      // 0: plain; 1: nChw16c (f32) / nhwc (8-bit); 2: s8 carried as u8 in nhwc.
      const bool flip = layout == 2;
      const auto tag = layout == 0 ? dnnl::memory::format_tag::nchw
                       : type == DataType::kF32 ? dnnl::memory::format_tag::nChw16c : dnnl::memory::format_tag::nhwc;
      const dnnl::memory::desc src_md(xd, flip ? dnnl::memory::data_type::u8 : dtn, tag);
      PoolSpec spec = ps;
      if (layout > 0) spec.src_layout = &src_md;
      auto k = PoolKernel::Create(spec);
      if (!k.ok()) {
        ASSERT_EQ(k.status().code(), StatusCode::kUnimplemented) << what << ": " << k.status().ToString();
        const bool padding = k.status().message().find("wholly in the padding") != std::string::npos;
        EXPECT_TRUE(padding || k.status().message().find("only its reference") != std::string::npos)
            << k.status().message();
        ++(padding ? unimplemented : reference_only);
        continue;
      }
      // x into the src layout (through a oneDNN reorder from plain).
      std::vector<uint8_t> plain = xb;
      if (flip) for (auto& v : plain) v ^= 0x80;
      std::vector<uint8_t> src(src_md.get_size()), dst((*k)->dst_desc().get_size()), y(yb.size());
      dnnl::engine eng(dnnl::engine::kind::cpu, 0);
      dnnl::stream st(eng);
      dnnl::memory from(dnnl::memory::desc(xd, src_md.data_type(), dnnl::memory::format_tag::nchw), eng, plain.data());
      dnnl::memory to(src_md, eng, src.data());
      dnnl::reorder(from, to).execute(st, from, to);
      st.wait();
      ASSERT_TRUE((*k)->ExecuteNative(src.data(), dst.data()).ok()) << what;
      ASSERT_TRUE((*k)->DstToPlain(dst.data(), y.data()).ok()) << what;
      ASSERT_EQ(y, yb) << what << " layout " << layout << " impl " << (*k)->impl();
      ++checked;
    }
  }
  std::printf("maxpool (%s): %d layouts checked; left to the native kernel: %d with a window wholly in the "
              "padding, %d with only oneDNN's reference implementation\n",
              EffectiveIsa().c_str(), checked, unimplemented, reference_only);
  EXPECT_GT(checked, 100);
}

TEST(DnnlPool, RejectsInconsistentSpecs) {
  PoolSpec s;
  s.channels = 4; s.in_h = 8; s.in_w = 8; s.out_h = 3; s.out_w = 4; s.kernel_h = s.kernel_w = 2;
  s.stride_h = s.stride_w = 2;
  auto k = PoolKernel::Create(s);
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(k.status().message().find("output 3x4 does not follow"), std::string::npos) << k.status().message();
  // A 1x1 window over a pad of 1: the first output sees only padding (left to the native kernel).
  PoolSpec e = s;
  e.kernel_h = e.stride_h = 1;
  e.pad_top = 1;
  e.out_h = 9;
  auto k1 = PoolKernel::Create(e);
  ASSERT_FALSE(k1.ok());
  EXPECT_EQ(k1.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(k1.status().message().find("wholly in the padding"), std::string::npos) << k1.status().message();
  s.out_h = 4;
  const dnnl::memory::desc other({1, 4, 9, 8}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::nchw);
  s.src_layout = &other;
  auto k2 = PoolKernel::Create(s);
  ASSERT_FALSE(k2.ok());
  EXPECT_NE(k2.status().message().find("other dimensions"), std::string::npos) << k2.status().message();
}

TEST(DnnlGemm, Fp32GemmAndMatMulMatchReference) {
  std::mt19937 rng(13);
  for (int t = 0; t < 12; ++t) {
    GemmSpec s;
    s.m = 1 + rng() % 9;
    s.k = 1 + rng() % 70;
    s.n = 1 + rng() % 50;
    s.trans_b = t % 2 == 0;
    s.activation = RandomActivation(rng);
    const bool bias = t % 3 != 2;
    Tensor a = Tensor::Float({s.m, s.k}, RandomFloats(rng, s.m * s.k, -1, 1));
    Tensor w = Tensor::Float(s.trans_b ? Shape{s.n, s.k} : Shape{s.k, s.n}, RandomFloats(rng, s.k * s.n, -1, 1));
    Tensor b = Tensor::Float({s.n}, RandomFloats(rng, s.n, -1, 1));
    Node n;
    n.name = "g";
    n.outputs = {"y"};
    Result<Tensor> ref = Tensor{};
    if (s.trans_b || bias) {
      n.op_type = "Gemm";
      n.inputs = {"a", "w", bias ? "b" : ""};
      n.attrs["transB"] = IntA(s.trans_b ? 1 : 0);
      SetActivation(&n, s.activation);  // the reference Gemm applies pf_activation itself
      ref = RunRef(n, {&a, &w, bias ? &b : nullptr});
    } else {
      n.op_type = "MatMul";
      n.inputs = {"a", "w"};
      ref = RunRef(n, {&a, &w});
    }
    ASSERT_TRUE(ref.ok()) << ref.status().ToString();
    std::vector<double> want(ref->f.size());
    for (size_t k = 0; k < want.size(); ++k) want[k] = n.op_type == "Gemm" ? ref->f[k] : Act(s.activation, ref->f[k]);
    auto kernel = GemmKernel::Create(s, w.f.data(), nullptr, bias ? b.f.data() : nullptr, nullptr);
    ASSERT_TRUE(kernel.ok()) << kernel.status().ToString();
    std::vector<float> y(want.size());
    ASSERT_TRUE((*kernel)->Execute(a.f.data(), y.data()).ok());
    ExpectClose(y, want, fmt::format("gemm {} {}x{}x{} transB {} act '{}' impl {}", n.op_type, s.m, s.k, s.n,
                                     s.trans_b, s.activation.kind, (*kernel)->impl()));
  }
}

TEST(DnnlGemm, Int8WithinOneOfReference) {
  std::mt19937 rng(17);
  double exact_sum = 0;
  int quantized = 0;
  for (int t = 0; t < 16; ++t) {
    GemmSpec s;
    s.m = 1 + rng() % 9;
    s.k = 1 + rng() % 300;
    s.n = 1 + rng() % 40;
    s.trans_b = t % 2 == 0;
    s.int8 = true;
    s.activation = RandomActivation(rng);
    s.src_type = t % 4 < 2 ? DataType::kU8 : DataType::kS8;
    s.src = {0.02f, s.src_type == DataType::kU8 ? static_cast<int32_t>(rng() % 256) : static_cast<int32_t>(rng() % 21) - 10};
    s.dst_type = t % 3 == 0 ? DataType::kU8 : t % 3 == 1 ? DataType::kS8 : DataType::kF32;
    const bool bounded = s.activation.kind == "Sigmoid" || s.activation.kind == "Tanh" || s.activation.kind == "HardSigmoid";
    s.dst = {bounded ? 1.0f / 200 : 0.03f, s.dst_type == DataType::kU8 ? 128 : s.dst_type == DataType::kS8 ? -3 : 0};
    // Real values span about [-4, 4]: a typical |acc| is sqrt(k) * 128 * 64.
    const double typical_acc = std::sqrt(static_cast<double>(s.k)) * 128 * (kNarrowWeights ? 32 : 64) + 2000;
    s.weight_scales.assign(t % 4 == 3 ? 1 : s.n, 0);
    for (auto& v : s.weight_scales) v = static_cast<float>(2.0 / (typical_acc * s.src.scale) * (0.5 + (rng() % 100) * 0.01));
    std::vector<uint8_t> a(s.m * s.k);
    for (auto& v : a) v = static_cast<uint8_t>(rng() % 256);
    std::vector<int8_t> w = RandomWeights(rng, s.k * s.n, kNarrowWeights);
    std::vector<int32_t> b(s.n);
    for (auto& v : b) v = static_cast<int32_t>(rng() % 4001) - 2000;
    std::vector<double> real(s.m * s.n);
    for (int64_t r = 0; r < s.m; ++r)
    for (int64_t c = 0; c < s.n; ++c) {
      int64_t acc = b[c];
      for (int64_t j = 0; j < s.k; ++j) {
        const int32_t av = s.src_type == DataType::kU8 ? a[r * s.k + j] : static_cast<int8_t>(a[r * s.k + j]);
        const int32_t wv = s.trans_b ? w[c * s.k + j] : w[j * s.n + c];
        acc += static_cast<int64_t>(av - s.src.zero_point) * wv;
      }
      real[r * s.n + c] = static_cast<double>(acc) * s.src.scale * s.weight_scales[s.weight_scales.size() == 1 ? 0 : c];
    }
    auto kernel = GemmKernel::Create(s, nullptr, w.data(), nullptr, b.data());
    ASSERT_TRUE(kernel.ok()) << kernel.status().ToString();
    const std::string what = fmt::format("int8 gemm {}x{}x{} transB {} act '{}' dst {} impl {}", s.m, s.k, s.n,
                                         s.trans_b, s.activation.kind, static_cast<int>(s.dst_type), (*kernel)->impl());
    if (s.dst_type == DataType::kF32) {
      std::vector<float> y(real.size());
      ASSERT_TRUE((*kernel)->Execute(a.data(), y.data()).ok());
      std::vector<double> want(real.size());
      for (size_t k = 0; k < real.size(); ++k) want[k] = Act(s.activation, real[k]);
      ExpectClose(y, want, what);
    } else {
      std::vector<uint8_t> y(real.size());
      ASSERT_TRUE((*kernel)->Execute(a.data(), y.data()).ok());
      // The op table's PfQLinearGemm (engine/ops_quant.cpp) is the reference.
      Node node;
      node.name = "qgemm";
      node.op_type = "PfQLinearGemm";
      node.inputs = {"a", "as", "az", "w", "ws", "wz", "ys", "yz", "b"};
      node.outputs = {"y"};
      node.attrs["transB"] = IntA(s.trans_b ? 1 : 0);
      SetActivation(&node, s.activation);
      const DType at = ToDType(s.src_type), yt = ToDType(s.dst_type);
      std::vector<int64_t> av(a.size());
      for (size_t k = 0; k < a.size(); ++k) av[k] = at == DType::kUint8 ? a[k] : static_cast<int8_t>(a[k]);
      const Tensor aq = Tensor::Int(at, {s.m, s.k}, av), a_scale = Tensor::Float({}, {s.src.scale});
      const Tensor a_zp = Tensor::Int(at, {}, {s.src.zero_point});
      const Tensor wt = Tensor::Int(DType::kInt8, s.trans_b ? Shape{s.n, s.k} : Shape{s.k, s.n},
                                    std::vector<int64_t>(w.begin(), w.end()));
      const Tensor w_scale = Tensor::Float(s.weight_scales.size() == 1 ? Shape{} : Shape{s.n}, s.weight_scales);
      const Tensor w_zp = Tensor::Int(DType::kInt8, {}, {0});
      const Tensor y_scale = Tensor::Float({}, {s.dst.scale}), y_zp = Tensor::Int(yt, {}, {s.dst.zero_point});
      const Tensor bt = Tensor::Int(DType::kInt32, {s.n}, std::vector<int64_t>(b.begin(), b.end()));
      auto ref = RunRef(node, {&aq, &a_scale, &a_zp, &wt, &w_scale, &w_zp, &y_scale, &y_zp, &bt});
      ASSERT_TRUE(ref.ok()) << what << ": " << ref.status().ToString();
      const std::vector<int32_t> want(ref->i.begin(), ref->i.end());
      // The local int32 loop agrees with the reference (to a float-vs-double activation tie) before
      // either is compared with oneDNN.
      for (size_t k = 0; k < real.size(); ++k) {
        ASSERT_LE(std::abs(want[k] - Requant(Act(s.activation, real[k]), s.dst, s.dst_type)), 1) << what << " element " << k;
      }
      exact_sum += CompareQuant(y, want, s.dst_type, what);
      ++quantized;
    }
  }
  std::printf("int8 gemm: %d quantized-dst configs, mean share of exact elements %.6f (rest within 1)\n", quantized,
              exact_sum / quantized);
}

// reduce_range on gemm weights in both storage orders ([K,N] and transB [N,K]): per output column.
TEST(DnnlGemm, ReduceRangeRequantizesPerColumn) {
  std::mt19937 rng(29);
  for (bool trans_b : {false, true}) {
    GemmSpec s;
    s.m = 3; s.k = 40; s.n = 6;
    s.trans_b = trans_b;
    s.int8 = true;
    s.src_type = DataType::kU8;
    s.src = {0.05f, 7};
    s.dst_type = DataType::kF32;
    s.reduce_range = true;
    s.weight_scales = {0.01f, 0.02f, 0.01f, 0.03f, 0.01f, 0.01f};
    auto idx = [&](int64_t j, int64_t c) { return trans_b ? c * s.k + j : j * s.n + c; };
    std::vector<int8_t> w(s.k * s.n);
    for (int64_t j = 0; j < s.k; ++j)
      for (int64_t c = 0; c < s.n; ++c) w[idx(j, c)] = static_cast<int8_t>(c % 2 == 0 ? int(rng() % 256) - 128 : int(rng() % 128) - 64);
    w[idx(0, 0)] = -128;  // column 0 is wide; odd columns are 7-bit already
    std::vector<uint8_t> a(s.m * s.k);
    for (auto& v : a) v = static_cast<uint8_t>(rng() % 256);
    std::vector<double> want(s.m * s.n);
    for (int64_t c = 0; c < s.n; ++c) {
      bool wide = false;
      for (int64_t j = 0; j < s.k; ++j) wide |= w[idx(j, c)] > kSafeWeight || w[idx(j, c)] < -kSafeWeight;
      if (c % 2 == 1) {
        EXPECT_FALSE(wide) << "column " << c;
      }
      for (int64_t r = 0; r < s.m; ++r) {
        int64_t acc = 0;
        for (int64_t j = 0; j < s.k; ++j) {
          const int64_t wv = wide ? static_cast<int64_t>(std::clamp(std::nearbyint(w[idx(j, c)] / 2.0), -64.0, 64.0)) : w[idx(j, c)];
          acc += (a[r * s.k + j] - s.src.zero_point) * wv;
        }
        want[r * s.n + c] = static_cast<double>(acc) * s.src.scale * s.weight_scales[c] * (wide ? 2 : 1);
      }
    }
    auto kernel = GemmKernel::Create(s, nullptr, w.data(), nullptr, nullptr);
    ASSERT_TRUE(kernel.ok()) << kernel.status().ToString();
    std::vector<float> y(want.size());
    ASSERT_TRUE((*kernel)->Execute(a.data(), y.data()).ok());
    ExpectClose(y, want, fmt::format("reduce_range gemm transB {}", trans_b));
  }
}

// A channel whose weights reduce_range halves keeps its real bias: the int32 bias is halved too
// (round half to even), since its unit x_scale * w_scale[c] doubles.
TEST(DnnlGemm, ReduceRangeHalvesTheBiasOfRequantizedColumns) {
  GemmSpec s;
  s.m = 2; s.k = 16; s.n = 2;
  s.trans_b = true;  // w is [N, K]
  s.int8 = true;
  s.src_type = DataType::kU8;
  s.src = {0.05f, 3};
  s.dst_type = DataType::kF32;
  s.reduce_range = true;
  s.weight_scales = {0.01f, 0.02f};
  std::vector<int8_t> w(s.n * s.k);
  for (int64_t j = 0; j < s.k; ++j) {
    w[j] = static_cast<int8_t>(j % 2 == 0 ? 100 - 9 * j : -37 + 5 * j);  // column 0: wide (100)
    w[s.k + j] = static_cast<int8_t>(j * 7 % 120 - 60);                  // column 1: 7-bit
  }
  const std::vector<int32_t> bias = {1001, -777};
  std::vector<uint8_t> a(s.m * s.k);
  for (size_t e = 0; e < a.size(); ++e) a[e] = static_cast<uint8_t>(e * 37 % 256);
  std::vector<double> want(s.m * s.n);
  for (int64_t r = 0; r < s.m; ++r) {
    int64_t acc0 = 500, acc1 = -777;  // round_half_even(1001 / 2) = 500; column 1 unchanged
    for (int64_t j = 0; j < s.k; ++j) {
      const int64_t x = a[r * s.k + j] - s.src.zero_point;
      acc0 += x * static_cast<int64_t>(std::nearbyint(w[j] / 2.0));
      acc1 += x * w[s.k + j];
    }
    want[r * s.n] = static_cast<double>(acc0) * s.src.scale * (2 * s.weight_scales[0]);
    want[r * s.n + 1] = static_cast<double>(acc1) * s.src.scale * s.weight_scales[1];
  }
  auto kernel = GemmKernel::Create(s, nullptr, w.data(), nullptr, bias.data());
  ASSERT_TRUE(kernel.ok()) << kernel.status().ToString();
  std::vector<float> y(want.size());
  ASSERT_TRUE((*kernel)->Execute(a.data(), y.data()).ok());
  ExpectClose(y, want, "reduce_range gemm with bias");
}

// ONNX Runtime rounds first and then adds the zero point; oneDNN alone would round acc * M + y_zp.
// The case found in the MobileNetV2-like parity model (layer conv14, channel 23): acc = 49243,
// M = float(float(x_scale * w_scale) / y_scale), v = float(acc) * M = 39.499996 (a float), y_zp = 128:
// 39 + 128 = 167, where rounding 167.499996 (stored as 167.5) gives 168.
TEST(DnnlGemm, RoundsBeforeAddingTheDstZeroPoint) {
  const float xs = 0x1.818182p-6f, ws = 0x1.0b48bep-10f, ys = 0x1.ea0486p-6f;
  const float v = static_cast<float>(49243) * ((xs * ws) / ys);
  ASSERT_EQ(std::nearbyint(v), 39.0f);
  ASSERT_EQ(std::nearbyint(v + 128.0f), 168.0f);  // the double rounding this test guards against
  GemmSpec s;
  s.m = 1; s.k = 1; s.n = 1;
  s.int8 = true;
  s.src_type = DataType::kU8;
  s.src = {xs, 0};
  s.weight_scales = {ws};
  s.dst_type = DataType::kU8;
  s.dst = {ys, 128};
  const int8_t w = 1;
  const int32_t bias = 49242;
  const uint8_t a = 1;
  auto kernel = GemmKernel::Create(s, nullptr, &w, nullptr, &bias);
  ASSERT_TRUE(kernel.ok()) << kernel.status().ToString();
  uint8_t y = 0;
  ASSERT_TRUE((*kernel)->Execute(&a, &y).ok());
  EXPECT_EQ(y, 167);
}

// Execute leaves the OpenMP thread count alone, and two kernels run at once on two threads with
// different per-thread counts (as two Sessions would) give the single-threaded result.
TEST(DnnlThreads, PerThreadCountsAreLeftAloneAndResultsAgree) {
  std::mt19937 rng(23);
  ConvSpec s;
  s.in_c = 32; s.out_c = 32; s.in_h = s.in_w = 28; s.kernel_h = s.kernel_w = 3;
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = 1;
  s.int8 = true;
  s.src_type = DataType::kU8; s.src = {0.02f, 128};
  s.dst_type = DataType::kU8; s.dst = {0.2f, 10};
  s.weight_scales = {0.01f};
  s.activation.kind = "Relu";
  std::vector<int8_t> w = RandomWeights(rng, 32 * 32 * 9, kNarrowWeights);
  std::vector<uint8_t> x(32 * 28 * 28);
  for (auto& v : x) v = static_cast<uint8_t>(rng() % 256);
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  auto one = ConvKernel::Create(s, nullptr, w.data(), nullptr, nullptr);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  std::vector<uint8_t> y1(32 * 28 * 28), y2(y1.size()), y3(y1.size());
  ASSERT_TRUE((*one)->Execute(x.data(), y1.data(), nullptr).ok());
  EXPECT_EQ(omp_get_max_threads(), 1);
  std::unique_ptr<ConvKernel> two;
  std::thread worker([&] {
    omp_set_num_threads(2);  // this thread's ICV only
    auto k = ConvKernel::Create(s, nullptr, w.data(), nullptr, nullptr);
    ASSERT_TRUE(k.ok());
    two = std::move(*k);
    for (int r = 0; r < 20; ++r) ASSERT_TRUE(two->Execute(x.data(), y2.data(), nullptr).ok());
    EXPECT_EQ(omp_get_max_threads(), 2);
  });
  for (int r = 0; r < 20; ++r) ASSERT_TRUE((*one)->Execute(x.data(), y3.data(), nullptr).ok());
  worker.join();
  EXPECT_EQ(omp_get_max_threads(), 1);
  EXPECT_EQ(y2, y1);
  EXPECT_EQ(y3, y1);
  omp_set_num_threads(before);
}

// Not an assertion: the int8 vs fp32 time of one 3x3 conv 64->64 at 56x56 (median of 30), for the log.
TEST(DnnlConv, MicroTimingInt8VsFp32) {
  std::mt19937 rng(1);
  ConvSpec s;
  s.in_c = s.out_c = 64;
  s.in_h = s.in_w = 56;
  s.kernel_h = s.kernel_w = 3;
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = 1;
  s.activation.kind = "Relu";
  std::vector<float> w = RandomFloats(rng, 64 * 64 * 9, -0.1f, 0.1f);
  std::vector<int8_t> wq = RandomWeights(rng, w.size(), kNarrowWeights);
  auto fp = ConvKernel::Create(s, w.data(), nullptr, nullptr, nullptr);
  ASSERT_TRUE(fp.ok());
  ConvSpec q = s;
  q.int8 = true;
  q.src_type = DataType::kU8;
  q.src = {0.02f, 128};
  q.dst_type = DataType::kU8;
  q.dst = {0.05f, 0};
  q.weight_scales.assign(64, 0.01f);
  auto i8 = ConvKernel::Create(q, nullptr, wq.data(), nullptr, nullptr);
  ASSERT_TRUE(i8.ok()) << i8.status().ToString();
  auto time = [](ConvKernel& k, const void* src, void* dst, bool native) {
    std::vector<double> ms;
    for (int r = 0; r < 33; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      const Status st = native ? k.ExecuteNative(src, dst, nullptr) : k.Execute(src, dst, nullptr);
      const auto t1 = std::chrono::steady_clock::now();
      EXPECT_TRUE(st.ok());
      if (r >= 3) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  };
  // Float inputs in [-1, 1] (byte patterns would be denormal-prone floats and time the FPU's
  // denormal path instead of the kernel).
  std::vector<float> src_f = RandomFloats(rng, 64 * 56 * 56, -1, 1), fsrc_f = src_f;
  std::vector<float> dst_f(64 * 56 * 56), fdst_f(dst_f.size());
  ASSERT_TRUE((*fp)->SrcFromPlain(src_f.data(), fsrc_f.data()).ok());
  std::vector<uint8_t> src(64 * 56 * 56), dst(64 * 56 * 56);
  for (auto& v : src) v = static_cast<uint8_t>(rng() % 256);
  std::vector<uint8_t> qsrc((*i8)->src_desc().get_size()), qdst((*i8)->dst_desc().get_size());
  ASSERT_TRUE((*i8)->SrcFromPlain(src.data(), qsrc.data()).ok());
  const double f_plain = time(**fp, src_f.data(), dst_f.data(), false);
  const double f_nat = time(**fp, fsrc_f.data(), fdst_f.data(), true);
  const double q_plain = time(**i8, src.data(), dst.data(), false), q_nat = time(**i8, qsrc.data(), qdst.data(), true);
  // The same with src zero point 0: shows what oneDNN's zero-point compensation costs.
  q.src.zero_point = 0;
  auto z0 = ConvKernel::Create(q, nullptr, wq.data(), nullptr, nullptr);
  ASSERT_TRUE(z0.ok()) << z0.status().ToString();
  const double z_nat = time(**z0, qsrc.data(), qdst.data(), true);
  std::printf("micro timing conv 3x3 64->64 56x56 relu, ISA %s, %d thread(s), median ms: fp32 native %.3f plain %.3f (%s) | "
              "int8 u8 zp128 native %.3f plain %.3f (%s) | int8 u8 zp0 native %.3f (%s) | int8/fp32 speedup native %.2fx\n",
              EffectiveIsa().c_str(), kTestThreads, f_nat, f_plain, (*fp)->impl().c_str(), q_nat, q_plain, (*i8)->impl().c_str(),
              z_nat, (*z0)->impl().c_str(), f_nat / q_nat);
}

}  // namespace
}  // namespace pf::engine::dnnl_kernels
