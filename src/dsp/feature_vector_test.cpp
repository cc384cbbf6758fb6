#include "dsp/feature_vector.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "dsp/test_signals.h"

namespace pf::dsp {
namespace {

constexpr double kFs = 12000;
constexpr std::size_t kN = 4096;

DefectFrequencies Multiples() { return *DefectMultiples(*LookupBearing("6205")); }

std::size_t Index(const BearingFeatureVector& v, const std::string& name) {
  const auto& n = v.names();
  const auto it = std::find(n.begin(), n.end(), name);
  EXPECT_NE(it, n.end()) << name;
  return static_cast<std::size_t>(it - n.begin());
}

std::vector<float> Features(BearingFeatureVector& v, const std::vector<float>& x, double shaft_hz) {
  std::vector<float> out(v.size());
  EXPECT_TRUE(v.Compute(std::span<const float>(x).first(kN), shaft_hz, out).ok());
  return out;
}

TEST(FeatureVector, NamesAndSize) {
  auto v = BearingFeatureVector::Create(kFs, kN, Multiples());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->size(), 7u + 16u + 24u);
  EXPECT_EQ(v->names().front(), "log_rms");
  EXPECT_EQ(v->names()[7], "spec_0");
  EXPECT_EQ(v->names().back(), "env2_cage_mean");
}

TEST(FeatureVector, SineOfUnitAmplitude) {
  // rms 1/sqrt(2), kurtosis 1.5, crest sqrt(2); all power in the band of the sine.
  auto created = BearingFeatureVector::Create(kFs, kN, Multiples());
  ASSERT_TRUE(created.ok());
  auto& v = *created;
  std::vector<float> x(kN);
  const double f = 100 * kFs / kN;  // on a bin: band 100 / (2048 / 16) = 0
  for (std::size_t i = 0; i < kN; ++i) x[i] = static_cast<float>(std::sin(2 * std::numbers::pi * f * i / kFs));
  const auto out = Features(v, x, 29.95);
  EXPECT_NEAR(out[0], std::log10(1 / std::sqrt(2.0)), 1e-4);
  EXPECT_NEAR(out[1], 1.5, 1e-3);
  EXPECT_NEAR(out[2], std::sqrt(2.0), 1e-3);
  EXPECT_NEAR(out[Index(v, "spec_0")], 0.0, 1e-4);  // log10(1): the whole power
  EXPECT_LT(out[Index(v, "spec_5")], -6);
}

TEST(FeatureVector, InnerRaceImpactsLightTheInnerRaceEnvelopeFeatures) {
  const auto m = Multiples();
  auto created = BearingFeatureVector::Create(kFs, kN, m);
  ASSERT_TRUE(created.ok());
  auto& v = *created;
  testing::FaultSignal s;
  s.seconds = 1;
  s.fault_hz = m.bpfi * s.shaft_hz;
  s.shaft_modulation = 0.5;
  s.resonance_hz = 3000;  // in the middle demodulation band, [2200, 3800] Hz
  const auto faulty = Features(v, testing::MakeFaultSignal(s), s.shaft_hz);
  s.fault_hz = 0;
  const auto healthy = Features(v, testing::MakeFaultSignal(s), s.shaft_hz);
  double best_fault = -1e9, best_healthy = -1e9;
  for (int b = 0; b < 3; ++b) {
    best_fault = std::max<double>(best_fault, faulty[Index(v, fmt::format("env{}_inner_race_max", b))]);
    best_healthy = std::max<double>(best_healthy, healthy[Index(v, fmt::format("env{}_inner_race_max", b))]);
  }
  EXPECT_GT(best_fault, 15);
  EXPECT_LT(best_healthy, 12);
  EXPECT_GT(faulty[1], healthy[1] + 1);  // impacts raise the kurtosis
  for (float f : faulty) EXPECT_TRUE(std::isfinite(f));
}

TEST(FeatureVector, BadInputIsNamed) {
  EXPECT_FALSE(BearingFeatureVector::Create(0, kN, Multiples()).ok());
  EXPECT_FALSE(BearingFeatureVector::Create(kFs, 255, Multiples()).ok());
  EXPECT_FALSE(BearingFeatureVector::Create(kFs, kN, DefectFrequencies{}).ok());
  auto created = BearingFeatureVector::Create(kFs, kN, Multiples());
  ASSERT_TRUE(created.ok());
  auto& v = *created;
  std::vector<float> x(kN, 0.1f), out(v.size());
  x[17] = std::nanf("");
  const Status st = v.Compute(x, 29.95, out);
  EXPECT_NE(st.message().find("17"), std::string::npos) << st.ToString();
  x[17] = 0;
  EXPECT_FALSE(v.Compute(x, 0, out).ok());
  EXPECT_FALSE(v.Compute(std::span<const float>(x).first(100), 29.95, out).ok());
}

TEST(FeatureVector, SilentBlockGivesFiniteValues) {
  auto created = BearingFeatureVector::Create(kFs, kN, Multiples());
  ASSERT_TRUE(created.ok());
  auto& v = *created;
  std::vector<float> x(kN, 0.0f), out(v.size());
  ASSERT_TRUE(v.Compute(x, 29.95, out).ok());
  for (float f : out) EXPECT_TRUE(std::isfinite(f));
}

}  // namespace
}  // namespace pf::dsp
