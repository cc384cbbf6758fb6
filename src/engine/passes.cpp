// Graph passes (engine/passes.h). Each pass works on the node list, keeps value names stable
// where a value survives (a fused node takes over the output name of the last node it absorbs),
// and creates new constants under fresh names derived from the node's. Nodes that a pass makes
// unnecessary are left for dead node removal, so a pass never has to re-check other consumers.
#include "engine/passes.h"

#include <cmath>
#include <limits>
#include <set>

#include "engine/ops.h"
#include "engine/shape_inference.h"

namespace pf::engine {
namespace {

constexpr int64_t kMaxFoldBytes = int64_t{64} << 20;

// Who reads each value: (node index, input index) pairs, plus whether it is a graph output.
struct Uses {
  std::map<std::string, std::vector<std::pair<size_t, size_t>>> readers;
  std::set<std::string> graph_outputs;
  std::map<std::string, size_t> producer;

  explicit Uses(const Graph& g) {
    for (size_t n = 0; n < g.nodes.size(); ++n) {
      for (size_t k = 0; k < g.nodes[n].inputs.size(); ++k) {
        if (!g.nodes[n].inputs[k].empty()) readers[g.nodes[n].inputs[k]].emplace_back(n, k);
      }
      for (const auto& o : g.nodes[n].outputs) {
        if (!o.empty()) producer[o] = n;
      }
    }
    for (const auto& o : g.outputs) graph_outputs.insert(o.name);
  }
  size_t Count(const std::string& v) const {
    auto it = readers.find(v);
    return it == readers.end() ? 0 : it->second.size();
  }
  // The value is read by exactly one node input and is not a graph output.
  bool SingleUse(const std::string& v) const { return Count(v) == 1 && !graph_outputs.count(v); }
  // The node producing `v`, or nullptr (graph input, constant, unknown).
  const Node* Producer(const Graph& g, const std::string& v) const {
    auto it = producer.find(v);
    return it == producer.end() ? nullptr : &g.nodes[it->second];
  }
  // The only node reading `v` when SingleUse(v), else nullptr.
  size_t Reader(const std::string& v) const { return readers.at(v)[0].first; }
};

// A fresh value name based on `base`.
std::string FreshName(const Graph& g, const std::string& base) {
  std::set<std::string> used;
  for (const auto& [name, _] : g.constants) used.insert(name);
  for (const auto& in : g.inputs) used.insert(in.name);
  for (const auto& n : g.nodes) {
    used.insert(n.inputs.begin(), n.inputs.end());
    used.insert(n.outputs.begin(), n.outputs.end());
  }
  if (!used.count(base)) return base;
  for (int k = 1;; ++k) {
    std::string name = fmt::format("{}_{}", base, k);
    if (!used.count(name)) return name;
  }
}

const Tensor* Const(const Graph& g, const std::string& name) {
  if (name.empty()) return nullptr;
  auto it = g.constants.find(name);
  return it == g.constants.end() ? nullptr : &it->second;
}

// Removes the nodes marked in `drop`, keeping the order of the others.
void EraseNodes(Graph& g, const std::vector<bool>& drop) {
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    if (!drop[k]) kept.push_back(std::move(g.nodes[k]));
  }
  g.nodes = std::move(kept);
}

Attribute StrAttr(std::string s) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(s);
  return a;
}
Attribute FloatAttr(float f) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = f;
  return a;
}
Attribute IntAttr(int64_t i) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = i;
  return a;
}

// ---------------------------------------------------------------------------------------------
// Constant folding.

// Folds every node whose inputs are all constants (DequantizeLinear of integer tensors only when
// `fold_dequantize`, so QDQ weight patterns survive until the QDQ pass has seen them).
Result<int> FoldConstants(Graph& g, bool fold_dequantize) {
  int folded = 0;
  std::vector<bool> drop(g.nodes.size(), false);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    if (node.inputs.empty()) continue;
    if (node.op_type == "DequantizeLinear" && !fold_dequantize) continue;
    bool all_const = true;
    for (const auto& name : node.inputs) {
      if (!name.empty() && Const(g, name) == nullptr) all_const = false;
    }
    if (!all_const) continue;
    std::vector<const Tensor*> ins;
    for (const auto& name : node.inputs) {
      if (!name.empty()) PF_RETURN_IF_ERROR(g.MaterializeConstant(name));  // deferred weights load here
      ins.push_back(name.empty() ? nullptr : Const(g, name));
    }
    const OpDef* def = FindOp(node.op_type);
    if (def == nullptr) continue;
    std::vector<TensorInfo> info_storage;
    info_storage.reserve(ins.size());
    std::vector<const TensorInfo*> infos;
    for (const Tensor* t : ins) {
      info_storage.push_back(t ? TensorInfo{t->dtype, t->shape, t} : TensorInfo{});
      infos.push_back(t ? &info_storage.back() : nullptr);
    }
    PF_ASSIGN_OR_RETURN(auto out_infos, def->infer(node, infos, g.opset));
    int64_t bytes = 0;
    bool too_big = false;
    for (const auto& info : out_infos) {
      const int64_t e = CheckedNumElements(info.shape);
      if (e < 0) too_big = true;
      bytes += e * (info.dtype == DType::kFloat ? 4 : 8);
    }
    if (too_big || bytes > kMaxFoldBytes) continue;
    PF_ASSIGN_OR_RETURN(auto outs, def->run(node, ins, out_infos, g.opset));
    for (size_t k = 0; k < node.outputs.size() && k < outs.size(); ++k) {
      if (!node.outputs[k].empty()) g.constants[node.outputs[k]] = std::move(outs[k]);
    }
    drop[n] = true;
    ++folded;
  }
  EraseNodes(g, drop);
  return folded;
}

// ---------------------------------------------------------------------------------------------
// BatchNormalization folding: Conv(x, W, B) -> BN(scale, bias, mean, var) becomes
// Conv(x, W * s, (B - mean) * s + bias) with s = scale / sqrt(var + eps), per output channel.

int FoldBatchNorms(Graph& g) {
  Uses uses(g);
  int folded = 0;
  std::vector<bool> drop(g.nodes.size(), false);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Node& conv = g.nodes[n];
    if (conv.op_type != "Conv" || conv.outputs.size() != 1 || drop[n]) continue;
    if (conv.Has("pf_sum") || conv.Has("pf_activation")) continue;
    const std::string& y = conv.outputs[0];
    if (!uses.SingleUse(y)) continue;
    const size_t b = uses.Reader(y);
    const Node& bn = g.nodes[b];
    if (bn.op_type != "BatchNormalization" || bn.Input(0) != y || bn.inputs.size() != 5) continue;
    if (bn.outputs.size() > 1 && !bn.outputs[1].empty()) continue;  // training mode
    if (bn.Int("training_mode", 0) != 0) continue;
    const Tensor* w = Const(g, conv.Input(1));
    const Tensor* cb = Const(g, conv.Input(2));
    if (w == nullptr || !w->is_float() || (!conv.Input(2).empty() && (cb == nullptr || !cb->is_float()))) continue;
    const int64_t m = w->shape.empty() ? 0 : w->shape[0];
    const Tensor* p[4];
    bool ok = m > 0;
    for (int k = 0; k < 4 && ok; ++k) {
      p[k] = Const(g, bn.Input(k + 1));
      ok = p[k] != nullptr && p[k]->is_float() && p[k]->shape == Shape{m};
    }
    // Shapes may not have been inferred (an unsupported op earlier): check what is indexed below.
    if (!ok || w->size() % m != 0 || (cb != nullptr && cb->shape != Shape{m})) continue;
    const double eps = bn.Float("epsilon", 1e-5f);
    Tensor nw = *w;
    Tensor nb = Tensor::Float({m});
    const int64_t per = w->size() / m;
    for (int64_t c = 0; c < m; ++c) {
      const double s = p[0]->f[c] / std::sqrt(static_cast<double>(p[3]->f[c]) + eps);
      for (int64_t j = 0; j < per; ++j) nw.f[c * per + j] = static_cast<float>(w->f[c * per + j] * s);
      const double b0 = cb ? cb->f[c] : 0.0;
      nb.f[c] = static_cast<float>((b0 - p[2]->f[c]) * s + p[1]->f[c]);
    }
    const std::string base = conv.name.empty() ? y : conv.name;
    const std::string wn = FreshName(g, base + "_bn_w");
    g.constants[wn] = std::move(nw);
    const std::string bname = FreshName(g, base + "_bn_b");
    g.constants[bname] = std::move(nb);
    if (conv.inputs.size() < 3) conv.inputs.resize(3);
    conv.inputs[1] = wn;
    conv.inputs[2] = bname;
    conv.outputs[0] = bn.outputs[0];
    drop[b] = true;
    ++folded;
  }
  EraseNodes(g, drop);
  return folded;
}

// ---------------------------------------------------------------------------------------------
// Activations: the pf_ attributes for an activation node, when it can be fused.

bool ActivationAttrs(const Graph& g, const Node& act, std::map<std::string, Attribute>* attrs) {
  static const std::set<std::string> kOps = {"Relu",      "Clip",    "LeakyRelu", "HardSigmoid",
                                             "HardSwish", "Sigmoid", "Tanh"};
  if (!kOps.count(act.op_type) || act.outputs.size() != 1 || act.inputs.empty()) return false;
  attrs->clear();
  (*attrs)["pf_activation"] = StrAttr(act.op_type);
  if (act.op_type == "LeakyRelu") (*attrs)["pf_alpha"] = FloatAttr(act.Float("alpha", 0.01f));
  if (act.op_type == "HardSigmoid") {
    (*attrs)["pf_alpha"] = FloatAttr(act.Float("alpha", 0.2f));
    (*attrs)["pf_beta"] = FloatAttr(act.Float("beta", 0.5f));
  }
  if (act.op_type == "Clip") {
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (act.inputs.size() > 1) {
      for (size_t k = 1; k < act.inputs.size() && k < 3; ++k) {
        if (act.inputs[k].empty()) continue;
        const Tensor* t = Const(g, act.inputs[k]);
        if (t == nullptr || !t->is_float() || t->size() != 1) return false;
        (k == 1 ? lo : hi) = t->f[0];
      }
    } else {
      lo = act.Float("min", lo);  // opset < 11
      hi = act.Float("max", hi);
    }
    (*attrs)["pf_min"] = FloatAttr(lo);
    (*attrs)["pf_max"] = FloatAttr(hi);
  }
  return true;
}

// Relu & co. after an fp32 Conv/Gemm/MatMul (single consumer, not a graph output).
int FuseActivations(Graph& g) {
  Uses uses(g);
  int fused = 0;
  std::vector<bool> drop(g.nodes.size(), false);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Node& p = g.nodes[n];
    if (p.op_type != "Conv" && p.op_type != "Gemm" && p.op_type != "MatMul") continue;
    if (p.Has("pf_activation") || p.outputs.size() != 1 || drop[n]) continue;
    if (!uses.SingleUse(p.outputs[0])) continue;
    const size_t a = uses.Reader(p.outputs[0]);
    std::map<std::string, Attribute> attrs;
    if (g.nodes[a].Input(0) != p.outputs[0] || !ActivationAttrs(g, g.nodes[a], &attrs)) continue;
    for (auto& [k, v] : attrs) p.attrs[k] = v;
    p.outputs[0] = g.nodes[a].outputs[0];
    drop[a] = true;
    ++fused;
  }
  EraseNodes(g, drop);
  return fused;
}

// Add(conv, s) with s of the conv output's shape -> Conv with pf_sum.
int FuseAdds(Graph& g, const std::map<std::string, TensorInfo>& shapes) {
  Uses uses(g);
  int fused = 0;
  std::vector<bool> drop(g.nodes.size(), false);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Node& conv = g.nodes[n];
    if (conv.op_type != "Conv" || conv.Has("pf_sum") || conv.Has("pf_activation") || conv.outputs.size() != 1) continue;
    const std::string& y = conv.outputs[0];
    if (!uses.SingleUse(y)) continue;
    const size_t a = uses.Reader(y);
    const Node& add = g.nodes[a];
    if (add.op_type != "Add" || add.inputs.size() != 2 || drop[a]) continue;
    if (add.inputs[0] == add.inputs[1]) continue;
    const std::string& other = add.inputs[0] == y ? add.inputs[1] : add.inputs[0];
    auto sy = shapes.find(y), so = shapes.find(other);
    if (sy == shapes.end() || so == shapes.end()) continue;
    if (so->second.shape != sy->second.shape || so->second.dtype != DType::kFloat) continue;
    conv.inputs.resize(3);
    conv.inputs.push_back(other);
    conv.attrs["pf_sum"] = IntAttr(1);
    conv.outputs[0] = add.outputs[0];
    drop[a] = true;
    ++fused;
  }
  EraseNodes(g, drop);
  return fused;
}

// ---------------------------------------------------------------------------------------------
// QDQ patterns -> quantized nodes.

// A DequantizeLinear node feeding a pattern, with its parameters when they are constants.
struct Dq {
  const Node* node = nullptr;
  std::string q;       // the quantized tensor
  std::string scale;   // constant float
  std::string zp;      // constant or ""
  const Tensor* s = nullptr;
  const Tensor* z = nullptr;
  DType type = DType::kUint8;
  bool per_tensor() const { return s->size() == 1; }
};

bool IsQ8(DType t) { return t == DType::kUint8 || t == DType::kInt8; }

// The DequantizeLinear producing `v` with constant scale/zero point of an 8-bit tensor.
std::optional<Dq> MatchDq(const Graph& g, const Uses& uses, const std::map<std::string, TensorInfo>& shapes,
                          const std::string& v) {
  const Node* n = uses.Producer(g, v);
  if (n == nullptr || n->op_type != "DequantizeLinear" || n->inputs.size() < 2) return std::nullopt;
  Dq d;
  d.node = n;
  d.q = n->inputs[0];
  d.scale = n->inputs[1];
  d.zp = n->Input(2);
  d.s = Const(g, d.scale);
  d.z = Const(g, d.zp);
  if (d.s == nullptr || !d.s->is_float() || (!d.zp.empty() && d.z == nullptr)) return std::nullopt;
  auto it = shapes.find(d.q);
  if (it == shapes.end() || !IsQ8(it->second.dtype)) return std::nullopt;
  d.type = it->second.dtype;
  for (float s : d.s->f) {
    if (!(s > 0) || !std::isfinite(s)) return std::nullopt;
  }
  return d;
}

// The DQ axis of a per-channel tensor of rank r, normalised.
int64_t DqAxis(const Dq& d, int64_t rank) {
  int64_t axis = d.node->Int("axis", 1);
  return axis < 0 ? axis + rank : axis;
}

bool ZeroPointIsZero(const Dq& d) {
  if (d.z == nullptr) return true;
  for (int64_t v : d.z->i) {
    if (v != 0) return false;
  }
  return true;
}

// Per tensor, or per output channel along `axis` of a constant weight of rank `rank`.
bool WeightScalesOk(const Dq& d, int64_t rank, int64_t axis, int64_t channels) {
  if (d.per_tensor() && d.s->shape.size() <= 1) return true;
  return d.s->shape == Shape{channels} && DqAxis(d, rank) == axis;
}

// The tail of a pattern: value `v` (fp32) [-> activation] -> QuantizeLinear with per-tensor
// constant parameters. Fills the nodes to drop, the output name and the activation attrs.
struct QTail {
  std::string out, scale, zp;
  std::vector<size_t> nodes;  // activation (optional) and Q
  std::map<std::string, Attribute> act;
};

std::optional<QTail> MatchQTail(const Graph& g, const Uses& uses, const std::string& v) {
  QTail t;
  if (!uses.SingleUse(v)) return std::nullopt;
  size_t n = uses.Reader(v);
  std::string cur = v;
  if (ActivationAttrs(g, g.nodes[n], &t.act)) {
    if (g.nodes[n].Input(0) != cur || !uses.SingleUse(g.nodes[n].outputs[0])) return std::nullopt;
    t.nodes.push_back(n);
    cur = g.nodes[n].outputs[0];
    n = uses.Reader(cur);
  }
  const Node& q = g.nodes[n];
  if (q.op_type != "QuantizeLinear" || q.Input(0) != cur || q.inputs.size() < 2 || q.outputs.size() != 1) {
    return std::nullopt;
  }
  const Tensor* s = Const(g, q.inputs[1]);
  const Tensor* z = Const(g, q.Input(2));
  if (s == nullptr || !s->is_float() || s->size() != 1 || s->shape.size() > 1) return std::nullopt;
  if (!(s->f[0] > 0) || !std::isfinite(s->f[0])) return std::nullopt;
  if (!q.Input(2).empty() && (z == nullptr || z->size() != 1 || z->shape.size() > 1 || !IsQ8(z->dtype))) {
    return std::nullopt;
  }
  t.nodes.push_back(n);
  t.out = q.outputs[0];
  t.scale = q.inputs[1];
  t.zp = q.Input(2);
  return t;
}

// The activation's per-tensor parameters: scalar scale, scalar (or absent) zero point.
bool ActivationParamsOk(const Dq& d) {
  return d.per_tensor() && d.s->shape.size() <= 1 && (d.z == nullptr || (d.z->size() == 1 && d.z->shape.size() <= 1));
}

// An fp32 bias as int32: round(b / (x_scale * w_scale[c])); fails when it does not fit int32.
// `bias_real` is the real bias per channel.
std::optional<Tensor> QuantizeBias(const std::vector<double>& bias_real, float x_scale, const Tensor& w_scale) {
  const int64_t m = static_cast<int64_t>(bias_real.size());
  Tensor b = Tensor::Int(DType::kInt32, {m});
  for (int64_t c = 0; c < m; ++c) {
    const double ws = w_scale.size() == 1 ? w_scale.f[0] : w_scale.f[c];
    const double q = std::nearbyint(bias_real[c] / (static_cast<double>(x_scale) * ws));
    if (!(std::fabs(q) <= 2147483647.0)) return std::nullopt;
    b.i[c] = static_cast<int64_t>(q);
  }
  return b;
}

// The real bias of a Conv/Gemm: an fp32 constant [m] (or [1,m] for Gemm), or DQ(int32 constant).
std::optional<std::vector<double>> RealBias(const Graph& g, const Uses& uses, const std::string& v, int64_t m) {
  if (v.empty()) return std::vector<double>(m, 0.0);
  if (const Tensor* t = Const(g, v)) {
    if (!t->is_float() || t->size() != m || (t->shape != Shape{m} && t->shape != Shape{1, m})) return std::nullopt;
    return std::vector<double>(t->f.begin(), t->f.end());
  }
  const Node* dq = uses.Producer(g, v);
  if (dq == nullptr || dq->op_type != "DequantizeLinear") return std::nullopt;
  const Tensor* q = Const(g, dq->Input(0));
  const Tensor* s = Const(g, dq->Input(1));
  const Tensor* z = Const(g, dq->Input(2));
  if (q == nullptr || q->dtype != DType::kInt32 || q->shape != Shape{m} || s == nullptr || !s->is_float()) {
    return std::nullopt;
  }
  if (!dq->Input(2).empty() && z == nullptr) return std::nullopt;
  if (s->size() != 1 && s->size() != m) return std::nullopt;
  std::vector<double> r(m);
  for (int64_t c = 0; c < m; ++c) {
    const int64_t zp = z == nullptr ? 0 : z->i[z->size() == 1 ? 0 : c];
    // The same float arithmetic as DequantizeLinear's kernel.
    r[c] = static_cast<float>(q->i[c] - zp) * s->f[s->size() == 1 ? 0 : c];
  }
  return r;
}

// A constant holding a zero point for a tensor without one (ONNX default: uint8 0).
std::string ZeroPointName(Graph& g, const Dq& d, const std::string& base) {
  if (!d.zp.empty()) return d.zp;
  const std::string name = FreshName(g, base + "_zp");
  g.constants[name] = Tensor::Int(d.type, {}, {0});
  return name;
}

struct QdqCounts {
  int qlinear = 0, activations = 0, wide = 0;
};

// True when the int8 constant `name` has every element within [-limit, limit] (loads it if deferred).
Result<bool> WeightsWithin(Graph& g, const std::string& name, int limit) {
  if (limit >= 127) return true;
  PF_RETURN_IF_ERROR(g.MaterializeConstant(name));
  const Tensor* w = Const(g, name);
  if (w == nullptr) return true;
  for (int64_t v : w->i) {
    if (v > limit || v < -limit) return false;
  }
  return true;
}

Result<QdqCounts> RewriteQdq(Graph& g, const std::map<std::string, TensorInfo>& shapes, int weight_limit) {
  Uses uses(g);
  QdqCounts counts;
  std::vector<bool> drop(g.nodes.size(), false);
  std::vector<Node> added;
  auto taken = [&](const QTail& t) {
    for (size_t k : t.nodes) {
      if (drop[k]) return true;
    }
    return false;
  };
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node node = g.nodes[n];  // a copy: FreshName() may not invalidate it, but constants change
    if (drop[n] || node.outputs.size() != 1) continue;
    const std::string& op = node.op_type;
    const bool passthrough = op == "MaxPool" || op == "Flatten" || op == "Reshape" || op == "Squeeze" ||
                             op == "Unsqueeze" || op == "Transpose";
    if (op != "Conv" && op != "MatMul" && op != "Gemm" && op != "Add" && op != "GlobalAveragePool" && !passthrough)
      continue;
    if (node.Has("pf_sum") || node.Has("pf_activation")) continue;
    auto tail = MatchQTail(g, uses, node.outputs[0]);
    if (!tail || taken(*tail)) continue;
    auto a = MatchDq(g, uses, shapes, node.Input(0));
    const bool unary = op == "GlobalAveragePool" || passthrough;
    auto b = unary ? a : MatchDq(g, uses, shapes, node.Input(1));
    if (!a || !b || !ActivationParamsOk(*a)) continue;
    const std::string base = node.name.empty() ? node.outputs[0] : node.name;
    if (passthrough) {
      // DQ -> MaxPool / a layout op -> Q with the same scale and zero point: the max commutes with the
      // monotonic (de)quantization, layout ops only move elements, and Q(DQ(x)) == x, so the op runs
      // on the 8-bit tensor itself (exact; ONNX Runtime does the same). Only one-output forms; the
      // other inputs (Reshape's shape, axes) stay as they are.
      if (node.outputs.size() != 1 || !tail->act.empty()) continue;
      const Tensor* ys = Const(g, tail->scale);
      const Tensor* yz = Const(g, tail->zp);
      const int64_t xz = a->z == nullptr ? 0 : a->z->i[0];
      const int64_t qz = yz == nullptr ? 0 : yz->i[0];
      const DType qt = yz == nullptr ? DType::kUint8 : yz->dtype;
      if (ys == nullptr || ys->f[0] != a->s->f[0] || xz != qz || qt != a->type) continue;
      Node mp = node;
      mp.name = base + "_q8";
      mp.inputs[0] = a->q;
      mp.outputs = {tail->out};
      drop[n] = true;
      for (size_t k : tail->nodes) drop[k] = true;
      added.push_back(std::move(mp));
      ++counts.qlinear;
      continue;
    }
    Node q;
    q.name = base + "_quant";
    q.outputs = {tail->out};

    if (unary) {
      // DQ -> GlobalAveragePool -> Q: ONNX Runtime's QLinearGlobalAveragePool (ops_quant.cpp).
      if (node.inputs.size() != 1 || !tail->act.empty()) continue;
      q.op_type = "PfQLinearGlobalAveragePool";
      q.inputs = {a->q, a->scale, ZeroPointName(g, *a, base + "_x"), tail->scale, tail->zp};
    } else if (op == "Conv") {
      const Tensor* w = Const(g, b->q);
      if (w == nullptr || node.inputs.size() > 3 || b->type != DType::kInt8 || !ZeroPointIsZero(*b)) continue;
      PF_ASSIGN_OR_RETURN(bool within, WeightsWithin(g, b->q, weight_limit));
      if (!within) {
        ++counts.wide;
        continue;
      }
      const int64_t m = w->shape[0];
      if (!WeightScalesOk(*b, static_cast<int64_t>(w->shape.size()), 0, m)) continue;
      auto bias = RealBias(g, uses, node.Input(2), m);
      if (!bias) continue;
      auto bq = QuantizeBias(*bias, a->s->f[0], *b->s);
      if (!bq) continue;
      q.op_type = "QLinearConv";
      for (const char* attr : {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}) {
        if (node.Has(attr)) q.attrs[attr] = node.attrs.at(attr);
      }
      const std::string bias_name = FreshName(g, base + "_bias_q");
      g.constants[bias_name] = std::move(*bq);
      q.inputs = {a->q, a->scale, ZeroPointName(g, *a, base + "_x"), b->q, b->scale, ZeroPointName(g, *b, base + "_w"),
                  tail->scale, tail->zp, bias_name};
    } else if (op == "MatMul") {
      const Tensor* w = Const(g, b->q);
      if (node.inputs.size() != 2) continue;
      if (w != nullptr) {
        // A weight: s8, zero point 0, per tensor or per output column (DQ axis 1 of a 2-D B).
        if (b->type != DType::kInt8 || !ZeroPointIsZero(*b)) continue;
        if (w->shape.size() != 2 && !(b->per_tensor() && b->s->shape.size() <= 1)) continue;
        PF_ASSIGN_OR_RETURN(bool within, WeightsWithin(g, b->q, weight_limit));
        if (!within) {
        ++counts.wide;
        continue;
      }
        if (w->shape.size() == 2 && !WeightScalesOk(*b, 2, 1, w->shape[1])) continue;
      } else if (!ActivationParamsOk(*b)) {
        continue;
      }
      q.op_type = "QLinearMatMul";
      q.inputs = {a->q, a->scale, ZeroPointName(g, *a, base + "_a"), b->q, b->scale, ZeroPointName(g, *b, base + "_b"),
                  tail->scale, tail->zp};
    } else if (op == "Gemm") {
      const Tensor* w = Const(g, b->q);
      if (w == nullptr || w->shape.size() != 2 || b->type != DType::kInt8 || !ZeroPointIsZero(*b)) continue;
      PF_ASSIGN_OR_RETURN(bool within, WeightsWithin(g, b->q, weight_limit));
      if (!within) {
        ++counts.wide;
        continue;
      }
      if (node.Int("transA", 0) != 0 || node.Float("alpha", 1.0f) != 1.0f || node.Float("beta", 1.0f) != 1.0f) continue;
      auto sa = shapes.find(node.Input(0));
      if (sa == shapes.end() || sa->second.shape.size() != 2) continue;
      const bool tb = node.Int("transB", 0) != 0;
      const int64_t nn = tb ? w->shape[0] : w->shape[1];
      if (!WeightScalesOk(*b, 2, tb ? 0 : 1, nn)) continue;
      auto bias = RealBias(g, uses, node.Input(2), nn);
      if (!bias) continue;
      auto bq = QuantizeBias(*bias, a->s->f[0], *b->s);
      if (!bq) continue;
      q.op_type = "PfQLinearGemm";
      q.attrs["transB"] = IntAttr(tb ? 1 : 0);
      std::string bias_name;
      if (!node.Input(2).empty()) {
        bias_name = FreshName(g, base + "_bias_q");
        g.constants[bias_name] = std::move(*bq);
      }
      q.inputs = {a->q, a->scale, ZeroPointName(g, *a, base + "_a"), b->q, b->scale, ZeroPointName(g, *b, base + "_w"),
                  tail->scale, tail->zp, bias_name};
    } else {  // Add
      if (node.inputs.size() != 2 || !ActivationParamsOk(*b)) continue;
      q.op_type = "PfQLinearAdd";
      q.inputs = {a->q, a->scale, ZeroPointName(g, *a, base + "_a"), b->q, b->scale, ZeroPointName(g, *b, base + "_b"),
                  tail->scale, tail->zp};
    }
    if (!tail->act.empty()) {
      for (auto& [k, v] : tail->act) q.attrs[k] = v;
      ++counts.activations;
    }
    const size_t y_zp = unary ? 4 : 7;
    if (q.inputs[y_zp].empty()) {
      // QuantizeLinear without a zero point: uint8 0.
      const std::string name = FreshName(g, base + "_y_zp");
      g.constants[name] = Tensor::Int(DType::kUint8, {}, {0});
      q.inputs[y_zp] = name;
    }
    drop[n] = true;
    for (size_t k : tail->nodes) drop[k] = true;
    added.push_back(std::move(q));
    ++counts.qlinear;
  }
  EraseNodes(g, drop);
  for (auto& q : added) g.nodes.push_back(std::move(q));
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Dead nodes: outputs that reach no graph output; constants nobody reads go with them.

int RemoveDeadNodes(Graph& g) {
  std::set<std::string> needed;
  for (const auto& o : g.outputs) needed.insert(o.name);
  std::vector<bool> drop(g.nodes.size(), true);
  for (size_t k = g.nodes.size(); k-- > 0;) {
    const Node& n = g.nodes[k];
    for (const auto& o : n.outputs) {
      if (!o.empty() && needed.count(o)) drop[k] = false;
    }
    if (drop[k]) continue;
    for (const auto& in : n.inputs) {
      if (!in.empty()) needed.insert(in);
    }
  }
  int removed = 0;
  for (bool d : drop) removed += d ? 1 : 0;
  EraseNodes(g, drop);
  for (auto it = g.constants.begin(); it != g.constants.end();) {
    if (!needed.count(it->first)) it = g.constants.erase(it);
    else ++it;
  }
  return removed;
}

Status Check(Graph& g, const char* pass) {
  Status s = g.SortTopologically();
  if (!s.ok()) return Internal("graph pass '{}' broke the graph: {}", pass, s.ToString());
  return Status::Ok();
}

}  // namespace

std::string PassReport::ToString() const {
  return fmt::format(
      "folded_constants={} folded_batchnorms={} fused_activations={} fused_adds={} qlinear_nodes={} "
      "removed_nodes={} wide_weight_nodes={}",
      folded_constants, folded_batchnorms, fused_activations, fused_adds, qlinear_nodes, removed_nodes,
      wide_weight_nodes);
}

Result<PassReport> Optimize(Graph& g, const PassOptions& options) {
  PassReport report;
  PF_RETURN_IF_ERROR(g.SortTopologically());
  // Shapes are needed by the QDQ and Add passes; a graph with dynamic input dims skips those.
  auto shapes = InferShapes(g);
  if (!shapes.ok() && shapes.status().code() != StatusCode::kUnimplemented) return shapes.status();
  if (options.fold_constants) {
    PF_ASSIGN_OR_RETURN(int folded, FoldConstants(g, /*fold_dequantize=*/!options.qdq_to_qlinear));
    report.folded_constants += folded;
  }
  if (options.fold_batchnorm) {
    report.folded_batchnorms += FoldBatchNorms(g);
    PF_RETURN_IF_ERROR(Check(g, "fold_batchnorm"));
  }
  if (options.qdq_to_qlinear && shapes.ok()) {
    PF_ASSIGN_OR_RETURN(auto fresh, InferShapes(g));
    PF_ASSIGN_OR_RETURN(QdqCounts c, RewriteQdq(g, fresh, options.int8_weight_limit));
    report.qlinear_nodes += c.qlinear;
    report.wide_weight_nodes += c.wide;
    report.fused_activations += c.activations;
    PF_RETURN_IF_ERROR(Check(g, "qdq_to_qlinear"));
  }
  if (options.remove_dead) report.removed_nodes += RemoveDeadNodes(g);
  if (options.fold_constants && options.qdq_to_qlinear) {
    // DequantizeLinear of constants that no quantized node took (weights of unfused ops).
    PF_ASSIGN_OR_RETURN(int folded, FoldConstants(g, /*fold_dequantize=*/true));
    report.folded_constants += folded;
  }
  if (options.fuse_add && shapes.ok()) {
    PF_ASSIGN_OR_RETURN(auto fresh, InferShapes(g));
    report.fused_adds += FuseAdds(g, fresh);
    PF_RETURN_IF_ERROR(Check(g, "fuse_add"));
  }
  if (options.fuse_activation) {
    report.fused_activations += FuseActivations(g);
    PF_RETURN_IF_ERROR(Check(g, "fuse_activation"));
  }
  if (options.remove_dead) report.removed_nodes += RemoveDeadNodes(g);
  PF_RETURN_IF_ERROR(Check(g, "sort"));
  auto after = InferShapes(g);
  if (!after.ok() && !(after.status().code() == StatusCode::kUnimplemented && !shapes.ok())) {
    return Internal("the optimized graph fails shape inference: {}", after.status().ToString());
  }
  return report;
}

}  // namespace pf::engine
