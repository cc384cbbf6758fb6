// Post-training static quantization: see quantize.h. The model is rewritten on its ModelProto
// (protobuf stays in this file and onnx_import.cpp); calibration runs the fp32 model through
// engine::Session with the tensors to quantize as extra outputs.
#include "engine/quantize.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <set>

#include <fmt/format.h>

#include "engine/manifest.h"
#include "engine/onnx_import.h"
#include "engine/session.h"
#include "engine/shape_inference.h"

namespace pf::engine {
namespace {

constexpr size_t kSampleCap = size_t{1} << 20;
constexpr int kHistBins = 2048;

const onnx::TensorProto* FindInit(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& t : g.initializer()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

int64_t AttrInt(const onnx::NodeProto& n, const std::string& name, int64_t def) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return a.i();
  }
  return def;
}

// The elements of an fp32 initializer.
Result<std::vector<float>> FloatData(const onnx::TensorProto& t) {
  if (t.data_type() != onnx::TensorProto::FLOAT) return InvalidArgument("initializer '{}' is not float", t.name());
  int64_t n = 1;
  for (int64_t d : t.dims()) n *= d;
  std::vector<float> v(n);
  if (t.has_raw_data()) {
    if (t.raw_data().size() != static_cast<size_t>(n) * 4) {
      return InvalidArgument("initializer '{}': raw_data holds {} bytes for {} floats", t.name(), t.raw_data().size(), n);
    }
    std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
  } else {
    if (t.float_data_size() != n) return InvalidArgument("initializer '{}': {} floats for {}", t.name(), t.float_data_size(), n);
    for (int64_t k = 0; k < n; ++k) v[k] = t.float_data(k);
  }
  return v;
}

// A scalar initializer: float, or uint8 (stored in int32_data, as ONNX does for 8-bit types).
onnx::TensorProto Scalar(const std::string& name, float v) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.add_float_data(v);
  return t;
}
onnx::TensorProto U8Scalar(const std::string& name, int v) {
  onnx::TensorProto t = Scalar(name, 0);
  t.clear_float_data();
  t.set_data_type(onnx::TensorProto::UINT8);
  t.add_int32_data(v);
  return t;
}

onnx::NodeProto MakeNode(const std::string& op, const std::string& name, std::vector<std::string> in, std::string out) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (auto& i : in) n.add_input(i);
  n.add_output(out);
  return n;
}

// Range statistics of one tensor over the calibration set.
struct Stats {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  std::vector<float> sample;
  uint64_t seen = 0;
  std::vector<double> hist;  // entropy: |x| over [0, max(|lo|, hi)] in kHistBins bins
};

// The TensorRT-style KL threshold over a histogram of |x| with `levels` quantization levels.
double EntropyThreshold(const std::vector<double>& hist, double width, int levels) {
  const int n = static_cast<int>(hist.size());
  double best_kl = std::numeric_limits<double>::infinity();
  int best_i = n;
  for (int i = levels; i <= n; ++i) {
    std::vector<double> p(hist.begin(), hist.begin() + i);
    for (int k = i; k < n; ++k) p[i - 1] += hist[k];  // outliers clipped into the last bin
    double total = 0;
    for (double v : p) total += v;
    if (total <= 0) continue;
    // q: p's first i bins merged into `levels` groups, each spread back over its non-empty bins.
    std::vector<double> q(i, 0.0);
    for (int g = 0; g < levels; ++g) {
      const int b0 = static_cast<int>(static_cast<int64_t>(g) * i / levels);
      const int b1 = static_cast<int>(static_cast<int64_t>(g + 1) * i / levels);
      double sum = 0;
      int nonzero = 0;
      for (int b = b0; b < b1; ++b) {
        sum += hist[b];
        nonzero += hist[b] > 0;
      }
      for (int b = b0; b < b1; ++b) q[b] = hist[b] > 0 && nonzero > 0 ? sum / nonzero : 0;
    }
    double qtotal = 0;
    for (double v : q) qtotal += v;
    if (qtotal <= 0) continue;
    double kl = 0;
    for (int b = 0; b < i; ++b) {
      if (p[b] <= 0) continue;
      const double pp = p[b] / total, qq = q[b] / qtotal;
      kl += qq > 0 ? pp * std::log(pp / qq) : pp * 30.0;  // an empty q bin where p has mass: a heavy cost
    }
    if (kl < best_kl) {
      best_kl = kl;
      best_i = i;
    }
  }
  return (best_i + 0.5) * width;
}

struct Plan {
  std::vector<std::string> activations;           // tensors that get a Q/DQ pair, in first-seen order
  std::map<std::string, std::string> tied;        // MaxPool output -> its input (same parameters)
  std::map<std::string, int64_t> weight_axis;     // initializer -> per-channel axis
};

}  // namespace

Result<std::string> QuantizeModel(std::string_view fp32_model, const std::vector<TensorMap>& calibration,
                                  const QuantizeOptions& options, QuantizeReport* report) {
  QuantizeReport local;
  QuantizeReport& rep = report ? *report : local;
  if (options.method != "minmax" && options.method != "percentile" && options.method != "entropy") {
    return InvalidArgument("method '{}' (minmax, percentile or entropy)", options.method);
  }
  if (!(options.percentile > 50 && options.percentile <= 100)) {
    return InvalidArgument("percentile {} (must be above 50 and at most 100)", options.percentile);
  }
  if (calibration.empty()) return InvalidArgument("no calibration input");
  onnx::ModelProto m;
  if (fp32_model.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !m.ParseFromArray(fp32_model.data(), static_cast<int>(fp32_model.size()))) {
    return InvalidArgument("not an ONNX model: protobuf ModelProto parse failed ({} bytes)", fp32_model.size());
  }
  PF_ASSIGN_OR_RETURN(Graph graph, LoadModelFromBytes(fp32_model));
  if (graph.opset < 13) {
    return Unimplemented("opset {}: quantization writes per-channel DequantizeLinear, which needs opset 13", graph.opset);
  }
  for (const auto& n : graph.nodes) {
    if (n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear" || n.op_type.rfind("QLinear", 0) == 0) {
      return InvalidArgument("{}: the model is quantized already", n.Label());
    }
  }
  PF_ASSIGN_OR_RETURN(auto infos, InferShapes(graph));
  const auto is_float = [&](const std::string& v) {
    auto it = infos.find(v);
    return it != infos.end() && it->second.dtype == DType::kFloat && !graph.constants.count(v);
  };
  std::set<std::string> outputs;
  for (const auto& o : graph.outputs) outputs.insert(o.name);
  std::map<std::string, std::vector<const onnx::NodeProto*>> consumers;
  const onnx::GraphProto& gp = m.graph();
  for (const auto& n : gp.node()) {
    for (const auto& i : n.input()) consumers[i].push_back(&n);
  }

  // What to quantize.
  Plan plan;
  std::set<std::string> chosen;
  const auto add = [&](const std::string& v) {
    if (v.empty() || !is_float(v) || outputs.count(v) || !chosen.insert(v).second) return;
    plan.activations.push_back(v);
  };
  // The value an op's output reaches through a Relu/Clip that is its only consumer.
  const auto after_activation = [&](const std::string& v) {
    auto it = consumers.find(v);
    if (it == consumers.end() || it->second.size() != 1 || outputs.count(v)) return v;
    const onnx::NodeProto* c = it->second.front();
    if (c->op_type() != "Relu" && c->op_type() != "Clip") return v;
    return c->output(0);
  };
  for (const auto& n : gp.node()) {
    const std::string& op = n.op_type();
    if (op == "Conv" || op == "Gemm" || op == "MatMul") {
      const onnx::TensorProto* w = n.input_size() > 1 ? FindInit(gp, n.input(1)) : nullptr;
      if (w == nullptr || w->data_type() != onnx::TensorProto::FLOAT) {
        rep.notes.push_back(fmt::format("{} '{}': weight is not an fp32 initializer, left fp32", op, n.name()));
        continue;
      }
      if (op == "Gemm" && AttrInt(n, "transA", 0) != 0) {
        rep.notes.push_back(fmt::format("Gemm '{}': transA = 1, left fp32", n.name()));
        continue;
      }
      if (op == "MatMul" && w->dims_size() != 2) {
        rep.notes.push_back(fmt::format("MatMul '{}': weight of rank {}, left fp32", n.name(), w->dims_size()));
        continue;
      }
      const int64_t axis = op == "Conv" ? 0 : op == "Gemm" ? (AttrInt(n, "transB", 0) != 0 ? 0 : 1) : 1;
      if (!plan.weight_axis.emplace(n.input(1), axis).second && plan.weight_axis[n.input(1)] != axis) {
        return InvalidArgument("{} '{}': weight '{}' is shared with another op along another axis", op, n.name(), n.input(1));
      }
      add(n.input(0));
      add(after_activation(n.output(0)));
    } else if (op == "Add") {
      if (n.input_size() == 2 && is_float(n.input(0)) && is_float(n.input(1))) {
        add(n.input(0));
        add(n.input(1));
        add(after_activation(n.output(0)));
      }
    } else if (op == "GlobalAveragePool") {
      add(n.input(0));
      add(n.output(0));
    } else if (op == "MaxPool" && n.output_size() == 1) {
      add(n.input(0));
      if (chosen.count(n.input(0)) && is_float(n.output(0)) && !outputs.count(n.output(0))) {
        plan.tied[n.output(0)] = n.input(0);
        add(n.output(0));
      }
    } else if (op == "Flatten" || op == "Reshape") {
      // A layout op between two quantized tensors keeps them 8-bit if its output shares the range.
      if (chosen.count(n.input(0)) && is_float(n.output(0)) && !outputs.count(n.output(0))) {
        plan.tied[n.output(0)] = n.input(0);
        add(n.output(0));
      }
    }
  }
  // Ties resolve to the root tensor (a chain of MaxPool / Flatten shares one range).
  const auto root = [&](std::string v) {
    for (auto it = plan.tied.find(v); it != plan.tied.end(); it = plan.tied.find(v)) v = it->second;
    return v;
  };

  // Calibration: the fp32 model with every chosen root as an extra output.
  std::set<std::string> roots;
  for (const auto& v : plan.activations) roots.insert(root(v));
  std::map<std::string, Stats> stats;
  {
    onnx::ModelProto cm = m;
    for (const auto& v : roots) {
      auto* o = cm.mutable_graph()->add_output();
      o->set_name(v);
      o->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    }
    PF_ASSIGN_OR_RETURN(Graph cg, LoadModelFromBytes(cm.SerializeAsString()));
    SessionOptions so;
    so.model_name = "calibration";
    PF_ASSIGN_OR_RETURN(auto session, Session::Create(std::move(cg), so));
    std::mt19937_64 rng(20261126);
    const int passes = options.method == "entropy" ? 2 : 1;
    for (int pass = 0; pass < passes; ++pass) {
      for (size_t k = 0; k < calibration.size(); ++k) {
        auto r = session->Run(calibration[k]);
        if (!r.ok()) return r.status().WithContext(fmt::format("calibration input {}", k));
        for (const auto& v : roots) {
          const Tensor& t = r->outputs.at(v);
          Stats& s = stats[v];
          if (pass == 0) {
            for (float x : t.f) {
              if (!std::isfinite(x)) continue;
              s.lo = std::min<double>(s.lo, x);
              s.hi = std::max<double>(s.hi, x);
              ++s.seen;
              if (s.sample.size() < kSampleCap) {
                s.sample.push_back(x);
              } else if (const uint64_t j = rng() % s.seen; j < kSampleCap) {
                s.sample[j] = x;
              }
            }
          } else {
            if (s.hist.empty()) s.hist.assign(kHistBins, 0.0);
            const double top = std::max(std::abs(s.lo), s.hi);
            if (!(top > 0)) continue;
            for (float x : t.f) {
              if (!std::isfinite(x) || x < 0) continue;  // the positive side sets the upper bound
              s.hist[std::min<int>(kHistBins - 1, static_cast<int>(x / top * kHistBins))] += 1;
            }
          }
        }
      }
    }
  }
  rep.calibration_inputs = static_cast<int>(calibration.size());

  // Parameters per root: u8, asymmetric, 0 inside the range.
  struct QParams {
    float scale;
    int zp;
  };
  std::map<std::string, QParams> qp;
  for (const auto& v : roots) {
    Stats& s = stats[v];
    if (s.seen == 0) return FailedPrecondition("tensor '{}': no finite value seen during calibration", v);
    double lo = s.lo, hi = s.hi;
    if (options.method == "percentile") {
      std::sort(s.sample.begin(), s.sample.end());
      const auto at = [&](double q) {
        const size_t i = std::min(s.sample.size() - 1, static_cast<size_t>(q / 100.0 * (s.sample.size() - 1) + 0.5));
        return static_cast<double>(s.sample[i]);
      };
      lo = at(100.0 - options.percentile);
      hi = at(options.percentile);
    } else if (options.method == "entropy" && !s.hist.empty() && s.hi > 0) {
      const double top = std::max(std::abs(s.lo), s.hi);
      hi = std::min(s.hi, EntropyThreshold(s.hist, top / kHistBins, 255));
    }
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
    if (hi - lo < 1e-8) hi = lo + 1e-8;
    const double scale = (hi - lo) / 255.0;
    const int zp = static_cast<int>(std::clamp(std::nearbyint(-lo / scale), 0.0, 255.0));
    qp[v] = {static_cast<float>(scale), zp};
  }

  // Rewrite: weights -> s8 initializer + DequantizeLinear; activations -> Q/DQ pairs after their
  // producer (graph inputs first); consumers read the DQ output.
  onnx::GraphProto* g = m.mutable_graph();
  std::vector<onnx::TensorProto> new_inits;
  std::vector<onnx::NodeProto> weight_dq;
  std::set<std::string> quantized_weights;
  for (const auto& entry : plan.weight_axis) {
    const std::string& name = entry.first;
    const int64_t axis = entry.second;  // not a structured binding: clang 14 cannot capture those
    const onnx::TensorProto* w = FindInit(*g, name);
    PF_ASSIGN_OR_RETURN(std::vector<float> v, FloatData(*w));
    const std::vector<int64_t> dims(w->dims().begin(), w->dims().end());
    if (axis >= static_cast<int64_t>(dims.size())) return InvalidArgument("weight '{}': axis {} of rank {}", name, axis, dims.size());
    const int64_t channels = options.per_channel ? dims[axis] : 1;
    int64_t inner = 1;
    for (size_t d = axis + 1; d < dims.size(); ++d) inner *= dims[d];
    const auto channel_of = [&](int64_t k) { return options.per_channel ? (k / inner) % dims[axis] : 0; };
    const double qmax = options.reduce_range ? 64.0 : 127.0;
    std::vector<double> amax(channels, 0.0);
    for (size_t k = 0; k < v.size(); ++k) amax[channel_of(k)] = std::max(amax[channel_of(k)], std::abs(static_cast<double>(v[k])));
    std::vector<float> scale(channels);
    for (int64_t c = 0; c < channels; ++c) scale[c] = static_cast<float>(amax[c] > 0 ? amax[c] / qmax : 1.0);
    onnx::TensorProto q;
    q.set_name(name + "_quantized");
    q.set_data_type(onnx::TensorProto::INT8);
    for (int64_t d : dims) q.add_dims(d);
    std::string raw(v.size(), '\0');
    for (size_t k = 0; k < v.size(); ++k) {
      const double r = std::nearbyint(v[k] / scale[channel_of(k)]);
      raw[k] = static_cast<char>(static_cast<int8_t>(std::clamp(r, -qmax, qmax)));
    }
    q.set_raw_data(raw);
    onnx::TensorProto s, z;
    s.set_name(name + "_scale");
    s.set_data_type(onnx::TensorProto::FLOAT);
    z.set_name(name + "_zero_point");
    z.set_data_type(onnx::TensorProto::INT8);
    if (options.per_channel) {
      s.add_dims(channels);
      z.add_dims(channels);
    }
    for (int64_t c = 0; c < channels; ++c) {
      s.add_float_data(scale[c]);
      z.add_int32_data(0);
    }
    new_inits.push_back(std::move(q));
    new_inits.push_back(std::move(s));
    new_inits.push_back(std::move(z));
    onnx::NodeProto dq = MakeNode("DequantizeLinear", name + "_DequantizeLinear",
                                  {name + "_quantized", name + "_scale", name + "_zero_point"}, name + "_dequantized");
    if (options.per_channel) {
      auto* a = dq.add_attribute();
      a->set_name("axis");
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(axis);
    }
    weight_dq.push_back(std::move(dq));
    quantized_weights.insert(name);
  }
  rep.quantized_weights = static_cast<int>(quantized_weights.size());

  std::set<std::string> act(plan.activations.begin(), plan.activations.end());
  const auto qdq_pair = [&](const std::string& v, std::vector<onnx::NodeProto>* out) {
    const std::string r = root(v);
    if (r == v) {
      new_inits.push_back(Scalar(v + "_scale", qp[v].scale));
      new_inits.push_back(U8Scalar(v + "_zero_point", qp[v].zp));
    }
    out->push_back(MakeNode("QuantizeLinear", v + "_QuantizeLinear", {v, r + "_scale", r + "_zero_point"}, v + "_quantized"));
    out->push_back(MakeNode("DequantizeLinear", v + "_DequantizeLinear", {v + "_quantized", r + "_scale", r + "_zero_point"},
                            v + "_dequantized"));
  };
  std::vector<onnx::NodeProto> nodes;
  for (auto& dq : weight_dq) nodes.push_back(std::move(dq));
  for (const auto& in : gp.input()) {
    if (act.count(in.name())) qdq_pair(in.name(), &nodes);
  }
  for (const auto& n : gp.node()) {
    onnx::NodeProto copy = n;
    for (int k = 0; k < copy.input_size(); ++k) {
      const std::string& i = copy.input(k);
      if (act.count(i) || quantized_weights.count(i)) copy.set_input(k, i + "_dequantized");
    }
    nodes.push_back(std::move(copy));
    for (const auto& o : n.output()) {
      if (act.count(o)) qdq_pair(o, &nodes);
    }
  }
  rep.quantized_activations = static_cast<int>(act.size());
  g->clear_node();
  for (auto& n : nodes) *g->add_node() = std::move(n);
  // Old fp32 weights nobody reads any more go.
  std::set<std::string> read;
  for (const auto& n : g->node()) {
    for (const auto& i : n.input()) read.insert(i);
  }
  auto* inits = g->mutable_initializer();
  for (int k = inits->size() - 1; k >= 0; --k) {
    if (quantized_weights.count(inits->Get(k).name()) && !read.count(inits->Get(k).name())) inits->DeleteSubrange(k, 1);
  }
  for (auto& t : new_inits) *g->add_initializer() = std::move(t);
  // Inputs that list initializers (IR < 4) would now name removed ones.
  auto* ins = g->mutable_input();
  for (int k = ins->size() - 1; k >= 0; --k) {
    if (quantized_weights.count(ins->Get(k).name()) && !read.count(ins->Get(k).name())) ins->DeleteSubrange(k, 1);
  }
  return SerializeRewrittenModel(m, "model quantize");
}

}  // namespace pf::engine
