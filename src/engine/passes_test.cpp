// Graph passes (engine/passes.h) on small graphs built in code: every pass is checked by running
// the reference interpreter before and after Optimize on random inputs, plus the PassReport
// counts and the shape of the rewritten graph.
//
// Tolerances, and why:
//  - fp32 rewrites (constant folding, BatchNorm folding, activation and Add fusion): max abs
//    difference <= 1e-5 * max|reference output| (BatchNorm folding re-associates w * s; the
//    fusions themselves are bit-exact because the fused kernels do the same float operations).
//  - QDQ -> quantized ops: the QDQ graph computes the layer in fp32 on dequantized values and
//    quantizes the result; the quantized op accumulates (x - zx) * w exactly in integer with the
//    bias rounded to int32 (an error of at most 0.5 * x_scale * w_scale[c] in real units). When
//    that error, times the activation's slope (<= 1.5 for HardSwish), is below y_scale, both
//    rounded outputs differ by at most one quantization step: that is the bound checked for a
//    single quantized layer (the tests assert the precondition too). Rounding differs only where
//    the fp32 value lies within that error of a rounding boundary, so >= 98% of the elements
//    must also be exactly equal (a rounding mode that is off by one everywhere fails this).
//    Through a chain of layers a one-step difference propagates, so a chain is checked to be
//    within one step on >= 99% of the elements (the acceptance criterion is 99.9% on
//    full models), and its first layer alone against the single-layer bound.
#include "engine/passes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "engine/interpreter.h"
#include "engine/shape_inference.h"

namespace pf::engine {
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
Attribute StrA(std::string s) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(s);
  return a;
}
Attribute FloatA(float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  return a;
}

class Builder {
 public:
  explicit Builder(uint32_t seed = 7) : rng_(seed) { g_.opset = 13; }

  Graph& graph() { return g_; }
  void Input(const std::string& name, Shape shape, DType t = DType::kFloat) { g_.inputs.push_back({name, t, shape}); }
  void Output(const std::string& name) { g_.outputs.push_back({name, DType::kFloat, {}}); }
  Node& Add(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
            std::map<std::string, Attribute> attrs = {}) {
    Node n;
    n.name = out.empty() ? op : out[0] + "_node";
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    n.attrs = std::move(attrs);
    g_.nodes.push_back(std::move(n));
    return g_.nodes.back();
  }
  std::string RandomConst(const std::string& name, Shape shape, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    Tensor t = Tensor::Float(shape);
    for (float& v : t.f) v = d(rng_);
    g_.constants[name] = std::move(t);
    return name;
  }
  std::string Const(const std::string& name, Tensor t) {
    g_.constants[name] = std::move(t);
    return name;
  }
  // Random s8 weights in [-127, 127].
  std::string RandomS8(const std::string& name, Shape shape) {
    std::uniform_int_distribution<int> d(-127, 127);
    Tensor t = Tensor::Int(DType::kInt8, shape);
    for (auto& v : t.i) v = d(rng_);
    g_.constants[name] = std::move(t);
    return name;
  }
  std::string Scalar(const std::string& name, float v) { return Const(name, Tensor::Float({}, {v})); }
  std::string Zp(const std::string& name, DType t, int64_t v) { return Const(name, Tensor::Int(t, {}, {v})); }

  // x (fp32) -> QuantizeLinear -> DequantizeLinear, per tensor; returns the DQ output.
  std::string Qdq(const std::string& x, const std::string& tag, float scale, DType t, int64_t zp) {
    const std::string s = Scalar(tag + "_s", scale), z = Zp(tag + "_z", t, zp);
    Add("QuantizeLinear", {x, s, z}, {tag + "_q"});
    Add("DequantizeLinear", {tag + "_q", s, z}, {tag + "_dq"});
    return tag + "_dq";
  }
  // Weights: s8 constant (per channel along `axis` when scales has > 1 element) -> DQ.
  std::string WeightDq(const std::string& tag, Shape shape, std::vector<float> scales, int64_t axis) {
    const std::string w = RandomS8(tag + "_wq", shape);
    const int64_t m = static_cast<int64_t>(scales.size());
    const std::string s = Const(tag + "_ws", m == 1 ? Tensor::Float({}, scales) : Tensor::Float({m}, scales));
    const std::string z = Const(tag + "_wz", m == 1 ? Tensor::Int(DType::kInt8, {}, {0})
                                                    : Tensor::Int(DType::kInt8, {m}, std::vector<int64_t>(m, 0)));
    Add("DequantizeLinear", {w, s, z}, {tag + "_w"}, {{"axis", IntA(axis)}});
    return tag + "_w";
  }

  TensorMap RandomInputs(float lo = -1, float hi = 1) {
    TensorMap m;
    std::uniform_real_distribution<float> d(lo, hi);
    for (const auto& in : g_.inputs) {
      Tensor t = Tensor::Float(in.shape);
      for (float& v : t.f) v = d(rng_);
      m[in.name] = std::move(t);
    }
    return m;
  }

 private:
  Graph g_;
  std::mt19937 rng_;
};

std::vector<float> Scales(int64_t m, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> s(m);
  for (float& v : s) v = d(rng);
  return s;
}

// Runs the graph before and after Optimize on the same inputs.
struct BeforeAfter {
  TensorMap before, after;
  PassReport report;
  Graph optimized;
};

BeforeAfter RunBoth(Graph g, const TensorMap& inputs, const PassOptions& options = {}) {
  BeforeAfter r;
  auto before = RunReference(g, inputs);
  EXPECT_TRUE(before.ok()) << before.status().ToString();
  if (before.ok()) r.before = *before;
  auto report = Optimize(g, options);
  EXPECT_TRUE(report.ok()) << report.status().ToString();
  if (report.ok()) r.report = *report;
  auto shapes = InferShapes(g);
  EXPECT_TRUE(shapes.ok()) << shapes.status().ToString();
  auto after = RunReference(g, inputs);
  EXPECT_TRUE(after.ok()) << after.status().ToString();
  if (after.ok()) r.after = *after;
  r.optimized = std::move(g);
  return r;
}

void ExpectClose(const BeforeAfter& r, double rel = 1e-5) {
  ASSERT_FALSE(r.before.empty());
  for (const auto& [name, want] : r.before) {
    ASSERT_TRUE(r.after.count(name)) << name;
    const Tensor& got = r.after.at(name);
    ASSERT_EQ(got.shape, want.shape) << name;
    ASSERT_TRUE(want.is_float());
    double max_ref = 0, max_diff = 0;
    for (int64_t k = 0; k < want.size(); ++k) {
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(want.f[k])));
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(got.f[k]) - want.f[k]));
    }
    EXPECT_GT(max_ref, 0) << name << ": a trivial all-zero output proves nothing";
    EXPECT_LE(max_diff, rel * max_ref) << name << ": max diff " << max_diff << " max ref " << max_ref;
  }
}

// Differences in quantization steps of `scale` between two fp32 (dequantized) outputs.
struct StepStats {
  double max_steps = 0;
  double within_one = 0;  // fraction of elements within one step
  double exact = 0;       // fraction of elements equal
  int64_t nonzero = 0;    // elements of the reference output that are not 0
};
StepStats Steps(const Tensor& got, const Tensor& want, double scale) {
  StepStats s;
  EXPECT_EQ(got.shape, want.shape);
  if (got.shape != want.shape) return s;
  int64_t ok = 0, same = 0;
  for (int64_t k = 0; k < want.size(); ++k) {
    const double d = std::fabs(static_cast<double>(got.f[k]) - want.f[k]) / scale;
    s.max_steps = std::max(s.max_steps, d);
    ok += d <= 1.0 + 1e-3;
    same += d < 1e-3;
    s.nonzero += want.f[k] != 0;
  }
  s.within_one = static_cast<double>(ok) / std::max<int64_t>(want.size(), 1);
  s.exact = static_cast<double>(same) / std::max<int64_t>(want.size(), 1);
  std::printf("  %s: %lld elements, max %.3f steps, %.4f equal, %.4f within one step, %lld non-zero\n",
              ::testing::UnitTest::GetInstance()->current_test_info()->name(), static_cast<long long>(want.size()),
              s.max_steps, s.exact, s.within_one, static_cast<long long>(s.nonzero));
  return s;
}

int Count(const Graph& g, const std::string& op) {
  return static_cast<int>(
      std::count_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.op_type == op; }));
}

// ----------------------------------------------------------------------------------------------
// fp32 passes

TEST(Passes, ConvBatchNormReluFoldsIntoOneConv) {
  Builder b;
  b.Input("x", {1, 3, 9, 9});
  b.RandomConst("w", {8, 3, 3, 3}, -0.5f, 0.5f);
  b.RandomConst("b", {8}, -0.2f, 0.2f);
  b.Add("Conv", {"x", "w", "b"}, {"c"}, {{"pads", Ints({1, 1, 1, 1})}, {"strides", Ints({2, 2})}});
  b.RandomConst("gamma", {8}, 0.5f, 1.5f);
  b.RandomConst("beta", {8}, -0.5f, 0.5f);
  b.RandomConst("mean", {8}, -0.3f, 0.3f);
  b.RandomConst("var", {8}, 0.1f, 2.0f);
  b.Add("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"bn"}, {{"epsilon", FloatA(1e-3f)}});
  b.Add("Relu", {"bn"}, {"y"});
  b.Output("y");
  auto r = RunBoth(b.graph(), b.RandomInputs());
  ExpectClose(r);
  EXPECT_EQ(r.report.folded_batchnorms, 1);
  EXPECT_EQ(r.report.fused_activations, 1);
  ASSERT_EQ(r.optimized.nodes.size(), 1u);
  const Node& conv = r.optimized.nodes[0];
  EXPECT_EQ(conv.op_type, "Conv");
  EXPECT_EQ(conv.Str("pf_activation", ""), "Relu");
  EXPECT_EQ(conv.outputs[0], "y");
  // The old weights, bias and BN parameters are gone; only the folded ones remain.
  EXPECT_EQ(r.optimized.constants.size(), 2u);
}

TEST(Passes, ConvWithoutBiasBatchNorm) {
  Builder b(11);
  b.Input("x", {2, 4, 6, 6});
  b.RandomConst("w", {4, 2, 3, 3}, -0.5f, 0.5f);
  b.Add("Conv", {"x", "w"}, {"c"}, {{"group", IntA(2)}});
  for (const char* p : {"gamma", "beta", "mean"}) b.RandomConst(p, {4}, -1.0f, 1.0f);
  b.RandomConst("var", {4}, 0.5f, 1.0f);
  b.Add("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"y"});
  b.Output("y");
  auto r = RunBoth(b.graph(), b.RandomInputs());
  ExpectClose(r);
  EXPECT_EQ(r.report.folded_batchnorms, 1);
  EXPECT_EQ(r.optimized.nodes.size(), 1u);
}

TEST(Passes, BatchNormNotFoldedWhenConvOutputIsShared) {
  Builder b(12);
  b.Input("x", {1, 2, 5, 5});
  b.RandomConst("w", {3, 2, 1, 1}, -1.0f, 1.0f);
  b.Add("Conv", {"x", "w"}, {"c"});
  for (const char* p : {"gamma", "beta", "mean"}) b.RandomConst(p, {3}, -1.0f, 1.0f);
  b.RandomConst("var", {3}, 0.5f, 1.0f);
  b.Add("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"y"});
  b.Add("Sigmoid", {"c"}, {"z"});
  b.Output("y");
  b.Output("z");
  auto r = RunBoth(b.graph(), b.RandomInputs());
  ExpectClose(r);
  EXPECT_EQ(r.report.folded_batchnorms, 0);
  EXPECT_EQ(Count(r.optimized, "BatchNormalization"), 1);
  EXPECT_EQ(r.report.fused_activations, 0);  // Sigmoid's input has two readers
}

TEST(Passes, ResidualConvAddReluBecomesPfSum) {
  // x -> Conv1 -> Relu -> Conv2 -> Add(., x) -> Relu -> y
  Builder b(3);
  b.Input("x", {1, 4, 7, 7});
  b.RandomConst("w1", {4, 4, 3, 3}, -0.3f, 0.3f);
  b.RandomConst("b1", {4}, -0.1f, 0.1f);
  b.RandomConst("w2", {4, 4, 3, 3}, -0.3f, 0.3f);
  b.Add("Conv", {"x", "w1", "b1"}, {"c1"}, {{"pads", Ints({1, 1, 1, 1})}});
  b.Add("Relu", {"c1"}, {"r1"});
  b.Add("Conv", {"r1", "w2"}, {"c2"}, {{"auto_pad", StrA("SAME_UPPER")}});
  b.Add("Add", {"x", "c2"}, {"s"});
  b.Add("Relu", {"s"}, {"y"});
  b.Output("y");
  auto r = RunBoth(b.graph(), b.RandomInputs());
  ExpectClose(r);
  EXPECT_EQ(r.report.fused_adds, 1);
  EXPECT_EQ(r.report.fused_activations, 2);
  ASSERT_EQ(r.optimized.nodes.size(), 2u);
  const Node& c2 = r.optimized.nodes[1];
  EXPECT_EQ(c2.Int("pf_sum", 0), 1);
  ASSERT_EQ(c2.inputs.size(), 4u);
  EXPECT_EQ(c2.inputs[2], "");  // no bias
  EXPECT_EQ(c2.inputs[3], "x");
  EXPECT_EQ(c2.Str("pf_activation", ""), "Relu");
  // A second Optimize finds nothing left to do and keeps the graph.
  Graph again = r.optimized;
  auto report = Optimize(again);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->ToString(), PassReport{}.ToString());
  EXPECT_EQ(again.nodes.size(), 2u);
}

TEST(Passes, PfSumShapeIsChecked) {
  // A hand-made pf_sum Conv whose sum input has the wrong shape is rejected by shape inference.
  Builder b(31);
  b.Input("x", {1, 2, 5, 5});
  b.Input("s", {1, 3, 4, 4});
  b.RandomConst("w", {3, 2, 3, 3}, -0.3f, 0.3f);
  b.Add("Conv", {"x", "w", "", "s"}, {"y"}, {{"pf_sum", IntA(1)}});
  b.Output("y");
  auto shapes = InferShapes(b.graph());
  ASSERT_FALSE(shapes.ok());
  EXPECT_NE(shapes.status().ToString().find("pf_sum"), std::string::npos) << shapes.status().ToString();
  b.graph().nodes[0].attrs["pf_activation"] = StrA("Swish");
  b.graph().inputs[1].shape = {1, 3, 3, 3};
  shapes = InferShapes(b.graph());
  ASSERT_FALSE(shapes.ok());
  EXPECT_NE(shapes.status().ToString().find("unknown pf_activation 'Swish'"), std::string::npos)
      << shapes.status().ToString();
}

TEST(Passes, InvalidGraphIsAnError) {
  Builder b(32);
  b.Input("x", {2, 2});
  b.Add("Relu", {"x", }, {"a"});
  b.Add("Add", {"a", "c"}, {"b"});
  b.Add("Sigmoid", {"b"}, {"c"});
  b.Output("c");
  Graph g = b.graph();
  auto report = Optimize(g);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().ToString().find("cycle"), std::string::npos) << report.status().ToString();
}

TEST(Passes, AddNotFusedWhenShapesDiffer) {
  // The other operand broadcasts ([4,1,1]): not a pf_sum.
  Builder b(4);
  b.Input("x", {1, 2, 5, 5});
  b.RandomConst("w", {4, 2, 3, 3}, -0.3f, 0.3f);
  b.RandomConst("bias", {4, 1, 1}, -1.0f, 1.0f);
  b.Add("Conv", {"x", "w"}, {"c"});
  b.Add("Add", {"c", "bias"}, {"y"});
  b.Output("y");
  auto r = RunBoth(b.graph(), b.RandomInputs());
  ExpectClose(r);
  EXPECT_EQ(r.report.fused_adds, 0);
  EXPECT_EQ(Count(r.optimized, "Add"), 1);
}

TEST(Passes, EveryActivationFusesIntoConvGemmMatMul) {
  struct Act {
    std::string op;
    std::map<std::string, Attribute> attrs;
    bool clip_inputs;
  };
  const std::vector<Act> acts = {
      {"Relu", {}, false},
      {"Clip", {}, true},
      {"LeakyRelu", {{"alpha", FloatA(0.13f)}}, false},
      {"HardSigmoid", {{"alpha", FloatA(0.3f)}, {"beta", FloatA(0.4f)}}, false},
      {"HardSwish", {}, false},
      {"Sigmoid", {}, false},
      {"Tanh", {}, false},
  };
  for (const auto& act : acts) {
    for (const std::string producer : {"Conv", "Gemm", "MatMul"}) {
      SCOPED_TRACE(producer + "+" + act.op);
      Builder b(21);
      if (producer == "Conv") {
        b.Input("x", {1, 3, 6, 6});
        b.RandomConst("w", {5, 3, 3, 3}, -0.5f, 0.5f);
        b.RandomConst("b", {5}, -0.5f, 0.5f);
        b.Add("Conv", {"x", "w", "b"}, {"p"});
      } else if (producer == "Gemm") {
        b.Input("x", {3, 8});
        b.RandomConst("w", {6, 8}, -1.0f, 1.0f);
        b.RandomConst("b", {6}, -0.5f, 0.5f);
        b.Add("Gemm", {"x", "w", "b"}, {"p"}, {{"transB", IntA(1)}, {"alpha", FloatA(0.7f)}});
      } else {
        b.Input("x", {2, 3, 8});
        b.RandomConst("w", {8, 4}, -1.0f, 1.0f);
        b.Add("MatMul", {"x", "w"}, {"p"});
      }
      std::vector<std::string> in = {"p"};
      if (act.clip_inputs) {
        in.push_back(b.Scalar("lo", -0.25f));
        in.push_back(b.Scalar("hi", 0.5f));
      }
      b.Add(act.op, in, {"y"}, act.attrs);
      b.Output("y");
      auto r = RunBoth(b.graph(), b.RandomInputs(-2, 2));
      ExpectClose(r, 0);  // bit-exact: the same float operations
      EXPECT_EQ(r.report.fused_activations, 1);
      ASSERT_EQ(r.optimized.nodes.size(), 1u);
      EXPECT_EQ(r.optimized.nodes[0].Str("pf_activation", ""), act.op);
    }
  }
}

TEST(Passes, ActivationNotFusedIntoGraphOutput) {
  Builder b(5);
  b.Input("x", {2, 8});
  b.RandomConst("w", {8, 3}, -1.0f, 1.0f);
  b.Add("MatMul", {"x", "w"}, {"p"});
  b.Add("Relu", {"p"}, {"y"});
  b.Output("p");
  b.Output("y");
  auto r = RunBoth(b.graph(), b.RandomInputs());
  ExpectClose(r);
  EXPECT_EQ(r.report.fused_activations, 0);
  EXPECT_EQ(r.optimized.nodes.size(), 2u);
}

TEST(Passes, ConstantChainsFoldAndDeadBranchesGo) {
  // c = (k1 + k2) * k3 is constant; y = x * c; x -> Sigmoid -> unused is dead.
  Builder b(6);
  b.Input("x", {3, 4});
  b.RandomConst("k1", {3, 4}, -1.0f, 1.0f);
  b.RandomConst("k2", {4}, -1.0f, 1.0f);
  b.RandomConst("k3", {1}, 1.0f, 2.0f);
  b.Add("Add", {"k1", "k2"}, {"s"});
  b.Add("Mul", {"s", "k3"}, {"c"});
  b.Add("Transpose", {"c"}, {"ct"}, {{"perm", Ints({1, 0})}});
  b.Add("Transpose", {"ct"}, {"c2"}, {{"perm", Ints({1, 0})}});
  b.Add("Mul", {"x", "c2"}, {"y"});
  b.Add("Sigmoid", {"x"}, {"dead1"});
  b.Add("Relu", {"dead1"}, {"dead2"});
  b.Output("y");
  auto r = RunBoth(b.graph(), b.RandomInputs());
  ExpectClose(r, 0);
  EXPECT_EQ(r.report.folded_constants, 4);
  EXPECT_EQ(r.report.removed_nodes, 2);
  ASSERT_EQ(r.optimized.nodes.size(), 1u);
  EXPECT_EQ(r.optimized.nodes[0].op_type, "Mul");
  EXPECT_EQ(r.optimized.constants.size(), 1u);  // k1, k2, k3 and the intermediates are gone
  EXPECT_TRUE(r.optimized.constants.count("c2"));
}

TEST(Passes, HugeConstantIsNotFolded) {
  // [4100,1] x [1,4100] floats = 67.2 MB > 64 MiB: stays a node.
  Builder b(7);
  b.Input("x", {1});
  b.RandomConst("u", {4100, 1}, -1.0f, 1.0f);
  b.RandomConst("v", {1, 4100}, -1.0f, 1.0f);
  b.Add("MatMul", {"u", "v"}, {"big"});
  b.Add("ReduceMean", {"big"}, {"m"}, {{"keepdims", IntA(0)}});
  b.Add("Add", {"x", "m"}, {"y"});
  b.Output("y");
  Graph g = b.graph();
  auto report = Optimize(g);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->folded_constants, 0);
  EXPECT_EQ(Count(g, "MatMul"), 1);
}

TEST(Passes, DisabledPassesLeaveTheGraph) {
  Builder b(8);
  b.Input("x", {1, 3, 5, 5});
  b.RandomConst("w", {2, 3, 3, 3}, -0.5f, 0.5f);
  b.Add("Conv", {"x", "w"}, {"c"});
  b.Add("Relu", {"c"}, {"y"});
  b.Output("y");
  PassOptions off;
  off.fold_constants = off.fold_batchnorm = off.fuse_activation = off.fuse_add = off.qdq_to_qlinear = off.remove_dead =
      false;
  auto r = RunBoth(b.graph(), b.RandomInputs(), off);
  ExpectClose(r, 0);
  EXPECT_EQ(r.optimized.nodes.size(), 2u);
  EXPECT_EQ(r.report.ToString(),
            "folded_constants=0 folded_batchnorms=0 fused_activations=0 fused_adds=0 qlinear_nodes=0 removed_nodes=0 "
            "wide_weight_nodes=0");
}

// ----------------------------------------------------------------------------------------------
// QDQ -> quantized ops

TEST(Passes, QdqConvChainBecomesQLinearConv) {
  // u8 activations, s8 per-channel weights (axis 0), fp32 bias on layer 1 and DQ(int32) bias on
  // layer 2, Relu fused into layer 1.
  Builder b(9);
  b.Input("x", {1, 3, 20, 20});
  const float xs = 2.0f / 255, s1 = 0.03f, s2 = 0.05f;
  const auto ws1 = Scales(8, 0.002f, 0.004f, 1), ws2 = Scales(6, 0.002f, 0.004f, 2);
  const std::string xdq = b.Qdq("x", "in", xs, DType::kUint8, 128);
  const std::string w1 = b.WeightDq("l1", {8, 3, 3, 3}, ws1, 0);
  b.RandomConst("b1", {8}, -0.2f, 0.2f);
  b.Add("Conv", {xdq, w1, "b1"}, {"c1"}, {{"pads", Ints({1, 1, 1, 1})}});
  b.Add("Relu", {"c1"}, {"r1"});
  const std::string a1 = b.Qdq("r1", "act1", s1, DType::kUint8, 0);
  const std::string w2 = b.WeightDq("l2", {6, 8, 3, 3}, ws2, 0);
  // Bias 2 as int32 with scale s1 * ws2[c] (what quantizers write).
  Tensor bq = Tensor::Int(DType::kInt32, {6}, {100, -250, 37, 0, 900, -1});
  std::vector<float> bscale(6);
  for (int c = 0; c < 6; ++c) bscale[c] = s1 * ws2[c];
  b.Const("b2q", bq);
  b.Const("b2s", Tensor::Float({6}, bscale));
  b.Add("DequantizeLinear", {"b2q", "b2s"}, {"b2"}, {{"axis", IntA(0)}});
  b.Add("Conv", {a1, w2, "b2"}, {"c2"}, {{"strides", Ints({2, 2})}});
  const std::string y = b.Qdq("c2", "out", s2, DType::kUint8, 100);
  b.Output("act1_q");  // the first layer's quantized output, to check it alone
  b.Output(y);
  b.graph().outputs[0].dtype = DType::kUint8;
  auto r = RunBoth(b.graph(), b.RandomInputs(-1, 1));
  EXPECT_EQ(r.report.qlinear_nodes, 2);
  EXPECT_EQ(r.report.fused_activations, 1);
  EXPECT_EQ(Count(r.optimized, "QLinearConv"), 2);
  EXPECT_EQ(Count(r.optimized, "Conv"), 0);
  EXPECT_EQ(Count(r.optimized, "Relu"), 0);
  for (const auto& n : r.optimized.nodes) {
    if (n.op_type == "QLinearConv" && n.outputs[0] == "act1_q") EXPECT_EQ(n.Str("pf_activation", ""), "Relu");
  }
  // Layer 1 alone: within one step (bias error 0.5*xs*max(ws1) is far below s1).
  ASSERT_LT(0.5 * xs * 0.004, s1);
  const Tensor& q_before = r.before.at("act1_q");
  const Tensor& q_after = r.after.at("act1_q");
  ASSERT_EQ(q_after.dtype, DType::kUint8);
  int64_t max_step = 0, nonzero = 0, differ = 0;
  for (int64_t k = 0; k < q_before.size(); ++k) {
    max_step = std::max(max_step, std::abs(q_before.i[k] - q_after.i[k]));
    differ += q_before.i[k] != q_after.i[k];
    nonzero += q_before.i[k] != 0;
  }
  EXPECT_LE(max_step, 1);
  EXPECT_LE(differ, q_before.size() / 50);
  EXPECT_GT(nonzero, q_before.size() / 4);  // the test exercises real values, not a saturated zero
  // Whole chain: >= 99% within one step; a one-step difference in layer 1 moves layer 2 by at most
  // sum|w2| * s1 / s2 steps in theory, in practice rarely more than one.
  const StepStats st = Steps(r.after.at(y), r.before.at(y), s2);
  EXPECT_GE(st.within_one, 0.99) << "max " << st.max_steps;
  EXPECT_GT(st.nonzero, 0);
}

// int8_weight_limit (CPUs without VNNI): a layer whose weights exceed it keeps its QDQ form (fp32,
// the same arithmetic as the original graph) and is counted; a layer within it is quantized.
TEST(Passes, WideWeightsKeepTheirQdqFormUnderAWeightLimit) {
  Builder b(11);
  b.Input("x", {1, 4, 10, 10});
  const std::string xdq = b.Qdq("x", "in", 2.0f / 255, DType::kUint8, 128);
  const std::string w1 = b.WeightDq("wide", {6, 4, 3, 3}, Scales(6, 0.002f, 0.004f, 3), 0);
  b.Add("Conv", {xdq, w1}, {"c1"}, {{"pads", Ints({1, 1, 1, 1})}});
  const std::string a1 = b.Qdq("c1", "act1", 0.05f, DType::kUint8, 128);
  // Layer 2: weights within +-64 (ONNX Runtime's reduce-range), both ends included.
  Tensor narrow = Tensor::Int(DType::kInt8, {5, 6, 1, 1});
  for (int64_t k = 0; k < narrow.size(); ++k) narrow.i[k] = (k * 37) % 127 - 63;
  narrow.i[0] = 64;
  narrow.i[1] = -64;
  b.Const("narrow_wq", narrow);
  b.Const("narrow_ws", Tensor::Float({}, {0.003f}));
  b.Add("DequantizeLinear", {"narrow_wq", "narrow_ws"}, {"narrow_w"});
  b.Add("Conv", {a1, "narrow_w"}, {"c2"});
  const std::string y = b.Qdq("c2", "out", 0.05f, DType::kUint8, 128);
  b.Output(y);
  bool wide = false;
  for (int64_t v : b.graph().constants.at("wide_wq").i) wide = wide || v > 64 || v < -64;
  ASSERT_TRUE(wide) << "the random weights should use the full 8 bits";
  PassOptions o;
  o.int8_weight_limit = 64;  // dnnl_kernels::kSafeWeight
  auto r = RunBoth(b.graph(), b.RandomInputs(-1, 1), o);
  EXPECT_EQ(r.report.wide_weight_nodes, 1);
  EXPECT_EQ(r.report.qlinear_nodes, 1);
  EXPECT_EQ(Count(r.optimized, "QLinearConv"), 1);
  EXPECT_EQ(Count(r.optimized, "Conv"), 1);
  const StepStats st = Steps(r.after.at(y), r.before.at(y), 0.05f);
  EXPECT_GE(st.within_one, 0.99) << "max " << st.max_steps;
  // Without the limit both layers are quantized.
  auto all = RunBoth(b.graph(), b.RandomInputs(-1, 1));
  EXPECT_EQ(all.report.wide_weight_nodes, 0);
  EXPECT_EQ(all.report.qlinear_nodes, 2);
}

TEST(Passes, QdqConvS8PerTensorHardSwish) {
  Builder b(10);
  b.Input("x", {2, 16, 12, 12});
  const float xs = 0.01f, ys = 0.02f, ws = 0.003f;
  const std::string xdq = b.Qdq("x", "in", xs, DType::kInt8, -3);
  const std::string w = b.WeightDq("l", {16, 1, 3, 3}, {ws}, 0);
  b.RandomConst("bias", {16}, -0.3f, 0.3f);
  b.Add("Conv", {xdq, w, "bias"}, {"c"},
        {{"group", IntA(16)}, {"pads", Ints({1, 1, 1, 1})}, {"dilations", Ints({1, 1})}});
  b.Add("HardSwish", {"c"}, {"h"});
  const std::string y = b.Qdq("h", "out", ys, DType::kInt8, 5);
  b.Output(y);
  auto r = RunBoth(b.graph(), b.RandomInputs(-1.2f, 1.2f));
  EXPECT_EQ(r.report.qlinear_nodes, 1);
  EXPECT_EQ(r.report.fused_activations, 1);
  ASSERT_LT(1.5 * 0.5 * xs * ws, ys);
  const StepStats st = Steps(r.after.at(y), r.before.at(y), ys);
  EXPECT_LE(st.max_steps, 1.0 + 1e-3);
  EXPECT_GE(st.exact, 0.98);
  EXPECT_GT(st.nonzero, 0);
}

TEST(Passes, QdqMatMulBecomesQLinearMatMul) {
  Builder b(13);
  b.Input("a", {2, 24, 64});
  const float as = 0.01f, ys = 0.04f;
  const std::string adq = b.Qdq("a", "in", as, DType::kUint8, 120);
  const std::string w = b.WeightDq("m", {64, 32}, Scales(32, 0.001f, 0.002f, 3), 1);
  b.Add("MatMul", {adq, w}, {"p"});
  const std::string y = b.Qdq("p", "out", ys, DType::kInt8, 0);
  b.Output(y);
  auto r = RunBoth(b.graph(), b.RandomInputs());
  EXPECT_EQ(r.report.qlinear_nodes, 1);
  EXPECT_EQ(Count(r.optimized, "QLinearMatMul"), 1);
  EXPECT_EQ(Count(r.optimized, "MatMul"), 0);
  // No bias: the integer accumulation is exact, so only fp32 rounding separates the two.
  const StepStats st = Steps(r.after.at(y), r.before.at(y), ys);
  EXPECT_LE(st.max_steps, 1.0 + 1e-3);
  EXPECT_GE(st.exact, 0.98);
  EXPECT_GT(st.nonzero, 0);
}

TEST(Passes, QdqMatMulOfTwoActivations) {
  // Both operands are activations (no constant weight): still QLinearMatMul, per-tensor scales.
  Builder b(18);
  b.Input("a", {4, 6, 32});
  b.Input("c", {4, 32, 6});
  const float ys = 0.05f;
  const std::string adq = b.Qdq("a", "qa", 0.01f, DType::kInt8, 0);
  const std::string cdq = b.Qdq("c", "qc", 0.008f, DType::kUint8, 128);
  b.Add("MatMul", {adq, cdq}, {"p"});
  const std::string y = b.Qdq("p", "out", ys, DType::kInt8, 3);
  b.Output(y);
  auto r = RunBoth(b.graph(), b.RandomInputs());
  EXPECT_EQ(r.report.qlinear_nodes, 1);
  EXPECT_EQ(Count(r.optimized, "QLinearMatMul"), 1);
  const StepStats st = Steps(r.after.at(y), r.before.at(y), ys);
  EXPECT_LE(st.max_steps, 1.0 + 1e-3);
  EXPECT_GE(st.exact, 0.98);
  EXPECT_GT(st.nonzero, 0);
}

TEST(Passes, QdqGemmWithAlphaStaysFp32) {
  // alpha != 1 has no place in PfQLinearGemm: the pattern stays, results are unchanged.
  Builder b(19);
  b.Input("a", {4, 16});
  const std::string adq = b.Qdq("a", "in", 0.01f, DType::kUint8, 128);
  const std::string w = b.WeightDq("g", {16, 8}, {0.004f}, 1);
  b.Add("Gemm", {adq, w}, {"p"}, {{"alpha", FloatA(0.5f)}});
  const std::string y = b.Qdq("p", "out", 0.02f, DType::kUint8, 128);
  b.Output(y);
  auto r = RunBoth(b.graph(), b.RandomInputs());
  ExpectClose(r, 0);
  EXPECT_EQ(r.report.qlinear_nodes, 0);
  EXPECT_EQ(Count(r.optimized, "Gemm"), 1);
}

TEST(Passes, QdqGemmBecomesPfQLinearGemm) {
  for (int tb : {0, 1}) {
    SCOPED_TRACE(tb);
    Builder b(14 + tb);
    b.Input("a", {16, 48});
    const float as = 0.01f, ys = 0.03f;
    const auto ws = Scales(24, 0.002f, 0.005f, 4);
    const std::string adq = b.Qdq("a", "in", as, DType::kUint8, 128);
    const std::string w = b.WeightDq("g", tb ? Shape{24, 48} : Shape{48, 24}, ws, tb ? 0 : 1);
    b.RandomConst("bias", {24}, -0.5f, 0.5f);
    b.Add("Gemm", {adq, w, "bias"}, {"p"}, {{"transB", IntA(tb)}});
    b.Add("Relu", {"p"}, {"r"});
    const std::string y = b.Qdq("r", "out", ys, DType::kUint8, 0);
    b.Output(y);
    auto r = RunBoth(b.graph(), b.RandomInputs());
    EXPECT_EQ(r.report.qlinear_nodes, 1);
    EXPECT_EQ(r.report.fused_activations, 1);
    ASSERT_EQ(Count(r.optimized, "PfQLinearGemm"), 1);
    for (const auto& n : r.optimized.nodes) {
      if (n.op_type == "PfQLinearGemm") {
        EXPECT_EQ(n.Int("transB", -1), tb);
        EXPECT_EQ(r.optimized.constants.at(n.inputs[8]).dtype, DType::kInt32);
      }
    }
    ASSERT_LT(0.5 * as * 0.005, ys);
    const StepStats st = Steps(r.after.at(y), r.before.at(y), ys);
    EXPECT_LE(st.max_steps, 1.0 + 1e-3);
    EXPECT_GE(st.exact, 0.98);
    EXPECT_GT(st.nonzero, 0);
  }
}

TEST(Passes, QdqAddBecomesPfQLinearAdd) {
  Builder b(16);
  b.Input("a", {1, 8, 12, 12});
  b.Input("c", {1, 8, 1, 12});  // broadcast
  const float ys = 0.015f;
  const std::string adq = b.Qdq("a", "qa", 0.01f, DType::kUint8, 128);
  const std::string cdq = b.Qdq("c", "qc", 0.008f, DType::kUint8, 110);
  b.Add("Add", {adq, cdq}, {"s"});
  b.Add("Relu", {"s"}, {"r"});
  const std::string y = b.Qdq("r", "out", ys, DType::kUint8, 0);
  b.Output(y);
  auto r = RunBoth(b.graph(), b.RandomInputs());
  EXPECT_EQ(r.report.qlinear_nodes, 1);
  EXPECT_EQ(Count(r.optimized, "PfQLinearAdd"), 1);
  EXPECT_EQ(Count(r.optimized, "Add"), 0);
  // PfQLinearAdd does the same float operations as DQ -> Add -> Relu -> Q: identical.
  const StepStats st = Steps(r.after.at(y), r.before.at(y), ys);
  EXPECT_EQ(st.max_steps, 0.0);
  EXPECT_GT(st.nonzero, 0);
}

// DQ -> GlobalAveragePool -> Q becomes ONNX Runtime's QLinearGlobalAveragePool arithmetic:
// acc = sum(q) - x_zp * N, y = saturate(round_half_even(float(acc) * S) + y_zp) with
// S = float(x_scale / float(y_scale * float(N))), checked here against that formula written out.
TEST(Passes, QdqGlobalAveragePoolBecomesPfQLinearGlobalAveragePool) {
  Builder b(17);
  b.Input("x", {1, 6, 7, 7});
  const float xs = 0.02f, ys = 0.011f;
  const int64_t xz = 100, yz = 90;
  const std::string xdq = b.Qdq("x", "qx", xs, DType::kUint8, xz);
  b.Add("GlobalAveragePool", {xdq}, {"g"});
  const std::string y = b.Qdq("g", "out", ys, DType::kUint8, yz);
  b.Output(y);
  const TensorMap inputs = b.RandomInputs(-2, 3);
  auto r = RunBoth(b.graph(), inputs);
  EXPECT_EQ(r.report.qlinear_nodes, 1);
  EXPECT_EQ(Count(r.optimized, "PfQLinearGlobalAveragePool"), 1);
  EXPECT_EQ(Count(r.optimized, "GlobalAveragePool"), 0);
  const Tensor& x = inputs.at("x");
  const Tensor& got = r.after.at(y);
  ASSERT_EQ(got.f.size(), 6u);
  const float scale = xs / (ys * 49.0f);
  for (int64_t c = 0; c < 6; ++c) {
    int64_t acc = -xz * 49;
    for (int64_t k = 0; k < 49; ++k) {
      const float q = std::nearbyint(x.f[c * 49 + k] / xs) + static_cast<float>(xz);
      acc += static_cast<int64_t>(std::clamp(q, 0.0f, 255.0f));
    }
    const float v = std::nearbyint(static_cast<float>(acc) * scale) + static_cast<float>(yz);
    const float want = (std::clamp(v, 0.0f, 255.0f) - static_cast<float>(yz)) * ys;
    EXPECT_EQ(got.f[c], want) << "channel " << c;
  }
  // The unfused fp32 chain averages the dequantized values: the same within one step.
  EXPECT_LE(Steps(got, r.before.at(y), ys).max_steps, 1.0);
}

// DQ -> MaxPool -> Q and DQ -> Flatten -> Q with the same scale and zero point run on the 8-bit
// tensor: exactly the same outputs, no DQ/Q left between them. Another scale keeps the fp32 form.
TEST(Passes, QdqMaxPoolAndFlattenRunOnEightBitTensors) {
  Builder b(19);
  b.Input("x", {1, 4, 6, 6});
  const std::string xdq = b.Qdq("x", "qx", 0.02f, DType::kUint8, 100);
  b.Add("MaxPool", {xdq}, {"mp"}, {{"kernel_shape", Ints({2, 2})}, {"strides", Ints({2, 2})}});
  const std::string mdq = b.Qdq("mp", "mq", 0.02f, DType::kUint8, 100);
  b.Add("Flatten", {mdq}, {"f"});
  const std::string y = b.Qdq("f", "fq", 0.02f, DType::kUint8, 100);
  b.Output(y);
  const TensorMap inputs = b.RandomInputs(-2, 3);
  auto r = RunBoth(b.graph(), inputs);
  EXPECT_EQ(r.report.qlinear_nodes, 2);
  EXPECT_EQ(Count(r.optimized, "MaxPool"), 1);
  EXPECT_EQ(Count(r.optimized, "Flatten"), 1);
  EXPECT_EQ(Count(r.optimized, "DequantizeLinear"), 1);  // only the graph output's
  EXPECT_EQ(Count(r.optimized, "QuantizeLinear"), 1);    // only the input's
  const Tensor& got = r.after.at(y);
  const Tensor& want = r.before.at(y);
  ASSERT_EQ(got.f.size(), want.f.size());
  for (size_t k = 0; k < got.f.size(); ++k) EXPECT_EQ(got.f[k], want.f[k]) << k;

  Builder c(19);
  c.Input("x", {1, 4, 6, 6});
  const std::string cdq = c.Qdq("x", "qx", 0.02f, DType::kUint8, 100);
  c.Add("MaxPool", {cdq}, {"mp"}, {{"kernel_shape", Ints({2, 2})}, {"strides", Ints({2, 2})}});
  const std::string cy = c.Qdq("mp", "mq", 0.03f, DType::kUint8, 100);
  c.Output(cy);
  auto rc = RunBoth(c.graph(), c.RandomInputs(-2, 3));
  EXPECT_EQ(rc.report.qlinear_nodes, 0);
  EXPECT_EQ(Count(rc.optimized, "DequantizeLinear"), 2);
}

TEST(Passes, QdqPatternThatDoesNotMatchStaysFp32) {
  // Weights with a non-zero zero point, and an op between DQ and Q that is not quantized
  // (Sigmoid): both stay DQ -> op -> Q; the weight DQ is folded into an fp32 constant.
  Builder b(17);
  b.Input("x", {1, 2, 6, 6});
  const std::string xdq = b.Qdq("x", "in", 0.01f, DType::kUint8, 128);
  b.RandomS8("wq", {3, 2, 3, 3});
  b.Scalar("ws", 0.01f);
  b.Zp("wz", DType::kInt8, 3);
  b.Add("DequantizeLinear", {"wq", "ws", "wz"}, {"w"});
  b.Add("Conv", {xdq, "w"}, {"c"});
  const std::string q = b.Qdq("c", "out", 0.05f, DType::kUint8, 128);
  b.Add("Sigmoid", {q}, {"sg"});
  const std::string y = b.Qdq("sg", "out2", 1.0f / 255, DType::kUint8, 0);
  b.Output(y);
  auto r = RunBoth(b.graph(), b.RandomInputs());
  ExpectClose(r);
  EXPECT_EQ(r.report.qlinear_nodes, 0);
  EXPECT_EQ(Count(r.optimized, "Conv"), 1);
  EXPECT_GE(r.report.folded_constants, 1);  // DQ(w) became an fp32 constant
  for (const auto& n : r.optimized.nodes) {
    if (n.op_type == "Conv") EXPECT_TRUE(r.optimized.constants.at(n.inputs[1]).is_float());
  }
}

}  // namespace
}  // namespace pf::engine
