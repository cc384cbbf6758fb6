#include "dsp/block_processor.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "dsp/test_signals.h"

// A counting global allocator for this test binary: Process() must not allocate.
namespace {
std::atomic<long> g_allocations{0};
}  // namespace
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// GCC cannot see that this file's operator new is the matching malloc.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace pf::dsp {
namespace {

BlockProcessorConfig Config(double fs) {
  BlockProcessorConfig c;
  c.fs = fs;
  c.block_size = static_cast<std::size_t>(fs);
  c.bearing = *LookupBearing("6205");
  c.energy_bands = {{0, 1000}, {2000, 4000}};
  return c;
}

TEST(BlockProcessorTest, NoAllocationPerBlockIncludingKurtograms) {
  const double fr = 29.5;
  testing::FaultSignal s;
  s.shaft_hz = fr;
  s.fault_hz = 3.5848 * fr;
  s.fs = 25600;
  s.seconds = 12;
  s.impact = 1.0;
  auto x = testing::MakeFaultSignal(s);
  auto c = Config(s.fs);
  c.kurtogram_blocks = 4;
  auto p = BlockProcessor::Create(c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  BlockResult r;
  const long before = g_allocations.load();
  for (int b = 0; b < 12; ++b) {
    ASSERT_TRUE(p->Process(std::span<const float>(x).subspan(b * 25600, 25600), fr, &r).ok());
    EXPECT_EQ(r.envelope_ready, b >= 3) << b;
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_EQ(r.diagnosis.location, FaultLocation::kOuterRace) << DescribeDiagnosis(r.diagnosis);
  EXPECT_GT(r.band_kurtosis, 0.5);
}

// Channels of one machine get different phases so their kurtograms do not coincide: with 4 blocks
// per kurtogram and phase 2, the first band is known after block index 5 (blocks_seen 6), and the
// band is re-chosen at blocks_seen 10 (6 + 4), not at 4, 8, 12.
TEST(BlockProcessorTest, KurtogramPhaseStaggersTheExpensiveBlock) {
  const double fr = 29.5;
  testing::FaultSignal s;
  s.shaft_hz = fr;
  s.fault_hz = 3.5848 * fr;
  s.fs = 12800;
  s.seconds = 12;
  s.impact = 1.0;
  auto x = testing::MakeFaultSignal(s);
  auto c = Config(s.fs);
  c.kurtogram_blocks = 4;
  c.kurtogram_phase = 2;
  auto p = BlockProcessor::Create(c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  BlockResult r;
  for (int b = 0; b < 12; ++b) {
    ASSERT_TRUE(p->Process(std::span<const float>(x).subspan(b * 12800, 12800), fr, &r).ok());
    EXPECT_EQ(r.envelope_ready, b >= 5) << b;
  }
  EXPECT_EQ(r.diagnosis.location, FaultLocation::kOuterRace);
  c.kurtogram_phase = 4;
  EXPECT_EQ(BlockProcessor::Create(c).status().code(), StatusCode::kInvalidArgument);
  c.kurtogram_phase = -1;
  EXPECT_EQ(BlockProcessor::Create(c).status().code(), StatusCode::kInvalidArgument);
}

TEST(BlockProcessorTest, VelocityZoneOrdersAndBands) {
  // 0.1 g at 100 Hz -> v = 0.1 * 9.80665 / (2 pi 100) m/s peak = 1.1036 mm/s RMS, with the
  // 0.01 g 1x line (0.441 mm/s) 1.188 mm/s: zone A (group 2 rigid, A/B 1.4); 0.3 g -> 3.34 mm/s: zone C.
  const double fs = 10240, fr = 25;
  auto c = Config(fs);
  c.envelope_band = FrequencyBand{1000, 3000};
  auto p = BlockProcessor::Create(c);
  ASSERT_TRUE(p.ok());
  BlockResult r;
  for (double a : {0.1, 0.3}) {
    std::vector<float> x(10240);
    for (std::size_t i = 0; i < x.size(); ++i) {
      x[i] = static_cast<float>(a * std::sin(2 * std::numbers::pi * 100 * i / fs) + 0.01 * std::sin(2 * std::numbers::pi * fr * i / fs));
    }
    ASSERT_TRUE(p->Process(x, fr, &r).ok());
    const double v100 = a * 9.80665 / (2 * std::numbers::pi * 100) / std::sqrt(2.0) * 1000;
    const double v25 = 0.01 * 9.80665 / (2 * std::numbers::pi * fr) / std::sqrt(2.0) * 1000;
    EXPECT_NEAR(r.velocity_rms_mm_s, std::hypot(v100, v25), 0.01 * std::hypot(v100, v25));
    EXPECT_EQ(r.zone, a < 0.2 ? SeverityZone::kA : SeverityZone::kC);
    EXPECT_NEAR(r.orders[0].amplitude, 0.01, 1e-4);
    EXPECT_NEAR(r.orders[0].frequency_hz, fr, 0.5);
    EXPECT_NEAR(r.band_rms[0], std::hypot(a, 0.01) / std::sqrt(2.0), 0.01 * a);
    EXPECT_LT(r.band_rms[1], 1e-3);
    EXPECT_TRUE(r.envelope_ready);  // fixed band: from the first block
  }
}

TEST(BlockProcessorTest, Errors) {
  auto c = Config(1000);
  c.bearing.elements = 1;
  EXPECT_EQ(BlockProcessor::Create(c).status().code(), StatusCode::kInvalidArgument);
  c = Config(1000);
  c.block_size = 999;
  EXPECT_EQ(BlockProcessor::Create(c).status().code(), StatusCode::kInvalidArgument);
  c = Config(1000);
  auto p = BlockProcessor::Create(c);
  ASSERT_TRUE(p.ok());
  BlockResult r;
  std::vector<float> x(500);
  EXPECT_EQ(p->Process(x, 25, &r).code(), StatusCode::kInvalidArgument);
  x.resize(1000);
  EXPECT_EQ(p->Process(x, 0, &r).code(), StatusCode::kInvalidArgument);
  x[3] = INFINITY;
  auto st = p->Process(x, 25, &r);
  EXPECT_NE(st.message().find("sample 3"), std::string::npos) << st.message();
  EXPECT_EQ(AnalyzeRecord(std::vector<float>(10), 25, Config(1000)).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pf::dsp
