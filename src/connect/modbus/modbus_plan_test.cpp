#include <gtest/gtest.h>

#include "connect/modbus/modbus_pacing.h"
#include "connect/modbus/modbus_plan.h"

namespace pf::modbus {
namespace {

std::vector<ReadBlock> Plan(const std::vector<PlanItem>& items, PlanOptions o = {}) {
  auto r = PlanBlocks(items, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<ReadBlock>{};
}

TEST(ModbusPlan, MergesWithinGapPerTable) {
  const auto H = Table::kHoldingRegister;
  auto b = Plan({{H, 10, 2}, {H, 0, 1}, {H, 22, 2}, {H, 40, 1}, {Table::kInputRegister, 0, 1}});
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].table, Table::kInputRegister);
  EXPECT_EQ(b[1].table, H);
  EXPECT_EQ(b[1].start, 0);
  EXPECT_EQ(b[1].count, 24);  // 0, 10-11 (gap 9), 22-23 (gap 10)
  EXPECT_EQ(b[1].items, (std::vector<size_t>{1, 0, 2}));
  EXPECT_EQ(b[2].start, 40);  // gap 16 > 10
  EXPECT_EQ(b[2].count, 1);
}

TEST(ModbusPlan, GapOfElevenSplitsWithDefault) {
  auto b = Plan({{Table::kHoldingRegister, 0, 1}, {Table::kHoldingRegister, 12, 1}});
  EXPECT_EQ(b.size(), 2u);
  b = Plan({{Table::kHoldingRegister, 0, 1}, {Table::kHoldingRegister, 12, 1}}, PlanOptions{11, 125, 2000});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].count, 13);
}

TEST(ModbusPlan, NeverExceeds125Registers) {
  std::vector<PlanItem> items;
  for (uint16_t i = 0; i < 300; i += 2) items.push_back({Table::kHoldingRegister, i, 2});
  auto b = Plan(items);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].start, 0);
  EXPECT_EQ(b[0].count, 124);  // 62 pairs; one more would make 126
  EXPECT_EQ(b[1].start, 124);
  EXPECT_EQ(b[1].count, 124);
  EXPECT_EQ(b[2].start, 248);
  EXPECT_EQ(b[2].count, 52);
  size_t n = 0;
  for (const auto& blk : b) n += blk.items.size();
  EXPECT_EQ(n, items.size());
}

TEST(ModbusPlan, OverlappingItemsShareABlock) {
  auto b = Plan({{Table::kHoldingRegister, 5, 4}, {Table::kHoldingRegister, 6, 1}, {Table::kHoldingRegister, 5, 2}});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].start, 5);
  EXPECT_EQ(b[0].count, 4);
}

TEST(ModbusPlan, BitTablesUse2000Bits) {
  auto b = Plan({{Table::kCoil, 0, 1}, {Table::kCoil, 1999, 1}, {Table::kCoil, 2000, 1}}, PlanOptions{2000, 125, 2000});
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].count, 2000);
  EXPECT_EQ(b[1].start, 2000);
}

TEST(ModbusPlan, MaxBlockAndErrors) {
  auto b = Plan({{Table::kHoldingRegister, 0, 1}, {Table::kHoldingRegister, 1, 1}}, PlanOptions{10, 1, 16});
  EXPECT_EQ(b.size(), 2u);
  std::vector<PlanItem> too_big = {{Table::kHoldingRegister, 0, 126}};
  EXPECT_EQ(PlanBlocks(too_big, {}).status().message(), "holding register 0: 126 registers per item, limit is 125");
  std::vector<PlanItem> past_end = {{Table::kHoldingRegister, 65535, 2}};
  EXPECT_EQ(PlanBlocks(past_end, {}).status().message(), "holding register 65535 + 2 runs past offset 65535");
}

TEST(ModbusPacing, RequestsAreSpacedByTheRate) {
  RequestPacer p(4.0);  // 250 ms apart
  EXPECT_EQ(p.NextAllowedNs(), 0);
  p.Sent(1'000'000'000);
  EXPECT_EQ(p.NextAllowedNs(), 1'250'000'000);
  p.Sent(1'250'000'000);
  EXPECT_EQ(p.NextAllowedNs(), 1'500'000'000);
  p.Sent(3'000'000'000);  // idle for a while: no burst credit accumulates
  EXPECT_EQ(p.NextAllowedNs(), 3'250'000'000);
  RequestPacer unlimited(0);
  unlimited.Sent(5);
  EXPECT_EQ(unlimited.NextAllowedNs(), 5);
}

TEST(ModbusPacing, BackoffDoublesWithJitterUpToMax) {
  using std::chrono::milliseconds;
  Backoff b(milliseconds(500), milliseconds(3000));
  const int64_t expect_ms[] = {500, 1000, 2000, 3000, 3000};
  for (int64_t e : expect_ms) {
    int64_t ms = std::chrono::duration_cast<milliseconds>(b.Next()).count();
    EXPECT_GE(ms, e * 8 / 10);
    EXPECT_LE(ms, std::min<int64_t>(3000, e * 12 / 10));
  }
  b.Reset();
  int64_t ms = std::chrono::duration_cast<milliseconds>(b.Next()).count();
  EXPECT_GE(ms, 400);
  EXPECT_LE(ms, 600);
}

}  // namespace
}  // namespace pf::modbus
