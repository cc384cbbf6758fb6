#include "apps/vision_anomaly.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "engine/manifest.h"

namespace pf::apps {
namespace {

constexpr double kEnergyFloor = 1e-8;

std::vector<std::vector<float>> LawsMasks() {
  const std::vector<std::vector<float>> v = {
      {1, 4, 6, 4, 1}, {-1, -2, 0, 2, 1}, {-1, 0, 2, 0, -1}, {1, -4, 6, -4, 1}, {-1, 2, 0, -2, 1}};
  std::vector<std::vector<float>> masks;
  for (size_t a = 0; a < v.size(); ++a) {
    for (size_t b = 0; b < v.size(); ++b) {
      if (a == 0 && b == 0) continue;  // L5L5: the local mean, taken separately
      std::vector<float> m(25);
      for (int i = 0; i < 5; ++i)
        for (int j = 0; j < 5; ++j) m[i * 5 + j] = v[a][i] * v[b][j];
      masks.push_back(std::move(m));
    }
  }
  return masks;
}

void Ints(onnx::NodeProto* n, const char* name, std::vector<int64_t> v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

}  // namespace

Result<std::string> BuildTextureModel(const TextureModelOptions& o) {
  const int s0 = o.size - 4, s1 = o.size / 2 - 4;
  if (o.size < 24 || o.size % 2 || o.grid < 1 || s0 % o.grid || s1 % o.grid)
    return InvalidArgument("texture model: size {} and grid {}: ({} - 4) and ({} / 2 - 4) must divide into the grid", o.size,
                           o.grid, o.size, o.size);
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(13);
  m.set_producer_name("plantfloor texture model");
  auto* g = m.mutable_graph();
  g->set_name("laws_texture_energy");
  auto value = [](onnx::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
  };
  value(g->add_input(), "image", {1, 1, o.size, o.size});
  auto* w = g->add_initializer();
  w->set_name("laws");
  w->set_data_type(onnx::TensorProto::FLOAT);
  // Each mask twice, as +m and -m: Relu of both sums to |response| (no Abs or Mul op: the convolution
  // and its Relu run as one int8 oneDNN kernel).
  for (int64_t d : {2 * kLawsMasks, 1, 5, 5}) w->add_dims(d);
  for (float sign : {1.0f, -1.0f})
    for (const auto& mask : LawsMasks())
      for (float f : mask) w->add_float_data(sign * f / 36.0f);  // unit peak: energies near 1 for a [0, 1] image
  auto node = [&](const std::string& op, std::vector<std::string> in, const std::string& out) {
    auto* n = g->add_node();
    n->set_name(out);
    n->set_op_type(op);
    for (auto& x : in) n->add_input(x);
    n->add_output(out);
    return n;
  };
  auto* half = node("AveragePool", {"image"}, "half");
  Ints(half, "kernel_shape", {2, 2});
  Ints(half, "strides", {2, 2});
  const std::string inputs[2] = {"image", "half"};
  const int sides[2] = {s0, s1};
  for (int s = 0; s < 2; ++s) {
    const std::string k = std::to_string(s);
    node("Conv", {inputs[s], "laws"}, "resp" + k);
    node("Relu", {"resp" + k}, "half_wave" + k);
    auto* pool = node("AveragePool", {"half_wave" + k}, "energy" + k);
    const int cell = sides[s] / o.grid;
    Ints(pool, "kernel_shape", {cell, cell});
    Ints(pool, "strides", {cell, cell});
    value(g->add_output(), "energy" + k, {1, 2 * kLawsMasks, o.grid, o.grid});
  }
  PF_ASSIGN_OR_RETURN(std::string hash, engine::OnnxModelHash(m.SerializeAsString()));
  auto* p = m.add_metadata_props();
  p->set_key(engine::kManifestMetadataKey);
  p->set_value(fmt::format(
      R"({{"manifest_version": 1, "name": "laws_texture_energy", "version": "1.0.0", "model_sha256": "{}",)"
      R"( "inputs": [{{"name": "image", "dtype": "float", "shape": [1, 1, {}, {}], "preprocessing": "8-bit gray scaled to [0, 1]"}}],)"
      R"( "outputs": [{{"name": "energy0", "meaning": "Laws texture energy per cell, full scale"}},)"
      R"( {{"name": "energy1", "meaning": "Laws texture energy per cell, half scale"}}]}})",
      hash, o.size, o.size));
  return m.SerializeAsString();
}

Result<AnomalyFeatures> ComputeAnomalyFeatures(engine::Model& model, const engine::Tensor& x, int grid) {
  if (x.shape.size() != 4 || x.shape[0] != 1 || x.shape[1] != 1 || !x.is_float())
    return InvalidArgument("anomaly features: a [1, 1, S, S] float image, not {}", engine::ShapeToString(x.shape));
  engine::TensorMap in;
  in.emplace(model.inputs().front().name, x);
  PF_ASSIGN_OR_RETURN(auto r, model.Run(in));
  const int cells = grid * grid;
  AnomalyFeatures f;
  f.cells.assign(cells, std::vector<double>(kAnomalyFeatures, 0.0));
  f.image.assign(kAnomalyFeatures, 0.0);
  for (int s = 0; s < 2; ++s) {
    const auto it = r.outputs.find("energy" + std::to_string(s));
    if (it == r.outputs.end() || it->second.f.size() != static_cast<size_t>(2 * kLawsMasks * cells))
      return InvalidArgument("anomaly features: the model has no output energy{} of [1, {}, {}, {}]", s, 2 * kLawsMasks, grid,
                             grid);
    const auto& e = it->second.f;
    for (int m = 0; m < kLawsMasks; ++m) {
      double total = 0;
      for (int c = 0; c < cells; ++c) {
        // |response| = relu(+response) + relu(-response), averaged over the cell.
        const double v = std::max<double>(e[m * cells + c], 0.0) + std::max<double>(e[(m + kLawsMasks) * cells + c], 0.0);
        f.cells[c][s * kLawsMasks + m] = std::log(v + kEnergyFloor);
        total += v;
      }
      f.image[s * kLawsMasks + m] = std::log(total / cells + kEnergyFloor);
    }
  }
  // Gray mean and log SD, per cell (cells of the full image) and overall.
  const int64_t side = x.shape[3], rows = x.shape[2];
  const int64_t ch = rows / grid, cw = side / grid;
  double sum = 0, sum2 = 0;
  for (int cy = 0; cy < grid; ++cy) {
    for (int cx = 0; cx < grid; ++cx) {
      double s1 = 0, s2 = 0;
      for (int64_t y = cy * ch; y < (cy + 1) * ch; ++y)
        for (int64_t xx = cx * cw; xx < (cx + 1) * cw; ++xx) {
          const double v = x.f[y * side + xx];
          s1 += v;
          s2 += v * v;
        }
      const double n = static_cast<double>(ch * cw), mean = s1 / n;
      f.cells[cy * grid + cx][2 * kLawsMasks] = mean;
      f.cells[cy * grid + cx][2 * kLawsMasks + 1] = 0.5 * std::log(std::max(s2 / n - mean * mean, 0.0) + kEnergyFloor);
    }
  }
  for (float v : x.f) {
    sum += v;
    sum2 += static_cast<double>(v) * v;
  }
  const double n = static_cast<double>(x.f.size()), mean = sum / n;
  f.image[2 * kLawsMasks] = mean;
  f.image[2 * kLawsMasks + 1] = 0.5 * std::log(std::max(sum2 / n - mean * mean, 0.0) + kEnergyFloor);
  return f;
}

std::vector<double> GrayStatsFeatures(const engine::Tensor& x) {
  std::vector<double> v(x.f.begin(), x.f.end());
  const double n = static_cast<double>(v.size());
  double m = 0;
  for (double a : v) m += a;
  m /= n;
  double m2 = 0, m3 = 0, m4 = 0;
  for (double a : v) {
    const double d = a - m;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  const double sd = std::sqrt(m2);
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))]; };
  return {m, sd, sd > 0 ? m3 / (sd * sd * sd) : 0, sd > 0 ? m4 / (m2 * m2) : 0, pct(0.01), pct(0.10), pct(0.5), pct(0.9), pct(0.99)};
}

Result<Gaussian> Gaussian::Fit(const std::vector<std::vector<double>>& rows, double ridge) {
  if (rows.size() < 2) return InvalidArgument("Gaussian: {} rows (at least 2)", rows.size());
  const size_t d = rows[0].size();
  Gaussian g;
  g.mean.assign(d, 0.0);
  for (const auto& r : rows) {
    if (r.size() != d) return InvalidArgument("Gaussian: rows of {} and {} values", d, r.size());
    for (size_t k = 0; k < d; ++k) g.mean[k] += r[k];
  }
  for (auto& m : g.mean) m /= static_cast<double>(rows.size());
  std::vector<double> cov(d * d, 0.0);
  for (const auto& r : rows)
    for (size_t i = 0; i < d; ++i)
      for (size_t j = 0; j < d; ++j) cov[i * d + j] += (r[i] - g.mean[i]) * (r[j] - g.mean[j]);
  for (auto& c : cov) c /= static_cast<double>(rows.size() - 1);
  for (size_t i = 0; i < d; ++i) cov[i * d + i] += ridge;
  // Gauss-Jordan inverse with partial pivoting (d is ~50).
  std::vector<double> inv(d * d, 0.0);
  for (size_t i = 0; i < d; ++i) inv[i * d + i] = 1;
  for (size_t c = 0; c < d; ++c) {
    size_t p = c;
    for (size_t r = c + 1; r < d; ++r)
      if (std::abs(cov[r * d + c]) > std::abs(cov[p * d + c])) p = r;
    if (std::abs(cov[p * d + c]) < 1e-300) return FailedPrecondition("Gaussian: singular covariance (add ridge)");
    if (p != c)
      for (size_t k = 0; k < d; ++k) {
        std::swap(cov[p * d + k], cov[c * d + k]);
        std::swap(inv[p * d + k], inv[c * d + k]);
      }
    const double piv = cov[c * d + c];
    for (size_t k = 0; k < d; ++k) {
      cov[c * d + k] /= piv;
      inv[c * d + k] /= piv;
    }
    for (size_t r = 0; r < d; ++r) {
      if (r == c) continue;
      const double f = cov[r * d + c];
      if (f == 0) continue;
      for (size_t k = 0; k < d; ++k) {
        cov[r * d + k] -= f * cov[c * d + k];
        inv[r * d + k] -= f * inv[c * d + k];
      }
    }
  }
  g.inv_cov = std::move(inv);
  return g;
}

double Gaussian::Distance2(const std::vector<double>& v) const {
  const size_t d = mean.size();
  double s = 0;
  for (size_t i = 0; i < d; ++i) {
    double row = 0;
    for (size_t j = 0; j < d; ++j) row += inv_cov[i * d + j] * (v[j] - mean[j]);
    s += (v[i] - mean[i]) * row;
  }
  return s;
}

std::vector<double> AnomalyDetector::HeatMap(const AnomalyFeatures& f) const {
  std::vector<double> h;
  for (const auto& c : f.cells) h.push_back(cell.Distance2(c));
  return h;
}

nlohmann::json AnomalyDetector::ToJson() const {
  auto gj = [](const Gaussian& g) { return nlohmann::json{{"mean", g.mean}, {"inv_cov", g.inv_cov}}; };
  return {{"kind", "laws_texture_mahalanobis"}, {"version", 1},       {"size", size},
          {"grid", grid},                       {"threshold", threshold}, {"target_frr", target_frr},
          {"good_images", good_images},         {"holdout_images", holdout_images},
          {"image", gj(image)},                 {"cell", gj(cell)}};
}

Result<AnomalyDetector> AnomalyDetector::FromJson(const nlohmann::json& j) {
  try {
    if (j.at("kind") != "laws_texture_mahalanobis") return InvalidArgument("anomaly model: kind {}", j.at("kind").dump());
    AnomalyDetector d;
    d.size = j.at("size");
    d.grid = j.at("grid");
    d.threshold = j.at("threshold");
    d.target_frr = j.at("target_frr");
    d.good_images = j.at("good_images");
    d.holdout_images = j.at("holdout_images");
    for (auto [key, g] : {std::pair{"image", &d.image}, std::pair{"cell", &d.cell}}) {
      g->mean = j.at(key).at("mean").get<std::vector<double>>();
      g->inv_cov = j.at(key).at("inv_cov").get<std::vector<double>>();
      if (g->mean.size() != kAnomalyFeatures || g->inv_cov.size() != g->mean.size() * g->mean.size())
        return InvalidArgument("anomaly model: '{}' has {} means and {} covariance values", key, g->mean.size(), g->inv_cov.size());
    }
    return d;
  } catch (const std::exception& e) {
    return InvalidArgument("anomaly model: {}", e.what());
  }
}

double Auroc(const std::vector<double>& pos, const std::vector<double>& neg) {
  if (pos.empty() || neg.empty()) return 0.5;
  double wins = 0;
  for (double p : pos)
    for (double n : neg) wins += p > n ? 1.0 : p == n ? 0.5 : 0.0;
  return wins / (static_cast<double>(pos.size()) * static_cast<double>(neg.size()));
}

double ThresholdForFrr(std::vector<double> s, double frr) {
  if (s.empty()) return 0;
  std::sort(s.begin(), s.end());
  // The smallest threshold that at most floor(frr * n) of the held-out good scores exceed.
  const auto allowed = static_cast<size_t>(std::floor(frr * static_cast<double>(s.size())));
  return s[s.size() - 1 - std::min(allowed, s.size() - 1)];
}

}  // namespace pf::apps
