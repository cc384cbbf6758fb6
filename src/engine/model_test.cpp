// Models behind one interface: an ONNX model built here (Gemm + Softmax, outputs checked against
// the formula computed in the test) with its manifest in metadata_props, an XGBoost model trained
// here with its manifest beside it, and the bad-input acceptance: truncated and corrupt ONNX, an
// unsupported op (node and op named), a shape mismatch and a wrong .npy dtype, each a precise
// error and no crash.
#include "engine/model.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <fstream>
#include <random>

#include "engine/npy.h"
#include "testing.h"

namespace pf::engine {
namespace {

// probs = Softmax(x W + b): x [1,4] input, W [4,3], b [3].
const std::vector<float> kW{0.5f, -1, 0.25f, 1, 0.5f, -0.5f, -2, 0, 1, 0.125f, 0.75f, -0.25f};
const std::vector<float> kB{0.1f, -0.2f, 0.3f};

void AddInitializer(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> dims, const std::vector<float>& v) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  for (float f : v) t->add_float_data(f);
}

void SetValue(onnx::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

onnx::ModelProto Classifier(const std::string& softmax_op = "Softmax") {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  SetValue(g->add_input(), "x", {1, 4});
  AddInitializer(g, "W", {4, 3}, kW);
  AddInitializer(g, "b", {3}, kB);
  auto* gemm = g->add_node();
  gemm->set_name("fc");
  gemm->set_op_type("Gemm");
  for (const char* in : {"x", "W", "b"}) gemm->add_input(in);
  gemm->add_output("logits");
  auto* sm = g->add_node();
  sm->set_name("head");
  sm->set_op_type(softmax_op);
  sm->add_input("logits");
  sm->add_output("probs");
  SetValue(g->add_output(), "probs", {1, 3});
  return m;
}

std::vector<float> Expected(const std::vector<float>& x) {
  std::vector<double> z(3);
  double sum = 0;
  for (int c = 0; c < 3; ++c) {
    z[c] = kB[c];
    for (int k = 0; k < 4; ++k) z[c] += x[k] * kW[k * 3 + c];
  }
  for (double& v : z) sum += (v = std::exp(v));
  std::vector<float> out;
  for (double v : z) out.push_back(static_cast<float>(v / sum));
  return out;
}

std::string ManifestFor(const std::string& hash, const std::string& input_shape = "[1, 4]") {
  return fmt::format(R"({{"manifest_version": 1, "name": "press_state", "version": "0.3.0", "model_sha256": "{}",
    "inputs": [{{"name": "x", "shape": {}, "dtype": "float", "preprocessing": "4 tags, 1 s mean"}}],
    "outputs": [{{"name": "probs", "meaning": "state probability", "class_names": ["idle", "run", "fault"],
                 "thresholds": {{"fault": 0.7}}}}]}})",
                     hash, input_shape);
}

class ModelTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::string WithManifest(onnx::ModelProto m, const std::string& input_shape = "[1, 4]") {
    const std::string hash = *OnnxModelHash(m.SerializeAsString());
    auto* p = m.add_metadata_props();
    p->set_key("pf.manifest");
    p->set_value(ManifestFor(hash, input_shape));
    return m.SerializeAsString();
  }
  pf::testing::TempDir dir_;
};

TEST_F(ModelTest, OnnxWithManifestRunsAndMatchesTheFormula) {
  auto m = LoadModel(Write("c.onnx", WithManifest(Classifier())));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->kind(), "onnx");
  const Manifest& man = (*m)->manifest();
  EXPECT_TRUE(man.present);
  EXPECT_EQ(man.name, "press_state");
  EXPECT_EQ(man.outputs[0].class_names[2], "fault");
  EXPECT_EQ(man.outputs[0].thresholds.at("fault"), 0.7);
  ASSERT_EQ((*m)->inputs().size(), 1u);
  EXPECT_EQ((*m)->inputs()[0].shape, (Shape{1, 4}));
  const std::vector<float> x{0.3f, -1.2f, 2.0f, 0.7f};
  auto r = (*m)->Run({{"x", Tensor::Float({1, 4}, x)}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Tensor& probs = r->outputs.at("probs");
  ASSERT_EQ(probs.shape, (Shape{1, 3}));
  const std::vector<float> want = Expected(x);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(probs.f[c], want[c], 1e-6 * 1) << c;
  EXPECT_GE(r->latency_ms, 0);
  EXPECT_FALSE(r->late);
  auto late = (*m)->Run({{"x", Tensor::Float({1, 4}, x)}}, std::chrono::nanoseconds(0));
  ASSERT_TRUE(late.ok());
  EXPECT_TRUE(late->late);
}

TEST_F(ModelTest, OnnxWithoutManifestDescribesItselfUnlessRequired) {
  const std::string path = Write("plain.onnx", Classifier().SerializeAsString());
  auto m = LoadModel(path);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_FALSE((*m)->manifest().present);
  EXPECT_EQ((*m)->manifest().name, "plain");
  EXPECT_EQ((*m)->manifest().model_sha256, *OnnxModelHash(Classifier().SerializeAsString()));
  EXPECT_EQ((*m)->manifest().outputs[0].name, "probs");
  ModelOptions strict;
  strict.require_manifest = true;
  auto s = LoadModel(path, strict);
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.status().message(), path + ": no manifest (" + path + ": metadata 'pf.manifest')");
}

TEST_F(ModelTest, ManifestThatDoesNotMatchTheModelIsAnError) {
  const std::string path = Write("c.onnx", WithManifest(Classifier(), "[1, 5]"));
  auto m = LoadModel(path);
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m.status().message(), path + ": manifest 'inputs[0]' ('x').shape [1,5] does not match the model's "
                                         "declared input shape [1,4]");
  // The manifest of another graph: the hash differs.
  onnx::ModelProto other = Classifier();
  other.mutable_graph()->mutable_initializer(1)->set_float_data(0, 9.0f);
  auto* p = other.add_metadata_props();
  p->set_key("pf.manifest");
  p->set_value(ManifestFor(*OnnxModelHash(Classifier().SerializeAsString())));
  auto h = LoadModel(Write("o.onnx", other.SerializeAsString()));
  EXPECT_NE(h.status().message().find("manifest 'model_sha256' "), std::string::npos) << h.status().message();
  EXPECT_NE(h.status().message().find("does not match the model's hash"), std::string::npos);
}

TEST_F(ModelTest, BadInputsArePreciseErrors) {
  const std::string bytes = WithManifest(Classifier());
  // Truncated: every prefix is rejected cleanly (no crash), and the message says what.
  for (size_t len : {size_t{0}, size_t{1}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 1}) {
    auto t = LoadModel(Write("t.onnx", bytes.substr(0, len)));
    EXPECT_FALSE(t.ok()) << len;
    EXPECT_NE(t.status().message().find("t.onnx"), std::string::npos) << t.status().message();
  }
  auto half = LoadModel(Write("t.onnx", bytes.substr(0, bytes.size() / 2)));
  EXPECT_EQ(half.status().message(),
            fmt::format("{}/t.onnx: not an ONNX model: protobuf ModelProto parse failed ({} bytes)", dir_.path(),
                        bytes.size() / 2));
  // Corrupt: bytes flipped all over; each load ends in a Status (ok or not), never a crash.
  std::mt19937 rng(5);
  int rejected = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::string c = bytes;
    for (int k = 0; k < 4; ++k) c[rng() % c.size()] = static_cast<char>(rng());
    auto r = LoadModel(Write("c.onnx", c));
    rejected += !r.ok();
    if (!r.ok()) EXPECT_FALSE(r.status().message().empty());
  }
  EXPECT_GT(rejected, 100);
  // Unsupported op: the node and the op are named.
  auto u = LoadModel(Write("u.onnx", Classifier("Hardmax").SerializeAsString()));
  EXPECT_EQ(u.status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(u.status().message(), dir_.path() + "/u.onnx: node 'head' (Hardmax): operator 'Hardmax' is not supported");
  // Shape mismatch and wrong dtype at run time.
  auto m = LoadModel(Write("c.onnx", bytes));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->Run({{"x", Tensor::Float({1, 5})}}).status().message(),
            "input 'x': shape [1,5] does not match model input 'x' of shape [1,4] (-1: any size)");
  const std::string npy = Write("x.npy", WriteNpy(Tensor::Int(DType::kInt64, {1, 4}, {1, 2, 3, 4})));
  auto x = ReadNpyFile(npy);
  ASSERT_TRUE(x.ok());
  Status wrong = CheckTensorForInput(*x, (*m)->inputs()[0], npy);
  EXPECT_EQ(wrong.message(), npy + ": dtype int64 ('<i8') does not match model input 'x' of dtype float ('<f4')");
  EXPECT_EQ((*m)->Run({{"x", *x}}).status().message(),
            "input 'x': dtype int64 ('<i8') does not match model input 'x' of dtype float ('<f4')");
  EXPECT_EQ((*m)->Run({}).status().message(), "model input 'x' is missing");
  EXPECT_EQ((*m)->Run({{"x", Tensor::Float({1, 4})}, {"y", Tensor::Float({1})}}).status().message(),
            "input 'y' is not an input of the model");
}

TEST_F(ModelTest, XgboostModelWithManifestBesideIt) {
  // 200 rows, 3 features, label x0 > x1.
  std::mt19937 rng(9);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> x(600), y(200);
  for (auto& v : x) v = g(rng);
  for (int r = 0; r < 200; ++r) y[r] = x[r * 3] > x[r * 3 + 1] ? 1.0f : 0.0f;
  DMatrixHandle dm;
  BoosterHandle h;
  ASSERT_EQ(XGDMatrixCreateFromMat(x.data(), 200, 3, std::nanf(""), &dm), 0);
  ASSERT_EQ(XGDMatrixSetFloatInfo(dm, "label", y.data(), 200), 0);
  ASSERT_EQ(XGBoosterCreate(&dm, 1, &h), 0);
  ASSERT_EQ(XGBoosterSetParam(h, "objective", "binary:logistic"), 0);
  ASSERT_EQ(XGBoosterSetParam(h, "nthread", "1"), 0);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(XGBoosterUpdateOneIter(h, i, dm), 0);
  bst_ulong len = 0;
  const char* buf = nullptr;
  ASSERT_EQ(XGBoosterSaveModelToBuffer(h, R"({"format": "json"})", &len, &buf), 0);
  const std::string bytes(buf, len);
  const bst_ulong* shape;
  bst_ulong dim;
  const float* want;
  ASSERT_EQ(XGBoosterPredictFromDMatrix(h, dm, R"({"type": 0, "training": false, "iteration_begin": 0, )"
                                        R"("iteration_end": 0, "strict_shape": true})", &shape, &dim, &want), 0);
  const std::vector<float> expected(want, want + 200);
  XGBoosterFree(h);
  XGDMatrixFree(dm);

  const std::string path = Write("press.json", bytes);
  Write("press.json.manifest.json",
        fmt::format(R"({{"manifest_version": 1, "name": "press_wear", "version": "1", "model_sha256": "{}",
          "inputs": [{{"name": "tags", "shape": [-1, 3], "dtype": "float"}}],
          "outputs": [{{"name": "wear", "meaning": "probability of tool wear", "thresholds": {{"alarm": 0.9}}}}],
          "training_data": [{{"input": "tags", "feature": "force_kn", "count": 200, "mean": 0.0, "std": 1.0,
                             "min": -3, "max": 3, "p01": -2.3, "p50": 0.0, "p99": 2.3}}]}})",
                    Sha256Hex(bytes)));
  auto m = LoadModel(path);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->kind(), "xgboost");
  EXPECT_EQ((*m)->inputs()[0].name, "tags");
  EXPECT_EQ((*m)->inputs()[0].shape, (Shape{-1, 3}));
  EXPECT_EQ((*m)->outputs()[0].name, "wear");
  EXPECT_EQ((*m)->manifest().training_data[0].feature, "force_kn");
  auto r = (*m)->Run({{"tags", Tensor::Float({200, 3}, x)}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Tensor& wear = r->outputs.at("wear");
  ASSERT_EQ(wear.shape, (Shape{200, 1}));
  for (int k = 0; k < 200; ++k) ASSERT_FLOAT_EQ(wear.f[k], expected[k]) << k;
  EXPECT_EQ((*m)->Run({{"x", Tensor::Float({1, 3})}}).status().message(),
            "tree model takes exactly one input 'tags' (1 given, first 'x')");

  // The manifest of another model file: the hash check fails and names the field.
  Write("press.json", bytes + " ");
  auto stale = LoadModel(path);
  EXPECT_EQ(stale.status().message().find(path + ": manifest 'model_sha256' "), 0u) << stale.status().message();
}

}  // namespace
}  // namespace pf::engine
