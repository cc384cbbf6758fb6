// `plantfloor model inspect|run|bench` on small ONNX models built here: a CNN whose operator
// counts, parameter count and MACs are known in closed form (Conv 2x1x3x3 on 4x4 with pads 1:
// 2*4*4*9 = 288 MACs; Gemm 32->3: 96 MACs; 18+2+96+3 = 119 parameters), its outputs compared with
// the reference interpreter on the same graph, a QDQ MatMul that the passes turn into one int8
// node, and bad inputs (wrong .npy dtype, unknown input name, unsupported op, truncated file):
// exit code 2 and a message that says where and what.
#include "cli/model_cmd.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "engine/interpreter.h"
#include "engine/manifest.h"
#include "engine/npy.h"
#include "engine/onnx_import.h"
#include "testing.h"

namespace pf {
namespace {

using engine::DType;
using engine::Tensor;

struct Outcome {
  int code;
  std::string out, err;
  nlohmann::json json() const { return nlohmann::json::parse(out); }
};

Outcome Model(ModelArgs a) {
  std::ostringstream out, err;
  int code = RunModelCommand(a, out, err);
  return {code, out.str(), err.str()};
}

void Init(onnx::GraphProto* g, const std::string& name, int type, std::vector<int64_t> dims, std::vector<float> v) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  for (float f : v) {
    if (type == onnx::TensorProto::FLOAT) t->add_float_data(f);
    else t->add_int32_data(static_cast<int32_t>(f));
  }
}

void Value(onnx::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

onnx::NodeProto* Add(onnx::GraphProto* g, const std::string& name, const std::string& op, std::vector<std::string> in,
                     std::vector<std::string> out) {
  auto* n = g->add_node();
  n->set_name(name);
  n->set_op_type(op);
  for (auto& s : in) n->add_input(s);
  for (auto& s : out) n->add_output(s);
  return n;
}

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (auto& e : v) e = u(rng);
  return v;
}

// x [1,1,4,4] -> Conv(2 filters 3x3, pads 1) -> Relu -> Flatten -> Gemm(32 -> 3) -> Softmax -> probs [1,3]
onnx::ModelProto SmallCnn(const std::string& last_op = "Softmax") {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  Value(g->add_input(), "x", {1, 1, 4, 4});
  Init(g, "w", onnx::TensorProto::FLOAT, {2, 1, 3, 3}, Random(18, 1));
  Init(g, "b", onnx::TensorProto::FLOAT, {2}, {0.1f, -0.1f});
  Init(g, "W", onnx::TensorProto::FLOAT, {32, 3}, Random(96, 2));
  Init(g, "B", onnx::TensorProto::FLOAT, {3}, {0, 0.5f, -0.5f});
  auto* conv = Add(g, "conv1", "Conv", {"x", "w", "b"}, {"c"});
  auto* pads = conv->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int k = 0; k < 4; ++k) pads->add_ints(1);
  Add(g, "relu1", "Relu", {"c"}, {"r"});
  Add(g, "flat", "Flatten", {"r"}, {"f"});
  Add(g, "fc", "Gemm", {"f", "W", "B"}, {"logits"});
  Add(g, "head", last_op, {"logits"}, {"probs"});
  Value(g->add_output(), "probs", {1, 3});
  return m;
}

// conv1 (8 ch) -> Relu -> conv2 (8 ch) -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> Softmax, with
// channels 0 and 3 of conv1 and 1 and 5 of conv2 dead (zero weights and bias): removing a quarter of
// the channels by L1 norm must remove exactly those and leave the output unchanged.
onnx::ModelProto PrunableCnn() {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  Value(g->add_input(), "x", {1, 1, 8, 8});
  std::vector<float> w1 = Random(8 * 9, 11), b1 = Random(8, 12), w2 = Random(8 * 8 * 9, 13), b2 = Random(8, 14);
  for (int dead : {0, 3}) {
    std::fill(w1.begin() + dead * 9, w1.begin() + (dead + 1) * 9, 0.0f);
    b1[dead] = 0;
  }
  for (int dead : {1, 5}) {
    std::fill(w2.begin() + dead * 72, w2.begin() + (dead + 1) * 72, 0.0f);
    b2[dead] = 0;
  }
  Init(g, "w1", onnx::TensorProto::FLOAT, {8, 1, 3, 3}, w1);
  Init(g, "b1", onnx::TensorProto::FLOAT, {8}, b1);
  Init(g, "w2", onnx::TensorProto::FLOAT, {8, 8, 3, 3}, w2);
  Init(g, "b2", onnx::TensorProto::FLOAT, {8}, b2);
  Init(g, "W", onnx::TensorProto::FLOAT, {3, 8}, Random(24, 15));
  Init(g, "B", onnx::TensorProto::FLOAT, {3}, {0.1f, 0, -0.1f});
  for (const char* c : {"conv1", "conv2"}) {
    const bool first = std::string(c) == "conv1";
    auto* conv = Add(g, c, "Conv", {first ? "x" : "r1", first ? "w1" : "w2", first ? "b1" : "b2"}, {first ? "c1" : "c2"});
    auto* pads = conv->add_attribute();
    pads->set_name("pads");
    pads->set_type(onnx::AttributeProto::INTS);
    for (int k = 0; k < 4; ++k) pads->add_ints(1);
    Add(g, first ? "relu1" : "relu2", "Relu", {first ? "c1" : "c2"}, {first ? "r1" : "r2"});
  }
  Add(g, "gap", "GlobalAveragePool", {"r2"}, {"p"});
  Add(g, "flat", "Flatten", {"p"}, {"f"});
  auto* gemm = Add(g, "fc", "Gemm", {"f", "W", "B"}, {"logits"});
  auto* tb = gemm->add_attribute();
  tb->set_name("transB");
  tb->set_type(onnx::AttributeProto::INT);
  tb->set_i(1);
  Add(g, "head", "Softmax", {"logits"}, {"probs"});
  Value(g->add_output(), "probs", {1, 3});
  return m;
}

// y = DQ(Q(DQ(Q(x)) @ DQ(w))): the QDQ pattern the passes turn into one QLinearMatMul.
onnx::ModelProto QdqMatMul() {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  Value(g->add_input(), "x", {1, 4});
  Init(g, "xs", onnx::TensorProto::FLOAT, {}, {0.02f});
  Init(g, "xz", onnx::TensorProto::UINT8, {}, {128});
  Init(g, "w", onnx::TensorProto::INT8, {4, 3}, {10, -20, 30, 40, -50, 60, -70, 80, -90, 100, 110, -120});
  Init(g, "ws", onnx::TensorProto::FLOAT, {}, {0.01f});
  Init(g, "wz", onnx::TensorProto::INT8, {}, {0});
  Init(g, "ys", onnx::TensorProto::FLOAT, {}, {0.05f});
  Init(g, "yz", onnx::TensorProto::UINT8, {}, {128});
  Add(g, "qx", "QuantizeLinear", {"x", "xs", "xz"}, {"xq"});
  Add(g, "dqx", "DequantizeLinear", {"xq", "xs", "xz"}, {"xd"});
  Add(g, "dqw", "DequantizeLinear", {"w", "ws", "wz"}, {"wd"});
  Add(g, "mm", "MatMul", {"xd", "wd"}, {"yf"});
  Add(g, "qy", "QuantizeLinear", {"yf", "ys", "yz"}, {"yq"});
  Add(g, "dqy", "DequantizeLinear", {"yq", "ys", "yz"}, {"y"});
  Value(g->add_output(), "y", {1, 3});
  return m;
}

class ModelCmd : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  ModelArgs Args(const std::string& action, const std::string& model) {
    ModelArgs a;
    a.action = action;
    a.model = model;
    a.json = true;
    return a;
  }
  pf::testing::TempDir dir_;
};

TEST_F(ModelCmd, InspectCountsOpsParametersAndMacs) {
  const std::string path = Write("cnn.onnx", SmallCnn().SerializeAsString());
  Outcome o = Model(Args("inspect", path));
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  EXPECT_EQ(j["kind"], "onnx");
  EXPECT_EQ(j["opset"], 13);
  EXPECT_EQ(j["ops"], (nlohmann::json{{"Conv", 1}, {"Flatten", 1}, {"Gemm", 1}, {"Relu", 1}, {"Softmax", 1}}));
  EXPECT_EQ(j["parameters"], 119);
  EXPECT_EQ(j["parameter_bytes"], 119 * 4);
  ASSERT_EQ(j["macs"].size(), 2u);
  EXPECT_EQ(j["macs"][0], (nlohmann::json{{"node", "conv1"}, {"op", "Conv"}, {"macs", 288}}));
  EXPECT_EQ(j["macs"][1], (nlohmann::json{{"node", "fc"}, {"op", "Gemm"}, {"macs", 96}}));
  EXPECT_EQ(j["macs_total"], 384);
  EXPECT_EQ(j["int8_nodes"].size(), 0u);
  EXPECT_EQ(j["inputs"][0]["shape"], (nlohmann::json{1, 1, 4, 4}));
  EXPECT_EQ(j["outputs"][0]["name"], "probs");
  EXPECT_EQ(j["manifest_present"], false);
  EXPECT_EQ(j["manifest"]["model_sha256"], *engine::OnnxModelHash(SmallCnn().SerializeAsString()));

  ModelArgs text = Args("inspect", path);
  text.json = false;
  Outcome t = Model(text);
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("macs total 384\n"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("ops: Conv x1 Flatten x1 Gemm x1 Relu x1 Softmax x1\n"), std::string::npos) << t.out;
}

TEST_F(ModelCmd, InspectShowsTheInt8NodesAfterThePasses) {
  Outcome o = Model(Args("inspect", Write("q.onnx", QdqMatMul().SerializeAsString())));
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  EXPECT_EQ(j["ops"]["QuantizeLinear"], 2);
  EXPECT_EQ(j["ops"]["DequantizeLinear"], 3);
  ASSERT_EQ(j["int8_nodes"].size(), 1u) << j.dump();
  EXPECT_EQ(j["int8_nodes"][0]["op"], "QLinearMatMul");
  EXPECT_EQ(j["macs_total"], 12);  // MatMul [1,4] x [4,3]
}

TEST_F(ModelCmd, RunWritesOutputsThatMatchTheReferenceInterpreter) {
  const std::string path = Write("cnn.onnx", SmallCnn().SerializeAsString());
  const Tensor x = Tensor::Float({1, 1, 4, 4}, Random(16, 3));
  const std::string xin = Write("x.npy", engine::WriteNpy(x));
  auto graph = engine::LoadModelFromFile(path);
  ASSERT_TRUE(graph.ok());
  auto want = engine::RunReference(*graph, {{"x", x}});
  ASSERT_TRUE(want.ok());
  for (bool reference : {false, true}) {
    SCOPED_TRACE(reference ? "reference" : "optimized");
    ModelArgs a = Args("run", path);
    a.inputs = {xin};
    a.outputs = {dir_.path() + "/out.npy"};
    a.reference = reference;
    Outcome o = Model(a);
    ASSERT_EQ(o.code, 0) << o.err;
    auto y = engine::ReadNpyFile(dir_.path() + "/out.npy");
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    ASSERT_EQ(y->shape, (engine::Shape{1, 3}));
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(y->f[c], want->at("probs").f[c], 1e-5);
    auto j = o.json();
    EXPECT_EQ(j["outputs"]["probs"]["shape"], (nlohmann::json{1, 3}));
    EXPECT_NEAR(j["outputs"]["probs"]["values"][1].get<double>(), want->at("probs").f[1], 1e-5);
  }
  // name=path form.
  ModelArgs named = Args("run", path);
  named.inputs = {"x=" + xin};
  named.outputs = {"probs=" + dir_.path() + "/p.npy"};
  ASSERT_EQ(Model(named).code, 0);
  EXPECT_TRUE(engine::ReadNpyFile(dir_.path() + "/p.npy").ok());
}

TEST_F(ModelCmd, BenchReportsLatencyPercentilesAndMemory) {
  ModelArgs a = Args("bench", Write("cnn.onnx", SmallCnn().SerializeAsString()));
  a.runs = 30;
  Outcome o = Model(a);
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  EXPECT_EQ(j["runs"], 30);
  EXPECT_EQ(j["warmup_runs"], 3);
  EXPECT_EQ(j["threads"], 1);
  EXPECT_GT(j["p50_ms"].get<double>(), 0);
  EXPECT_LE(j["min_ms"].get<double>(), j["p50_ms"].get<double>());
  EXPECT_LE(j["p50_ms"].get<double>(), j["p99_ms"].get<double>());
  EXPECT_LE(j["p99_ms"].get<double>(), j["max_ms"].get<double>());
  EXPECT_GT(j["rss_before_kb"].get<int64_t>(), 0);
  EXPECT_GE(j["peak_rss_kb"].get<int64_t>(), j["rss_before_kb"].get<int64_t>());
  EXPECT_FALSE(j.contains("nodes"));
  // --profile: the mean time of every node of the optimized graph, its kernel and oneDNN's choice.
  a.profile = true;
  Outcome prof = Model(a);
  ASSERT_EQ(prof.code, 0) << prof.err;
  auto p = prof.json();
  ASSERT_TRUE(p.contains("nodes"));
  ASSERT_FALSE(p["nodes"].empty());
  double sum = 0;
  bool conv = false;
  for (const auto& n : p["nodes"]) {
    EXPECT_GE(n["mean_ms"].get<double>(), 0) << n.dump();
    sum += n["mean_ms"].get<double>();
    if (n["kernel"] == "dnnl:conv_fp32") {
      conv = true;
      EXPECT_FALSE(n["impl"].get<std::string>().empty()) << n.dump();
    }
  }
  EXPECT_TRUE(conv) << p["nodes"].dump();
  EXPECT_GT(sum, 0);
  EXPECT_LE(sum, p["mean_ms"].get<double>() * 1.05);  // the nodes' time lies inside the run's
  a.profile = false;
  a.runs = 0;
  Outcome bad = Model(a);
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(bad.err, "error: --runs 0 (must be >= 1)\n");
}

// model quantize: a small fp32 CNN becomes a QDQ model whose convolution and gemm run int8, agreeing
// with the fp32 model on held-out inputs; every calibration method works; bad calibration inputs
// are precise errors.
TEST_F(ModelCmd, QuantizeWritesAQdqModelThatRunsInt8) {
  const std::string fp32 = Write("cnn.onnx", SmallCnn().SerializeAsString());
  std::filesystem::create_directories(dir_.path() + "/cal");
  std::filesystem::create_directories(dir_.path() + "/eval");
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 1);
  for (int k = 0; k < 96; ++k) {
    Tensor x = Tensor::Float({1, 1, 4, 4});
    for (auto& v : x.f) v = nd(rng);
    const std::string dir = k < 64 ? "/cal/" : "/eval/";
    Write(dir.substr(1) + fmt::format("x_{:03d}.npy", k), engine::WriteNpy(x));
  }
  ModelArgs a = Args("quantize", fp32);
  a.output_model = dir_.path() + "/q.onnx";
  a.calibration = dir_.path() + "/cal";
  a.eval = dir_.path() + "/eval";
  a.per_channel = true;
  a.reduce_range = false;
  Outcome o = Model(a);
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  EXPECT_EQ(j["quantized_weights"], 2);
  EXPECT_GE(j["quantized_activations"].get<int>(), 2);
  EXPECT_EQ(j["calibration_inputs"], 64);
  EXPECT_EQ(j["eval"]["samples"], 32);
  EXPECT_EQ(j["eval"]["labelled"], 0);
  EXPECT_GE(j["eval"]["agreement"].get<double>(), 0.9) << j.dump();
  // Probabilities of a 3-class head on inputs partly outside the calibrated range: clipped, not wild.
  EXPECT_LT(j["eval"]["max_abs_output_difference"].get<double>(), 0.5) << j.dump();
  // The written model is standard QDQ, and the session runs its conv and gemm in int8.
  Outcome ins = Model(Args("inspect", a.output_model));
  ASSERT_EQ(ins.code, 0) << ins.err;
  auto ij = ins.json();
  EXPECT_GE(ij["ops"]["QuantizeLinear"].get<int>(), 2) << ij["ops"].dump();
  EXPECT_GE(ij["ops"]["DequantizeLinear"].get<int>(), 4) << ij["ops"].dump();
  EXPECT_EQ(ij["kernels"]["dnnl:conv_int8"], 1) << ij["kernels"].dump();
  EXPECT_EQ(ij["kernels"]["dnnl:gemm_int8"], 1) << ij["kernels"].dump();
  for (const char* method : {"percentile", "entropy"}) {
    ModelArgs m = a;
    m.method = method;
    m.eval.clear();
    Outcome r = Model(m);
    EXPECT_EQ(r.code, 0) << method << ": " << r.err;
  }
  // Bad calibration inputs: a tensor of another shape (the file is named), an empty directory.
  Write("cal/x_999.npy", engine::WriteNpy(Tensor::Float({1, 1, 5, 4})));
  Outcome bad = Model(a);
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("x_999.npy"), std::string::npos) << bad.err;
  std::filesystem::create_directories(dir_.path() + "/empty");
  a.calibration = dir_.path() + "/empty";
  Outcome empty = Model(a);
  EXPECT_EQ(empty.code, 2);
  EXPECT_NE(empty.err.find("no .npy files"), std::string::npos) << empty.err;
}

// model fit: the verdict from a measurement in a fresh plantfloor process under the profile. A
// generous budget fits (exit 0); a time budget below the p99 and a memory budget below the peak do
// not (exit 3), each with its reason. The reported peak (what the deployment will see) is within
// 10 % (or 0.5 MiB) of an independent `model bench` run of the same binary.
TEST_F(ModelCmd, FitGivesAVerdictByTimeAndByMemory) {
  const std::string path = Write("cnn.onnx", SmallCnn().SerializeAsString());
  ModelArgs a = Args("fit", path);
  a.self_exe = testing::PlantfloorBin();
  a.runs = 50;
  a.budget_ms = 100;
  a.budget_mb = 512;
  Outcome ok = Model(a);
  ASSERT_EQ(ok.code, 0) << ok.err << ok.out;
  auto j = ok.json();
  EXPECT_TRUE(j["fits"].get<bool>());
  EXPECT_TRUE(j["reasons"].empty());
  EXPECT_GT(j["p99_ms"].get<double>(), 0);
  const double peak = j["peak_mb"].get<double>();
  EXPECT_GT(peak, 0);
  // Independent measurement: model bench in another process.
  const std::string cmd = testing::PlantfloorBin() + " model bench " + path + " --json --runs 50 2>/dev/null";
  std::string text;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
    ::pclose(p);
  }
  const auto bench = nlohmann::json::parse(text, nullptr, false);
  ASSERT_FALSE(bench.is_discarded()) << text;
  const double measured = bench["peak_minus_before_kb"].get<double>() / 1024.0;
  EXPECT_LE(std::abs(peak - measured), std::max(0.1 * measured, 0.5)) << peak << " vs " << measured;

  ModelArgs slow = a;
  slow.budget_ms = 1e-6;
  Outcome t = Model(slow);
  EXPECT_EQ(t.code, 3) << t.err;
  auto tj = t.json();
  EXPECT_FALSE(tj["fits"].get<bool>());
  ASSERT_EQ(tj["reasons"].size(), 1u) << tj.dump();
  EXPECT_NE(tj["reasons"][0].get<std::string>().find("p99 latency"), std::string::npos);

  ModelArgs small = a;
  small.budget_mb = 20;
  small.used_mb = 19.99;  // the running process already holds nearly all of it
  Outcome m = Model(small);
  EXPECT_EQ(m.code, 3) << m.err;
  auto mj = m.json();
  ASSERT_EQ(mj["reasons"].size(), 1u) << mj.dump();
  EXPECT_NE(mj["reasons"][0].get<std::string>().find("peak memory"), std::string::npos);

  ModelArgs avx2 = a;
  avx2.fit_profile = "avx2";
  Outcome v = Model(avx2);
  EXPECT_EQ(v.code, 0) << v.err;
  EXPECT_EQ(v.json()["profile"], "avx2");
  ModelArgs bad = a;
  bad.used_mb = 600;
  EXPECT_EQ(Model(bad).code, 2);
}

// model prune: a quarter of the channels of both convolutions goes (the dead ones, by L1 norm), the
// gemm loses the matching inputs, the output is unchanged, and the smaller model has fewer parameters.
TEST_F(ModelCmd, PruneRemovesChannelsFromTheGraph) {
  const std::string path = Write("p.onnx", PrunableCnn().SerializeAsString());
  ModelArgs a = Args("prune", path);
  a.output_model = dir_.path() + "/pruned.onnx";
  a.prune_channels = 0.25;
  a.runs = 20;
  Outcome o = Model(a);
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  EXPECT_EQ(j["pruned_convs"], 2);
  EXPECT_EQ(j["channels_before"], 16);
  EXPECT_EQ(j["channels_after"], 12);
  EXPECT_TRUE(j["notes"].empty()) << j["notes"].dump();
  auto before = Model(Args("inspect", path)).json();
  auto after = Model(Args("inspect", a.output_model)).json();
  EXPECT_EQ(before["parameters"].get<int64_t>() - after["parameters"].get<int64_t>(), 2 * 9 + 2 + 2 * 8 * 9 + 6 * 2 * 9 + 2 + 3 * 2)
      << before["parameters"] << " -> " << after["parameters"];
  Tensor x = Tensor::Float({1, 1, 8, 8}, Random(64, 21));
  auto r0 = engine::RunReference(*engine::LoadModelFromFile(path), {{"x", x}});
  auto r1 = engine::RunReference(*engine::LoadModelFromFile(a.output_model), {{"x", x}});
  ASSERT_TRUE(r0.ok() && r1.ok());
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(r0->at("probs").f[k], r1->at("probs").f[k], 1e-6) << k;
  // Bad fractions are refused.
  a.prune_channels = 1.0;
  Outcome bad = Model(a);
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_NE(bad.err.find("between 0 and 1"), std::string::npos) << bad.err;
}

// x [1,4] -> Gemm(4 -> 8) -> Relu -> Gemm(8 -> 3) -> Softmax -> probs [1,3], with a manifest naming
// the classes a, b, c: a feature-model teacher.
std::string MlpTeacher() {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  Value(g->add_input(), "features", {1, 4});
  Init(g, "W1", onnx::TensorProto::FLOAT, {4, 8}, Random(32, 31));
  Init(g, "B1", onnx::TensorProto::FLOAT, {8}, Random(8, 32));
  Init(g, "W2", onnx::TensorProto::FLOAT, {8, 3}, Random(24, 33));
  Init(g, "B2", onnx::TensorProto::FLOAT, {3}, {0.1f, 0, -0.1f});
  Add(g, "fc1", "Gemm", {"features", "W1", "B1"}, {"h"});
  Add(g, "relu", "Relu", {"h"}, {"r"});
  Add(g, "fc2", "Gemm", {"r", "W2", "B2"}, {"logits"});
  Add(g, "softmax", "Softmax", {"logits"}, {"probs"});
  Value(g->add_output(), "probs", {1, 3});
  const std::string hash = *engine::OnnxModelHash(m.SerializeAsString());
  auto* p = m.add_metadata_props();
  p->set_key("pf.manifest");
  p->set_value(fmt::format(R"({{"manifest_version": 1, "name": "mlp", "version": "2.1.0", "model_sha256": "{}",
    "inputs": [{{"name": "features", "dtype": "float", "shape": [1, 4]}}],
    "outputs": [{{"name": "probs", "class_names": ["a", "b", "c"]}}]}})", hash));
  return m.SerializeAsString();
}

TEST_F(ModelCmd, DistillTrainsATreeStudentThatFollowsTheTeacher) {
  const std::string teacher = Write("mlp.onnx", MlpTeacher());
  const engine::Graph graph = *engine::LoadModelFromFile(teacher);
  std::filesystem::create_directories(dir_.path() + "/data");
  std::filesystem::create_directories(dir_.path() + "/eval");
  // Transfer set: one [300, 4] file. Eval set: one file per row, named by the teacher's class.
  const std::vector<float> rows = Random(300 * 4, 40);
  ASSERT_TRUE(engine::WriteNpyFile(dir_.path() + "/data/rows.npy", Tensor::Float({300, 4}, rows)).ok());
  const std::vector<float> held = Random(100 * 4, 41);
  for (int r = 0; r < 100; ++r) {
    Tensor x = Tensor::Float({1, 4}, std::vector<float>(held.begin() + r * 4, held.begin() + (r + 1) * 4));
    auto y = engine::RunReference(graph, {{"features", x}});
    ASSERT_TRUE(y.ok());
    const auto& p = y->at("probs").f;
    const std::string cls(1, static_cast<char>('a' + (std::max_element(p.begin(), p.end()) - p.begin())));
    ASSERT_TRUE(engine::WriteNpyFile(fmt::format("{}/eval/{}_{:03d}.npy", dir_.path(), cls, r), x).ok());
  }
  ModelArgs a;
  a.action = "distill";
  a.json = true;
  a.teacher = teacher;
  a.data = dir_.path() + "/data";
  a.eval = dir_.path() + "/eval";
  a.output_model = dir_.path() + "/student.json";
  a.rounds = 30;
  a.runs = 40;
  Outcome o = Model(a);
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  EXPECT_EQ(j["rows"], 300);
  EXPECT_EQ(j["synthetic_rows"], 300 * 4);
  EXPECT_EQ(j["objective"], "multi:softprob");
  EXPECT_GT(j["train_agreement"].get<double>(), 0.9);
  EXPECT_EQ(j["eval"]["labelled"], 100);
  EXPECT_DOUBLE_EQ(j["eval"]["teacher_accuracy"].get<double>(), 1.0);  // the eval labels are its answers
  EXPECT_GT(j["eval"]["student_accuracy"].get<double>(), 0.85);
  EXPECT_GT(j["student_p50_ms"].get<double>(), 0.0);
  // The student is an XGBoost model with a manifest that carries the teacher's classes and input name.
  auto info = Model(Args("inspect", a.output_model)).json();
  EXPECT_EQ(info["kind"], "xgboost");
  std::ifstream mf(a.output_model + ".manifest.json");
  const auto manifest = nlohmann::json::parse(mf);
  EXPECT_EQ(manifest["outputs"][0]["class_names"], (nlohmann::json{"a", "b", "c"}));
  EXPECT_EQ(manifest["inputs"][0]["name"], "features");
  EXPECT_EQ(manifest["name"], "mlp_trees");
  // Same seed, same trees.
  a.output_model = dir_.path() + "/again.json";
  ASSERT_EQ(Model(a).code, 0);
  std::ifstream s1(dir_.path() + "/student.json"), s2(a.output_model);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(s1), {}), std::string(std::istreambuf_iterator<char>(s2), {}));

  // Bad input: rows of the wrong width (the file named), another student kind, a non-XGBoost name.
  ASSERT_TRUE(engine::WriteNpyFile(dir_.path() + "/data/wide.npy", Tensor::Float({2, 5}, Random(10, 42))).ok());
  Outcome wide = Model(a);
  EXPECT_EQ(wide.code, 2);
  EXPECT_NE(wide.err.find("wide.npy"), std::string::npos) << wide.err;
  std::filesystem::remove(dir_.path() + "/data/wide.npy");
  a.student = "mlp";
  EXPECT_EQ(Model(a).code, 2);
  a.student = "trees";
  a.output_model = dir_.path() + "/student.onnx";
  Outcome ext = Model(a);
  EXPECT_EQ(ext.code, 2);
  EXPECT_NE(ext.err.find(".json or .ubj"), std::string::npos) << ext.err;
}

TEST_F(ModelCmd, BadInputsExitTwoWithWhereAndWhat) {
  const std::string path = Write("cnn.onnx", SmallCnn().SerializeAsString());
  ModelArgs a = Args("run", path);
  const std::string ints = Write("i.npy", engine::WriteNpy(Tensor::Int(DType::kInt64, {1, 1, 4, 4})));
  a.inputs = {ints};
  Outcome o = Model(a);
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.err, "error: " + ints + ": dtype int64 ('<i8') does not match model input 'x' of dtype float ('<f4')\n");
  a.inputs = {"image=" + ints};
  EXPECT_EQ(Model(a).err, "error: --input image=" + ints + ": the model has no input 'image'\n");
  const std::string small = Write("s.npy", engine::WriteNpy(Tensor::Float({1, 1, 3, 3})));
  a.inputs = {small};
  EXPECT_EQ(Model(a).err,
            "error: " + small + ": shape [1,1,3,3] does not match model input 'x' of shape [1,1,4,4] (-1: any size)\n");

  const std::string unsupported = Write("u.onnx", SmallCnn("Hardmax").SerializeAsString());
  Outcome u = Model(Args("run", unsupported));
  EXPECT_EQ(u.code, 2);
  EXPECT_EQ(u.err, "error: " + unsupported + ": node 'head' (Hardmax): operator 'Hardmax' is not supported\n");
  Outcome ui = Model(Args("inspect", unsupported));
  EXPECT_EQ(ui.code, 2);
  EXPECT_EQ(ui.json()["ops"]["Hardmax"], 1);
  EXPECT_EQ(ui.err, "error: " + unsupported + ": operators not supported by this engine: Hardmax\n");

  const std::string bytes = SmallCnn().SerializeAsString();
  const std::string truncated = Write("t.onnx", bytes.substr(0, bytes.size() / 2));
  Outcome t = Model(Args("inspect", truncated));
  EXPECT_EQ(t.code, 2);
  EXPECT_EQ(t.err, fmt::format("error: {}: not an ONNX model: protobuf ModelProto parse failed ({} bytes)\n", truncated,
                               bytes.size() / 2));
  Outcome missing = Model(Args("bench", dir_.path() + "/none.onnx"));
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(missing.err, "error: " + dir_.path() + "/none.onnx: cannot open (No such file or directory)\n");
}

TEST_F(ModelCmd, XgboostModelInspectsAndRunsLikeTheBooster) {
  // 100 rows of 3 features, label x0 + x2 > 0; 5 rounds.
  std::vector<float> x = Random(300, 4), y(100);
  for (int r = 0; r < 100; ++r) y[r] = x[r * 3] + x[r * 3 + 2] > 0 ? 1.0f : 0.0f;
  DMatrixHandle dm;
  BoosterHandle h;
  ASSERT_EQ(XGDMatrixCreateFromMat(x.data(), 100, 3, std::nanf(""), &dm), 0);
  ASSERT_EQ(XGDMatrixSetFloatInfo(dm, "label", y.data(), 100), 0);
  ASSERT_EQ(XGBoosterCreate(&dm, 1, &h), 0);
  ASSERT_EQ(XGBoosterSetParam(h, "objective", "binary:logistic"), 0);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(XGBoosterUpdateOneIter(h, i, dm), 0);
  bst_ulong len = 0;
  const char* buf = nullptr;
  ASSERT_EQ(XGBoosterSaveModelToBuffer(h, R"({"format": "ubj"})", &len, &buf), 0);
  const std::string path = Write("wear.ubj", std::string(buf, len));
  const bst_ulong* shape;
  bst_ulong dim;
  const float* want;
  ASSERT_EQ(XGBoosterPredictFromDMatrix(h, dm, R"({"type": 0, "training": false, "iteration_begin": 0, )"
                                        R"("iteration_end": 0, "strict_shape": true})", &shape, &dim, &want), 0);
  const std::vector<float> expected(want, want + 100);
  XGBoosterFree(h);
  XGDMatrixFree(dm);

  Outcome i = Model(Args("inspect", path));
  ASSERT_EQ(i.code, 0) << i.err;
  auto j = i.json();
  EXPECT_EQ(j["kind"], "xgboost");
  EXPECT_EQ(j["features"], 3);
  EXPECT_EQ(j["outputs_per_row"], 1);
  EXPECT_EQ(j["boosted_rounds"], 5);
  EXPECT_EQ(j["objective"], "binary:logistic");
  EXPECT_EQ(j["inputs"][0], (nlohmann::json{{"name", "features"}, {"dtype", "float"}, {"shape", {-1, 3}}}));

  ModelArgs a = Args("run", path);
  a.inputs = {Write("rows.npy", engine::WriteNpy(Tensor::Float({100, 3}, x)))};
  a.outputs = {dir_.path() + "/scores.npy"};
  Outcome r = Model(a);
  ASSERT_EQ(r.code, 0) << r.err;
  auto scores = engine::ReadNpyFile(dir_.path() + "/scores.npy");
  ASSERT_TRUE(scores.ok());
  ASSERT_EQ(scores->shape, (engine::Shape{100, 1}));
  for (int k = 0; k < 100; ++k) ASSERT_FLOAT_EQ(scores->f[k], expected[k]) << k;
}

}  // namespace
}  // namespace pf
