// Reference kernels against values computed by hand (closed forms stated beside each case).
#include "engine/ops.h"

#include <gtest/gtest.h>

#include <cmath>

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
Attribute Str(std::string s) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(s);
  return a;
}

// Runs one op through Infer then Run, like the interpreter.
Result<std::vector<Tensor>> RunOp(const Node& n, const std::vector<const Tensor*>& in, int64_t opset = 13) {
  const OpDef* def = FindOp(n.op_type);
  if (!def) return NotFound("no op {}", n.op_type);
  std::vector<TensorInfo> infos;
  infos.reserve(in.size());
  std::vector<const TensorInfo*> ptrs;
  for (const Tensor* t : in) {
    infos.push_back(t ? TensorInfo{t->dtype, t->shape, t} : TensorInfo{});
    ptrs.push_back(t ? &infos.back() : nullptr);
  }
  PF_ASSIGN_OR_RETURN(auto outs, def->infer(n, ptrs, opset));
  return def->run(n, in, outs, opset);
}

Node Op(std::string type, std::map<std::string, Attribute> attrs = {}) {
  Node n;
  n.name = "t";
  n.op_type = std::move(type);
  n.outputs = {"y"};
  n.attrs = std::move(attrs);
  return n;
}

TEST(Ops, ConvSameUpperStride2) {
  // x = 1..16 in 4x4, w = ones 3x3, stride 2, SAME_UPPER: out 2x2, total pad 1 (at the end).
  // y[0][0] = sum x[0..1][0..1] = 1+2+5+6 = 14; y[0][1] = x rows 0-1 cols 2-3 = 3+4+7+8 = 22;
  // y[1][0] = rows 2-3 cols 0-1 = 9+10+13+14 = 46... with 3x3 windows starting at (0,0),(0,2),(2,0),(2,2):
  // (0,0): rows 0-2 cols 0-2 = 1+2+3+5+6+7+9+10+11 = 54; (0,2): cols 2-3 = 3+4+7+8+11+12 = 45;
  // (2,0): rows 2-3 = 9+10+11+13+14+15 = 72; (2,2): 11+12+15+16 = 54.
  std::vector<float> xv(16);
  for (int k = 0; k < 16; ++k) xv[k] = k + 1.0f;
  Tensor x = Tensor::Float({1, 1, 4, 4}, xv);
  Tensor w = Tensor::Float({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
  Tensor b = Tensor::Float({1}, {0.5f});
  auto y = RunOp(Op("Conv", {{"strides", Ints({2, 2})}, {"auto_pad", Str("SAME_UPPER")}}), {&x, &w, &b});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ((*y)[0].shape, (Shape{1, 1, 2, 2}));
  EXPECT_EQ((*y)[0].f, (std::vector<float>{54.5f, 45.5f, 72.5f, 54.5f}));
}

TEST(Ops, ConvTransposeStride2) {
  // 1-D, x = [1, 2], w = [1, 1, 1], stride 2: full length 2 * (2 - 1) + 3 = 5; x0 lands on 0..2,
  // x1 on 2..4: y = [1, 1, 1 + 2, 2, 2] + bias 1.
  Tensor x = Tensor::Float({1, 1, 2}, {1, 2});
  Tensor w = Tensor::Float({1, 1, 3}, {1, 1, 1});
  Tensor b = Tensor::Float({1}, {1});
  auto y = RunOp(Op("ConvTranspose", {{"strides", Ints({2})}}), {&x, &w, &b});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ((*y)[0].f, (std::vector<float>{2, 2, 4, 3, 3}));
  // pads [1, 1] trim one output at each end.
  auto p = RunOp(Op("ConvTranspose", {{"strides", Ints({2})}, {"pads", Ints({1, 1})}}), {&x, &w, nullptr});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)[0].f, (std::vector<float>{1, 3, 2}));
}

TEST(Ops, DepthwiseConvWithDilation) {
  // Two channels, group 2, 1-D: x0 = [1,2,3,4,5], x1 = [10,20,30,40,50], w = [1,-1] per channel
  // with dilation 2: y[i] = x[i] - x[i+2] = -2 everywhere; output length 5 - 2 = 3.
  Tensor x = Tensor::Float({1, 2, 5}, {1, 2, 3, 4, 5, 10, 20, 30, 40, 50});
  Tensor w = Tensor::Float({2, 1, 2}, {1, -1, 1, -1});
  auto y = RunOp(Op("Conv", {{"group", IntA(2)}, {"dilations", Ints({2})}}), {&x, &w, nullptr});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ((*y)[0].f, (std::vector<float>{-2, -2, -2, -20, -20, -20}));
}

TEST(Ops, AveragePoolCountIncludePad) {
  // x = [[1,2],[3,4]], kernel 2x2, pads 1: the corner window holds one real element.
  Tensor x = Tensor::Float({1, 1, 2, 2}, {1, 2, 3, 4});
  auto attrs = std::map<std::string, Attribute>{{"kernel_shape", Ints({2, 2})}, {"pads", Ints({1, 1, 1, 1})},
                                                {"strides", Ints({2, 2})}};
  auto excl = RunOp(Op("AveragePool", attrs), {&x});
  ASSERT_TRUE(excl.ok());
  EXPECT_EQ((*excl)[0].f, (std::vector<float>{1, 2, 3, 4}));
  attrs["count_include_pad"] = IntA(1);
  auto incl = RunOp(Op("AveragePool", attrs), {&x});
  ASSERT_TRUE(incl.ok());
  EXPECT_EQ((*incl)[0].f, (std::vector<float>{0.25f, 0.5f, 0.75f, 1.0f}));
}

TEST(Ops, MaxPoolCeilModeShape) {
  // 5 wide, kernel 2, stride 2: floor gives 2 outputs, ceil 3 (the last window holds x[4] alone).
  Tensor x = Tensor::Float({1, 1, 1, 5}, {1, 9, 3, 7, 5});
  auto y = RunOp(Op("MaxPool", {{"kernel_shape", Ints({1, 2})}, {"strides", Ints({1, 2})}, {"ceil_mode", IntA(1)}}),
                 {&x});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ((*y)[0].f, (std::vector<float>{9, 7, 5}));
}

TEST(Ops, SoftmaxAxisSemanticsChangeAtOpset13) {
  // x [2,2] = [[0, ln3],[0, 0]]. Opset 13, axis -1: rows [1/4, 3/4], [1/2, 1/2].
  // Opset 11, axis 0: the whole tensor is one group: exp sum = 1+3+1+1 = 6.
  Tensor x = Tensor::Float({2, 2}, {0, std::log(3.0f), 0, 0});
  auto y13 = RunOp(Op("Softmax"), {&x}, 13);
  ASSERT_TRUE(y13.ok());
  const std::vector<float> want13{0.25f, 0.75f, 0.5f, 0.5f};
  for (int k = 0; k < 4; ++k) EXPECT_NEAR((*y13)[0].f[k], want13[k], 1e-6);
  auto y11 = RunOp(Op("Softmax", {{"axis", IntA(0)}}), {&x}, 11);
  ASSERT_TRUE(y11.ok());
  const std::vector<float> want11{1 / 6.0f, 3 / 6.0f, 1 / 6.0f, 1 / 6.0f};
  for (int k = 0; k < 4; ++k) EXPECT_NEAR((*y11)[0].f[k], want11[k], 1e-6);
}

TEST(Ops, GemmTransBWithBroadcastBias) {
  // A [1,2] = [1,2], B^T: B [2,2] = [[3,4],[5,6]] so A*B^T = [1*3+2*4, 1*5+2*6] = [11, 17];
  // alpha 2, beta 0.5, C = [10] -> [27, 39].
  Tensor a = Tensor::Float({1, 2}, {1, 2});
  Tensor b = Tensor::Float({2, 2}, {3, 4, 5, 6});
  Tensor c = Tensor::Float({1}, {10});
  Attribute alpha, beta;
  alpha.kind = beta.kind = Attribute::Kind::kFloat;
  alpha.f = 2;
  beta.f = 0.5f;
  auto y = RunOp(Op("Gemm", {{"transB", IntA(1)}, {"alpha", alpha}, {"beta", beta}}), {&a, &b, &c});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ((*y)[0].f, (std::vector<float>{27, 39}));
}

TEST(Ops, AddBroadcastsAndRejectsMismatch) {
  Tensor a = Tensor::Float({2, 1}, {1, 2});
  Tensor b = Tensor::Float({3}, {10, 20, 30});
  auto y = RunOp(Op("Add"), {&a, &b});
  ASSERT_TRUE(y.ok());
  EXPECT_EQ((*y)[0].shape, (Shape{2, 3}));
  EXPECT_EQ((*y)[0].f, (std::vector<float>{11, 21, 31, 12, 22, 32}));
  Tensor c = Tensor::Float({2}, {1, 2});
  auto bad = RunOp(Op("Add"), {&b, &c});
  EXPECT_EQ(bad.status().message(), "node 't' (Add): shapes [3] and [2] do not broadcast");
}

TEST(Ops, QuantizeRoundsHalfToEvenAndSaturates) {
  // x = [0.25, 0.75, 1.25, -0.25, 150], scale 0.5: x / s = [0.5, 1.5, 2.5, -0.5, 300], rounded half
  // to even [0, 2, 2, 0, 300], plus zero point 10: [10, 12, 12, 10, 310], saturated at 255.
  // Dequantized: (q - 10) * 0.5 = [0, 1, 1, 0, 122.5].
  Tensor x = Tensor::Float({5}, {0.25f, 0.75f, 1.25f, -0.25f, 150});
  Tensor s = Tensor::Float({}, {0.5f});
  Tensor zp = Tensor::Int(DType::kUint8, {}, {10});
  auto y = RunOp(Op("QuantizeLinear"), {&x, &s, &zp});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ((*y)[0].dtype, DType::kUint8);
  EXPECT_EQ((*y)[0].i, (std::vector<int64_t>{10, 12, 12, 10, 255}));
  auto d = RunOp(Op("DequantizeLinear"), {&(*y)[0], &s, &zp});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)[0].f, (std::vector<float>{0, 1, 1, 0, 122.5f}));
}

TEST(Ops, SliceNegativeStepAndReshapeInference) {
  Tensor x = Tensor::Float({6}, {0, 1, 2, 3, 4, 5});
  Tensor starts = Tensor::Int(DType::kInt64, {1}, {-1});
  Tensor ends = Tensor::Int(DType::kInt64, {1}, {INT64_MIN});
  Tensor axes = Tensor::Int(DType::kInt64, {1}, {0});
  Tensor steps = Tensor::Int(DType::kInt64, {1}, {-2});
  auto y = RunOp(Op("Slice"), {&x, &starts, &ends, &axes, &steps});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ((*y)[0].f, (std::vector<float>{5, 3, 1}));
  Tensor shape = Tensor::Int(DType::kInt64, {3}, {0, -1, 1});
  Tensor x2 = Tensor::Float({2, 3});
  auto r = RunOp(Op("Reshape"), {&x2, &shape});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].shape, (Shape{2, 3, 1}));
}

TEST(Ops, ResizeLinearHalfPixel) {
  // [1, 3] upsampled x2 (half_pixel): source coords -0.25, 0.25, 0.75, 1.25, clamped into [0,1]:
  // 1, 1.5, 2.5, 3.
  Tensor x = Tensor::Float({1, 1, 1, 2}, {1, 3});
  Tensor scales = Tensor::Float({4}, {1, 1, 1, 2});
  auto y = RunOp(Op("Resize", {{"mode", Str("linear")}}), {&x, nullptr, &scales});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ((*y)[0].f, (std::vector<float>{1, 1.5f, 2.5f, 3}));
}

TEST(Ops, PadReflect) {
  // reflect [1,2,3] by 2 on both sides: [3,2,1,2,3,2,1].
  Tensor x = Tensor::Float({3}, {1, 2, 3});
  Tensor pads = Tensor::Int(DType::kInt64, {2}, {2, 2});
  auto y = RunOp(Op("Pad", {{"mode", Str("reflect")}}), {&x, &pads});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ((*y)[0].f, (std::vector<float>{3, 2, 1, 2, 3, 2, 1}));
}

TEST(Ops, UnsqueezeAxesMoveFromAttributeToInput) {
  Tensor x = Tensor::Float({3});
  auto y11 = RunOp(Op("Unsqueeze", {{"axes", Ints({0, -1})}}), {&x}, 11);
  ASSERT_TRUE(y11.ok()) << y11.status().ToString();
  EXPECT_EQ((*y11)[0].shape, (Shape{1, 3, 1}));
  Tensor axes = Tensor::Int(DType::kInt64, {1}, {1});
  auto y13 = RunOp(Op("Unsqueeze"), {&x, &axes}, 13);
  ASSERT_TRUE(y13.ok());
  EXPECT_EQ((*y13)[0].shape, (Shape{3, 1}));
  EXPECT_EQ(RunOp(Op("Unsqueeze"), {&x}, 13).status().message(),
            "node 't' (Unsqueeze): input 'axes' is required");
}

}  // namespace
}  // namespace pf::engine
