// Structured channel pruning on the ModelProto: see prune.h.
#include "engine/prune.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "engine/manifest.h"
#include "engine/onnx_import.h"

namespace pf::engine {
namespace {

// An fp32 initializer held as dims + elements while the model is rewritten.
struct Weight {
  std::vector<int64_t> dims;
  std::vector<float> v;
};

Result<Weight> ReadWeight(const onnx::TensorProto& t) {
  if (t.data_type() != onnx::TensorProto::FLOAT) return InvalidArgument("initializer '{}' is not float", t.name());
  Weight w;
  w.dims.assign(t.dims().begin(), t.dims().end());
  int64_t n = 1;
  for (int64_t d : w.dims) n *= d;
  w.v.resize(n);
  if (t.has_raw_data()) {
    if (t.raw_data().size() != static_cast<size_t>(n) * 4) return InvalidArgument("initializer '{}': raw_data size", t.name());
    std::memcpy(w.v.data(), t.raw_data().data(), t.raw_data().size());
  } else {
    if (t.float_data_size() != n) return InvalidArgument("initializer '{}': float_data size", t.name());
    for (int64_t k = 0; k < n; ++k) w.v[k] = t.float_data(k);
  }
  return w;
}

// Keeps the indices `keep` of axis `axis`.
void Slice(Weight* w, size_t axis, const std::vector<int64_t>& keep) {
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= w->dims[d];
  for (size_t d = axis + 1; d < w->dims.size(); ++d) inner *= w->dims[d];
  const int64_t n = w->dims[axis];
  std::vector<float> out;
  out.reserve(outer * keep.size() * inner);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k : keep) {
      const float* src = w->v.data() + (o * n + k) * inner;
      out.insert(out.end(), src, src + inner);
    }
  }
  w->v = std::move(out);
  w->dims[axis] = static_cast<int64_t>(keep.size());
}

int64_t AttrInt(const onnx::NodeProto& n, const std::string& name, int64_t def) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return a.i();
  }
  return def;
}

bool PerChannel(const std::string& op) {
  static const std::set<std::string> ops{"Relu",    "LeakyRelu",   "Clip",      "Sigmoid",     "Tanh",
                                         "HardSigmoid", "HardSwish", "MaxPool", "AveragePool", "GlobalAveragePool",
                                         "BatchNormalization"};
  return ops.count(op) > 0;
}

}  // namespace

Result<std::string> PruneModel(std::string_view fp32_model, const PruneOptions& options, PruneReport* report) {
  PruneReport local;
  PruneReport& rep = report ? *report : local;
  if (!(options.channels > 0 && options.channels < 1)) {
    return InvalidArgument("channels {} (the fraction removed must lie between 0 and 1)", options.channels);
  }
  onnx::ModelProto m;
  if (fp32_model.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !m.ParseFromArray(fp32_model.data(), static_cast<int>(fp32_model.size()))) {
    return InvalidArgument("not an ONNX model: protobuf ModelProto parse failed ({} bytes)", fp32_model.size());
  }
  PF_RETURN_IF_ERROR(LoadModelFromBytes(fp32_model).status());  // a model plantfloor runs, checked up front
  onnx::GraphProto* g = m.mutable_graph();
  std::map<std::string, int> init_index, uses;
  for (int k = 0; k < g->initializer_size(); ++k) init_index[g->initializer(k).name()] = k;
  std::map<std::string, std::vector<int>> readers;
  for (int k = 0; k < g->node_size(); ++k) {
    for (const auto& i : g->node(k).input()) {
      readers[i].push_back(k);
      ++uses[i];
    }
  }
  std::set<std::string> outputs;
  for (const auto& o : g->output()) outputs.insert(o.name());
  std::map<std::string, Weight> weights;  // rewritten initializers
  const auto weight = [&](const std::string& name) -> Result<Weight*> {
    if (auto it = weights.find(name); it != weights.end()) return &it->second;
    auto idx = init_index.find(name);
    if (idx == init_index.end()) return NotFound("'{}' is not an initializer", name);
    PF_ASSIGN_OR_RETURN(Weight w, ReadWeight(g->initializer(idx->second)));
    return &weights.emplace(name, std::move(w)).first->second;
  };
  const auto is_const = [&](const std::string& name) { return init_index.count(name) > 0; };

  for (int k = 0; k < g->node_size(); ++k) {
    const onnx::NodeProto& conv = g->node(k);
    if (conv.op_type() != "Conv") continue;
    const std::string label = conv.name().empty() ? conv.output(0) : conv.name();
    const auto skip = [&](const std::string& why) { rep.notes.push_back(fmt::format("Conv '{}' left whole: {}", label, why)); };
    if (AttrInt(conv, "group", 1) != 1) { skip("grouped"); continue; }
    if (conv.input_size() < 2 || !is_const(conv.input(1)) || uses[conv.input(1)] != 1) { skip("weight not an unshared initializer"); continue; }
    if (conv.input_size() > 2 && !conv.input(2).empty() && (!is_const(conv.input(2)) || uses[conv.input(2)] != 1)) {
      skip("bias not an unshared initializer");
      continue;
    }
    // Follow the output to its weighted consumer.
    std::string v = conv.output(0);
    std::vector<int> path;  // per-channel nodes passed
    int consumer = -1;
    bool pooled = false, ok = true;
    while (ok) {
      if (outputs.count(v) || readers[v].size() != 1) { ok = false; break; }
      const onnx::NodeProto& n = g->node(readers[v][0]);
      if (n.input(0) != v) { ok = false; break; }
      if (n.op_type() == "Conv" && AttrInt(n, "group", 1) == 1 && !pooled) { consumer = readers[v][0]; break; }
      if ((n.op_type() == "Gemm" || n.op_type() == "MatMul") && pooled) { consumer = readers[v][0]; break; }
      if (n.op_type() == "Flatten" && pooled) {
        path.push_back(readers[v][0]);
        v = n.output(0);
        continue;
      }
      if (!PerChannel(n.op_type()) || n.output_size() != 1) { ok = false; break; }
      if (n.op_type() == "BatchNormalization") {
        for (int i = 1; i < 5; ++i) ok = ok && is_const(n.input(i)) && uses[n.input(i)] == 1;
        if (!ok) break;
      }
      pooled = pooled || n.op_type() == "GlobalAveragePool";
      path.push_back(readers[v][0]);
      v = n.output(0);
    }
    if (!ok || consumer < 0) { skip("its output does not reach one Conv/Gemm/MatMul through per-channel ops"); continue; }
    const onnx::NodeProto& c = g->node(consumer);
    if (!is_const(c.input(1)) || uses[c.input(1)] != 1) { skip("the consumer's weight is not an unshared initializer"); continue; }
    if (c.op_type() == "Gemm" && AttrInt(c, "transA", 0) != 0) { skip("the consumer Gemm has transA"); continue; }
    PF_ASSIGN_OR_RETURN(Weight * w, weight(conv.input(1)));
    const int64_t channels = w->dims[0];
    PF_ASSIGN_OR_RETURN(Weight * cw, weight(c.input(1)));
    const bool trans_b = c.op_type() == "Gemm" && AttrInt(c, "transB", 0) != 0;
    const size_t consumer_axis = c.op_type() == "Conv" ? 1 : trans_b ? 1 : 0;
    if (cw->dims.size() <= consumer_axis || cw->dims[consumer_axis] != channels) {
      skip(fmt::format("its consumer '{}' does not read its {} channels one to one", c.name(), channels));
      continue;
    }
    const int64_t keep_n = std::max<int64_t>(1, channels - static_cast<int64_t>(std::llround(options.channels * channels)));
    if (keep_n == channels) { skip("too few channels"); continue; }
    // The channels with the largest L1 norm stay, in their order.
    const int64_t per = static_cast<int64_t>(w->v.size()) / channels;
    std::vector<double> l1(channels, 0.0);
    for (int64_t ch = 0; ch < channels; ++ch)
      for (int64_t e = 0; e < per; ++e) l1[ch] += std::abs(w->v[ch * per + e]);
    std::vector<int64_t> order(channels);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return l1[a] > l1[b]; });
    std::vector<int64_t> keep(order.begin(), order.begin() + keep_n);
    std::sort(keep.begin(), keep.end());
    Slice(w, 0, keep);
    if (conv.input_size() > 2 && !conv.input(2).empty()) {
      PF_ASSIGN_OR_RETURN(Weight * b, weight(conv.input(2)));
      Slice(b, 0, keep);
    }
    for (int p : path) {
      const onnx::NodeProto& n = g->node(p);
      if (n.op_type() != "BatchNormalization") continue;
      for (int i = 1; i < 5; ++i) {
        PF_ASSIGN_OR_RETURN(Weight * bn, weight(n.input(i)));
        Slice(bn, 0, keep);
      }
    }
    Slice(cw, consumer_axis, keep);
    ++rep.pruned_convs;
    rep.channels_before += channels;
    rep.channels_after += keep_n;
  }
  // Write the rewritten initializers back; stale shapes of intermediate values go.
  for (auto& [name, w] : weights) {
    onnx::TensorProto* t = g->mutable_initializer(init_index.at(name));
    t->clear_dims();
    for (int64_t d : w.dims) t->add_dims(d);
    t->clear_float_data();
    t->set_raw_data(std::string(reinterpret_cast<const char*>(w.v.data()), w.v.size() * 4));
  }
  g->clear_value_info();
  return SerializeRewrittenModel(m, "model prune");
}

}  // namespace pf::engine
