#include "dsp/sensor_health.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <numbers>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "dsp/test_signals.h"

// A counting global allocator for this test binary: Check() must not allocate.
namespace {
std::atomic<long> g_allocations{0};
}  // namespace
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace pf::dsp {
namespace {

constexpr double kFs = 12000;
constexpr std::size_t kN = 12000;  // 1 s blocks
constexpr double kFr = 29.95;
constexpr double kNoise = 0.05;    // g RMS, white

// A healthy machine: shaft harmonics 1x..6x (0.2, 0.1, 0.06, 0.04, 0.03, 0.02 g) at `ratio` times
// the shaft speed (ratio != 1 plays a wrong sampling rate), plus white noise.
std::vector<float> Machine(std::size_t n, unsigned seed, double ratio = 1.0, double noise = kNoise) {
  const double amps[] = {0.2, 0.1, 0.06, 0.04, 0.03, 0.02};
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / kFs;
    double v = noise * g(rng);
    for (int h = 1; h <= 6; ++h) v += amps[h - 1] * std::sin(2 * std::numbers::pi * h * kFr * ratio * t + 0.3 * h);
    x[i] = static_cast<float>(v);
  }
  return x;
}

std::span<const float> Block(const std::vector<float>& x, std::size_t b) { return std::span<const float>(x).subspan(b * kN, kN); }

SensorHealth Make(SensorHealthOptions o = {}) {
  auto h = SensorHealth::Create(kFs, kN, o);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  return std::move(*h);
}

std::string Codes(const SensorHealthReport& r) {
  std::string s;
  for (const SensorFault& f : r.Faults()) s += std::string(f.text()) + "\n";
  return s;
}

const SensorFault* Find(const SensorHealthReport& r, SensorFaultCode c) {
  for (const SensorFault& f : r.Faults()) {
    if (f.code == c) return &f;
  }
  return nullptr;
}

TEST(SensorHealthTest, CleanMachineSignalHasNoFault) {
  auto h = Make();
  const auto x = Machine(12 * kN, 1);
  SensorHealthReport r;
  for (std::size_t b = 0; b < 12; ++b) {
    ASSERT_TRUE(h.Check(Block(x, b), kFr, &r).ok());
    EXPECT_EQ(r.fault_count, 0) << "block " << b << ":\n" << Codes(r);
    EXPECT_FALSE(r.suppress_diagnosis);
    ASSERT_TRUE(r.figures.rate_checked);
    EXPECT_NEAR(r.figures.rate_ratio, 1.0, 0.01);
    EXPECT_EQ(r.figures.rate_harmonics, 6);
  }
  EXPECT_TRUE(h.reference_ready());
  // The median of the power per bin of white noise (exponential, 2 degrees of freedom) is ln 2 times
  // its mean, and the mean is sigma^2 / (n/2) (one-sided, Parseval): the learned reference.
  const double expected = kNoise * kNoise / (kN / 2.0) * std::numbers::ln2;
  EXPECT_NEAR(h.noise_floor_reference() / expected, 1.0, 0.06);
}

TEST(SensorHealthTest, StrongBearingImpactTrainIsNotASensorFault) {
  // Inner race (BPFI of a 6205, shaft-modulated) and outer race (BPFO) impacts of 3 g ringing
  // resonances damped 0.05 to 0.2 of critical, up to 5 kHz (0.42 fs), on 0.1 and 0.02 g noise.
  struct Case { double fault_order, modulation, resonance_hz, damping, noise; };
  const Case cases[] = {{5.4152, 0.5, 3000, 0.05, 0.1}, {3.5848, 0, 3000, 0.05, 0.02}, {3.5848, 0, 2000, 0.2, 0.02},
                        {5.4152, 0.5, 4000, 0.1, 0.1}, {3.5848, 0, 5000, 0.1, 0.02}, {3.5848, 0, 4000, 0.2, 0.1}};
  for (const Case& c : cases) {
    testing::FaultSignal s;
    s.shaft_hz = kFr;
    s.fault_hz = c.fault_order * kFr;
    s.impact = 3.0;
    s.shaft_modulation = c.modulation;
    s.resonance_hz = c.resonance_hz;
    s.damping = c.damping;
    s.noise_rms = c.noise;
    s.seconds = 10;
    auto x = testing::MakeFaultSignal(s);
    auto h = Make();
    SensorHealthReport r;
    double crest = 0;  // largest peak in robust sigmas
    for (std::size_t b = 0; b < 10; ++b) {
      ASSERT_TRUE(h.Check(Block(x, b), kFr, &r).ok());
      EXPECT_EQ(r.fault_count, 0) << c.resonance_hz << " Hz, damping " << c.damping << ", block " << b << ":\n" << Codes(r);
      crest = std::max(crest, r.figures.peak / r.figures.robust_sigma);
    }
    EXPECT_GT(crest, 8.0) << c.resonance_hz << " Hz, damping " << c.damping;  // the impacts exceed the spike threshold
  }
}

TEST(SensorHealthTest, NanAndInfAreReportedWithTheirPosition) {
  auto x = Machine(kN, 2);
  x[100] = std::numeric_limits<float>::quiet_NaN();
  x[7000] = std::numeric_limits<float>::infinity();
  auto h = Make();
  SensorHealthReport r;
  ASSERT_TRUE(h.Check(x, kFr, &r).ok());
  ASSERT_EQ(r.fault_count, 1) << Codes(r);
  EXPECT_EQ(r.faults[0].code, SensorFaultCode::kNan);
  EXPECT_EQ(r.faults[0].value, 2);
  EXPECT_TRUE(r.faults[0].suppress_diagnosis);
  EXPECT_EQ(r.faults[0].text(), "nan: 2 of 12000 samples are NaN or infinite (first at sample 100); other checks skipped");
  EXPECT_TRUE(r.suppress_diagnosis);
}

TEST(SensorHealthTest, ClippingAtSixtyPercentCountsTheClippedSamples) {
  auto x = Machine(kN, 3);
  float peak = 0;
  for (float v : x) peak = std::max(peak, std::fabs(v));
  const float rail = 0.6f * peak;
  long beyond = 0;
  for (float& v : x) {
    if (std::fabs(v) >= rail) ++beyond;
    v = std::clamp(v, -rail, rail);
  }
  auto h = Make();
  SensorHealthReport r;
  ASSERT_TRUE(h.Check(x, kFr, &r).ok());
  const SensorFault* f = Find(r, SensorFaultCode::kClipping);
  ASSERT_NE(f, nullptr) << Codes(r);
  // Every sample that went beyond the rail sits on it; a few more lie within the tolerance below it.
  EXPECT_GE(r.figures.rail_samples, beyond);
  EXPECT_LE(r.figures.rail_samples, beyond + beyond / 10 + 5);
  EXPECT_GE(r.figures.rail_samples, 4 * r.figures.shoulder_samples);
}

TEST(SensorHealthTest, PureSineIsNotClipped) {
  // A sine piles up at its peaks (arcsine density) but only as sqrt(distance): rail ~ shoulder.
  std::vector<float> x(kN);
  for (std::size_t i = 0; i < kN; ++i) x[i] = static_cast<float>(std::sin(2 * std::numbers::pi * 10.0 * i / kFs));
  SensorHealthOptions o;
  o.min_vibration_rms = 0;
  auto h = Make(o);
  SensorHealthReport r;
  ASSERT_TRUE(h.Check(x, 10.0, &r).ok());
  EXPECT_FALSE(r.Has(SensorFaultCode::kClipping)) << Codes(r);
  EXPECT_LT(r.figures.rail_samples, 2 * r.figures.shoulder_samples);
}

TEST(SensorHealthTest, FlatLineStuckValueAndQuantisationNoise) {
  auto h = Make();
  SensorHealthReport r;
  std::vector<float> stuck(kN, 0.731f);
  ASSERT_TRUE(h.Check(stuck, kFr, &r).ok());
  ASSERT_EQ(r.fault_count, 1) << Codes(r);
  EXPECT_EQ(r.faults[0].code, SensorFaultCode::kFlatLine);
  EXPECT_EQ(r.faults[0].value, 0);

  // Noise of 0.3 LSB through a quantiser: three or four codes only.
  std::mt19937 rng(4);
  std::normal_distribution<double> g(0.0, 0.3);
  const double lsb = 1.0 / 32768;
  std::vector<float> q(kN);
  for (float& v : q) v = static_cast<float>(std::round(g(rng)) * lsb);
  ASSERT_TRUE(h.Check(q, kFr, &r).ok());
  ASSERT_EQ(r.fault_count, 1) << Codes(r);
  EXPECT_EQ(r.faults[0].code, SensorFaultCode::kFlatLine);
  EXPECT_LE(r.figures.levels, 4);

  // Stuck for 70 % of the block after a step.
  auto x = Machine(kN, 5);
  std::fill(x.begin() + 3600, x.end(), 0.25f);
  ASSERT_TRUE(h.Check(x, kFr, &r).ok());
  const SensorFault* f = Find(r, SensorFaultCode::kFlatLine);
  ASSERT_NE(f, nullptr) << Codes(r);
  EXPECT_DOUBLE_EQ(f->value, 8400.0 / kN);
  EXPECT_FALSE(r.Has(SensorFaultCode::kDropout));

  // A stopped machine (speed tag 0) may be that quiet: no fault.
  auto h2 = Make();
  ASSERT_TRUE(h2.Check(stuck, 0.0, &r).ok());
  EXPECT_EQ(r.fault_count, 0) << Codes(r);
}

TEST(SensorHealthTest, DropoutsOfZerosAndStepsToAConstant) {
  auto h = Make();
  SensorHealthReport r;
  auto x = Machine(kN, 6);
  std::fill(x.begin() + 5000, x.begin() + 5100, 0.0f);
  ASSERT_TRUE(h.Check(x, kFr, &r).ok());
  const SensorFault* f = Find(r, SensorFaultCode::kDropout);
  ASSERT_NE(f, nullptr) << Codes(r);
  EXPECT_EQ(f->value, 100);
  EXPECT_EQ(f->threshold, 24);  // 2 ms at 12 kHz
  EXPECT_NE(f->text().find("exact zeros"), std::string_view::npos) << f->text();

  auto y = Machine(kN, 7);
  std::fill(y.begin() + 200, y.begin() + 260, 0.4f);
  ASSERT_TRUE(h.Check(y, kFr, &r).ok());
  f = Find(r, SensorFaultCode::kDropout);
  ASSERT_NE(f, nullptr) << Codes(r);
  EXPECT_EQ(f->value, 60);
  EXPECT_NE(f->text().find("a step to a constant"), std::string_view::npos) << f->text();

  // 20 identical samples (1.7 ms) are below the 2 ms dropout run.
  auto z = Machine(kN, 8);
  std::fill(z.begin() + 200, z.begin() + 220, 0.0f);
  ASSERT_TRUE(h.Check(z, kFr, &r).ok());
  EXPECT_FALSE(r.Has(SensorFaultCode::kDropout)) << Codes(r);
}

TEST(SensorHealthTest, IsolatedSpikesAreCableFaultsPeriodicOnesAreNot) {
  auto h = Make();
  SensorHealthReport r;
  auto x = Machine(kN, 9);
  const std::size_t at[] = {811, 2950, 4003, 7777, 10500};
  for (std::size_t i : at) x[i] += (i % 2 ? 3.0f : -3.0f);
  ASSERT_TRUE(h.Check(x, kFr, &r).ok());
  const SensorFault* f = Find(r, SensorFaultCode::kCableSpike);
  ASSERT_NE(f, nullptr) << Codes(r);
  EXPECT_EQ(r.figures.spikes, 5);
  EXPECT_FALSE(r.figures.spikes_periodic);
  EXPECT_NE(f->text().find("first at sample 811"), std::string_view::npos) << f->text();

  // A spike two samples wide (a cable transient) is still isolated; three wide is not.
  auto w = Machine(kN, 23);
  w[3000] += 2.0f;
  w[3001] += 3.0f;
  auto h3 = Make();
  ASSERT_TRUE(h3.Check(w, kFr, &r).ok());
  EXPECT_EQ(r.figures.spikes, 1) << Codes(r);
  ASSERT_NE(Find(r, SensorFaultCode::kCableSpike), nullptr) << Codes(r);
  EXPECT_NE(Find(r, SensorFaultCode::kCableSpike)->text().find("first at sample 3001"), std::string_view::npos);
  auto v = Machine(kN, 24);
  v[9000] += 3.0f;
  v[9001] += 3.0f;
  v[9002] += 3.0f;
  ASSERT_TRUE(h3.Check(v, kFr, &r).ok());
  EXPECT_EQ(r.figures.spikes, 0) << Codes(r);
  EXPECT_GT(r.figures.ringing_peak_sigma, 8.0);
  // An isolated spike no larger than the block's ringing impacts is not a cable fault.
  v[5000] += 3.0f;
  ASSERT_TRUE(h3.Check(v, kFr, &r).ok());
  EXPECT_FALSE(r.Has(SensorFaultCode::kCableSpike)) << Codes(r);
  v[5000] += 3.0f;  // now 2x the ringing peak
  ASSERT_TRUE(h3.Check(v, kFr, &r).ok());
  EXPECT_TRUE(r.Has(SensorFaultCode::kCableSpike)) << Codes(r);

  // The same spikes every 1000 samples: periodic like impacts, not a cable fault.
  auto y = Machine(kN, 10);
  for (std::size_t i = 500; i < kN; i += 1000) y[i] += 3.0f;
  auto h2 = Make();
  ASSERT_TRUE(h2.Check(y, kFr, &r).ok());
  EXPECT_EQ(r.figures.spikes, 12);
  EXPECT_TRUE(r.figures.spikes_periodic);
  EXPECT_FALSE(r.Has(SensorFaultCode::kCableSpike)) << Codes(r);
}

TEST(SensorHealthTest, LooseMountingByRaisedNoiseFloorAgainstLearnedReference) {
  auto h = Make();
  SensorHealthReport r;
  const auto clean = Machine(3 * kN, 11);
  for (std::size_t b = 0; b < 3; ++b) ASSERT_TRUE(h.Check(Block(clean, b), kFr, &r).ok());
  ASSERT_TRUE(h.reference_ready());
  // Four times the noise RMS: the floor rises by 20 log10(4) = 12.04 dB.
  const auto loose = Machine(kN, 12, 1.0, 4 * kNoise);
  ASSERT_TRUE(h.Check(loose, kFr, &r).ok());
  const SensorFault* f = Find(r, SensorFaultCode::kLooseMounting);
  ASSERT_NE(f, nullptr) << Codes(r);
  EXPECT_NEAR(r.figures.floor_rise_db, 20 * std::log10(4.0), 0.6);
  EXPECT_EQ(r.fault_count, 1) << Codes(r);
}

// A developing bearing fault raises the floor too, with impacts: broadband bursts (white noise
// decaying with a 8-sample time constant, what a struck structure with many resonances rings) at
// 107 Hz (an outer-race rate) on top of the clean machine lift the floor over 10 dB with a kurtosis
// over loose_max_kurtosis, and are left to the diagnosis.
TEST(SensorHealthTest, RaisedFloorWithImpactsIsNotLooseMounting) {
  auto h = Make();
  SensorHealthReport r;
  const auto clean = Machine(3 * kN, 11);
  for (std::size_t b = 0; b < 3; ++b) ASSERT_TRUE(h.Check(Block(clean, b), kFr, &r).ok());
  auto faulty = Machine(kN, 12);
  const double period = kFs / 107.0;
  std::mt19937 rng(5);
  std::normal_distribution<double> g(0.0, 2.0);
  for (double t0 = 5; t0 < kN; t0 += period)
    for (std::size_t k = 0; k < 60 && static_cast<std::size_t>(t0) + k < kN; ++k)
      faulty[static_cast<std::size_t>(t0) + k] += static_cast<float>(g(rng) * std::exp(-static_cast<double>(k) / 8.0));
  ASSERT_TRUE(h.Check(faulty, kFr, &r).ok());
  EXPECT_GE(r.figures.floor_rise_db, 10.0);
  EXPECT_GE(r.figures.kurtosis, 4.5);
  EXPECT_FALSE(r.Has(SensorFaultCode::kLooseMounting)) << Codes(r);
}

TEST(SensorHealthTest, LooseMountingByConfiguredReferenceAndBySubharmonic) {
  SensorHealthOptions o;
  o.noise_floor_reference = kNoise * kNoise / (kN / 2.0) * std::numbers::ln2;
  auto h = Make(o);
  SensorHealthReport r;
  ASSERT_TRUE(h.Check(Machine(kN, 13), kFr, &r).ok());
  EXPECT_EQ(r.fault_count, 0) << Codes(r);
  EXPECT_NEAR(r.figures.floor_rise_db, 0, 0.4);
  ASSERT_TRUE(h.Check(Machine(kN, 14, 1.0, 5 * kNoise), kFr, &r).ok());
  EXPECT_TRUE(r.Has(SensorFaultCode::kLooseMounting)) << Codes(r);
  EXPECT_NEAR(r.figures.floor_rise_db, 20 * std::log10(5.0), 0.6);
  // Three times the noise (+9.5 dB) stays below the 10 dB rise.
  ASSERT_TRUE(h.Check(Machine(kN, 22, 1.0, 3 * kNoise), kFr, &r).ok());
  EXPECT_FALSE(r.Has(SensorFaultCode::kLooseMounting)) << Codes(r);
  EXPECT_NEAR(r.figures.floor_rise_db, 20 * std::log10(3.0), 0.6);

  // A 1/2x line of 0.05 g on an unchanged floor (no reference yet).
  auto x = Machine(kN, 15);
  for (std::size_t i = 0; i < kN; ++i) x[i] += static_cast<float>(0.05 * std::sin(2 * std::numbers::pi * kFr / 2 * i / kFs));
  auto h2 = Make();
  ASSERT_TRUE(h2.Check(x, kFr, &r).ok());
  const SensorFault* f = Find(r, SensorFaultCode::kLooseMounting);
  ASSERT_NE(f, nullptr) << Codes(r);
  EXPECT_NE(f->text().find("1/2x"), std::string_view::npos) << f->text();
  // 0.05 g line over a per-bin noise amplitude of about 0.05 * sqrt(2/n * 1.5) (Hann): ~ 40 dB.
  EXPECT_GT(r.figures.subharmonic_snr_db[0], 30);
  EXPECT_LT(r.figures.subharmonic_snr_db[1], 18);
}

TEST(SensorHealthTest, SamplingRateOffIsEstimated) {
  for (double ratio : {1.05, 0.95, 1.10, 0.90}) {
    auto h = Make();
    SensorHealthReport r;
    ASSERT_TRUE(h.Check(Machine(kN, 16, ratio), kFr, &r).ok());
    const SensorFault* f = Find(r, SensorFaultCode::kSampleRate);
    ASSERT_NE(f, nullptr) << ratio << "\n" << Codes(r);
    EXPECT_NEAR(f->value, ratio, 0.006) << f->text();
    EXPECT_EQ(r.figures.rate_harmonics, 6);
    EXPECT_LE(r.figures.rate_harmonics_nominal, 1);
  }
  // 1.5 % (slip, a speed tag a little off) is not a sampling-rate fault.
  auto h = Make();
  SensorHealthReport r;
  ASSERT_TRUE(h.Check(Machine(kN, 17, 1.015), kFr, &r).ok());
  EXPECT_FALSE(r.Has(SensorFaultCode::kSampleRate)) << Codes(r);
  EXPECT_NEAR(r.figures.rate_ratio, 1.015, 0.006);
}

TEST(SensorHealthTest, SpeedMissingZeroOrNan) {
  const auto x = Machine(kN, 18);
  auto h = Make();
  SensorHealthReport r;
  ASSERT_TRUE(h.Check(x, std::nullopt, &r).ok());
  ASSERT_EQ(r.fault_count, 1) << Codes(r);
  EXPECT_EQ(r.faults[0].code, SensorFaultCode::kSpeedMissing);
  EXPECT_NE(r.faults[0].text().find("no speed tag"), std::string_view::npos);
  ASSERT_TRUE(h.Check(x, 0.0, &r).ok());
  EXPECT_TRUE(r.Has(SensorFaultCode::kSpeedMissing)) << Codes(r);
  EXPECT_TRUE(r.faults[0].text().starts_with("speed_missing: speed tag is 0 Hz")) << r.faults[0].text();
  ASSERT_TRUE(h.Check(x, std::numeric_limits<double>::quiet_NaN(), &r).ok());
  ASSERT_TRUE(r.Has(SensorFaultCode::kSpeedMissing)) << Codes(r);
  EXPECT_EQ(r.faults[0].value, 0);  // never NaN in a result
  EXPECT_TRUE(r.faults[0].text().starts_with("speed_missing: speed tag is NaN")) << r.faults[0].text();
  // No vibration: a flat line, not a missing speed.
  ASSERT_TRUE(h.Check(std::vector<float>(kN, 0.0f), std::nullopt, &r).ok());
  EXPECT_FALSE(r.Has(SensorFaultCode::kSpeedMissing));
  EXPECT_TRUE(r.Has(SensorFaultCode::kFlatLine));
}

TEST(SensorHealthTest, SuppressionHoldsForHoldBlocksAfterAFault) {
  SensorHealthOptions o;
  o.hold_blocks = 3;
  auto h = Make(o);
  SensorHealthReport r;
  auto bad = Machine(kN, 19);
  bad[5] = std::numeric_limits<float>::quiet_NaN();
  const auto good = Machine(6 * kN, 20);
  ASSERT_TRUE(h.Check(Block(good, 0), kFr, &r).ok());
  EXPECT_FALSE(r.suppress_diagnosis);
  ASSERT_TRUE(h.Check(bad, kFr, &r).ok());
  EXPECT_TRUE(r.suppress_diagnosis);
  EXPECT_FALSE(DiagnosisAllowed(r));
  for (std::size_t b = 1; b <= 4; ++b) {
    ASSERT_TRUE(h.Check(Block(good, b), kFr, &r).ok());
    EXPECT_EQ(r.fault_count, 0);
    EXPECT_EQ(r.suppress_diagnosis, b <= 3) << b;
  }
}

TEST(SensorHealthTest, CheckNeverAllocates) {
  auto h = Make();
  SensorHealthReport r;
  auto x = Machine(6 * kN, 21);
  x[3 * kN + 10] = std::numeric_limits<float>::quiet_NaN();
  std::fill(x.begin() + 4 * kN + 100, x.begin() + 4 * kN + 200, 0.0f);
  x[5 * kN + 77] += 5.0f;
  const long before = g_allocations.load();
  for (std::size_t b = 0; b < 6; ++b) ASSERT_TRUE(h.Check(Block(x, b), b == 2 ? std::optional<double>() : kFr, &r).ok());
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_TRUE(r.Has(SensorFaultCode::kCableSpike));
}

TEST(SensorHealthTest, BadArgumentsAreNamed) {
  auto a = SensorHealth::Create(kFs, 1001);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.status().message(), "sensor health: block length 1001 must be even and >= 64");
  SensorHealthOptions o;
  o.clip_tolerance = 0.5;
  auto b = SensorHealth::Create(kFs, kN, o);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message(), "sensor health: clip_tolerance 0.5 must be in (0, 0.25)");
  o = {};
  o.floor_hi_hz = 7000;
  auto c = SensorHealth::Create(kFs, kN, o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "sensor health: floor band [500, 7000] Hz must be increasing and below fs/2 = 6000 Hz");
  auto h = Make();
  SensorHealthReport r;
  const std::vector<float> short_block(100, 0.0f);
  auto s = h.Check(short_block, kFr, &r);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "sensor health: block has 100 samples, expected 12000");
}

}  // namespace
}  // namespace pf::dsp
