#pragma once
// A small ONNX model for tests of models on live tags (apps/model_app_test.cpp,
// tests/integration/model_e2e_test.cpp): probs = Softmax(((x - mean) / std) W + b), x [1, 4], with a
// manifest (class names idle/run/fault, normalization) in metadata_props, and the expected output
// computed in double for a raw input. Header-only, test code.
#include <onnx/onnx_pb.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "engine/manifest.h"

namespace pf::testing::press_state {

inline const std::vector<float> kW{0.5f, -1, 0.25f, 1, 0.5f, -0.5f, -2, 0, 1, 0.125f, 0.75f, -0.25f};
inline const std::vector<float> kB{0.1f, -0.2f, 0.3f};
inline const std::vector<double> kMean{1, 2, 10, 20}, kStd{0.5, 1, 2, 4};

inline void SetValue(onnx::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

inline std::string ModelBytes() {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  SetValue(g->add_input(), "x", {1, 4});
  for (auto [name, dims, vals] : {std::tuple{"W", std::vector<int64_t>{4, 3}, kW}, std::tuple{"b", std::vector<int64_t>{3}, kB}}) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float f : vals) t->add_float_data(f);
  }
  auto* gemm = g->add_node();
  gemm->set_op_type("Gemm");
  for (const char* in : {"x", "W", "b"}) gemm->add_input(in);
  gemm->add_output("logits");
  auto* sm = g->add_node();
  sm->set_op_type("Softmax");
  sm->add_input("logits");
  sm->add_output("probs");
  SetValue(g->add_output(), "probs", {1, 3});
  const std::string hash = *engine::OnnxModelHash(m.SerializeAsString());
  auto* p = m.add_metadata_props();
  p->set_key("pf.manifest");
  p->set_value(fmt::format(R"({{"manifest_version": 1, "name": "press_state", "version": "1.0.0", "model_sha256": "{}",
    "inputs": [{{"name": "x", "shape": [1, 4], "dtype": "float", "normalization": {{"mean": [1, 2, 10, 20], "std": [0.5, 1, 2, 4], "axis": 1}},
                 "preprocessing": "press.p1, press.t1: 2 samples each, oldest first"}}],
    "outputs": [{{"name": "probs", "meaning": "state probability", "class_names": ["idle", "run", "fault"]}}]}})",
                           hash));
  return m.SerializeAsString();
}

inline std::vector<double> Expected(const std::vector<double>& raw) {
  std::vector<double> z(3);
  double sum = 0;
  for (int c = 0; c < 3; ++c) {
    z[c] = kB[c];
    for (int k = 0; k < 4; ++k) z[c] += (raw[k] - kMean[k]) / kStd[k] * kW[k * 3 + c];
  }
  for (double& v : z) sum += (v = std::exp(v));
  for (double& v : z) v /= sum;
  return z;
}

}  // namespace pf::testing::press_state
