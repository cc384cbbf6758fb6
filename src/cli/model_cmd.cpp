#include "cli/model_cmd.h"

#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/file.h"
#include "engine/manifest.h"
#include "engine/model.h"
#include "engine/dnnl_kernels.h"
#include "engine/prune.h"
#include "engine/quantize.h"
#include "engine/distill.h"
#include "engine/npy.h"
#include "engine/onnx_import.h"
#include "engine/ops.h"
#include "engine/passes.h"
#include "engine/shape_inference.h"

namespace pf {
namespace {

using Json = nlohmann::json;
using engine::DType;
using engine::Graph;
using engine::Node;
using engine::Shape;
using engine::Tensor;
using engine::TensorMap;
using engine::ValueInfo;

constexpr int kExitBadInput = 2;
constexpr int kExitOther = 1;

int Fail(std::ostream& err, const Status& s) {
  err << "error: " << s.message() << "\n";
  return s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kNotFound ||
                 s.code() == StatusCode::kUnimplemented || s.code() == StatusCode::kFailedPrecondition
             ? kExitBadInput
             : kExitOther;
}

Json ValueInfosJson(const std::vector<ValueInfo>& v) {
  Json a = Json::array();
  for (const auto& i : v) a.push_back({{"name", i.name}, {"dtype", std::string(engine::DTypeName(i.dtype))}, {"shape", i.shape}});
  return a;
}

int64_t Product(const Shape& s, size_t from = 0) {
  int64_t p = 1;
  for (size_t k = from; k < s.size(); ++k) p *= s[k];
  return p;
}

// Multiply-accumulates of one node from the inferred shapes; -1 when the node does no MACs here.
int64_t NodeMacs(const Node& n, const std::map<std::string, engine::TensorInfo>& info) {
  auto shape = [&](size_t k) -> const Shape* {
    auto it = info.find(n.Input(k));
    return it == info.end() ? nullptr : &it->second.shape;
  };
  auto out_it = n.outputs.empty() ? info.end() : info.find(n.outputs[0]);
  if (out_it == info.end()) return -1;
  const Shape& out = out_it->second.shape;
  if (n.op_type == "Conv" || n.op_type == "QLinearConv") {
    const Shape* w = shape(n.op_type == "Conv" ? 1 : 3);
    return w ? Product(out) * Product(*w, 1) : -1;
  }
  if (n.op_type == "ConvTranspose") {
    const Shape *x = shape(0), *w = shape(1);
    return x && w ? Product(*x) * Product(*w, 1) : -1;
  }
  if (n.op_type == "Gemm" || n.op_type == "PfQLinearGemm") {
    const Shape* a = shape(0);
    if (!a || a->size() != 2) return -1;
    const int64_t k = n.Int("transA", 0) ? (*a)[0] : (*a)[1];
    return Product(out) * k;
  }
  if (n.op_type == "MatMul" || n.op_type == "QLinearMatMul") {
    const Shape* a = shape(0);
    return a && !a->empty() ? Product(out) * a->back() : -1;
  }
  return -1;
}

bool IsInt8Op(const std::string& op) {
  return op == "QLinearConv" || op == "QLinearMatMul" || op.rfind("PfQLinear", 0) == 0;
}

Result<Json> InspectOnnx(const std::string& path, const std::string& bytes) {
  engine::ImportOptions lenient;
  lenient.require_supported_ops = false;
  Result<Graph> g = engine::LoadModelFromBytes(bytes, lenient);
  if (!g.ok()) return g.status().WithContext(path);
  Json j;
  j["opset"] = g->opset;
  j["nodes"] = g->nodes.size();
  std::map<std::string, int> ops;
  std::vector<std::string> unsupported;
  for (const Node& n : g->nodes) {
    if (ops[n.op_type]++ == 0 && !engine::IsSupportedOp(n.op_type)) unsupported.push_back(n.op_type);
  }
  j["ops"] = ops;
  j["unsupported_ops"] = unsupported;
  j["inputs"] = ValueInfosJson(g->inputs);
  j["outputs"] = ValueInfosJson(g->outputs);
  int64_t params = 0, param_bytes = 0;
  for (const auto& [name, t] : g->constants) {
    params += t.size();
    param_bytes += t.size() * (t.dtype == DType::kFloat || t.dtype == DType::kInt32 ? 4 : t.dtype == DType::kInt64 ? 8 : 1);
  }
  j["parameters"] = params;
  j["parameter_bytes"] = param_bytes;
  if (!unsupported.empty()) return j;  // no shapes, passes or manifest check for a graph the engine cannot run
  auto shapes = engine::InferShapes(*g);
  if (shapes.ok()) {
    Json per = Json::array();
    int64_t total = 0;
    for (const Node& n : g->nodes) {
      const int64_t macs = NodeMacs(n, *shapes);
      if (macs < 0) continue;
      total += macs;
      per.push_back({{"node", n.name.empty() ? n.outputs[0] : n.name}, {"op", n.op_type}, {"macs", macs}});
    }
    j["macs"] = per;
    j["macs_total"] = total;
  } else {
    j["macs_unknown"] = shapes.status().message();
  }
  Graph optimized = *g;
  auto report = engine::Optimize(optimized);
  if (report.ok()) {
    Json int8 = Json::array();
    for (const Node& n : optimized.nodes) {
      if (IsInt8Op(n.op_type)) int8.push_back({{"node", n.name.empty() ? n.outputs[0] : n.name}, {"op", n.op_type}});
    }
    j["int8_nodes"] = int8;
    j["optimized_nodes"] = optimized.nodes.size();
    j["passes"] = report->ToString();
  } else {
    j["passes_failed"] = report.status().message();
  }
  return j;
}

std::string ShapeStr(const Json& shape) {
  std::string s = "[";
  for (size_t k = 0; k < shape.size(); ++k) s += (k ? "," : "") + shape[k].dump();
  return s + "]";
}

int Inspect(const ModelArgs& a, std::ostream& out, std::ostream& err) {
  auto bytes = ReadFileBytes(a.model);
  if (!bytes.ok()) return Fail(err, bytes.status());
  Json j;
  j["model"] = a.model;
  j["bytes"] = bytes->size();
  // The same choice as engine::LoadModel: extension first, then content.
  const bool tree = a.model.ends_with(".json") || a.model.ends_with(".ubj") ||
                    (!a.model.ends_with(".onnx") && engine::LooksLikeXgboostModel(*bytes));
  j["kind"] = tree ? "xgboost" : "onnx";
  if (!tree) {
    auto onnx = InspectOnnx(a.model, *bytes);
    if (!onnx.ok()) return Fail(err, onnx.status());
    j.update(*onnx);
    if (!j["unsupported_ops"].empty()) {
      // Everything the file says, then the error: this model does not run here.
      if (a.json) out << j.dump(2) << "\n";
      std::string list;
      for (const auto& op : j["unsupported_ops"]) list += (list.empty() ? "" : ", ") + op.get<std::string>();
      err << "error: " << a.model << ": operators not supported by this engine: " << list << "\n";
      return kExitBadInput;
    }
  }
  engine::ModelOptions mo;
  mo.optimize = mo.use_dnnl = !a.reference;
  auto model = engine::LoadModel(a.model, mo);
  if (!model.ok()) return Fail(err, model.status());
  if (tree) {
    const auto& t = dynamic_cast<const engine::XgboostModel&>(**model).tree();
    j["features"] = t.num_features();
    j["outputs_per_row"] = t.outputs_per_row();
    j["boosted_rounds"] = t.boosted_rounds();
    j["objective"] = t.objective();
    j["inputs"] = ValueInfosJson((*model)->inputs());
    j["outputs"] = ValueInfosJson((*model)->outputs());
  } else {
    auto kernels = dynamic_cast<const engine::OnnxModel&>(**model).NodeKernels();
    if (!kernels.empty()) {
      std::map<std::string, int> counts;
      for (const auto& k : kernels) ++counts[k];
      j["kernels"] = counts;
    }
  }
  const engine::Manifest& m = (*model)->manifest();
  j["manifest_present"] = m.present;
  j["manifest"] = Json::parse(engine::ManifestToJson(m));
  if (a.json) {
    out << j.dump(2) << "\n";
    return 0;
  }
  out << fmt::format("model {} ({}, {} bytes)\n", a.model, j["kind"].get<std::string>(), bytes->size());
  out << fmt::format("manifest: {}", m.present ? fmt::format("{} {}", m.name, m.version) : "none (described from the model)")
      << fmt::format(", sha256 {}\n", m.model_sha256);
  for (const char* side : {"inputs", "outputs"}) {
    for (const auto& v : j[side]) {
      out << fmt::format("{} {} {} {}\n", side == std::string("inputs") ? "input " : "output", v["name"].get<std::string>(),
                         v["dtype"].get<std::string>(), ShapeStr(v["shape"]));
    }
  }
  if (tree) {
    out << fmt::format("xgboost: {} features, {} outputs per row, {} rounds, objective {}\n", j["features"].get<int64_t>(),
                       j["outputs_per_row"].get<int64_t>(), j["boosted_rounds"].get<int64_t>(),
                       j["objective"].get<std::string>());
  } else {
    out << fmt::format("opset {}, {} nodes, {} parameters ({} bytes)\n", j["opset"].get<int64_t>(), j["nodes"].get<int64_t>(),
                       j["parameters"].get<int64_t>(), j["parameter_bytes"].get<int64_t>());
    out << "ops:";
    for (auto it = j["ops"].begin(); it != j["ops"].end(); ++it) out << fmt::format(" {} x{}", it.key(), it->get<int>());
    out << "\n";
    if (j.contains("macs")) {
      for (const auto& e : j["macs"]) {
        out << fmt::format("  macs {:>14} {} ({})\n", e["macs"].get<int64_t>(), e["node"].get<std::string>(),
                           e["op"].get<std::string>());
      }
      out << fmt::format("macs total {}\n", j["macs_total"].get<int64_t>());
    }
    if (j.contains("int8_nodes")) {
      out << fmt::format("int8 nodes after passes: {} of {}", j["int8_nodes"].size(), j["optimized_nodes"].get<int64_t>());
      for (const auto& e : j["int8_nodes"]) out << " " << e["node"].get<std::string>() << "(" << e["op"].get<std::string>() << ")";
      out << "\n";
    }
  }
  if (m.present) out << "manifest:\n" << engine::ManifestToJson(m) << "\n";
  return 0;
}

// "name=path" -> {name, path}; "path" -> {"", path}.
std::pair<std::string, std::string> SplitNamed(const std::string& s) {
  const auto eq = s.find('=');
  if (eq == std::string::npos || s.find('/') < eq) return {"", s};
  return {s.substr(0, eq), s.substr(eq + 1)};
}

Result<TensorMap> ReadInputs(const std::vector<std::string>& args, const std::vector<ValueInfo>& declared) {
  TensorMap inputs;
  for (const std::string& arg : args) {
    auto [name, path] = SplitNamed(arg);
    if (name.empty()) {
      if (declared.size() != 1) {
        std::string names;
        for (const auto& v : declared) names += (names.empty() ? "" : ", ") + v.name;
        return InvalidArgument("--input {}: the model has {} inputs ({}): use --input name=path", arg, declared.size(), names);
      }
      name = declared[0].name;
    }
    auto it = std::find_if(declared.begin(), declared.end(), [&](const ValueInfo& v) { return v.name == name; });
    if (it == declared.end()) return InvalidArgument("--input {}: the model has no input '{}'", arg, name);
    PF_ASSIGN_OR_RETURN(Tensor t, engine::ReadNpyFile(path));
    PF_RETURN_IF_ERROR(engine::CheckTensorForInput(t, *it, path));
    if (!inputs.emplace(name, std::move(t)).second) return InvalidArgument("--input {}: input '{}' given twice", arg, name);
  }
  for (const auto& v : declared) {
    if (!inputs.count(v.name)) return InvalidArgument("model input '{}' has no --input", v.name);
  }
  return inputs;
}

Json TensorSummary(const Tensor& t, const engine::ManifestOutput* meaning) {
  Json j{{"dtype", std::string(engine::DTypeName(t.dtype))}, {"shape", t.shape}};
  Json values = Json::array();
  for (int64_t k = 0; k < std::min<int64_t>(t.size(), 16); ++k) values.push_back(t.At(k));
  j["values"] = values;
  if (meaning && !meaning->class_names.empty() && t.size() == static_cast<int64_t>(meaning->class_names.size())) {
    int64_t best = 0;
    for (int64_t k = 1; k < t.size(); ++k) best = t.At(k) > t.At(best) ? k : best;
    j["argmax"] = best;
    j["class"] = meaning->class_names[best];
  }
  return j;
}

int RunOnce(const ModelArgs& a, std::ostream& out, std::ostream& err) {
  engine::ModelOptions mo;
  mo.threads = a.threads;
  mo.optimize = mo.use_dnnl = !a.reference;
  mo.profile = a.profile;
  auto model = engine::LoadModel(a.model, mo);
  if (!model.ok()) return Fail(err, model.status());
  auto inputs = ReadInputs(a.inputs, (*model)->inputs());
  if (!inputs.ok()) return Fail(err, inputs.status());
  // Outputs to save, checked before running.
  std::vector<std::pair<std::string, std::string>> saves;
  const auto& outs = (*model)->outputs();
  for (const std::string& arg : a.outputs) {
    auto [name, path] = SplitNamed(arg);
    if (name.empty()) {
      if (outs.size() != 1) {
        return Fail(err, InvalidArgument("--output {}: the model has {} outputs: use --output name=path", arg, outs.size()));
      }
      name = outs[0].name;
    }
    if (std::none_of(outs.begin(), outs.end(), [&](const ValueInfo& v) { return v.name == name; })) {
      return Fail(err, InvalidArgument("--output {}: the model has no output '{}'", arg, name));
    }
    saves.emplace_back(name, path);
  }
  auto r = (*model)->Run(*inputs);
  if (!r.ok()) return Fail(err, r.status());
  for (const auto& [name, path] : saves) {
    Status s = engine::WriteNpyFile(path, r->outputs.at(name));
    if (!s.ok()) {
      err << "error: " << s.message() << "\n";
      return kExitOther;
    }
  }
  Json j{{"model", a.model}, {"latency_ms", r->latency_ms}, {"outputs", Json::object()}};
  const auto& manifest = (*model)->manifest();
  for (const auto& [name, t] : r->outputs) {
    auto it = std::find_if(manifest.outputs.begin(), manifest.outputs.end(),
                           [&](const engine::ManifestOutput& o) { return o.name == name; });
    j["outputs"][name] = TensorSummary(t, it == manifest.outputs.end() ? nullptr : &*it);
  }
  if (a.json) {
    out << j.dump(2) << "\n";
    return 0;
  }
  for (auto it = j["outputs"].begin(); it != j["outputs"].end(); ++it) {
    const Json& o = *it;
    out << fmt::format("{} {} {}:", it.key(), o["dtype"].get<std::string>(), ShapeStr(o["shape"]));
    for (const auto& v : o["values"]) out << " " << v.get<double>();
    if (o.contains("class")) out << fmt::format("  -> {} ({})", o["class"].get<std::string>(), o["argmax"].get<int64_t>());
    out << "\n";
  }
  out << fmt::format("latency {:.3f} ms\n", r->latency_ms);
  return 0;
}

// Resident set figures of this process in kB ("VmRSS", "VmHWM"), 0 when unreadable.
int64_t ProcStatusKb(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  }
  return 0;
}

TensorMap RandomInputs(const std::vector<ValueInfo>& declared, unsigned seed) {
  std::mt19937 rng(seed);
  TensorMap m;
  for (const auto& v : declared) {
    Shape s = v.shape;
    for (auto& d : s) d = d < 0 ? 1 : d;
    const int64_t n = engine::NumElements(s);
    if (v.dtype == DType::kFloat) {
      std::uniform_real_distribution<float> u(-1, 1);
      std::vector<float> x(n);
      for (auto& e : x) e = u(rng);
      m.emplace(v.name, Tensor::Float(s, std::move(x)));
    } else {
      const int64_t lo = v.dtype == DType::kInt8 ? -128 : 0, hi = v.dtype == DType::kBool ? 1 : v.dtype == DType::kInt8 || v.dtype == DType::kUint8 ? 127 : 9;
      std::uniform_int_distribution<int64_t> u(lo, hi);
      std::vector<int64_t> x(n);
      for (auto& e : x) e = u(rng);
      m.emplace(v.name, Tensor::Int(v.dtype, s, std::move(x)));
    }
  }
  return m;
}

double Percentile(const std::vector<double>& sorted, double q) {
  const size_t rank = static_cast<size_t>(std::ceil(q * sorted.size()));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

int Bench(const ModelArgs& a, std::ostream& out, std::ostream& err) {
  if (a.runs < 1) return Fail(err, InvalidArgument("--runs {} (must be >= 1)", a.runs));
  if (a.threads < 1) return Fail(err, InvalidArgument("--threads {} (must be >= 1)", a.threads));
  // Reset the peak so VmHWM measures from here (Linux >= 4.0; without it the peak may include earlier use).
  std::ofstream("/proc/self/clear_refs") << "5";
  const int64_t rss_before = ProcStatusKb("VmRSS");
  engine::ModelOptions mo;
  mo.threads = a.threads;
  mo.optimize = mo.use_dnnl = !a.reference;
  mo.profile = a.profile;
  auto model = engine::LoadModel(a.model, mo);
  if (!model.ok()) return Fail(err, model.status());
  const TensorMap inputs = RandomInputs((*model)->inputs(), a.seed);
  const int warmup = std::clamp(a.runs / 10, 1, 10);
  for (int k = 0; k < warmup; ++k) {
    auto r = (*model)->Run(inputs);
    if (!r.ok()) return Fail(err, r.status());
  }
  std::vector<double> profile_before;
  if (const auto* onnx = dynamic_cast<const engine::OnnxModel*>(model->get())) profile_before = onnx->session().node_time_ms();
  std::vector<double> ms;
  ms.reserve(a.runs);
  for (int k = 0; k < a.runs; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = (*model)->Run(inputs);
    const auto t1 = std::chrono::steady_clock::now();
    if (!r.ok()) return Fail(err, r.status());
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  const int64_t peak = ProcStatusKb("VmHWM");
  double mean = 0;
  for (double v : ms) mean += v / ms.size();
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  Json j{{"model", a.model},
         {"kind", (*model)->kind()},
         {"engine", a.reference ? "reference" : "optimized"},
         {"threads", a.threads},
         {"runs", a.runs},
         {"warmup_runs", warmup},
         {"p50_ms", Percentile(sorted, 0.5)},
         {"p99_ms", Percentile(sorted, 0.99)},
         {"mean_ms", mean},
         {"min_ms", sorted.front()},
         {"max_ms", sorted.back()},
         {"rss_before_kb", rss_before},
         {"peak_rss_kb", peak},
         {"peak_minus_before_kb", peak - rss_before}};
  // --profile: mean milliseconds per run in each node of the optimized graph (warm-up included in
  // neither: the totals are read before and after the timed runs).
  const auto* onnx = dynamic_cast<const engine::OnnxModel*>(model->get());
  if (a.profile && onnx != nullptr) {
    const auto& g = onnx->running_graph();
    const auto kernels = onnx->NodeKernels();
    const auto impls = onnx->session().NodeImpls();
    const std::vector<double> total = onnx->session().node_time_ms();
    Json nodes = Json::array();
    for (size_t i = 0; i < g.nodes.size() && i < total.size(); ++i) {
      nodes.push_back({{"node", g.nodes[i].name},
                       {"op", g.nodes[i].op_type},
                       {"kernel", i < kernels.size() ? kernels[i] : ""},
                       {"impl", i < impls.size() ? impls[i] : ""},
                       {"mean_ms", (total[i] - profile_before[i]) / a.runs}});
    }
    j["nodes"] = std::move(nodes);
  }
  if (a.json) {
    out << j.dump(2) << "\n";
    return 0;
  }
  out << fmt::format("{} ({}, {}, {} thread{}): {} runs after {} warm-up\n", a.model, (*model)->kind(),
                     j["engine"].get<std::string>(), a.threads, a.threads == 1 ? "" : "s", a.runs, warmup);
  out << fmt::format("latency p50 {:.3f} ms, p99 {:.3f} ms, mean {:.3f} ms, min {:.3f} ms\n", Percentile(sorted, 0.5),
                     Percentile(sorted, 0.99), mean, sorted.front());
  out << fmt::format("memory: peak RSS {} kB - RSS before load {} kB = {} kB\n", peak, rss_before, peak - rss_before);
  if (j.contains("nodes")) {
    out << fmt::format("{:>9}  {:<28} {:<24} {:<24} {}\n", "mean ms", "node", "op", "kernel", "oneDNN implementation");
    for (const auto& n : j["nodes"]) {
      out << fmt::format("{:9.4f}  {:<28} {:<24} {:<24} {}\n", n["mean_ms"].get<double>(), n["node"].get<std::string>(),
                         n["op"].get<std::string>(), n["kernel"].get<std::string>(), n["impl"].get<std::string>());
    }
  }
  return 0;
}

// The .npy files of a directory, sorted by name, at most `max`. Errors name the directory.
Result<std::vector<std::string>> NpyFiles(const std::string& dir, int max) {
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".npy") files.push_back(e.path().string());
  }
  if (ec) return NotFound("{}: cannot list ({})", dir, ec.message());
  if (files.empty()) return InvalidArgument("{}: no .npy files", dir);
  std::sort(files.begin(), files.end());
  if (static_cast<int>(files.size()) > max) files.resize(max);
  return files;
}

// One sample per .npy file for a single-input model: the file's tensor, checked against the input.
Result<TensorMap> NpySample(const std::string& path, const ValueInfo& input) {
  PF_ASSIGN_OR_RETURN(Tensor t, engine::ReadNpyFile(path));
  PF_RETURN_IF_ERROR_CTX(engine::CheckTensorForInput(t, input, fmt::format("input '{}'", input.name)), "{}", path);
  TensorMap m;
  m.emplace(input.name, std::move(t));
  return m;
}

int64_t ArgMax(const Tensor& t) {
  int64_t best = 0;
  for (int64_t k = 1; k < static_cast<int64_t>(t.f.size()); ++k)
    if (t.f[k] > t.f[best]) best = k;
  return best;
}

// Runs models `a` and `b` (same single input, same first output) on the .npy inputs of `dir`: the
// agreement of their argmax, the largest output difference and, for files named <class>_<n>.npy
// with a class of a's manifest, each one's accuracy ("<name_a>_accuracy", "<name_b>_accuracy").
Result<Json> EvalPair(engine::Model& a, engine::Model& b, const std::string& dir, const std::string& name_a,
                      const std::string& name_b) {
  auto files = NpyFiles(dir, std::numeric_limits<int>::max());
  if (!files.ok()) return files.status().WithContext("--eval");
  const std::string out_name = a.outputs().front().name, out_b = b.outputs().front().name;
  std::vector<std::string> classes;
  for (const auto& o : a.manifest().outputs) {
    if (o.name == out_name) classes = o.class_names;
  }
  int n = 0, labelled = 0, a_right = 0, b_right = 0, agree = 0;
  double max_diff = 0;
  for (const auto& f : *files) {
    PF_ASSIGN_OR_RETURN(TensorMap s, NpySample(f, a.inputs()[0]));
    auto ra = a.Run(s);
    if (!ra.ok()) return ra.status().WithContext(f);
    auto rb = b.Run(s);
    if (!rb.ok()) return rb.status().WithContext(f);
    const Tensor& ya = ra->outputs.at(out_name);
    const Tensor& yb = rb->outputs.at(out_b);
    const int64_t pa = ArgMax(ya), pb = ArgMax(yb);
    for (size_t k = 0; k < ya.f.size() && k < yb.f.size(); ++k) max_diff = std::max<double>(max_diff, std::abs(ya.f[k] - yb.f[k]));
    ++n;
    agree += pa == pb;
    const std::string stem = std::filesystem::path(f).stem().string();
    const auto it = std::find(classes.begin(), classes.end(), stem.substr(0, stem.rfind('_')));
    if (it == classes.end()) continue;
    ++labelled;
    a_right += pa == it - classes.begin();
    b_right += pb == it - classes.begin();
  }
  Json e{{"samples", n},
         {"labelled", labelled},
         {"agreement", n ? static_cast<double>(agree) / n : 0.0},
         {"max_abs_output_difference", max_diff}};
  if (labelled > 0) {
    e[name_a + "_accuracy"] = static_cast<double>(a_right) / labelled;
    e[name_b + "_accuracy"] = static_cast<double>(b_right) / labelled;
  }
  return e;
}

// "eval: N inputs, B agrees with A on x %; accuracy on M labelled: A a %, B b %"
std::string EvalLine(const Json& e, const std::string& name_a, const std::string& name_b) {
  std::string line = fmt::format("eval: {} inputs, {} agrees with {} on {:.2f} %", e["samples"].get<int>(), name_b, name_a,
                                 100 * e["agreement"].get<double>());
  if (e.contains(name_a + "_accuracy")) {
    line += fmt::format("; accuracy on {} labelled: {} {:.2f} %, {} {:.2f} %", e["labelled"].get<int>(), name_a,
                        100 * e[name_a + "_accuracy"].get<double>(), name_b, 100 * e[name_b + "_accuracy"].get<double>());
  }
  return line;
}

// Writes a tool's output model; the error names the path.
Status WriteOutputModel(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
  if (!f.flush()) return Internal("{}: cannot write", path);
  return Status::Ok();
}

int Quantize(const ModelArgs& a, std::ostream& out, std::ostream& err) {
  if (a.output_model.empty()) return Fail(err, InvalidArgument("the output model path is missing"));
  auto read = ReadFileBytes(a.model);
  if (!read.ok()) return Fail(err, read.status());
  const std::string& bytes = *read;
  engine::ModelOptions mo;
  auto fp32 = engine::OnnxModel::Load(bytes, a.model, mo);
  if (!fp32.ok()) return Fail(err, fp32.status());
  const auto& inputs = (*fp32)->inputs();
  if (inputs.size() != 1) {
    return Fail(err, Unimplemented("{}: {} inputs; calibration from .npy files takes single-input models", a.model,
                                   inputs.size()));
  }
  auto files = NpyFiles(a.calibration, a.max_samples);
  if (!files.ok()) return Fail(err, files.status().WithContext("--calibration"));
  std::vector<TensorMap> calibration;
  for (const auto& f : *files) {
    auto s = NpySample(f, inputs[0]);
    if (!s.ok()) return Fail(err, s.status());
    calibration.push_back(std::move(*s));
  }
  engine::QuantizeOptions qo;
  qo.method = a.method;
  qo.percentile = a.percentile;
  qo.per_channel = a.per_channel;
  qo.reduce_range = a.reduce_range.value_or(engine::dnnl_kernels::Int8MaySaturate());
  engine::QuantizeReport rep;
  auto q = engine::QuantizeModel(bytes, calibration, qo, &rep);
  if (!q.ok()) return Fail(err, q.status().WithContext(a.model));
  if (auto w = WriteOutputModel(a.output_model, *q); !w.ok()) return Fail(err, w);
  Json j{{"model", a.model},
         {"output", a.output_model},
         {"method", qo.method},
         {"per_channel", qo.per_channel},
         {"reduce_range", qo.reduce_range},
         {"calibration_inputs", rep.calibration_inputs},
         {"quantized_weights", rep.quantized_weights},
         {"quantized_activations", rep.quantized_activations},
         {"notes", rep.notes}};
  if (!a.eval.empty()) {
    auto int8 = engine::OnnxModel::Load(*q, a.output_model, mo);
    if (!int8.ok()) return Fail(err, int8.status());
    auto e = EvalPair(**fp32, **int8, a.eval, "fp32", "int8");
    if (!e.ok()) return Fail(err, e.status());
    j["eval"] = std::move(*e);
  }
  if (a.json) {
    out << j.dump(2) << "\n";
    return 0;
  }
  out << fmt::format("{} -> {}: {} weights and {} activations quantized ({}, {}, {}), calibrated on {} inputs\n", a.model,
                     a.output_model, rep.quantized_weights, rep.quantized_activations, qo.method,
                     qo.per_channel ? "per channel" : "per tensor", qo.reduce_range ? "weights within +-64" : "8-bit weights",
                     rep.calibration_inputs);
  for (const auto& note : rep.notes) out << "  note: " << note << "\n";
  if (j.contains("eval")) out << EvalLine(j["eval"], "fp32", "int8") << "\n";
  return 0;
}

// Median latency of `runs` runs of `m` on zero inputs (1 thread), after a few warm-up runs.
Result<double> MedianMs(engine::Model& m, int runs) {
  TensorMap in;
  for (const auto& v : m.inputs()) in.emplace(v.name, Tensor::Float(v.shape, std::vector<float>(engine::NumElements(v.shape), 0.5f)));
  std::vector<double> ms;
  for (int k = 0; k < runs + 5; ++k) {
    PF_ASSIGN_OR_RETURN(auto r, m.Run(in));
    if (k >= 5) ms.push_back(r.latency_ms);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

int Prune(const ModelArgs& a, std::ostream& out, std::ostream& err) {
  if (a.output_model.empty()) return Fail(err, InvalidArgument("the output model path is missing"));
  auto read = ReadFileBytes(a.model);
  if (!read.ok()) return Fail(err, read.status());
  engine::PruneOptions po;
  po.channels = a.prune_channels;
  engine::PruneReport rep;
  auto pruned = engine::PruneModel(*read, po, &rep);
  if (!pruned.ok()) return Fail(err, pruned.status().WithContext(a.model));
  if (auto w = WriteOutputModel(a.output_model, *pruned); !w.ok()) return Fail(err, w);
  engine::ModelOptions mo;
  auto before = engine::OnnxModel::Load(*read, a.model, mo);
  if (!before.ok()) return Fail(err, before.status());
  auto after = engine::OnnxModel::Load(*pruned, a.output_model, mo);
  if (!after.ok()) return Fail(err, after.status());
  auto t0 = MedianMs(**before, a.runs);
  if (!t0.ok()) return Fail(err, t0.status());
  auto t1 = MedianMs(**after, a.runs);
  if (!t1.ok()) return Fail(err, t1.status());
  Json j{{"model", a.model},
         {"output", a.output_model},
         {"channels_removed_fraction", po.channels},
         {"pruned_convs", rep.pruned_convs},
         {"channels_before", rep.channels_before},
         {"channels_after", rep.channels_after},
         {"p50_ms_before", *t0},
         {"p50_ms_after", *t1},
         {"speedup", *t1 > 0 ? *t0 / *t1 : 0.0},
         {"notes", rep.notes}};
  if (!a.eval.empty()) {
    auto e = EvalPair(**before, **after, a.eval, "original", "pruned");
    if (!e.ok()) return Fail(err, e.status());
    j["eval"] = std::move(*e);
  }
  if (a.json) {
    out << j.dump(2) << "\n";
    return 0;
  }
  out << fmt::format("{} -> {}: {} convolutions pruned, {} -> {} channels; p50 {:.3f} -> {:.3f} ms ({:.2f}x)\n", a.model,
                     a.output_model, rep.pruned_convs, rep.channels_before, rep.channels_after, *t0, *t1,
                     j["speedup"].get<double>());
  for (const auto& note : rep.notes) out << "  note: " << note << "\n";
  if (j.contains("eval")) out << EvalLine(j["eval"], "original", "pruned") << " (before fine-tuning)\n";
  return 0;
}

// The feature rows of the .npy files of `dir` for a model taking `features` values per row: each
// file [F], [1, F] or [N, F] float32. Errors name the file.
Result<std::vector<std::vector<float>>> FeatureRows(const std::string& dir, int64_t features) {
  PF_ASSIGN_OR_RETURN(auto files, NpyFiles(dir, std::numeric_limits<int>::max()));
  std::vector<std::vector<float>> rows;
  for (const auto& f : files) {
    PF_ASSIGN_OR_RETURN(Tensor t, engine::ReadNpyFile(f));
    if (!t.is_float() || t.shape.empty() || t.shape.size() > 2 || t.shape.back() != features)
      return InvalidArgument("{}: {} {}, expected float32 [{}], [1, {}] or [N, {}]", f, engine::DTypeName(t.dtype),
                             engine::ShapeToString(t.shape), features, features, features);
    for (size_t k = 0; k < t.f.size(); k += features) rows.emplace_back(t.f.begin() + k, t.f.begin() + k + features);
  }
  return rows;
}

// Median latency of `a` and `b` on the same inputs, interleaved run by run (the machine's noise
// falls on both alike), cycling through `inputs`.
Result<std::pair<double, double>> InterleavedMedianMs(engine::Model& a, engine::Model& b, const std::vector<TensorMap>& inputs,
                                                      int runs) {
  std::vector<double> ta, tb;
  for (int k = 0; k < runs + 20; ++k) {
    const TensorMap& in = inputs[k % inputs.size()];
    PF_ASSIGN_OR_RETURN(auto ra, a.Run(in));
    PF_ASSIGN_OR_RETURN(auto rb, b.Run(in));
    if (k < 20) continue;
    ta.push_back(ra.latency_ms);
    tb.push_back(rb.latency_ms);
  }
  std::sort(ta.begin(), ta.end());
  std::sort(tb.begin(), tb.end());
  return std::pair{ta[ta.size() / 2], tb[tb.size() / 2]};
}

int Distill(const ModelArgs& a, std::ostream& out, std::ostream& err) {
  if (a.output_model.empty()) return Fail(err, InvalidArgument("the output model path is missing"));
  if (a.student != "trees") return Fail(err, InvalidArgument("--student '{}': the only student kind is 'trees'", a.student));
  const bool ubj = a.output_model.ends_with(".ubj");
  if (!ubj && !a.output_model.ends_with(".json"))
    return Fail(err, InvalidArgument("{}: a tree student is saved as XGBoost .json or .ubj", a.output_model));
  engine::ModelOptions mo;
  auto teacher = engine::LoadModel(a.teacher, mo);
  if (!teacher.ok()) return Fail(err, teacher.status().WithContext("--teacher"));
  engine::Model& t = **teacher;
  if (t.inputs().size() != 1 || t.inputs()[0].shape.empty())
    return Fail(err, InvalidArgument("--teacher {}: a feature model takes one input [.., features]", a.teacher));
  const int64_t features = t.inputs()[0].shape.back();
  auto rows = FeatureRows(a.data, features);
  if (!rows.ok()) return Fail(err, rows.status().WithContext("--data"));
  engine::DistillOptions o;
  o.rounds = a.rounds;
  o.max_depth = a.max_depth;
  o.eta = a.eta;
  o.augment = a.augment;
  o.noise = a.noise;
  o.mix = a.mix;
  o.seed = a.seed;
  o.threads = a.threads;
  o.format = ubj ? "ubj" : "json";
  engine::DistillReport rep;
  auto bytes = engine::DistillTrees(t, *rows, o, &rep);
  if (!bytes.ok()) return Fail(err, bytes.status().WithContext(a.teacher));
  // The student's manifest: the teacher's input name and classes, its own hash.
  engine::Manifest m;
  m.name = (t.manifest().name.empty() ? "model" : t.manifest().name) + "_trees";
  m.version = t.manifest().version.empty() ? "1.0.0" : t.manifest().version;
  m.model_sha256 = engine::Sha256Hex(*bytes);
  engine::ManifestInput mi;
  mi.name = t.inputs()[0].name;
  mi.shape = {-1, features};
  mi.preprocessing = t.manifest().inputs.empty() ? "" : t.manifest().inputs[0].preprocessing;
  m.inputs.push_back(mi);
  engine::ManifestOutput mout;
  mout.name = t.outputs()[0].name;
  for (const auto& o2 : t.manifest().outputs) {
    if (o2.name == mout.name) {
      mout.class_names = o2.class_names;
      mout.thresholds = o2.thresholds;
    }
  }
  mout.meaning = fmt::format("distilled by plantfloor model distill from {} (sha256 {}): {} boosting rounds, depth {}",
                             a.teacher, t.manifest().model_sha256.substr(0, 12), o.rounds, o.max_depth);
  m.outputs.push_back(mout);
  if (auto w = WriteOutputModel(a.output_model, *bytes); !w.ok()) return Fail(err, w);
  if (auto w = WriteOutputModel(a.output_model + ".manifest.json", engine::ManifestToJson(m) + "\n"); !w.ok()) return Fail(err, w);
  auto student = engine::LoadModel(a.output_model, mo);
  if (!student.ok()) return Fail(err, Internal("the student does not load: {}", student.status().ToString()));
  Json j{{"teacher", a.teacher},
         {"output", a.output_model},
         {"student", "trees"},
         {"objective", rep.objective},
         {"rounds", o.rounds},
         {"max_depth", o.max_depth},
         {"eta", o.eta},
         {"rows", rep.rows},
         {"synthetic_rows", rep.synthetic},
         {"features", rep.features},
         {"outputs", rep.outputs},
         {"train_agreement", rep.agreement},
         {"train_max_abs_difference", rep.max_abs_difference}};
  // Latency per inference, one row at a time, on the data's own rows.
  std::vector<TensorMap> inputs;
  Shape one(t.inputs()[0].shape.size(), 1);
  one.back() = features;
  for (size_t r = 0; r < rows->size() && r < 256; ++r) {
    TensorMap mm;
    mm.emplace(t.inputs()[0].name, Tensor::Float(one, (*rows)[r]));
    inputs.push_back(std::move(mm));
  }
  auto times = InterleavedMedianMs(t, **student, inputs, std::max(a.runs, 1) * 5);
  if (!times.ok()) return Fail(err, times.status());
  j["teacher_p50_ms"] = times->first;
  j["student_p50_ms"] = times->second;
  j["speedup"] = times->second > 0 ? times->first / times->second : 0.0;
  if (!a.eval.empty()) {
    auto e = EvalPair(t, **student, a.eval, "teacher", "student");
    if (!e.ok()) return Fail(err, e.status());
    j["eval"] = std::move(*e);
  }
  if (a.json) {
    out << j.dump(2) << "\n";
    return 0;
  }
  out << fmt::format("{} -> {}: {} trees ({} rounds x {} outputs, depth {}) trained on {} rows + {} synthetic, "
                     "labelled by the teacher; agreement on the rows {:.2f} %\n",
                     a.teacher, a.output_model, o.rounds * (rep.outputs > 1 ? rep.outputs : 1), o.rounds, rep.outputs,
                     o.max_depth, rep.rows, rep.synthetic, 100 * rep.agreement);
  out << fmt::format("latency p50 per inference: teacher {:.4f} ms, student {:.4f} ms ({:.1f}x)\n", times->first,
                     times->second, j["speedup"].get<double>());
  if (j.contains("eval")) out << EvalLine(j["eval"], "teacher", "student") << "\n";
  return 0;
}

// Runs `exe args...` with extra environment variables; returns its exit code and stdout.
struct ChildResult {
  int code = -1;
  std::string out;
};
Result<ChildResult> RunChild(const std::string& exe, const std::vector<std::string>& args,
                             const std::vector<std::string>& env_add) {
  int fds[2];
  if (::pipe(fds) != 0) return Internal("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) return Internal("fork failed");
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    for (const auto& e : env_add) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv{const_cast<char*>(exe.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(exe.c_str(), argv.data());  // a bare name is looked up on PATH
    ::_exit(127);
  }
  ::close(fds[1]);
  ChildResult r;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) r.out.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return r;
}

constexpr int kExitDoesNotFit = 3;

// `model fit`: measures the model under the target profile in a fresh process (oneDNN reads its ISA
// cap once, at start) and compares p99 latency and peak memory with the budgets.
int Fit(const ModelArgs& a, std::ostream& out, std::ostream& err) {
  if (a.fit_profile != "native" && a.fit_profile != "avx2") {
    return Fail(err, InvalidArgument("--profile {} (native or avx2)", a.fit_profile));
  }
  if (!(a.budget_ms > 0)) return Fail(err, InvalidArgument("--budget-ms {} (must be > 0)", a.budget_ms));
  if (!(a.budget_mb > 0)) return Fail(err, InvalidArgument("--budget-mb {} (must be > 0)", a.budget_mb));
  if (a.used_mb < 0 || a.used_mb >= a.budget_mb) {
    return Fail(err, InvalidArgument("--used-mb {} (must be >= 0 and below the budget {})", a.used_mb, a.budget_mb));
  }
  std::vector<std::string> env{"PF_NO_REEXEC=1", "OMP_WAIT_POLICY=passive"};
  if (a.fit_profile == "avx2") env.push_back("ONEDNN_MAX_CPU_ISA=AVX2");
  auto child = RunChild(a.self_exe, {"model", "bench", a.model, "--json", "--runs", std::to_string(a.runs), "--threads",
                                     std::to_string(a.threads)},
                        env);
  if (!child.ok()) return Fail(err, child.status());
  if (child->code == 127) return Fail(err, Internal("cannot start {} to measure", a.self_exe));
  if (child->code != 0) {
    return Fail(err, InvalidArgument("{}: the model does not run (model bench exited {}; `plantfloor model bench` says why)",
                                     a.model, child->code));
  }
  const Json b = Json::parse(child->out, nullptr, false);
  if (b.is_discarded() || !b.contains("p99_ms")) return Fail(err, Internal("model bench gave no JSON report"));
  const double p99 = b["p99_ms"].get<double>(), p50 = b["p50_ms"].get<double>();
  const double peak_mb = b["peak_minus_before_kb"].get<double>() / 1024.0;
  const double room_mb = a.budget_mb - a.used_mb;
  std::vector<std::string> why;
  if (p99 > a.budget_ms) why.push_back(fmt::format("p99 latency {:.3f} ms is over the budget of {:g} ms", p99, a.budget_ms));
  if (peak_mb > room_mb) {
    why.push_back(fmt::format("peak memory {:.1f} MiB is over the {:.1f} MiB left of the {:g} MiB budget", peak_mb,
                              room_mb, a.budget_mb));
  }
  const bool fits = why.empty();
  Json j{{"model", a.model},     {"profile", a.fit_profile}, {"threads", a.threads},     {"runs", a.runs},
         {"fits", fits},         {"p50_ms", p50},            {"p99_ms", p99},           {"peak_mb", peak_mb},
         {"budget_ms", a.budget_ms}, {"budget_mb", a.budget_mb}, {"used_mb", a.used_mb}, {"reasons", why}};
  if (a.json) {
    out << j.dump(2) << "\n";
  } else {
    out << fmt::format("{}: {} on profile {} ({} thread{}): p99 {:.3f} ms (budget {:g} ms), peak {:.1f} MiB (room {:.1f} MiB)\n",
                       a.model, fits ? "FITS" : "DOES NOT FIT", a.fit_profile, a.threads, a.threads == 1 ? "" : "s", p99,
                       a.budget_ms, peak_mb, room_mb);
    for (const auto& w : why) out << "  " << w << "\n";
  }
  return fits ? 0 : kExitDoesNotFit;
}

}  // namespace

int RunModelCommand(const ModelArgs& a, std::ostream& out, std::ostream& err) {
  if (a.action == "inspect") return Inspect(a, out, err);
  if (a.action == "run") return RunOnce(a, out, err);
  if (a.action == "bench") return Bench(a, out, err);
  if (a.action == "quantize") return Quantize(a, out, err);
  if (a.action == "fit") return Fit(a, out, err);
  if (a.action == "prune") return Prune(a, out, err);
  if (a.action == "distill") return Distill(a, out, err);
  err << "error: unknown model action '" << a.action << "' (inspect, run, bench, quantize, prune, distill, fit)\n";
  return kExitBadInput;
}

void AddModelCommand(CLI::App& app) {
  auto* model = app.add_subcommand("model", "inspect, run and time inference models (ONNX, XGBoost)");
  model->require_subcommand(1);
  auto add = [&](const char* name, const char* help) {
    auto args = std::make_shared<ModelArgs>();
    args->action = name;
    auto* c = model->add_subcommand(name, help);
    c->add_option("model", args->model, "model file (.onnx, or XGBoost .json/.ubj)")->required();
    c->add_flag("--json", args->json, "JSON report");
    c->add_flag("--reference", args->reference, "reference kernels only (no graph passes, no oneDNN)");
    c->callback([args] { std::exit(RunModelCommand(*args, std::cout, std::cerr)); });
    return std::pair{c, args};
  };
  add("inspect", "operators, shapes, parameters, MACs, int8 nodes and the manifest");
  auto [run, run_args] = add("run", "run the model once on .npy inputs and save outputs as .npy");
  run->add_option("--input", run_args->inputs, "input .npy: path, or name=path (repeat per input)")->required();
  run->add_option("--output", run_args->outputs, "output .npy: path, or name=path (repeat per output)");
  run->add_option("--threads", run_args->threads, "inference threads")->capture_default_str();
  auto [bench, bench_args] = add("bench", "latency p50/p99 and peak memory on random inputs");
  bench->add_option("--threads", bench_args->threads, "inference threads")->capture_default_str();
  bench->add_option("--runs", bench_args->runs, "timed runs")->capture_default_str();
  bench->add_option("--seed", bench_args->seed, "random input seed")->capture_default_str();
  bench->add_flag("--profile", bench_args->profile, "mean time per node of the optimized graph (ONNX)");
  auto [quant, qa] = add("quantize", "post-training static quantization to QDQ int8 ONNX");
  quant->add_option("output", qa->output_model, "the quantized model to write (.onnx)")->required();
  quant->add_option("--calibration", qa->calibration, "directory of .npy model inputs to calibrate on")->required();
  quant->add_option("--method", qa->method, "activation ranges: minmax, percentile or entropy")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy"}))
      ->capture_default_str();
  quant->add_option("--percentile", qa->percentile, "percentile method: the upper percentile kept")->capture_default_str();
  quant->add_flag("--per-channel", qa->per_channel, "one weight scale per output channel");
  // Two callbacks, not an optional<bool> flag: CLI11 sets such an optional to false when neither is given.
  auto* rr = quant->add_flag_callback("--reduce-range", [qa = qa] { qa->reduce_range = true; },
                                      "weights within +-64 (default: on when this CPU lacks VNNI)");
  auto* no_rr = quant->add_flag_callback("--no-reduce-range", [qa = qa] { qa->reduce_range = false; },
                                         "full 8-bit weights even on a CPU without VNNI");
  rr->excludes(no_rr);
  quant->add_option("--eval", qa->eval, "directory of labelled .npy inputs: fp32 vs int8 accuracy and agreement");
  quant->add_option("--max-samples", qa->max_samples, "calibration inputs used at most")->capture_default_str();
  auto [prune, pa] = add("prune", "structured pruning: remove a fraction of the output channels of convolutions");
  prune->add_option("output", pa->output_model, "the pruned model to write (.onnx)")->required();
  prune->add_option("--channels", pa->prune_channels, "fraction of each prunable conv's channels removed")->required();
  prune->add_option("--eval", pa->eval, "directory of labelled .npy inputs: accuracy before and after (no fine-tuning)");
  prune->add_option("--runs", pa->runs, "timed runs for the latency before and after")->capture_default_str();
  auto [fit, fa] = add("fit", "will it fit? p99 latency and peak memory under a target profile against budgets "
                              "(exit 0 fits, 3 does not)");
  fit->add_option("--profile", fa->fit_profile, "native, or avx2 (oneDNN capped at AVX2: a fanless PC without VNNI)")
      ->check(CLI::IsMember({"native", "avx2"}))
      ->capture_default_str();
  fit->add_option("--budget-ms", fa->budget_ms, "p99 latency budget per inference (ms)")->required();
  fit->add_option("--budget-mb", fa->budget_mb, "memory budget for the model (MiB)")->required();
  fit->add_option("--used-mb", fa->used_mb, "of the memory budget, already used by the running process (MiB)");
  fit->add_option("--threads", fa->threads, "inference threads")->capture_default_str();
  fit->add_option("--runs", fa->runs, "timed runs")->capture_default_str();
  // distill: the positional is the student written, not a model read.
  auto da = std::make_shared<ModelArgs>();
  da->action = "distill";
  auto* distill = model->add_subcommand("distill", "distil a feature model into a gradient-boosted tree student (XGBoost)");
  distill->add_option("output", da->output_model, "the student to write (XGBoost .json or .ubj; its manifest beside it)")
      ->required();
  distill->add_option("--teacher", da->teacher, "the teacher model (.onnx)")->required();
  distill->add_option("--data", da->data, "directory of .npy feature rows the teacher labels")->required();
  distill->add_option("--student", da->student, "student kind")->check(CLI::IsMember({"trees"}))->capture_default_str();
  distill->add_option("--eval", da->eval, "directory of labelled .npy rows: teacher vs student accuracy and agreement");
  distill->add_option("--rounds", da->rounds, "boosting rounds")->capture_default_str();
  distill->add_option("--depth", da->max_depth, "tree depth")->capture_default_str();
  distill->add_option("--eta", da->eta, "learning rate")->capture_default_str();
  distill->add_option("--augment", da->augment, "synthetic rows per row, labelled by the teacher")->capture_default_str();
  distill->add_option("--noise", da->noise, "synthetic rows: Gaussian noise in SDs of each feature")->capture_default_str();
  distill->add_option("--mix", da->mix, "synthetic rows: largest fraction towards a random partner row")->capture_default_str();
  distill->add_option("--seed", da->seed, "seed of the synthetic rows and of XGBoost")->capture_default_str();
  distill->add_option("--threads", da->threads, "XGBoost training threads")->capture_default_str();
  distill->add_option("--runs", da->runs, "timed runs / 5 for the latency comparison")->capture_default_str();
  distill->add_flag("--json", da->json, "JSON report");
  distill->callback([da] { std::exit(RunModelCommand(*da, std::cout, std::cerr)); });
}

}  // namespace pf
