// PlanMemory (engine/memory_plan.h) on random lifetimes: no two tensors that are live at the
// same node overlap, offsets are 64-byte aligned, and the arena lies between the largest live
// set (a lower bound for any plan) and the sum of all sizes (what no reuse at all would take).
#include "engine/memory_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace pf::engine {
namespace {

int64_t Aligned(int64_t b) { return (b + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

TEST(MemoryPlan, RandomLifetimesNeverOverlap) {
  std::mt19937 rng(1234);
  double reuse_sum = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const int nodes = 1 + static_cast<int>(rng() % 40);
    const int count = 1 + static_cast<int>(rng() % 60);
    std::vector<TensorLifetime> ts;
    for (int k = 0; k < count; ++k) {
      TensorLifetime t;
      t.name = "t" + std::to_string(k);
      // Sizes from 0 bytes to 1 MB, some odd, some tiny.
      t.bytes = rng() % 5 == 0 ? static_cast<int64_t>(rng() % 100) : static_cast<int64_t>(rng() % (1 << 20));
      t.first_use = static_cast<int>(rng() % nodes);
      t.last_use = t.first_use + static_cast<int>(rng() % (nodes - t.first_use));
      ts.push_back(t);
    }
    const MemoryPlan plan = PlanMemory(ts);
    ASSERT_EQ(plan.offset.size(), ts.size());
    int64_t sum = 0;
    for (const auto& t : ts) {
      const int64_t off = plan.offset.at(t.name);
      EXPECT_EQ(off % kArenaAlignment, 0) << t.name;
      EXPECT_GE(off, 0);
      EXPECT_LE(off + t.bytes, plan.arena_bytes) << t.name;
      sum += Aligned(t.bytes);
    }
    for (size_t a = 0; a < ts.size(); ++a) {
      for (size_t b = a + 1; b < ts.size(); ++b) {
        const auto& x = ts[a];
        const auto& y = ts[b];
        if (x.bytes == 0 || y.bytes == 0) continue;
        if (x.last_use < y.first_use || y.last_use < x.first_use) continue;  // never live together
        const int64_t ox = plan.offset.at(x.name), oy = plan.offset.at(y.name);
        EXPECT_TRUE(ox + x.bytes <= oy || oy + y.bytes <= ox)
            << "trial " << trial << ": " << x.name << " [" << ox << "," << ox + x.bytes << ") and " << y.name << " ["
            << oy << "," << oy + y.bytes << ") are live together and overlap";
      }
    }
    int64_t max_live = 0;
    for (int n = 0; n < nodes; ++n) {
      int64_t live = 0;
      for (const auto& t : ts) {
        if (t.first_use <= n && n <= t.last_use) live += Aligned(t.bytes);
      }
      max_live = std::max(max_live, live);
    }
    EXPECT_LE(plan.arena_bytes, sum) << "trial " << trial;
    EXPECT_GE(plan.arena_bytes, max_live) << "trial " << trial;
    if (sum > 0) reuse_sum += static_cast<double>(plan.arena_bytes) / sum;
  }
  // Reuse must actually happen on random graphs: on average well below "one buffer each".
  EXPECT_LT(reuse_sum / 300, 0.8);
}

TEST(MemoryPlan, ChainReusesTwoBuffers) {
  // A straight chain: tensor k lives over nodes [k, k+1]; two equal buffers alternate.
  std::vector<TensorLifetime> ts;
  for (int k = 0; k < 10; ++k) ts.push_back({"v" + std::to_string(k), 1000, k, k + 1});
  const MemoryPlan plan = PlanMemory(ts);
  EXPECT_EQ(plan.arena_bytes, 2 * Aligned(1000));
  for (int k = 0; k + 1 < 10; ++k) {
    EXPECT_NE(plan.offset.at("v" + std::to_string(k)), plan.offset.at("v" + std::to_string(k + 1)));
  }
}

TEST(MemoryPlan, EmptyAndZeroSized) {
  EXPECT_EQ(PlanMemory({}).arena_bytes, 0);
  const MemoryPlan plan = PlanMemory({{"a", 0, 0, 3}, {"b", 64, 0, 3}});
  EXPECT_EQ(plan.arena_bytes, 64);
  EXPECT_EQ(plan.offset.at("a"), 0);
}

}  // namespace
}  // namespace pf::engine
