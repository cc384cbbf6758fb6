#include "engine/onnx_import.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>

#include "engine/interpreter.h"
#include "engine/shape_inference.h"

namespace pf::engine {
namespace {

// y = Relu(x + w): x [2,3] input, w [3] initializer.
onnx::ModelProto SmallModel(int64_t opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  auto* os = m.add_opset_import();
  os->set_domain("");
  os->set_version(opset);
  auto* g = m.mutable_graph();
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_value(2);
  tt->mutable_shape()->add_dim()->set_dim_value(3);
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(3);
  for (float v : {1.0f, -2.0f, 0.5f}) w->add_float_data(v);
  auto* add = g->add_node();
  add->set_name("add0");
  add->set_op_type("Add");
  add->add_input("x");
  add->add_input("w");
  add->add_output("s");
  auto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->add_input("s");
  relu->add_output("y");
  g->add_output()->set_name("y");
  g->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  return m;
}

std::string Bytes(const onnx::ModelProto& m) { return m.SerializeAsString(); }

TEST(OnnxImport, LoadsInfersAndRuns) {
  auto g = LoadModelFromBytes(Bytes(SmallModel()));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->opset, 13);
  ASSERT_EQ(g->inputs.size(), 1u);
  EXPECT_EQ(g->inputs[0].shape, (Shape{2, 3}));
  auto shapes = InferShapes(*g);
  ASSERT_TRUE(shapes.ok()) << shapes.status().ToString();
  EXPECT_EQ(shapes->at("y").shape, (Shape{2, 3}));
  TensorMap in{{"x", Tensor::Float({2, 3}, {0, 0, 0, 1, 1, -1})}};
  auto out = RunReference(*g, in);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // relu([0+1, 0-2, 0+.5, 1+1, 1-2, -1+.5])
  EXPECT_EQ(out->at("y").f, (std::vector<float>{1, 0, 0.5f, 2, 0, 0}));
}

TEST(OnnxImport, RejectsGarbage) {
  auto g = LoadModelFromBytes("\xff\xff\xff not a model");
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(g.status().message().rfind("not an ONNX model", 0), 0u) << g.status().message();
}

TEST(OnnxImport, RejectsOpsetOutsideRange) {
  auto g = LoadModelFromBytes(Bytes(SmallModel(18)));
  EXPECT_EQ(g.status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(g.status().message(), "opset 18 of domain '' is not supported (11-17)");
  EXPECT_EQ(LoadModelFromBytes(Bytes(SmallModel(9))).status().message(),
            "opset 9 of domain '' is not supported (11-17)");
}

TEST(OnnxImport, NamesUnknownOperatorAndNode) {
  auto m = SmallModel();
  m.mutable_graph()->mutable_node(0)->set_op_type("FancyOp");
  auto g = LoadModelFromBytes(Bytes(m));
  EXPECT_EQ(g.status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(g.status().message(), "node 'add0' (FancyOp): operator 'FancyOp' is not supported");
}

TEST(OnnxImport, ReportsMissingInitializer) {
  auto m = SmallModel();
  m.mutable_graph()->clear_initializer();
  auto g = LoadModelFromBytes(Bytes(m));
  EXPECT_EQ(g.status().message(),
            "node 'add0' (Add): input 'w' is not a graph input, an initializer or any node's output");
}

TEST(OnnxImport, ReportsBadTensorSizes) {
  auto m = SmallModel();
  m.mutable_graph()->mutable_initializer(0)->add_float_data(7.0f);
  EXPECT_EQ(LoadModelFromBytes(Bytes(m)).status().message(),
            "initializer 'w': shape [3] needs 3 elements but float_data holds 4");
  auto r = SmallModel();
  auto* w = r.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_raw_data(std::string(11, '\0'));
  EXPECT_EQ(LoadModelFromBytes(Bytes(r)).status().message(),
            "initializer 'w': shape [3] of float needs 12 bytes but raw_data holds 11");
}

TEST(OnnxImport, RejectsHugeDeclaredShapeWithoutAllocating) {
  auto m = SmallModel();
  auto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_dims();
  w->add_dims(int64_t{1} << 40);
  w->add_dims(int64_t{1} << 40);
  EXPECT_EQ(LoadModelFromBytes(Bytes(m)).status().message(),
            "initializer 'w': shape [1099511627776,1099511627776] has more than 4294967296 elements");
  w->clear_dims();
  w->add_dims(int64_t{1} << 30);  // allowed count, but only 3 floats given: rejected before allocating
  EXPECT_EQ(LoadModelFromBytes(Bytes(m)).status().message(),
            "initializer 'w': shape [1073741824] needs 1073741824 elements but float_data holds 3");
}

TEST(OnnxImport, ReadsIntegerRawDataAndConstants) {
  auto m = SmallModel();
  auto* w = m.mutable_graph()->add_initializer();
  w->set_name("i8");
  w->set_data_type(onnx::TensorProto::INT8);
  w->add_dims(2);
  w->set_raw_data(std::string("\x80\x7f", 2));
  auto* c = m.mutable_graph()->add_node();
  c->set_op_type("Constant");
  c->add_output("k");
  auto* a = c->add_attribute();
  a->set_name("value_ints");
  a->set_type(onnx::AttributeProto::INTS);
  a->add_ints(-5);
  a->add_ints(1LL << 40);
  auto g = LoadModelFromBytes(Bytes(m));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->constants.at("i8").dtype, DType::kInt8);
  EXPECT_EQ(g->constants.at("i8").i, (std::vector<int64_t>{-128, 127}));
  EXPECT_EQ(g->constants.at("k").dtype, DType::kInt64);
  EXPECT_EQ(g->constants.at("k").i, (std::vector<int64_t>{-5, 1LL << 40}));
}

TEST(OnnxImport, TruncatedModelsFailCleanly) {
  const std::string bytes = Bytes(SmallModel());
  int rejected = 0;
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto g = LoadModelFromBytes(std::string_view(bytes).substr(0, len));
    rejected += !g.ok();
  }
  // Every strict prefix cuts a field or drops the graph's output; none may load.
  EXPECT_EQ(rejected, static_cast<int>(bytes.size()));
}

// A poor man's fuzz run: deterministic byte corruptions of a valid model either load and run
// or fail with a status; none may crash (the sanitizer build checks memory safety too).
TEST(OnnxImport, CorruptedModelsFailWithStatus) {
  const std::string good = Bytes(SmallModel());
  uint64_t state = 12345;
  auto next = [&state] { return (state = state * 6364136223846793005ULL + 1442695040888963407ULL) >> 33; };
  int loaded = 0, ran = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = good;
    const int flips = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < flips; ++k) bytes[next() % bytes.size()] = static_cast<char>(next() & 0xff);
    auto g = LoadModelFromBytes(bytes);
    if (!g.ok()) {
      EXPECT_FALSE(g.status().message().empty());
      continue;
    }
    ++loaded;
    TensorMap in;
    for (const auto& decl : g->inputs) {
      Shape s = decl.shape;
      for (auto& d : s) d = std::clamp<int64_t>(d, 0, 4);
      in[decl.name] = decl.dtype == DType::kFloat ? Tensor::Float(s) : Tensor::Int(decl.dtype, s);
    }
    ran += RunReference(*g, in).ok();
  }
  EXPECT_GT(loaded, 0);
  EXPECT_LE(ran, loaded);
}

TEST(OnnxImport, RunRejectsWrongInputShape) {
  auto g = LoadModelFromBytes(Bytes(SmallModel()));
  ASSERT_TRUE(g.ok());
  auto out = RunReference(*g, {{"x", Tensor::Float({3, 2})}});
  EXPECT_EQ(out.status().message(), "input 'x': shape [3,2] but the model expects [2,3]");
}

}  // namespace
}  // namespace pf::engine
