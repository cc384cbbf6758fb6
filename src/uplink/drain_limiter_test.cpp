#include "uplink/drain_limiter.h"

#include <gtest/gtest.h>

namespace pf::uplink {
namespace {

using namespace std::chrono_literals;

TEST(DrainLimiter, UnlimitedNeverWaits) {
  DrainLimiter d(0);
  EXPECT_EQ(d.Wait(1 << 30, DrainLimiter::Clock::now()), DrainLimiter::Clock::duration::zero());
}

// Simulated clock: sending 100 messages of 1000 bytes at 20000 B/s takes (100000 - burst) / 20000 s.
TEST(DrainLimiter, AverageRateMatchesConfigured) {
  auto t = DrainLimiter::Clock::time_point{} + 1h;
  DrainLimiter d(20000, t);
  for (int i = 0; i < 100; ++i) {
    t += d.Wait(1000, t);
    EXPECT_EQ(d.Wait(1000, t), DrainLimiter::Clock::duration::zero());
    d.Take(1000, t);
  }
  double elapsed = std::chrono::duration<double>(t - (DrainLimiter::Clock::time_point{} + 1h)).count();
  // The burst is 2000 bytes (0.1 s): the first two messages go at once.
  EXPECT_NEAR(elapsed, (100000.0 - 2000.0) / 20000.0, 1e-3);
}

TEST(DrainLimiter, MessageLargerThanBurstPassesAndLeavesDebt) {
  auto t = DrainLimiter::Clock::time_point{} + 1h;
  DrainLimiter d(1000, t);  // burst 100 bytes
  EXPECT_EQ(d.Wait(500, t), DrainLimiter::Clock::duration::zero());
  d.Take(500, t);
  // Debt 400 bytes, then 100 more needed for the next one: 0.5 s at 1000 B/s.
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(d.Wait(500, t)).count(), 500);
}

}  // namespace
}  // namespace pf::uplink
