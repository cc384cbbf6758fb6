// Session (the optimized engine) against RunReference on the original, unoptimized graph, on random
// inputs: fp32 graphs within 1e-4 x max|reference|, int8 QDQ graphs within one quantization step of
// the output. Also deadlines, input errors, the arena size, threads, dynamic input dims and, when
// Debian's libonnx-testdata is installed, a few ONNX node tests against their stored outputs.
#include "engine/session.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <filesystem>
#include <random>
#include <iostream>
#include <thread>

#include "core/metrics.h"
#include "engine/dnnl_kernels.h"
#include "engine/onnx_import.h"

// Counts heap allocations while g_count_allocations is set (the no-allocation test below). GCC
// sees malloc inside the replaced operator new and warns about the matching free; it is correct.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<bool> g_count_allocations{false};
static std::atomic<int64_t> g_allocations{0};
static std::atomic<int64_t> g_largest_allocation{0};
void* operator new(std::size_t n) {
  if (g_count_allocations.load(std::memory_order_relaxed)) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    int64_t prev = g_largest_allocation.load(std::memory_order_relaxed);
    while (static_cast<int64_t>(n) > prev && !g_largest_allocation.compare_exchange_weak(prev, n)) {
    }
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }  // NOLINT: pairs with the malloc above
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace pf::engine {
namespace {

Attribute IntsA(std::vector<int64_t> v) {
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

// Builds graphs in code with random constants (fixed seed).
struct Builder {
  Graph g;
  std::mt19937 rng{1234};
  int counter = 0;

  Builder() { g.opset = 17; }
  std::string Name(const char* prefix) { return fmt::format("{}{}", prefix, counter++); }
  std::string Input(const std::string& name, Shape shape, DType t = DType::kFloat) {
    g.inputs.push_back(ValueInfo{name, t, std::move(shape)});
    return name;
  }
  std::string Const(Tensor t) {
    std::string name = Name("c");
    g.constants[name] = std::move(t);
    return name;
  }
  Tensor Random(Shape shape, float lo, float hi) {
    std::uniform_real_distribution<float> u(lo, hi);
    Tensor t = Tensor::Float(std::move(shape));
    for (auto& v : t.f) v = u(rng);
    return t;
  }
  std::string RandConst(Shape shape, float lo = -0.5f, float hi = 0.5f) { return Const(Random(std::move(shape), lo, hi)); }
  std::string Op(const std::string& type, std::vector<std::string> inputs, std::map<std::string, Attribute> attrs = {}) {
    Node n;
    n.name = Name("n");
    n.op_type = type;
    n.inputs = std::move(inputs);
    n.outputs = {Name("v")};
    n.attrs = std::move(attrs);
    g.nodes.push_back(n);
    return n.outputs[0];
  }
  void Output(const std::string& name) { g.outputs.push_back(ValueInfo{name, DType::kFloat, {}}); }

  // Conv with bias, 'same' padding for odd kernels.
  std::string Conv(const std::string& x, int64_t in_c, int64_t out_c, int64_t k, int64_t stride = 1,
                   int64_t group = 1) {
    const int64_t p = k / 2;
    return Op("Conv", {x, RandConst({out_c, in_c / group, k, k}), RandConst({out_c})},
              {{"kernel_shape", IntsA({k, k})}, {"pads", IntsA({p, p, p, p})}, {"strides", IntsA({stride, stride})},
               {"group", IntA(group)}});
  }
  std::string BatchNorm(const std::string& x, int64_t c) {
    return Op("BatchNormalization", {x, RandConst({c}, 0.5f, 1.5f), RandConst({c}), RandConst({c}),
                                     RandConst({c}, 0.5f, 2.0f)});
  }
  std::string Gemm(const std::string& a, int64_t k, int64_t n, bool trans_b) {
    Shape w = trans_b ? Shape{n, k} : Shape{k, n};
    return Op("Gemm", {a, RandConst(w), RandConst({n})}, {{"transB", IntA(trans_b ? 1 : 0)}});
  }
};

Tensor RandomInput(Shape shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t = Tensor::Float(std::move(shape));
  for (auto& v : t.f) v = u(rng);
  return t;
}

// max |got - want| and max |want| over all elements.
struct Diff {
  double max_abs = 0, max_ref = 0;
  int64_t over = 0;  // elements beyond `step` (int8 comparisons)
};
Diff Compare(const Tensor& want, const Tensor& got, double step = 0) {
  Diff d;
  EXPECT_EQ(want.shape, got.shape);
  EXPECT_EQ(want.dtype, got.dtype);
  if (want.shape != got.shape || want.dtype != got.dtype) return d;
  for (int64_t k = 0; k < want.size(); ++k) {
    const double e = std::abs(want.At(k) - got.At(k));
    d.max_abs = std::max(d.max_abs, e);
    d.max_ref = std::max(d.max_ref, std::abs(want.At(k)));
    if (step > 0 && e > step * 1.001) ++d.over;
  }
  return d;
}

// Runs `g` through a Session and through RunReference on the original graph; checks fp32 outputs.
std::unique_ptr<Session> ExpectFp32Parity(const Graph& g, const TensorMap& inputs, SessionOptions o = {}) {
  auto want = RunReference(g, inputs);
  EXPECT_TRUE(want.ok()) << want.status().ToString();
  auto s = Session::Create(g, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok() || !want.ok()) return nullptr;
  for (int rep = 0; rep < 2; ++rep) {  // a second run sees a dirty arena
    auto got = (*s)->Run(inputs);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok()) return nullptr;
    for (const auto& [name, t] : *want) {
      const Diff d = Compare(t, got->outputs.at(name));
      EXPECT_LE(d.max_abs, 1e-4 * d.max_ref) << name << " max|ref| " << d.max_ref;
      EXPECT_GT(d.max_ref, 0.0) << name;
    }
  }
  return std::move(s).value();
}

int CountKind(const Session& s, const std::string& prefix) {
  int n = 0;
  for (const auto& k : s.NodeKernels()) n += k.rfind(prefix, 0) == 0;
  return n;
}

// Conv-BN-Relu x2 with a residual Add, pooling and a classifier head.
Graph ResidualCnn(int64_t c = 8, int64_t hw = 16) {
  Builder b;
  auto x = b.Input("image", {1, 3, hw, hw});
  auto stem = b.Op("Relu", {b.BatchNorm(b.Conv(x, 3, c, 3), c)});
  auto r1 = b.Op("Relu", {b.BatchNorm(b.Conv(stem, c, c, 3), c)});
  auto r2 = b.BatchNorm(b.Conv(r1, c, c, 3), c);
  auto sum = b.Op("Relu", {b.Op("Add", {r2, stem})});
  auto down = b.Op("Relu", {b.Conv(sum, c, 2 * c, 3, 2)});
  auto pooled = b.Op("Flatten", {b.Op("GlobalAveragePool", {down})});
  auto logits = b.Gemm(pooled, 2 * c, 5, true);
  b.Output(b.Op("Softmax", {logits}));
  b.Output(logits);
  return b.g;
}

TEST(Session, ResidualCnnMatchesReference) {
  Graph g = ResidualCnn();
  TensorMap in{{"image", RandomInput({1, 3, 16, 16}, 1)}};
  auto s = ExpectFp32Parity(g, in);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(CountKind(*s, "dnnl:conv_fp32"), 4) << fmt::format("{}", fmt::join(s->NodeKernels(), " "));
  EXPECT_EQ(CountKind(*s, "dnnl:gemm_fp32"), 1);
  EXPECT_EQ(s->NodeKernels().size(), s->graph().nodes.size());
  // The optimized graph itself still runs on the reference interpreter with the same result.
  // The session released the weights its oneDNN kernels copied: the reference says so.
  EXPECT_GT(s->released_constant_bytes(), 0);
  auto released = RunReference(s->graph(), in);
  ASSERT_FALSE(released.ok());
  EXPECT_EQ(released.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(released.status().message().find("holds no data"), std::string::npos) << released.status().message();
  SessionOptions keep;
  keep.keep_constants = true;
  auto kept = Session::Create(g, keep);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  auto opt = RunReference((*kept)->graph(), in);
  auto orig = RunReference(g, in);
  ASSERT_TRUE(opt.ok()) << opt.status().ToString();
  const Diff d = Compare(orig->at(g.outputs[1].name), opt->at(g.outputs[1].name));
  EXPECT_LE(d.max_abs, 1e-4 * d.max_ref);
  std::cout << "passes: " << s->report().ToString() << "\nkernels: " << fmt::format("{}", fmt::join(s->NodeKernels(), " "))
            << "\nreorders: " << s->reorders() << " arena: " << s->arena_bytes() << " of " << s->planned_bytes() << "\n";
}

TEST(Session, PlainLayoutsAndSumsFromGraphInputsMatchReference) {
  Builder b;
  auto x = b.Input("x", {1, 8, 10, 10});
  auto a = b.Op("Relu", {b.Op("Add", {b.Conv(x, 8, 8, 3), x})});  // the sum is a graph input
  auto c = b.Op("Add", {b.Conv(a, 8, 8, 1), b.Conv(a, 8, 8, 3)});  // the sum is another conv
  b.Output(c);
  b.Output(a);
  TensorMap in{{"x", RandomInput({1, 8, 10, 10}, 12)}};
  for (bool chain : {true, false}) {
    SCOPED_TRACE(fmt::format("chain_layouts {}", chain));
    SessionOptions o;
    o.chain_layouts = chain;
    auto s = ExpectFp32Parity(b.g, in, o);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(CountKind(*s, "dnnl:conv_fp32"), 3) << fmt::format("{}", fmt::join(s->NodeKernels(), " "));
    EXPECT_EQ(s->report().fused_adds, 2);
    if (!chain) {
      EXPECT_EQ(s->reorders(), 0);
    }
  }
}

TEST(Session, ReferenceOnlyMatchesReference) {
  Graph g = ResidualCnn();
  TensorMap in{{"image", RandomInput({1, 3, 16, 16}, 2)}};
  SessionOptions o;
  o.use_dnnl = false;
  auto s = ExpectFp32Parity(g, in, o);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(CountKind(*s, "dnnl:"), 0);
  EXPECT_GT(s->reference_nodes(), 0);
  EXPECT_EQ(s->reference_nodes() + CountKind(*s, "copy:") + CountKind(*s, "native:"),
            static_cast<int>(s->graph().nodes.size()));
}

TEST(Session, UnoptimizedGraphMatchesReference) {
  Graph g = ResidualCnn();
  TensorMap in{{"image", RandomInput({1, 3, 16, 16}, 3)}};
  SessionOptions o;
  o.optimize = false;
  auto s = ExpectFp32Parity(g, in, o);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->graph().nodes.size(), g.nodes.size());
  EXPECT_EQ(CountKind(*s, "dnnl:conv_fp32"), 4);
}

TEST(Session, MlpMatchesReference) {
  Builder b;
  auto x = b.Input("features", {1, 24});
  auto h1 = b.Op("Relu", {b.Gemm(x, 24, 32, false)});
  auto h2 = b.Op("Relu", {b.Gemm(h1, 32, 16, true)});
  auto h3 = b.Op("MatMul", {h2, b.RandConst({16, 6})});
  b.Output(b.Op("Add", {h3, b.RandConst({6})}));
  TensorMap in{{"features", RandomInput({1, 24}, 4)}};
  auto s = ExpectFp32Parity(b.g, in);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(CountKind(*s, "dnnl:gemm_fp32"), 3) << fmt::format("{}", fmt::join(s->NodeKernels(), " "));
}

TEST(Session, DepthwiseAndOneDimensionalConvMatchReference) {
  Builder b;
  auto x = b.Input("x", {1, 16, 15, 15});
  auto dw = b.Op("Relu", {b.Conv(x, 16, 16, 3, 2, 16)});  // depthwise, stride 2
  auto pw = b.Conv(dw, 16, 24, 1);                         // pointwise
  auto dil = b.Op("Conv", {pw, b.RandConst({8, 24, 3, 3})},
                  {{"dilations", IntsA({2, 2})}, {"pads", IntsA({2, 1, 2, 3})}});  // no bias, asymmetric pads
  b.Output(dil);
  auto sig = b.Input("signal", {1, 4, 50});
  auto c1 = b.Op("Conv", {sig, b.RandConst({6, 4, 5}), b.RandConst({6})},
                 {{"strides", IntsA({2})}, {"auto_pad", [] { Attribute a; a.kind = Attribute::Kind::kString; a.s = "SAME_UPPER"; return a; }()}});
  b.Output(b.Op("Relu", {c1}));
  TensorMap in{{"x", RandomInput({1, 16, 15, 15}, 5)}, {"signal", RandomInput({1, 4, 50}, 6)}};
  auto s = ExpectFp32Parity(b.g, in);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(CountKind(*s, "dnnl:conv_fp32"), 4) << fmt::format("{}", fmt::join(s->NodeKernels(), " "));
}

// ---------------------------------------------------------------------------------------------
// int8 QDQ graphs: the passes turn them into QLinearConv / PfQLinearGemm / QLinearMatMul.

struct QdqBuilder : Builder {
  DType act = DType::kUint8;

  std::string Zp(int64_t v, DType t) { return Const(Tensor::Int(t, {}, {v})); }
  std::string Scalar(float v) { return Const(Tensor::Float({}, {v})); }
  // Q then DQ of an fp32 activation.
  std::string QDQ(const std::string& x, float scale, int64_t zp) {
    auto s = Scalar(scale), z = Zp(zp, act);
    return Op("DequantizeLinear", {Op("QuantizeLinear", {x, s, z}), s, z});
  }
  // Symmetric s8 weights with per-channel (axis 0) scales, as DQ(w).
  std::string Weights(Shape shape, int axis) {
    const int64_t ch = shape[axis];
    Tensor w = Tensor::Int(DType::kInt8, shape);
    // Without VNNI the kernels saturate or requantize full-range weights (engine/dnnl_kernels.h);
    // 7-bit weights are exact there, so the comparison stays one step on every ISA.
    const int range = dnnl_kernels::Int8MaySaturate() ? 63 : 127;
    std::uniform_int_distribution<int> u(-range, range);
    for (auto& v : w.i) v = u(rng);
    Tensor sc = Random({ch}, 0.002f, 0.01f);
    return Op("DequantizeLinear", {Const(w), Const(sc), Const(Tensor::Int(DType::kInt8, {ch}))},
              {{"axis", IntA(axis)}});
  }
  std::string ConvQ(const std::string& x, int64_t in_c, int64_t out_c, int64_t k, int64_t stride, int64_t group,
                    bool relu, float out_scale, int64_t out_zp) {
    const int64_t p = k / 2;
    auto y = Op("Conv", {x, Weights({out_c, in_c / group, k, k}, 0), RandConst({out_c}, -0.2f, 0.2f)},
                {{"pads", IntsA({p, p, p, p})}, {"strides", IntsA({stride, stride})}, {"group", IntA(group)}});
    if (relu) y = Op("Relu", {y});
    return QDQ(y, out_scale, out_zp);
  }
};

TEST(Session, NativePoolingAndQuantizationAreExact) {
  QdqBuilder b;
  auto x = b.Input("x", {1, 6, 13, 13});
  b.Output(b.Op("MaxPool", {x}, {{"kernel_shape", IntsA({3, 3})}, {"strides", IntsA({2, 2})},
                                 {"pads", IntsA({1, 0, 1, 2})}, {"ceil_mode", IntA(1)}}));
  b.Output(b.Op("GlobalAveragePool", {x}));
  auto q = b.Op("QuantizeLinear", {x, b.Scalar(0.01f), b.Zp(120, DType::kUint8)});
  auto pooled = b.Op("MaxPool", {q}, {{"kernel_shape", IntsA({2, 3})}, {"dilations", IntsA({2, 1})}});
  b.Output(b.Op("DequantizeLinear", {pooled, b.Scalar(0.01f), b.Zp(120, DType::kUint8)}));
  auto sig = b.Input("signal", {1, 3, 40});
  b.Output(b.Op("MaxPool", {sig}, {{"kernel_shape", IntsA({4})}, {"strides", IntsA({3})}, {"auto_pad", [] {
                                     Attribute a;
                                     a.kind = Attribute::Kind::kString;
                                     a.s = "SAME_LOWER";
                                     return a;
                                   }()}}));
  TensorMap in{{"x", RandomInput({1, 6, 13, 13}, 20, -1.5f, 1.5f)}, {"signal", RandomInput({1, 3, 40}, 21)}};
  auto want = RunReference(b.g, in);
  ASSERT_TRUE(want.ok()) << want.status().ToString();
  // MaxPool runs on oneDNN with use_dnnl where oneDNN has more than its reference implementation for
  // the layout (ceil_mode, dilations and SAME_LOWER included), else on the native kernel; both exact.
  for (bool dnnl : {true, false}) {
    SessionOptions o;
    o.use_dnnl = dnnl;
    auto s = Session::Create(b.g, o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    const std::string kernels = fmt::format("{}", fmt::join((*s)->NodeKernels(), " "));
    EXPECT_EQ(CountKind(**s, "dnnl:maxpool") + CountKind(**s, "native:MaxPool"), 3) << kernels;
    if (!dnnl) EXPECT_EQ(CountKind(**s, "native:MaxPool"), 3) << kernels;
    if (dnnl) EXPECT_GE(CountKind(**s, "dnnl:maxpool"), 1) << kernels;  // the fp32 ones have a jit kernel
    std::cout << (dnnl ? "with" : "without") << " oneDNN: " << kernels << "\n";
    EXPECT_EQ(CountKind(**s, "native:GlobalAveragePool"), 1);
    EXPECT_EQ(CountKind(**s, "native:QuantizeLinear"), 1);
    EXPECT_EQ(CountKind(**s, "native:DequantizeLinear"), 1);
    EXPECT_EQ((*s)->reference_nodes(), 0);
    auto got = (*s)->Run(in);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (const auto& [name, t] : *want) {
      const Diff d = Compare(t, got->outputs.at(name));
      EXPECT_EQ(d.max_abs, 0.0) << name;
      EXPECT_GT(d.max_ref, 0.0) << name;
    }
  }
}

// Runs the original QDQ graph on the reference and the Session; every output element must be
// within one quantization step (`step`) of the reference.
std::unique_ptr<Session> ExpectInt8Parity(const Graph& g, const TensorMap& in, double step, double max_over_share,
                                          const SessionOptions& o = {}) {
  auto want = RunReference(g, in);
  EXPECT_TRUE(want.ok()) << want.status().ToString();
  auto s = Session::Create(g, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok() || !want.ok()) return nullptr;
  auto got = (*s)->Run(in);
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  if (!got.ok()) return nullptr;
  for (const auto& [name, t] : *want) {
    const Diff d = Compare(t, got->outputs.at(name), step);
    EXPECT_LE(static_cast<double>(d.over), max_over_share * static_cast<double>(t.size()))
        << name << ": " << d.over << " of " << t.size() << " elements beyond one step " << step << ", max "
        << d.max_abs;
    EXPECT_LE(d.max_abs, 2 * step * 1.001) << name;
    EXPECT_GT(d.max_ref, 0.0) << name;
  }
  return std::move(s).value();
}

TEST(Session, Int8ConvWithinOneStep) {
  for (DType act : {DType::kUint8, DType::kInt8}) {
    SCOPED_TRACE(fmt::format("activations {}", DTypeName(act)));
    QdqBuilder b;
    b.act = act;
    const int64_t zp = act == DType::kUint8 ? 128 : 0, relu_zp = act == DType::kUint8 ? 0 : -128;
    auto x = b.QDQ(b.Input("x", {1, 8, 12, 12}), 0.02f, zp);
    auto y = b.ConvQ(x, 8, 16, 3, 1, 1, true, 0.05f, relu_zp);
    b.Output(y);
    TensorMap in{{"x", RandomInput({1, 8, 12, 12}, 7)}};
    auto s = ExpectInt8Parity(b.g, in, 0.05, 0.0);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(CountKind(*s, "dnnl:conv_int8"), 1) << fmt::format("{}", fmt::join(s->NodeKernels(), " "));
  }
}

TEST(Session, Int8CnnAndMlpWithinOneStep) {
  QdqBuilder b;
  auto x = b.QDQ(b.Input("x", {1, 4, 16, 16}), 0.02f, 128);
  auto c1 = b.ConvQ(x, 4, 16, 3, 1, 1, true, 0.04f, 0);
  auto dw = b.ConvQ(c1, 16, 16, 3, 2, 16, true, 0.04f, 0);  // depthwise
  auto pw = b.ConvQ(dw, 16, 24, 1, 1, 1, false, 0.05f, 128);
  auto c3 = b.ConvQ(pw, 24, 24, 1, 1, 1, false, 0.05f, 128);
  auto res = b.QDQ(b.Op("Add", {pw, c3}), 0.06f, 128);  // residual: PfQLinearAdd
  auto flat = b.Op("Flatten", {b.Op("GlobalAveragePool", {res})});
  auto fq = b.QDQ(flat, 0.01f, 128);
  auto fc = b.Op("Gemm", {fq, b.Weights({10, 24}, 0), b.RandConst({10}, -0.1f, 0.1f)}, {{"transB", IntA(1)}});
  auto h = b.QDQ(b.Op("Relu", {fc}), 0.02f, 0);
  auto mm = b.Op("MatMul", {h, b.Weights({10, 6}, 1)});
  b.Output(b.QDQ(mm, 0.01f, 128));
  TensorMap in{{"x", RandomInput({1, 4, 16, 16}, 8)}};
  // Three requantizations in a row: a one-step difference early may move a later rounding, so
  // 0.1 % of the elements may be two steps off (the parity criterion of issue 8).
  for (bool chain : {true, false}) {
    SCOPED_TRACE(fmt::format("chain_layouts {}", chain));
    SessionOptions o;
    o.chain_layouts = chain;
    auto s = ExpectInt8Parity(b.g, in, 0.01, 0.001, o);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(CountKind(*s, "dnnl:conv_int8"), 4) << fmt::format("{}", fmt::join(s->NodeKernels(), " "));
    EXPECT_EQ(CountKind(*s, "dnnl:gemm_int8"), 2) << fmt::format("{}", fmt::join(s->NodeKernels(), " "));
    EXPECT_GT(s->report().qlinear_nodes, 0);
    EXPECT_EQ(CountKind(*s, "native:QuantizeLinear"), 2);
    EXPECT_EQ(CountKind(*s, "native:PfQLinearAdd"), 1);
    EXPECT_EQ(s->reference_nodes(), 0);
    // Chained: one reorder into the first convolution, one out of the residual add (which runs on
    // oneDNN's layout itself).
    if (chain) {
      EXPECT_LE(s->reorders(), 2);
    } else {
      EXPECT_EQ(s->reorders(), 0);
    }
  }
}

// ---------------------------------------------------------------------------------------------

TEST(Session, DeadlineMarksLateAndCounts) {
  Graph g = ResidualCnn();
  MetricsRegistry metrics;
  SessionOptions o;
  o.metrics = &metrics;
  o.model_name = "cnn";
  auto s = Session::Create(g, o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  TensorMap in{{"image", RandomInput({1, 3, 16, 16}, 9)}};
  auto want = RunReference(g, in);
  ASSERT_TRUE(want.ok());
  auto late = (*s)->Run(in, std::chrono::nanoseconds(1));
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  EXPECT_TRUE(late->late);
  EXPECT_GT(late->latency_ms, 0.0);
  // The late run still completed with the right answer.
  const Diff d = Compare(want->at(g.outputs[0].name), late->outputs.at(g.outputs[0].name));
  EXPECT_LE(d.max_abs, 1e-4 * d.max_ref);
  auto on_time = (*s)->Run(in, std::chrono::seconds(10));
  ASSERT_TRUE(on_time.ok());
  EXPECT_FALSE(on_time->late);
  auto no_deadline = (*s)->Run(in);
  ASSERT_TRUE(no_deadline.ok());
  EXPECT_FALSE(no_deadline->late);
  EXPECT_EQ((*s)->runs(), 3u);
  EXPECT_EQ((*s)->late_runs(), 1u);
  EXPECT_EQ(metrics.Value("pf_model_runs_total", {{"model", "cnn"}}), 3.0);
  EXPECT_EQ(metrics.Value("pf_model_late_total", {{"model", "cnn"}}), 1.0);
  auto& h = metrics.GetHistogram("pf_model_latency_seconds", "", {{"model", "cnn"}});
  EXPECT_EQ(h.count(), 3u);
  EXPECT_GT(h.sum(), 0.0);
  const std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("pf_model_latency_seconds_count{model=\"cnn\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("pf_model_late_total{model=\"cnn\"} 1"), std::string::npos) << text;
}

TEST(Session, WrongInputsGivePreciseErrors) {
  Graph g = ResidualCnn();
  auto s = Session::Create(g);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto bad_name = (*s)->Run({{"img", RandomInput({1, 3, 16, 16}, 1)}});
  EXPECT_EQ(bad_name.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_name.status().message(), "model 'model': 'img' is not an input of the model (inputs: image)");
  auto missing = (*s)->Run({});
  EXPECT_EQ(missing.status().message(), "model 'model': input 'image' is missing (expected float [1,3,16,16])");
  auto bad_shape = (*s)->Run({{"image", RandomInput({1, 3, 16, 15}, 1)}});
  EXPECT_EQ(bad_shape.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_shape.status().message(),
            "model 'model': input 'image' has shape [1,3,16,15] but the model expects [1,3,16,16]");
  auto bad_dtype = (*s)->Run({{"image", Tensor::Int(DType::kInt64, {1, 3, 16, 16})}});
  EXPECT_EQ(bad_dtype.status().message(),
            "model 'model': input 'image' has dtype int64 but the model expects float [1,3,16,16]");
  Tensor short_data = Tensor::Float({1, 3, 16, 16});
  short_data.f.resize(10);
  auto bad_count = (*s)->Run({{"image", short_data}});
  EXPECT_EQ(bad_count.status().message(),
            "model 'model': input 'image' has 10 elements, shape [1,3,16,16] needs 768");
  EXPECT_EQ((*s)->runs(), 0u);
}

TEST(Session, ArenaReusesMemoryInAConvChain) {
  Builder b;
  auto v = b.Input("x", {1, 8, 16, 16});
  for (int k = 0; k < 10; ++k) v = b.Op("Relu", {b.Conv(v, 8, 8, 3)});
  b.Output(v);
  TensorMap in{{"x", RandomInput({1, 8, 16, 16}, 10)}};
  for (bool dnnl : {true, false}) {
    SessionOptions o;
    o.use_dnnl = dnnl;
    o.passes.fuse_activation = true;
    auto s = ExpectFp32Parity(b.g, in, o);
    ASSERT_NE(s, nullptr);
    // Every value of the optimized graph except the input, at its native size.
    int64_t all = 0;
    for (const auto& n : s->graph().nodes) all += 8 * 16 * 16 * 4 * static_cast<int64_t>(n.outputs.size());
    EXPECT_LT(s->arena_bytes(), all) << "dnnl " << dnnl;
    EXPECT_LE(s->arena_bytes(), all / 3) << "dnnl " << dnnl;
    // The chain stays in oneDNN's layout: at most one reorder in and one out.
    if (dnnl) {
      EXPECT_EQ(CountKind(*s, "dnnl:conv_fp32"), 10);
      EXPECT_LE(s->reorders(), 2);
    }
  }
}

// Optimized kernels run on the arena: no tensor data is allocated per run. (oneDNN 2.6's
// primitive execute still allocates its small argument maps, about 18 blocks of at most 144 bytes
// per call, measured here; the returned outputs are allocated too.) Reference nodes allocate
// tensor-sized buffers per run.
TEST(Session, OptimizedKernelsDoNotAllocatePerRun) {
  Builder b;
  auto v = b.Input("x", {1, 8, 12, 12});
  for (int k = 0; k < 6; ++k) v = b.Op("Relu", {b.Conv(v, 8, 8, 3)});
  v = b.Op("MaxPool", {v}, {{"kernel_shape", IntsA({2, 2})}, {"strides", IntsA({2, 2})}});
  v = b.Op("Flatten", {b.Op("GlobalAveragePool", {v})});
  b.Output(b.Op("Relu", {b.Gemm(v, 8, 4, true)}));
  TensorMap in{{"x", RandomInput({1, 8, 12, 12}, 13)}};
  auto count = [&](Session& s) {
    EXPECT_TRUE(s.Run(in).ok());  // warm
    g_allocations = 0;
    g_largest_allocation = 0;
    g_count_allocations = true;
    auto r = s.Run(in);
    g_count_allocations = false;
    EXPECT_TRUE(r.ok());
    std::cout << "allocations " << g_allocations.load() << " largest " << g_largest_allocation.load() << "\n";
    return g_largest_allocation.load();
  };
  auto fast = Session::Create(b.g);
  ASSERT_TRUE(fast.ok()) << fast.status().ToString();
  EXPECT_EQ((*fast)->reference_nodes(), 0) << fmt::format("{}", fmt::join((*fast)->NodeKernels(), " "));
  const int64_t activation_bytes = 8 * 12 * 12 * 4;
  EXPECT_LE(count(**fast), 256);
  SessionOptions o;
  o.use_dnnl = false;
  auto slow = Session::Create(b.g, o);
  ASSERT_TRUE(slow.ok());
  EXPECT_GT((*slow)->reference_nodes(), 6);
  EXPECT_GE(count(**slow), activation_bytes);
}

TEST(Session, TwoSessionsWithDifferentThreadCountsRunConcurrently) {
  Graph g = ResidualCnn(16, 24);
  SessionOptions o1, o2;
  o1.threads = 1;
  o2.threads = 2;
  auto s1 = Session::Create(g, o1);
  auto s2 = Session::Create(g, o2);
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_EQ((*s1)->threads(), 1);
  EXPECT_EQ((*s2)->threads(), 2);
  std::vector<TensorMap> ins;
  std::vector<Tensor> wants;
  for (uint32_t k = 0; k < 4; ++k) {
    ins.push_back({{"image", RandomInput({1, 3, 24, 24}, 100 + k)}});
    auto w = RunReference(g, ins.back());
    ASSERT_TRUE(w.ok());
    wants.push_back(w->at(g.outputs[1].name));
  }
  auto work = [&](Session* s, std::vector<std::string>* errors) {
    for (int rep = 0; rep < 10; ++rep) {
      const size_t k = rep % ins.size();
      auto got = s->Run(ins[k]);
      if (!got.ok()) { errors->push_back(got.status().ToString()); continue; }
      const Tensor& y = got->outputs.at(g.outputs[1].name);
      double max_abs = 0, max_ref = 0;
      for (int64_t j = 0; j < y.size(); ++j) {
        max_abs = std::max(max_abs, std::abs(static_cast<double>(y.f[j]) - wants[k].f[j]));
        max_ref = std::max(max_ref, std::abs(static_cast<double>(wants[k].f[j])));
      }
      if (max_abs > 1e-4 * max_ref) errors->push_back(fmt::format("input {}: max abs error {}", k, max_abs));
    }
  };
  std::vector<std::string> e1, e2;
  std::thread t1(work, s1->get(), &e1), t2(work, s2->get(), &e2);
  t1.join();
  t2.join();
  EXPECT_TRUE(e1.empty()) << fmt::format("{}", fmt::join(e1, "; "));
  EXPECT_TRUE(e2.empty()) << fmt::format("{}", fmt::join(e2, "; "));
  EXPECT_EQ((*s1)->runs(), 10u);
  EXPECT_EQ((*s2)->runs(), 10u);
}

TEST(Session, DynamicInputDimsAreFixed) {
  Graph g = ResidualCnn();
  g.inputs[0].shape = {-1, 3, 16, 16};
  auto s = Session::Create(g);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->inputs()[0].shape, (Shape{1, 3, 16, 16}));
  EXPECT_EQ((*s)->outputs()[0].shape, (Shape{1, 5}));
  TensorMap in{{"image", RandomInput({1, 3, 16, 16}, 11)}};
  Graph fixed = ResidualCnn();
  auto want = RunReference(fixed, in);
  auto got = (*s)->Run(in);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  const Diff d = Compare(want->at(g.outputs[0].name), got->outputs.at(g.outputs[0].name));
  EXPECT_LE(d.max_abs, 1e-4 * d.max_ref);

  SessionOptions o;
  o.input_shapes["image"] = {2, 3, 16, 16};
  auto s2 = Session::Create(g, o);
  ASSERT_TRUE(s2.ok()) << s2.status().ToString();
  EXPECT_EQ((*s2)->outputs()[0].shape, (Shape{2, 5}));
  o.input_shapes["image"] = {1, 3, 16, 17};
  auto bad = Session::Create(g, o);
  EXPECT_EQ(bad.status().message(),
            "model 'model': input 'image': shape [1,3,16,17] from the options does not fit the declared [-1,3,16,16]");
  o.input_shapes.clear();
  o.input_shapes["other"] = {1};
  EXPECT_EQ(Session::Create(g, o).status().code(), StatusCode::kInvalidArgument);
  o.input_shapes.clear();
  o.threads = 0;
  EXPECT_EQ(Session::Create(g, o).status().code(), StatusCode::kInvalidArgument);
}

TEST(Session, PassiveOpenMpIsRequested) {
  Session::EnsurePassiveOpenMp();
  const char* v = std::getenv("OMP_WAIT_POLICY");
  ASSERT_NE(v, nullptr);
}

// A few ONNX backend node tests through the Session (weights come as graph inputs there, so most
// nodes run on reference kernels through the arena), against the stored outputs.
TEST(Session, OnnxNodeTestsMatchStoredOutputs) {
  const std::string dir = "/usr/share/libonnx-testdata/data/node";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "libonnx-testdata is not installed";
  const char* names[] = {"test_conv_with_strides_padding", "test_conv_with_autopad_same", "test_gemm_all_attributes",
                         "test_matmul_3d", "test_qlinearconv", "test_qlinearmatmul_2D", "test_qlinearmatmul_3D", "test_softmax_example",
                         "test_maxpool_2d_pads", "test_flatten_axis1", "test_relu", "test_conv_with_strides_no_padding", "test_gemm_transposeB",
                         "test_dequantizelinear", "test_quantizelinear", "test_add_bcast"};
  int ran = 0;
  for (const char* name : names) {
    const std::string base = dir + "/" + name;
    if (!std::filesystem::exists(base)) continue;
    auto g = LoadModelFromFile(base + "/model.onnx");
    if (!g.ok() && g.status().code() == StatusCode::kUnimplemented) continue;  // e.g. opset 10
    ASSERT_TRUE(g.ok()) << name << ": " << g.status().ToString();
    auto s = Session::Create(*g);
    ASSERT_TRUE(s.ok()) << name << ": " << s.status().ToString();
    TensorMap in;
    for (size_t k = 0; k < g->inputs.size(); ++k) {
      auto t = LoadTensorFromFile(fmt::format("{}/test_data_set_0/input_{}.pb", base, k));
      ASSERT_TRUE(t.ok()) << name;
      in[g->inputs[k].name] = std::move(*t);
    }
    auto got = (*s)->Run(in);
    ASSERT_TRUE(got.ok()) << name << ": " << got.status().ToString();
    for (size_t k = 0; k < g->outputs.size(); ++k) {
      auto want = LoadTensorFromFile(fmt::format("{}/test_data_set_0/output_{}.pb", base, k));
      ASSERT_TRUE(want.ok()) << name;
      const Diff d = Compare(*want, got->outputs.at(g->outputs[k].name));
      EXPECT_LE(d.max_abs, 1e-4 * std::max(1.0, d.max_ref)) << name;
    }
    ++ran;
  }
  EXPECT_GE(ran, 8);
}

}  // namespace
}  // namespace pf::engine
