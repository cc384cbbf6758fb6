#include "cli/anomaly_cmd.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "apps/vision_anomaly.h"
#include "apps/vision_inspector.h"
#include "core/file.h"
#include "engine/dnnl_kernels.h"
#include "engine/model.h"
#include "engine/quantize.h"

namespace pf {
namespace {

using Json = nlohmann::ordered_json;
constexpr int kExitBadInput = 2;

struct AnomalyArgs {
  std::string action, good_list, holdout_list, train_list, test_list, image_dir, out, good_class;
  double target_frr = 0.05;
  int grid = 4, size = 200;
  bool json = false;
};

int Fail(const Status& st) {
  std::cerr << "error: " << st.ToString() << "\n";
  return kExitBadInput;
}

struct Item {
  std::string name, cls;
  engine::Tensor x;
};

// The images of a list (names relative to dir), gray [0, 1] at size x size; `only` keeps one class.
Result<std::vector<Item>> LoadList(const std::string& list, const std::string& dir, int size, const std::string& only = "") {
  std::ifstream in(list);
  if (!in) return NotFound("{}: cannot open", list);
  std::vector<Item> out;
  int line_no = 0;
  for (std::string name; std::getline(in, name);) {
    ++line_no;
    if (name.empty()) continue;
    const std::string stem = std::filesystem::path(name).stem().string();
    const std::string cls = stem.substr(0, stem.rfind('_'));
    if (!only.empty() && cls != only) continue;
    PF_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(dir + "/" + name));
    auto img = images::DecodeImage(bytes, name);
    if (!img.ok()) return img.status().WithContext(fmt::format("{}:{}", list, line_no));
    PF_ASSIGN_OR_RETURN(engine::Tensor x, apps::PreprocessImage(*img, {}, 1, size, size, {}, {}));
    out.push_back({name, cls, std::move(x)});
  }
  return out;
}

struct Fitted {
  std::unique_ptr<engine::Model> model;
  std::string model_bytes;
  apps::AnomalyDetector detector;
};

Result<Fitted> Fit(const std::vector<Item>& good, const std::vector<Item>& holdout, double frr, int size, int grid) {
  if (good.size() < 10) return InvalidArgument("{} good images to learn from (at least 10)", good.size());
  if (holdout.empty()) return InvalidArgument("no held-out good images to set the threshold on");
  if (!(frr > 0 && frr < 1)) return InvalidArgument("target false-reject rate {} (0..1)", frr);
  PF_ASSIGN_OR_RETURN(std::string fp32, apps::BuildTextureModel({size, grid}));
  std::vector<engine::TensorMap> calibration;
  for (size_t k = 0; k < good.size() && calibration.size() < 100; k += std::max<size_t>(1, good.size() / 100)) {
    engine::TensorMap m;
    m.emplace("image", good[k].x);
    calibration.push_back(std::move(m));
  }
  engine::QuantizeOptions qo;
  qo.per_channel = true;
  qo.reduce_range = engine::dnnl_kernels::Int8MaySaturate();  // as `model quantize`: 7-bit weights without VNNI
  Fitted f;
  PF_ASSIGN_OR_RETURN(f.model_bytes, engine::QuantizeModel(fp32, calibration, qo));
  engine::ModelOptions mo;
  PF_ASSIGN_OR_RETURN(auto model, engine::OnnxModel::Load(f.model_bytes, "texture.onnx", mo));
  f.model = std::move(model);
  std::vector<std::vector<double>> images, cells;
  for (const auto& g : good) {
    PF_ASSIGN_OR_RETURN(auto feat, apps::ComputeAnomalyFeatures(*f.model, g.x, grid));
    images.push_back(feat.image);
    for (auto& c : feat.cells) cells.push_back(std::move(c));
  }
  PF_ASSIGN_OR_RETURN(f.detector.image, apps::Gaussian::Fit(images, 1e-3));
  PF_ASSIGN_OR_RETURN(f.detector.cell, apps::Gaussian::Fit(cells, 1e-3));
  std::vector<double> held;
  for (const auto& h : holdout) {
    PF_ASSIGN_OR_RETURN(auto feat, apps::ComputeAnomalyFeatures(*f.model, h.x, grid));
    held.push_back(f.detector.Score(feat));
  }
  f.detector.threshold = apps::ThresholdForFrr(held, frr);
  f.detector.target_frr = frr;
  f.detector.grid = grid;
  f.detector.size = size;
  f.detector.good_images = static_cast<int64_t>(good.size());
  f.detector.holdout_images = static_cast<int64_t>(holdout.size());
  return f;
}

// Central binomial 95 % range of the count of n draws at rate p: [lo, hi] with P(X < lo), P(X > hi) <= 2.5 %.
std::pair<int, int> BinomialRange(int n, double p) {
  std::vector<double> pmf(n + 1);
  for (int k = 0; k <= n; ++k)
    pmf[k] = std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0) + k * std::log(p) +
                      (n - k) * std::log1p(-p));
  int lo = 0, hi = n;
  double c = 0;
  while (lo < n && c + pmf[lo] <= 0.025) c += pmf[lo++];
  c = 0;
  while (hi > 0 && c + pmf[hi] <= 0.025) c += pmf[hi--];
  return {lo, hi};
}

int RunFit(const AnomalyArgs& a) {
  auto good = LoadList(a.good_list, a.image_dir, a.size);
  if (!good.ok()) return Fail(good.status().WithContext("--good-list"));
  auto holdout = LoadList(a.holdout_list, a.image_dir, a.size);
  if (!holdout.ok()) return Fail(holdout.status().WithContext("--holdout-list"));
  auto f = Fit(*good, *holdout, a.target_frr, a.size, a.grid);
  if (!f.ok()) return Fail(f.status());
  std::error_code ec;
  std::filesystem::create_directories(a.out, ec);
  if (ec) return Fail(PermissionDenied("--out {}: cannot create ({})", a.out, ec.message()));
  for (const auto& [name, bytes] : {std::pair<std::string, std::string>{"texture.onnx", f->model_bytes},
                                    std::pair<std::string, std::string>{"anomaly.json", f->detector.ToJson().dump(1) + "\n"}}) {
    std::ofstream out(a.out + "/" + name, std::ios::binary);
    out << bytes;
    if (!out.flush()) return Fail(Internal("{}/{}: cannot write", a.out, name));
  }
  std::cout << fmt::format("{}: texture model (int8) and detector from {} good images; threshold {:.3f} for a {:.1f} % "
                           "false-reject rate on {} held-out good images\n",
                           a.out, good->size(), f->detector.threshold, 100 * a.target_frr, holdout->size());
  return 0;
}

int RunEval(const AnomalyArgs& a) {
  auto train = LoadList(a.train_list, a.image_dir, a.size, a.good_class);
  if (!train.ok()) return Fail(train.status().WithContext("--train-list"));
  auto holdout = LoadList(a.holdout_list, a.image_dir, a.size, a.good_class);
  if (!holdout.ok()) return Fail(holdout.status().WithContext("--holdout-list"));
  auto test = LoadList(a.test_list, a.image_dir, a.size);
  if (!test.ok()) return Fail(test.status().WithContext("--test-list"));
  auto f = Fit(*train, *holdout, a.target_frr, a.size, a.grid);
  if (!f.ok()) return Fail(f.status());
  // The baseline: gray-level statistics with the same Gaussian score, fitted on the same images.
  std::vector<std::vector<double>> gray;
  for (const auto& t : *train) gray.push_back(apps::GrayStatsFeatures(t.x));
  auto base = apps::Gaussian::Fit(gray, 1e-6);
  if (!base.ok()) return Fail(base.status());
  std::vector<double> pos, neg, bpos, bneg;
  int good_n = 0, false_rejects = 0;
  for (const auto& t : *test) {
    auto feat = apps::ComputeAnomalyFeatures(*f->model, t.x, a.grid);
    if (!feat.ok()) return Fail(feat.status().WithContext(t.name));
    const double s = f->detector.Score(*feat), b = base->Distance2(apps::GrayStatsFeatures(t.x));
    if (t.cls == a.good_class) {
      neg.push_back(s);
      bneg.push_back(b);
      ++good_n;
      false_rejects += s > f->detector.threshold;
    } else {
      pos.push_back(s);
      bpos.push_back(b);
    }
  }
  if (good_n == 0 || pos.empty()) return Fail(InvalidArgument("--test-list has no {} images or no others", a.good_class));
  const auto [lo, hi] = BinomialRange(good_n, a.target_frr);
  Json j{{"good_class", a.good_class},
         {"train_good", train->size()},
         {"holdout_good", holdout->size()},
         {"test_good", good_n},
         {"test_anomalous", pos.size()},
         {"auroc", apps::Auroc(pos, neg)},
         {"baseline_auroc", apps::Auroc(bpos, bneg)},
         {"threshold", f->detector.threshold},
         {"target_frr", a.target_frr},
         {"false_rejects", false_rejects},
         {"realised_frr", static_cast<double>(false_rejects) / good_n},
         {"frr_interval95", {static_cast<double>(lo) / good_n, static_cast<double>(hi) / good_n}},
         {"frr_within_interval", false_rejects >= lo && false_rejects <= hi}};
  if (a.json) {
    std::cout << j.dump() << "\n";
  } else {
    std::cout << fmt::format("{} as good: AUROC {:.4f} (gray-statistics baseline {:.4f}); false rejects {} of {} good "
                             "({:.1f} %, binomial 95 % range of the {:.1f} % target: {}..{})\n",
                             a.good_class, j["auroc"].get<double>(), j["baseline_auroc"].get<double>(), false_rejects,
                             good_n, 100.0 * false_rejects / good_n, 100 * a.target_frr, lo, hi);
  }
  return 0;
}

}  // namespace

void AddAnomalyCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("anomaly", "anomaly detection trained on good parts only (vision)");
  cmd->require_subcommand(1);
  auto fa = std::make_shared<AnomalyArgs>();
  auto* fit = cmd->add_subcommand("fit", "learn good parts: int8 texture model and detector");
  fit->add_option("--good-list", fa->good_list, "images of good parts to learn from")->required();
  fit->add_option("--holdout-list", fa->holdout_list, "other good images: the threshold")->required();
  fit->add_option("--image-dir", fa->image_dir, "directory the list names are relative to")->required();
  fit->add_option("--out", fa->out, "output directory")->required();
  fit->add_option("--target-frr", fa->target_frr, "target false-reject rate")->capture_default_str();
  fit->callback([fa] { std::exit(RunFit(*fa)); });
  auto ea = std::make_shared<AnomalyArgs>();
  auto* ev = cmd->add_subcommand("eval", "one class as good: AUROC against the others, baseline, false-reject rate");
  ev->add_option("--good-class", ea->good_class, "the class that plays 'good'")->required();
  ev->add_option("--train-list", ea->train_list, "training images (its good class is used)")->required();
  ev->add_option("--holdout-list", ea->holdout_list, "held-out images (its good class sets the threshold)")->required();
  ev->add_option("--test-list", ea->test_list, "test images (all classes)")->required();
  ev->add_option("--image-dir", ea->image_dir, "directory the list names are relative to")->required();
  ev->add_option("--target-frr", ea->target_frr, "target false-reject rate")->capture_default_str();
  ev->add_flag("--json", ea->json, "JSON output");
  ev->callback([ea] { std::exit(RunEval(*ea)); });
}

}  // namespace pf
