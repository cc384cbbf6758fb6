#pragma once
// A vision model built in memory for tests (not part of the library): x [1,1,S,S] ->
// GlobalAveragePool -> Flatten -> Gemm -> Softmax over ("good", "dark"), logits
// (10 (m - 0.5), -10 (m - 0.5)) for the mean brightness m of the input: white parts are good, black
// parts dark, mid-gray undecided. `last` "DivByZero" replaces the Softmax by logits / 0 (infinite
// outputs: a model that fails numerically). `extra_input_manifest` is appended to the input's
// manifest entry (e.g. a normalization).
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/manifest.h"

namespace pf::apps::testing {

inline std::string BrightnessModel(int size = 4, const std::string& last = "Softmax",
                                   const std::string& extra_input_manifest = "") {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  auto value = [](onnx::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
  };
  auto init = [&](const std::string& name, std::vector<int64_t> dims, std::vector<float> v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float f : v) t->add_float_data(f);
  };
  auto node = [&](const std::string& op, std::vector<std::string> in, const std::string& out) {
    auto* n = g->add_node();
    n->set_name(out);
    n->set_op_type(op);
    for (auto& s : in) n->add_input(s);
    n->add_output(out);
  };
  value(g->add_input(), "image", {1, 1, size, size});
  init("W", {1, 2}, {10, -10});
  init("B", {2}, {-5, 5});
  node("GlobalAveragePool", {"image"}, "gap");
  node("Flatten", {"gap"}, "flat");
  node("Gemm", {"flat", "W", "B"}, "logits");
  if (last == "DivByZero") {
    node("Sub", {"logits", "logits"}, "zero");
    node("Div", {"logits", "zero"}, "probs");
  } else {
    node(last, {"logits"}, "probs");
  }
  value(g->add_output(), "probs", {1, 2});
  const std::string hash = *engine::OnnxModelHash(m.SerializeAsString());
  auto* p = m.add_metadata_props();
  p->set_key("pf.manifest");
  p->set_value(fmt::format(R"({{"manifest_version": 1, "name": "brightness", "version": "1.0.0", "model_sha256": "{}",
    "inputs": [{{"name": "image", "dtype": "float", "shape": [1, 1, {}, {}]{}}}],
    "outputs": [{{"name": "probs", "class_names": ["good", "dark"]}}]}})",
                           hash, size, size, extra_input_manifest));
  return m.SerializeAsString();
}

// A binary PGM of w x h pixels of one value.
inline std::string FlatPgm(int w, int h, unsigned char value) {
  return fmt::format("P5\n{} {}\n255\n", w, h) + std::string(static_cast<size_t>(w) * h, static_cast<char>(value));
}

}  // namespace pf::apps::testing
