#include "engine/shape_inference.h"

#include <gtest/gtest.h>

namespace pf::engine {
namespace {

Attribute Ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}

// x [1,3,7,7] -> Conv(w [8,3,3,3], stride 2, SAME_LOWER) -> MaxPool(2x2, stride 2, ceil) ->
// Reshape(shape constant [1,-1]) -> Gemm(fc [10, 8*2*2] transB) -> y.
Graph SmallCnn() {
  Graph g;
  g.opset = 13;
  g.inputs.push_back({"x", DType::kFloat, {1, 3, 7, 7}});
  g.constants["w"] = Tensor::Float({8, 3, 3, 3});
  g.constants["shape"] = Tensor::Int(DType::kInt64, {2}, {1, -1});
  g.constants["fc"] = Tensor::Float({10, 32});
  Node conv;
  conv.name = "conv";
  conv.op_type = "Conv";
  conv.inputs = {"x", "w"};
  conv.outputs = {"c"};
  conv.attrs["strides"] = Ints({2, 2});
  conv.attrs["auto_pad"].kind = Attribute::Kind::kString;
  conv.attrs["auto_pad"].s = "SAME_LOWER";
  Node pool;
  pool.op_type = "MaxPool";
  pool.inputs = {"c"};
  pool.outputs = {"p"};
  pool.attrs["kernel_shape"] = Ints({2, 2});
  pool.attrs["strides"] = Ints({2, 2});
  pool.attrs["ceil_mode"].i = 1;
  Node reshape;
  reshape.name = "flat";
  reshape.op_type = "Reshape";
  reshape.inputs = {"p", "shape"};
  reshape.outputs = {"f"};
  Node gemm;
  gemm.op_type = "Gemm";
  gemm.inputs = {"f", "fc"};
  gemm.outputs = {"y"};
  gemm.attrs["transB"].i = 1;
  g.nodes = {conv, pool, reshape, gemm};
  g.outputs.push_back({"y", DType::kFloat, {1, 10}});
  return g;
}

TEST(ShapeInference, PropagatesThroughSmallCnn) {
  Graph g = SmallCnn();
  auto s = InferShapes(g);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  // SAME: ceil(7 / 2) = 4; pool ceil((4 - 2) / 2) + 1 = 2; 8 * 2 * 2 = 32.
  EXPECT_EQ(s->at("c").shape, (Shape{1, 8, 4, 4}));
  EXPECT_EQ(s->at("p").shape, (Shape{1, 8, 2, 2}));
  EXPECT_EQ(s->at("f").shape, (Shape{1, 32}));
  EXPECT_EQ(s->at("y").shape, (Shape{1, 10}));
}

TEST(ShapeInference, ReportsWhatIsNotStatic) {
  Graph g = SmallCnn();
  g.inputs[0].shape = {-1, 3, 7, 7};
  EXPECT_EQ(InferShapes(g).status().message(), "graph input 'x' has a dynamic shape [-1,3,7,7]");
  Graph h = SmallCnn();
  h.constants.erase("shape");
  h.inputs.push_back({"shape", DType::kInt64, {2}});
  auto s = InferShapes(h);
  EXPECT_EQ(s.status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(s.status().message(), "node 'flat' (Reshape): input 'shape' must be a constant for static shapes");
}

TEST(ShapeInference, ReportsShapeMismatches) {
  Graph g = SmallCnn();
  g.constants["fc"] = Tensor::Float({10, 31});
  EXPECT_EQ(InferShapes(g).status().message(), "node 'y' (Gemm): inner dimensions differ (32 and 31)");
  Graph h = SmallCnn();
  h.outputs[0].shape = {1, 11};
  EXPECT_EQ(InferShapes(h).status().message(), "graph output 'y': declared shape [1,11] but inferred [1,10]");
}

}  // namespace
}  // namespace pf::engine
