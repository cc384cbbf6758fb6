#include "dsp/diagnosis.h"

#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "dsp/block_processor.h"
#include "dsp/test_signals.h"

namespace pf::dsp {
namespace {

BlockProcessorConfig Config6205(double fs) {
  BlockProcessorConfig c;
  c.fs = fs;
  c.block_size = static_cast<std::size_t>(fs);
  c.bearing = *LookupBearing("6205");
  return c;
}

TEST(DiagnosisTest, SyntheticOuterRaceFault) {
  const double fr = 1772 / 60.0;
  testing::FaultSignal s;
  s.shaft_hz = fr;
  s.fault_hz = 3.5848 * fr;
  s.impact = 1.0;
  s.noise_rms = 0.3;
  auto x = testing::MakeFaultSignal(s);
  auto r = AnalyzeRecord(x, fr, Config6205(s.fs));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->diagnosis.location, FaultLocation::kOuterRace) << DescribeDiagnosis(r->diagnosis);
  const auto& best = r->diagnosis.candidates[0];
  EXPECT_EQ(best.location, FaultLocation::kOuterRace);
  EXPECT_GE(best.harmonics_detected, 2);
  EXPECT_NEAR(best.harmonics[0].found_hz, s.fault_hz, 1.0);
  EXPECT_GE(r->diagnosis.margin, 6.0);
  // The kurtogram found the 3 kHz resonance.
  EXPECT_LE(r->envelope_band.lo_hz, 3000);
  EXPECT_GE(r->envelope_band.hi_hz, 3000);
}

TEST(DiagnosisTest, SyntheticInnerRaceFaultWithShaftSidebands) {
  const double fr = 1750 / 60.0;
  testing::FaultSignal s;
  s.shaft_hz = fr;
  s.fault_hz = 5.4152 * fr;
  s.impact = 1.0;
  s.noise_rms = 0.3;
  s.shaft_modulation = 0.8;
  s.resonance_hz = 2500;
  s.seed = 4;
  auto x = testing::MakeFaultSignal(s);
  auto r = AnalyzeRecord(x, fr, Config6205(s.fs));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->diagnosis.location, FaultLocation::kInnerRace) << DescribeDiagnosis(r->diagnosis);
  EXPECT_GE(r->diagnosis.candidates[0].sidebands_detected, 2);
  EXPECT_NEAR(r->diagnosis.candidates[0].sideband_spacing_hz, fr, 1e-9);
}

TEST(DiagnosisTest, NoiseAloneIsNone) {
  testing::FaultSignal s;
  s.noise_rms = 0.5;
  auto x = testing::MakeFaultSignal(s);
  auto r = AnalyzeRecord(x, s.shaft_hz, Config6205(s.fs));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->diagnosis.location, FaultLocation::kNone) << DescribeDiagnosis(r->diagnosis);
  for (const auto& c : r->diagnosis.candidates) EXPECT_FALSE(c.detected);
}

// A synthetic SES: a noisy floor of about 1 with lines of the given height.
std::vector<float> Ses(double bin_hz, std::size_t bins, const std::vector<std::pair<double, float>>& lines) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(0.8f, 1.2f);
  std::vector<float> ses(bins);
  for (auto& v : ses) v = u(rng);
  for (auto [f, a] : lines) ses[static_cast<std::size_t>(std::lround(f / bin_hz))] = a;
  return ses;
}

TEST(DiagnosisTest, ScoresAreSnrAgainstTheLocalFloor) {
  const double fr = 30, df = 0.5;
  const auto d6205 = *DefectMultiples(*LookupBearing("6205"));
  const double bpfo = d6205.bpfo * fr;
  // Lines at 10x, 5x, 4x the floor: 20, 14, 12 dB -> score 20 + 14/2 + 12/3 = 31 (within the floor's spread).
  auto ses = Ses(df, 2000, {{bpfo, 10.0f}, {2 * bpfo, 5.0f}, {3 * bpfo, 4.0f}});
  auto d = DiagnoseBearing(ses, df, fr, d6205, {});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->location, FaultLocation::kOuterRace);
  EXPECT_EQ(d->candidates[0].harmonics_detected, 3);
  EXPECT_NEAR(d->candidates[0].score, 31.0, 2.0);
  EXPECT_NEAR(d->candidates[0].harmonics[0].snr_db, 20.0, 2.0);
}

TEST(DiagnosisTest, TwoEqualFamiliesAreAmbiguousWithBothCandidates) {
  const double fr = 30, df = 0.5;
  const auto m = *DefectMultiples(*LookupBearing("6205"));
  auto ses = Ses(df, 2000, {{m.bpfo * fr, 10.0f}, {2 * m.bpfo * fr, 6.0f}, {m.bpfi * fr, 10.0f}, {2 * m.bpfi * fr, 6.0f},
                            {m.bpfi * fr - fr, 4.0f}});
  auto d = DiagnoseBearing(ses, df, fr, m, {});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->location, FaultLocation::kAmbiguous);
  EXPECT_LT(d->margin, 6.0);
  EXPECT_TRUE(d->candidates[0].detected);
  EXPECT_TRUE(d->candidates[1].detected);
  const bool both = (d->candidates[0].location == FaultLocation::kOuterRace && d->candidates[1].location == FaultLocation::kInnerRace) ||
                    (d->candidates[1].location == FaultLocation::kOuterRace && d->candidates[0].location == FaultLocation::kInnerRace);
  EXPECT_TRUE(both) << DescribeDiagnosis(*d);
}

TEST(DiagnosisTest, InnerRaceNeedsShaftSidebands) {
  const double fr = 30, df = 0.5;
  const auto m = *DefectMultiples(*LookupBearing("6205"));
  const double bpfi = m.bpfi * fr;
  // BPFI harmonics alone (no +-fr modulation): not an inner-race defect.
  auto ses = Ses(df, 2000, {{bpfi, 10.0f}, {2 * bpfi, 6.0f}});
  auto d = DiagnoseBearing(ses, df, fr, m, {});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->location, FaultLocation::kNone) << DescribeDiagnosis(*d);
  EXPECT_EQ(d->candidates[0].location, FaultLocation::kInnerRace);
  EXPECT_EQ(d->candidates[0].harmonics_detected, 2);
  EXPECT_FALSE(d->candidates[0].detected);
  // With the sidebands at BPFI +- fr it is.
  ses = Ses(df, 2000, {{bpfi, 10.0f}, {2 * bpfi, 6.0f}, {bpfi - fr, 5.0f}, {bpfi + fr, 5.0f}});
  d = DiagnoseBearing(ses, df, fr, m, {});
  EXPECT_EQ(d->location, FaultLocation::kInnerRace) << DescribeDiagnosis(*d);
  EXPECT_EQ(d->candidates[0].sidebands_detected, 2);
  EXPECT_NEAR(d->candidates[0].sidebands[1].found_hz, bpfi + fr, df);
  // Without the rule (a load that turns with the shaft) the harmonics suffice.
  DiagnosisOptions o;
  o.inner_race_min_sidebands = 0;
  ses = Ses(df, 2000, {{bpfi, 10.0f}, {2 * bpfi, 6.0f}});
  d = DiagnoseBearing(ses, df, fr, m, o);
  EXPECT_EQ(d->location, FaultLocation::kInnerRace);
}

TEST(DiagnosisTest, ShaftHarmonicsAreNotEvidence) {
  // Lines at every shaft harmonic only: no bearing location; 5 x FTF (1.9915 fr) is skipped as 2x.
  const double fr = 30, df = 0.5;
  std::vector<std::pair<double, float>> lines;
  for (int k = 1; k <= 30; ++k) lines.push_back({k * fr, 20.0f});
  auto ses = Ses(df, 2000, lines);
  const auto m = *DefectMultiples(*LookupBearing("6205"));
  DiagnosisOptions o;
  o.harmonics = 5;
  auto d = DiagnoseBearing(ses, df, fr, m, o);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->location, FaultLocation::kNone) << DescribeDiagnosis(*d);
  for (const auto& c : d->candidates) {
    if (c.location == FaultLocation::kCage) {
      EXPECT_TRUE(c.harmonics[4].shaft_coincident);
      EXPECT_FALSE(c.harmonics[0].shaft_coincident);
    }
  }
}

TEST(DiagnosisTest, Errors) {
  const auto m = *DefectMultiples(*LookupBearing("6205"));
  std::vector<float> ses(100, 1.0f);
  EXPECT_EQ(DiagnoseBearing(ses, 1.0, 0.0, m, {}).status().code(), StatusCode::kInvalidArgument);
  DiagnosisOptions o;
  o.harmonics = 9;
  EXPECT_EQ(DiagnoseBearing(ses, 1.0, 30, m, o).status().code(), StatusCode::kInvalidArgument);
  ses[50] = std::nanf("");
  auto r = DiagnoseBearing(ses, 1.0, 30, m, {});
  EXPECT_NE(r.status().message().find("bin 50"), std::string::npos);
  EXPECT_EQ(FaultLocationName(FaultLocation::kInnerRace), "inner_race");
}

}  // namespace
}  // namespace pf::dsp
