#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "store/history.h"

namespace pf {
namespace {

Sample At(TagId tag, int64_t seconds, Value v, Quality q = Quality::kGood, QualitySub sub = QualitySub::kNone) {
  Sample s;
  s.tag = tag;
  s.value = std::move(v);
  s.source_time = Timestamp::FromNs(seconds * 1'000'000'000);
  s.receive_time = s.source_time;
  s.quality = q;
  s.sub = sub;
  return s;
}

TEST(ChangeFilter, DeadbandComparesWithLastKeptValue) {
  ChangeFilter f;
  f.Configure(0, StoreMode::kOnChange, 0.5, Duration::zero());
  EXPECT_TRUE(f.Keep(At(0, 0, 10.0)));   // first
  EXPECT_FALSE(f.Keep(At(0, 1, 10.4)));  // within deadband
  EXPECT_FALSE(f.Keep(At(0, 2, 10.5)));  // exactly the deadband is not more than it
  EXPECT_TRUE(f.Keep(At(0, 3, 10.51)));  // |10.51 - 10.0| > 0.5
  // A slow drift is compared with the last kept value (10.51), not the last seen.
  EXPECT_FALSE(f.Keep(At(0, 4, 10.8)));
  EXPECT_FALSE(f.Keep(At(0, 5, 11.0)));
  EXPECT_TRUE(f.Keep(At(0, 6, 11.02)));
  EXPECT_TRUE(f.Keep(At(0, 7, 10.0)));  // downwards too
}

TEST(ChangeFilter, ZeroDeadbandKeepsEveryChangeAndDropsRepeats) {
  ChangeFilter f;
  f.Configure(3, StoreMode::kOnChange, 0, Duration::zero());
  EXPECT_TRUE(f.Keep(At(3, 0, int64_t{7})));
  EXPECT_FALSE(f.Keep(At(3, 1, int64_t{7})));
  EXPECT_TRUE(f.Keep(At(3, 2, int64_t{8})));
  EXPECT_FALSE(f.Keep(At(3, 3, 8.0)));  // int 8 and double 8.0 are the same number
}

TEST(ChangeFilter, QualityOrSubCodeChangeIsKept) {
  ChangeFilter f;
  f.Configure(0, StoreMode::kOnChange, 100, Duration::zero());
  EXPECT_TRUE(f.Keep(At(0, 0, 1.0)));
  EXPECT_TRUE(f.Keep(At(0, 1, 1.0, Quality::kUncertain, QualitySub::kStale)));
  EXPECT_FALSE(f.Keep(At(0, 2, 1.0, Quality::kUncertain, QualitySub::kStale)));
  EXPECT_TRUE(f.Keep(At(0, 3, 1.0, Quality::kUncertain, QualitySub::kLastKnown)));
  EXPECT_TRUE(f.Keep(At(0, 4, Value{}, Quality::kBad, QualitySub::kCommFailure)));
  EXPECT_FALSE(f.Keep(At(0, 5, Value{}, Quality::kBad, QualitySub::kCommFailure)));
  EXPECT_TRUE(f.Keep(At(0, 6, 1.0)));
}

TEST(ChangeFilter, MaxIntervalForcesAKeep) {
  ChangeFilter f;
  f.Configure(1, StoreMode::kOnChange, 1.0, std::chrono::seconds(10));
  EXPECT_TRUE(f.Keep(At(1, 0, 5.0)));
  EXPECT_FALSE(f.Keep(At(1, 5, 5.0)));
  EXPECT_FALSE(f.Keep(At(1, 9, 5.0)));
  EXPECT_TRUE(f.Keep(At(1, 10, 5.0)));  // 10 s since the last kept
  EXPECT_FALSE(f.Keep(At(1, 19, 5.0)));
  EXPECT_TRUE(f.Keep(At(1, 20, 5.0)));
}

TEST(ChangeFilter, StringsAndBoolsKeepOnAnyDifference) {
  ChangeFilter f;
  f.Configure(0, StoreMode::kOnChange, 5.0, Duration::zero());  // deadband does not apply to them
  EXPECT_TRUE(f.Keep(At(0, 0, std::string("P-100"))));
  EXPECT_FALSE(f.Keep(At(0, 1, std::string("P-100"))));
  EXPECT_TRUE(f.Keep(At(0, 2, std::string("P-200"))));
  f.Configure(1, StoreMode::kOnChange, 5.0, Duration::zero());
  EXPECT_TRUE(f.Keep(At(1, 0, true)));
  EXPECT_FALSE(f.Keep(At(1, 1, true)));
  EXPECT_TRUE(f.Keep(At(1, 2, false)));
  EXPECT_TRUE(f.Keep(At(1, 3, int64_t{0})));  // a change of kind is a change
}

TEST(ChangeFilter, NaNIsAChangeOnceThenRepeatsAreDropped) {
  ChangeFilter f;
  f.Configure(0, StoreMode::kOnChange, 0.1, Duration::zero());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(f.Keep(At(0, 0, 1.0)));
  EXPECT_TRUE(f.Keep(At(0, 1, nan)));
  EXPECT_FALSE(f.Keep(At(0, 2, nan)));
  EXPECT_TRUE(f.Keep(At(0, 3, 1.0)));
}

TEST(ChangeFilter, ModesAllAndNone) {
  ChangeFilter f;
  f.Configure(0, StoreMode::kAll, 10, Duration::zero());
  f.Configure(1, StoreMode::kNone, 0, Duration::zero());
  EXPECT_TRUE(f.Keep(At(0, 0, 1.0)));
  EXPECT_TRUE(f.Keep(At(0, 1, 1.0)));
  EXPECT_FALSE(f.Keep(At(1, 0, 1.0)));
  EXPECT_FALSE(f.Keep(At(1, 1, 2.0)));
}

TEST(ChangeFilter, UnconfiguredTagIsOnChangeWithoutDeadband) {
  ChangeFilter f;
  EXPECT_TRUE(f.Keep(At(42, 0, 1.0)));
  EXPECT_FALSE(f.Keep(At(42, 1, 1.0)));
  EXPECT_TRUE(f.Keep(At(42, 2, 1.0000001)));
}

}  // namespace
}  // namespace pf
