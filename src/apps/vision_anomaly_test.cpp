// The anomaly mode's parts on synthetic data with known answers: the Gaussian's distance (identity
// covariance gives the squared Euclidean distance), AUROC and the false-reject threshold, the texture
// model through the engine (a stripe texture lights the E5 masks, a flat image gives no energy; int8
// close to fp32), features that separate two textures, and the detector's JSON round trip.
#include "apps/vision_anomaly.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/quantize.h"

namespace pf::apps {
namespace {

TEST(VisionAnomaly, GaussianAurocAndThreshold) {
  std::mt19937 rng(3);
  std::normal_distribution<double> n(0, 1);
  std::vector<std::vector<double>> rows;
  for (int k = 0; k < 20000; ++k) rows.push_back({n(rng), 2 * n(rng) + 5});
  auto g = Gaussian::Fit(rows, 0);
  ASSERT_TRUE(g.ok());
  EXPECT_NEAR(g->mean[1], 5, 0.05);
  EXPECT_NEAR(g->Distance2({1, 5}), 1, 0.05);
  EXPECT_NEAR(g->Distance2({0, 9}), 4, 0.15);  // two SDs of the second variable
  EXPECT_FALSE(Gaussian::Fit({{1, 2}}, 0).ok());
  EXPECT_DOUBLE_EQ(Auroc({3, 4}, {1, 2}), 1.0);
  EXPECT_DOUBLE_EQ(Auroc({1, 2}, {3, 4}), 0.0);
  EXPECT_DOUBLE_EQ(Auroc({2}, {2}), 0.5);
  std::vector<double> s;
  for (int k = 1; k <= 100; ++k) s.push_back(k);
  EXPECT_DOUBLE_EQ(ThresholdForFrr(s, 0.05), 95);  // 5 of 100 above it
  EXPECT_DOUBLE_EQ(ThresholdForFrr(s, 0.0), 100);
}

engine::Tensor Image(int size, const std::function<float(int, int)>& f) {
  engine::Tensor t = engine::Tensor::Float({1, 1, size, size});
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) t.f[y * size + x] = f(x, y);
  return t;
}

TEST(VisionAnomaly, TextureModelSeparatesTexturesAndRunsInt8) {
  auto bytes = BuildTextureModel({40, 4});
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_FALSE(BuildTextureModel({41, 4}).ok());
  auto fp32 = engine::OnnxModel::Load(*bytes, "texture.onnx", {});
  ASSERT_TRUE(fp32.ok()) << fp32.status().ToString();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0, 1);
  auto stripes = [&](int phase) { return Image(40, [&](int x, int) { return ((x + phase) / 2) % 2 ? 0.8f : 0.2f; }); };
  auto noise = [&] { return Image(40, [&](int, int) { return 0.3f + 0.4f * u(rng); }); };
  auto flat = Image(40, [](int, int) { return 0.5f; });
  auto f_flat = ComputeAnomalyFeatures(**fp32, flat, 4);
  ASSERT_TRUE(f_flat.ok()) << f_flat.status().ToString();
  EXPECT_LT(f_flat->image[0], -15);  // log of ~0 energy
  EXPECT_NEAR(f_flat->image[2 * kLawsMasks], 0.5, 1e-6);
  // int8 after quantization on stripes and noise: the log energies stay close to fp32's.
  std::vector<engine::TensorMap> cal;
  for (int k = 0; k < 8; ++k) {
    engine::TensorMap m;
    m.emplace("image", k % 2 ? stripes(k) : noise());
    cal.push_back(std::move(m));
  }
  engine::QuantizeOptions qo;
  qo.per_channel = true;
  auto q = engine::QuantizeModel(*bytes, cal, qo);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  auto int8 = engine::OnnxModel::Load(*q, "texture_int8.onnx", {});
  ASSERT_TRUE(int8.ok());
  auto a = ComputeAnomalyFeatures(**fp32, stripes(1), 4), b = ComputeAnomalyFeatures(**int8, stripes(1), 4);
  ASSERT_TRUE(a.ok() && b.ok());
  for (int k = 0; k < kAnomalyFeatures; ++k)
    if (a->image[k] > -5) EXPECT_NEAR(a->image[k], b->image[k], 0.15) << "feature " << k;
  // Learn noise as good: stripes score far above held-out noise.
  std::vector<std::vector<double>> good, cells;
  for (int k = 0; k < 60; ++k) {
    auto f = ComputeAnomalyFeatures(**int8, noise(), 4);
    good.push_back(f->image);
    for (auto& c : f->cells) cells.push_back(c);
  }
  AnomalyDetector d;
  d.image = *Gaussian::Fit(good, 1e-3);
  d.cell = *Gaussian::Fit(cells, 1e-3);
  std::vector<double> held;
  for (int k = 0; k < 20; ++k) held.push_back(d.Score(*ComputeAnomalyFeatures(**int8, noise(), 4)));
  d.threshold = ThresholdForFrr(held, 0.05);
  const auto striped = *ComputeAnomalyFeatures(**int8, stripes(0), 4);
  EXPECT_GT(d.Score(striped), 10 * d.threshold);
  const auto heat = d.HeatMap(striped);
  ASSERT_EQ(heat.size(), 16u);
  for (double h : heat) EXPECT_GT(h, 0);
  // JSON round trip.
  auto back = AnomalyDetector::FromJson(d.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_DOUBLE_EQ(back->Score(striped), d.Score(striped));
  nlohmann::json broken = d.ToJson();
  broken["image"]["mean"] = {1, 2};
  EXPECT_FALSE(AnomalyDetector::FromJson(broken).ok());
}

}  // namespace
}  // namespace pf::apps
