#include "store/history.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>

#include "store/store.h"
#include "testing.h"

namespace pf {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

TagDef Tag(TagId id, std::string name) {
  TagDef t;
  t.id = id;
  t.name = std::move(name);
  t.asset_id = "press7";
  t.unit = "degC";
  t.source = "plc1";
  return t;
}

Sample At(TagId tag, int64_t ns, Value v, Quality q = Quality::kGood, QualitySub sub = QualitySub::kNone) {
  Sample s;
  s.tag = tag;
  s.value = std::move(v);
  s.source_time = Timestamp::FromNs(ns);
  s.receive_time = Timestamp::FromNs(ns + 1'500'000);
  s.seq = static_cast<uint64_t>(ns / 1000);
  s.quality = q;
  s.sub = sub;
  return s;
}

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen(Duration retention = std::chrono::hours(1), size_t staging_rows = 50000,
              Duration staging_age = std::chrono::seconds(60)) {
    store_.reset();
    HistoryOptions o;
    o.path = path_;
    o.retention = retention;
    o.staging_rows = staging_rows;
    o.staging_age = staging_age;
    auto s = HistoryStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  std::vector<StoredSample> All(const std::string& tag) {
    auto r = store_->Query(tag, Timestamp::FromNs(std::numeric_limits<int64_t>::min()),
                           Timestamp::FromNs(std::numeric_limits<int64_t>::max()));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<StoredSample>{};
  }

  pf::testing::TempDir dir_;
  std::string path_ = dir_.path() + "/sub/folder/history.db";  // the folder does not exist yet
  std::unique_ptr<HistoryStore> store_;
};

TEST_F(HistoryTest, EveryValueKindRoundTrips) {
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "press7.x")).ok());
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<Value> values = {Value{},
                               true,
                               false,
                               int64_t{0},
                               int64_t{1},
                               std::numeric_limits<int64_t>::max(),
                               std::numeric_limits<int64_t>::min(),
                               0.0,
                               1.0,  // a whole double stays a double, not an int
                               -273.15,
                               inf,
                               -inf,
                               std::numeric_limits<double>::quiet_NaN(),
                               std::string(""),
                               std::string("P-100 \xc3\xa9\xe2\x82\xac"),
                               std::string(1000, 'x')};
  std::vector<Sample> in;
  for (size_t i = 0; i < values.size(); ++i) in.push_back(At(0, static_cast<int64_t>(i) * kSecond, values[i]));
  in[5].seq = std::numeric_limits<uint64_t>::max();
  ASSERT_TRUE(store_->Append(in).ok());
  auto out = All("press7.x");
  ASSERT_EQ(out.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_EQ(out[i].value.index(), values[i].index());
    if (auto* d = std::get_if<double>(&values[i]); d && std::isnan(*d))
      EXPECT_TRUE(std::isnan(std::get<double>(out[i].value)));
    else
      EXPECT_EQ(out[i].value, values[i]);
    EXPECT_EQ(out[i].source_time, in[i].source_time);
    EXPECT_EQ(out[i].receive_time, in[i].receive_time);
    EXPECT_EQ(out[i].seq, in[i].seq);
  }
  EXPECT_EQ(store_->SamplesWritten(), values.size());
}

TEST_F(HistoryTest, EveryQualityAndSubCodeRoundTrips) {
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "q")).ok());
  std::vector<Sample> in;
  int64_t t = 0;
  for (int q = 0; q <= 2; ++q)
    for (int sub = 0; sub <= static_cast<int>(QualitySub::kGap); ++sub)
      in.push_back(At(0, t++, 1.5, static_cast<Quality>(q), static_cast<QualitySub>(sub)));
  ASSERT_TRUE(store_->Append(in).ok());
  auto out = All("q");
  ASSERT_EQ(out.size(), 36u);
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].quality, in[i].quality) << i;
    EXPECT_EQ(out[i].sub, in[i].sub) << i;
  }
}

TEST_F(HistoryTest, RangeIsHalfOpenAndLimited) {
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "a")).ok());
  ASSERT_TRUE(store_->RegisterTag(Tag(1, "b")).ok());
  std::vector<Sample> in;
  for (int64_t i = 0; i < 10; ++i) {
    in.push_back(At(0, i * kSecond, static_cast<double>(i)));
    in.push_back(At(1, i * kSecond, static_cast<double>(-i)));
  }
  ASSERT_TRUE(store_->Append(in).ok());
  auto r = store_->Query("a", Timestamp::FromNs(2 * kSecond), Timestamp::FromNs(5 * kSecond));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].value, Value(2.0));
  EXPECT_EQ((*r)[2].value, Value(4.0));
  auto limited = store_->Query("b", Timestamp::FromNs(0), Timestamp::FromNs(10 * kSecond), 4);
  ASSERT_TRUE(limited.ok());
  ASSERT_EQ(limited->size(), 4u);
  EXPECT_EQ(limited->back().value, Value(-3.0));
  auto empty = store_->Query("a", Timestamp::FromNs(5 * kSecond), Timestamp::FromNs(5 * kSecond));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  auto backwards = store_->Query("a", Timestamp::FromNs(kSecond), Timestamp::FromNs(0));
  EXPECT_EQ(backwards.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(backwards.status().message(),
            "history query 'a': 'to' (1970-01-01T00:00:00.000Z) is before 'from' (1970-01-01T00:00:01.000Z)");
  auto unknown = store_->Query("nope", Timestamp::FromNs(0), Timestamp::FromNs(1));
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().message(), "history '" + path_ + "': unknown tag 'nope'");
}

TEST_F(HistoryTest, SameTagAndTimeKeepsTheLastAppended) {
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "a")).ok());
  std::vector<Sample> first = {At(0, 5, 1.0)};
  std::vector<Sample> second = {At(0, 5, 2.0, Quality::kUncertain, QualitySub::kSubstituted)};
  ASSERT_TRUE(store_->Append(first).ok());
  ASSERT_TRUE(store_->Append(second).ok());
  auto out = All("a");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].value, Value(2.0));
  EXPECT_EQ(out[0].quality, Quality::kUncertain);
}

TEST_F(HistoryTest, UnregisteredTagRejectsTheWholeBatch) {
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "a")).ok());
  std::vector<Sample> in = {At(0, 1, 1.0), At(7, 2, 2.0)};
  Status s = store_->Append(in);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "history '" + path_ + "': sample for TagId 7 which was never registered; batch of 2 not written");
  EXPECT_TRUE(All("a").empty());
}

TEST_F(HistoryTest, BucketsKeepASingleSpikeAmong100kPoints) {
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "vib")).ok());
  constexpr int64_t kN = 100'000, kStep = 1'000'000;  // 1 kHz
  constexpr int64_t kSpike = 54'321, kDip = 12'345;
  std::vector<Sample> in;
  for (int64_t i = 0; i < kN; ++i) {
    double v = std::sin(static_cast<double>(i) * 0.01);
    if (i == kSpike) v = 1000.0;
    if (i == kDip) v = -500.0;
    in.push_back(At(0, i * kStep, v));
  }
  ASSERT_TRUE(store_->Append(in).ok());
  int64_t start = MonotonicNs();
  auto r = store_->QueryBuckets("vib", Timestamp::FromNs(0), Timestamp::FromNs(kN * kStep), 100);
  std::printf("[ metric ] history buckets: 1e5 points to 100 buckets in %.1f ms\n",
              static_cast<double>(MonotonicNs() - start) * 1e-6);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 100u);
  uint64_t total = 0;
  for (const HistoryBucket& b : *r) total += b.count;
  EXPECT_EQ(total, static_cast<uint64_t>(kN));

  const HistoryBucket& spike = (*r)[kSpike / 1000];
  EXPECT_EQ(spike.max, 1000.0);
  EXPECT_EQ(spike.max_time, Timestamp::FromNs(kSpike * kStep));
  const HistoryBucket& dip = (*r)[kDip / 1000];
  EXPECT_EQ(dip.min, -500.0);
  EXPECT_EQ(dip.min_time, Timestamp::FromNs(kDip * kStep));

  // Bucket 3: bounds, first, last, count and mean against the raw points.
  const HistoryBucket& b3 = (*r)[3];
  EXPECT_EQ(b3.start, Timestamp::FromNs(3000 * kStep));
  EXPECT_EQ(b3.end, Timestamp::FromNs(4000 * kStep));
  EXPECT_EQ(b3.count, 1000u);
  EXPECT_EQ(b3.first, std::get<double>(in[3000].value));
  EXPECT_EQ(b3.last, std::get<double>(in[3999].value));
  double sum = 0;
  for (int i = 3000; i < 4000; ++i) sum += std::get<double>(in[i].value);
  EXPECT_NEAR(b3.mean, sum / 1000, 1e-12);
  EXPECT_EQ(b3.worst_quality, Quality::kGood);
}

TEST_F(HistoryTest, BucketsOmitEmptyOnesAndReportWorstQuality) {
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "t")).ok());
  std::vector<Sample> in = {At(0, 0, int64_t{4}), At(0, 1, true),
                            At(0, 2, std::string("text is not counted")),
                            At(0, 25, 9.0, Quality::kUncertain, QualitySub::kStale),
                            At(0, 26, Value{}, Quality::kBad, QualitySub::kCommFailure),
                            At(0, 27, 3.0)};
  ASSERT_TRUE(store_->Append(in).ok());
  // width 10 ns over [0, 30): buckets 0 and 2; bucket 1 is empty and omitted.
  auto r = store_->QueryBuckets("t", Timestamp::FromNs(0), Timestamp::FromNs(30), 3);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  const HistoryBucket& a = (*r)[0];
  EXPECT_EQ(a.count, 2u);  // int 4 and bool true (as 1); the string is skipped
  EXPECT_EQ(a.min, 1.0);
  EXPECT_EQ(a.min_time, Timestamp::FromNs(1));
  EXPECT_EQ(a.max, 4.0);
  EXPECT_EQ(a.max_time, Timestamp::FromNs(0));
  EXPECT_EQ(a.mean, 2.5);
  EXPECT_EQ(a.worst_quality, Quality::kGood);
  const HistoryBucket& c = (*r)[1];
  EXPECT_EQ(c.start, Timestamp::FromNs(20));
  EXPECT_EQ(c.end, Timestamp::FromNs(30));
  EXPECT_EQ(c.count, 2u);
  EXPECT_EQ(c.first, 9.0);
  EXPECT_EQ(c.last, 3.0);
  EXPECT_EQ(c.worst_quality, Quality::kBad);

  auto zero = store_->QueryBuckets("t", Timestamp::FromNs(0), Timestamp::FromNs(30), 0);
  EXPECT_EQ(zero.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(zero.status().message(), "history buckets 't': max_points must be at least 1");
}

TEST_F(HistoryTest, RetentionDeletesExactlyTheOldRows) {
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "a")).ok());
  ASSERT_TRUE(store_->RegisterTag(Tag(1, "b")).ok());
  const Timestamp now = Timestamp::FromNs(1'800'000'000 * kSecond);
  const Timestamp cutoff = now - std::chrono::hours(1);
  // Tag a: 12,000 old points (more than two deletion chunks) and 500 new ones; the point exactly
  // at the cutoff is new. Tag b: 7 old, 3 new.
  std::vector<Sample> in;
  for (int64_t i = 12'000; i >= 1; --i) in.push_back(At(0, cutoff.ns - i * 1000, 1.0));
  for (int64_t i = 0; i < 500; ++i) in.push_back(At(0, cutoff.ns + i * 1000, 2.0));
  for (int64_t i = 1; i <= 7; ++i) in.push_back(At(1, cutoff.ns - i * kSecond, 3.0));
  for (int64_t i = 0; i < 3; ++i) in.push_back(At(1, cutoff.ns + i * kSecond, 4.0));
  ASSERT_TRUE(store_->Append(in).ok());
  auto deleted = store_->EnforceRetention(now);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 12'007u);
  auto a = All("a");
  ASSERT_EQ(a.size(), 500u);
  EXPECT_EQ(a.front().source_time, cutoff);
  for (const auto& s : a) EXPECT_EQ(s.value, Value(2.0));
  auto b = All("b");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b.front().source_time, cutoff);
  auto again = store_->EnforceRetention(now);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);
}

TEST_F(HistoryTest, ReopenKeepsDataAndTagsByName) {
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "press7.temp")).ok());
  ASSERT_TRUE(store_->RegisterTag(Tag(1, "press7.state")).ok());
  std::vector<Sample> in = {At(0, 1, 20.5), At(1, 1, std::string("RUN"))};
  ASSERT_TRUE(store_->Append(in).ok());
  Reopen();
  // A new process gives different runtime TagIds; names map to the same stored tags.
  ASSERT_TRUE(store_->RegisterTag(Tag(4, "press7.state")).ok());
  ASSERT_TRUE(store_->RegisterTag(Tag(9, "press7.temp")).ok());
  std::vector<Sample> more = {At(9, 2, 21.0), At(4, 2, std::string("STOP"))};
  ASSERT_TRUE(store_->Append(more).ok());
  auto temp = All("press7.temp");
  ASSERT_EQ(temp.size(), 2u);
  EXPECT_EQ(temp[0].value, Value(20.5));
  EXPECT_EQ(temp[1].value, Value(21.0));
  auto state = All("press7.state");
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].value, Value(std::string("RUN")));
  EXPECT_EQ(state[1].value, Value(std::string("STOP")));
}

TEST_F(HistoryTest, RefusesADatabaseFromANewerSchema) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  HistoryOptions o;
  o.path = path_;
  auto s = HistoryStore::Open(o);
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.status().message(), "sqlite '" + path_ + "': schema version 99 is newer than this build knows (5)");
}

TEST_F(HistoryTest, RefusesNonPositiveRetention) {
  HistoryOptions o;
  o.path = path_;
  o.retention = Duration::zero();
  auto s = HistoryStore::Open(o);
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(), "history '" + path_ + "': retention must be positive, got 0");
}

TEST_F(HistoryTest, ConcurrentAppendQueryAndRetentionFromSeveralThreads) {
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "a")).ok());
  ASSERT_TRUE(store_->RegisterTag(Tag(1, "b")).ok());
  constexpr int kPerThread = 50, kBatch = 100;
  auto writer = [&](TagId tag) {
    for (int b = 0; b < kPerThread; ++b) {
      std::vector<Sample> batch;
      for (int i = 0; i < kBatch; ++i) batch.push_back(At(tag, (b * kBatch + i) * kSecond, 1.0 * i));
      EXPECT_TRUE(store_->Append(batch).ok());
    }
  };
  std::thread t1(writer, 0), t2(writer, 1);
  std::thread reader([&] {
    for (int i = 0; i < 50; ++i) {
      EXPECT_TRUE(store_->Query("a", Timestamp::FromNs(0), Timestamp::FromNs(1'000'000 * kSecond), 10).ok());
      // now - 1h is before every sample: nothing is deleted, but the chunks interleave with appends
      auto n = store_->EnforceRetention(Timestamp::FromNs(0));
      EXPECT_TRUE(n.ok() && *n == 0u);
    }
  });
  t1.join();
  t2.join();
  reader.join();
  EXPECT_EQ(All("a").size(), static_cast<size_t>(kPerThread * kBatch));
  EXPECT_EQ(All("b").size(), static_cast<size_t>(kPerThread * kBatch));
}

// Rows of one table of the history file, counted with a connection of its own.
int64_t CountRows(const std::string& path, const std::string& table) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, ("SELECT count(*) FROM " + table).c_str(), -1, &st, nullptr), SQLITE_OK);
  int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

bool SameSamples(const std::vector<StoredSample>& a, const std::vector<StoredSample>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const StoredSample& x = a[i];
    const StoredSample& y = b[i];
    bool same_value = x.value == y.value ||
                      (std::holds_alternative<double>(x.value) && std::holds_alternative<double>(y.value) &&
                       std::isnan(std::get<double>(x.value)) && std::isnan(std::get<double>(y.value)));
    if (x.source_time != y.source_time || x.receive_time != y.receive_time || !same_value ||
        x.quality != y.quality || x.sub != y.sub || x.seq != y.seq)
      return false;
  }
  return true;
}

void ExpectSameBuckets(const std::vector<HistoryBucket>& a, const std::vector<HistoryBucket>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(a[i].start, b[i].start);
    EXPECT_EQ(a[i].end, b[i].end);
    EXPECT_EQ(a[i].min_time, b[i].min_time);
    EXPECT_EQ(a[i].max_time, b[i].max_time);
    EXPECT_EQ(a[i].min, b[i].min);
    EXPECT_EQ(a[i].max, b[i].max);
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].last, b[i].last);
    EXPECT_DOUBLE_EQ(a[i].mean, b[i].mean);
    EXPECT_EQ(a[i].count, b[i].count);
    EXPECT_EQ(a[i].worst_quality, b[i].worst_quality);
  }
}

// Staged rows (recent), compacted rows (samples) and a mix of both answer every query alike,
// including rewrites of the same (tag, t) that land in either table.
TEST_F(HistoryTest, QueriesSeeStagedAndCompactedRowsIdentically) {
  Reopen(std::chrono::hours(1), /*staging_rows=*/1'000'000, std::chrono::hours(1));
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "a")).ok());
  ASSERT_TRUE(store_->RegisterTag(Tag(1, "b")).ok());
  auto batch = [](int64_t first, int64_t n, double offset) {
    std::vector<Sample> in;
    for (int64_t i = first; i < first + n; ++i) {
      Quality q = i % 97 == 0 ? Quality::kBad : i % 13 == 0 ? Quality::kUncertain : Quality::kGood;
      Value v = i % 50 == 7 ? Value(std::string("s") + std::to_string(i))
                            : i % 31 == 0 ? Value(int64_t{i}) : Value(std::sin(static_cast<double>(i) * 0.1) + offset);
      in.push_back(At(static_cast<TagId>(i % 2), i * 1000, v, q, q == Quality::kGood ? QualitySub::kNone : QualitySub::kStale));
    }
    return in;
  };
  const Timestamp lo = Timestamp::FromNs(0), hi = Timestamp::FromNs(5000 * 1000);
  auto snapshot = [&] {
    std::vector<std::vector<StoredSample>> rows;
    std::vector<std::vector<HistoryBucket>> buckets;
    for (const char* tag : {"a", "b"}) {
      rows.push_back(All(tag));
      auto part = store_->Query(tag, Timestamp::FromNs(1234 * 1000), Timestamp::FromNs(3456 * 1000), 321);
      EXPECT_TRUE(part.ok());
      rows.push_back(part.ok() ? *part : std::vector<StoredSample>{});
      auto b = store_->QueryBuckets(tag, lo, hi, 37);
      EXPECT_TRUE(b.ok()) << b.status().ToString();
      buckets.push_back(b.ok() ? *b : std::vector<HistoryBucket>{});
    }
    return std::make_pair(rows, buckets);
  };
  // 0..1999 compacted, 2000..3999 staged, and 1500..2499 rewritten (offset 10) while staged:
  // the rewrite of 1500..1999 replaces compacted rows, that of 2000..2499 staged ones.
  ASSERT_TRUE(store_->Append(batch(0, 2000, 0)).ok());
  ASSERT_TRUE(store_->Compact().ok());
  EXPECT_EQ(CountRows(path_, "samples"), 2000);
  ASSERT_TRUE(store_->Append(batch(2000, 2000, 0)).ok());
  ASSERT_TRUE(store_->Append(batch(1500, 1000, 10)).ok());
  EXPECT_EQ(store_->StagedSamples(), 3000u);
  EXPECT_EQ(CountRows(path_, "recent"), 3000);
  auto mixed = snapshot();
  ASSERT_EQ(mixed.first[0].size(), 2000u);  // tag a: every even i of 0..3999, once
  EXPECT_EQ(mixed.first[0][750].value, batch(1500, 1, 10)[0].value);  // i = 1500: the rewrite
  EXPECT_EQ(mixed.first[1].size(), 321u);   // the limit
  EXPECT_EQ(mixed.first[1].front().source_time, Timestamp::FromNs(1234 * 1000));

  ASSERT_TRUE(store_->Compact().ok());
  EXPECT_EQ(store_->StagedSamples(), 0u);
  EXPECT_EQ(CountRows(path_, "recent"), 0);
  EXPECT_EQ(CountRows(path_, "samples"), 4000);
  auto compacted = snapshot();
  for (size_t i = 0; i < mixed.first.size(); ++i) EXPECT_TRUE(SameSamples(mixed.first[i], compacted.first[i])) << i;
  for (size_t i = 0; i < mixed.second.size(); ++i) ExpectSameBuckets(mixed.second[i], compacted.second[i]);

  // The same rows never compacted (a fresh file, everything staged) answer alike too.
  path_ = dir_.path() + "/staged_only.db";
  Reopen(std::chrono::hours(1), 1'000'000, std::chrono::hours(1));
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "a")).ok());
  ASSERT_TRUE(store_->RegisterTag(Tag(1, "b")).ok());
  ASSERT_TRUE(store_->Append(batch(0, 4000, 0)).ok());
  ASSERT_TRUE(store_->Append(batch(1500, 1000, 10)).ok());
  EXPECT_EQ(CountRows(path_, "samples"), 0);
  auto staged = snapshot();
  for (size_t i = 0; i < mixed.first.size(); ++i) EXPECT_TRUE(SameSamples(mixed.first[i], staged.first[i])) << i;
  for (size_t i = 0; i < mixed.second.size(); ++i) ExpectSameBuckets(mixed.second[i], staged.second[i]);
}

TEST_F(HistoryTest, KeepLastAcrossStagingAndCompactedTables) {
  Reopen(std::chrono::hours(1), 1'000'000, std::chrono::hours(1));
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "a")).ok());
  auto value_at_5 = [&] {
    auto out = All("a");
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? Value{} : out[0].value;
  };
  ASSERT_TRUE(store_->Append(std::vector<Sample>{At(0, 5, 1.0)}).ok());
  ASSERT_TRUE(store_->Compact().ok());
  EXPECT_EQ(value_at_5(), Value(1.0));
  ASSERT_TRUE(store_->Append(std::vector<Sample>{At(0, 5, 2.0)}).ok());  // staged replaces compacted
  EXPECT_EQ(value_at_5(), Value(2.0));
  ASSERT_TRUE(store_->Append(std::vector<Sample>{At(0, 5, 3.0), At(0, 5, 4.0)}).ok());  // last staged wins
  ASSERT_TRUE(store_->Append(std::vector<Sample>{At(0, 5, std::string("five"))}).ok());
  EXPECT_EQ(value_at_5(), Value(std::string("five")));
  auto buckets = store_->QueryBuckets("a", Timestamp::FromNs(0), Timestamp::FromNs(10), 1);
  ASSERT_TRUE(buckets.ok());
  ASSERT_EQ(buckets->size(), 1u);
  EXPECT_EQ((*buckets)[0].count, 0u);  // the string replaced every number
  ASSERT_TRUE(store_->Compact().ok());
  EXPECT_EQ(value_at_5(), Value(std::string("five")));
  EXPECT_EQ(CountRows(path_, "samples"), 1);
  EXPECT_EQ(CountRows(path_, "recent"), 0);
}

TEST_F(HistoryTest, AppendCompactsAtTheRowAndAgeThresholds) {
  Reopen(std::chrono::hours(1), /*staging_rows=*/100, std::chrono::hours(1));
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "a")).ok());
  std::vector<Sample> in;
  for (int64_t i = 0; i < 100; ++i) in.push_back(At(0, i, 1.0));
  ASSERT_TRUE(store_->Append(in).ok());  // 100 staged: not more than the threshold
  EXPECT_EQ(store_->StagedSamples(), 100u);
  EXPECT_EQ(CountRows(path_, "recent"), 100);
  ASSERT_TRUE(store_->Append(std::vector<Sample>{At(0, 100, 1.0)}).ok());  // 101 > 100
  EXPECT_EQ(store_->StagedSamples(), 0u);
  EXPECT_EQ(CountRows(path_, "recent"), 0);
  EXPECT_EQ(CountRows(path_, "samples"), 101);

  ASSERT_TRUE(store_->Append(std::vector<Sample>{At(0, 200, 2.0)}).ok());
  Reopen(std::chrono::hours(1), 100, std::chrono::milliseconds(20));  // staged rows are counted at open
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "a")).ok());
  EXPECT_EQ(store_->StagedSamples(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  ASSERT_TRUE(store_->Append(std::vector<Sample>{At(0, 201, 2.0)}).ok());  // the oldest is 30 ms > 20 ms old
  EXPECT_EQ(store_->StagedSamples(), 0u);
  EXPECT_EQ(CountRows(path_, "samples"), 103);
  EXPECT_EQ(All("a").size(), 103u);

  Reopen(std::chrono::hours(1), /*staging_rows=*/0);  // no staging: straight into samples
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "a")).ok());
  ASSERT_TRUE(store_->Append(std::vector<Sample>{At(0, 300, 3.0), At(0, 300, 4.0)}).ok());
  EXPECT_EQ(CountRows(path_, "recent"), 0);
  EXPECT_EQ(CountRows(path_, "samples"), 104);
  EXPECT_EQ(All("a").back().value, Value(4.0));
}

TEST_F(HistoryTest, RetentionDeletesOldRowsFromBothTables) {
  Reopen(std::chrono::hours(1), 1'000'000, std::chrono::hours(1));
  ASSERT_TRUE(store_->RegisterTag(Tag(0, "a")).ok());
  ASSERT_TRUE(store_->RegisterTag(Tag(1, "b")).ok());
  const Timestamp now = Timestamp::FromNs(1'800'000'000 * kSecond);
  const Timestamp cutoff = now - std::chrono::hours(1);
  std::vector<Sample> compacted, staged;
  for (int64_t i = 1; i <= 6000; ++i) compacted.push_back(At(0, cutoff.ns - i * 1000, 1.0));  // old, a
  for (int64_t i = 0; i < 10; ++i) compacted.push_back(At(1, cutoff.ns + i, 1.0));         // new, b
  ASSERT_TRUE(store_->Append(compacted).ok());
  ASSERT_TRUE(store_->Compact().ok());
  for (int64_t i = 1; i <= 100; ++i) staged.push_back(At(0, cutoff.ns - i * 1000, 2.0));  // rewrites of old a
  for (int64_t i = 1; i <= 50; ++i) staged.push_back(At(1, cutoff.ns - i, 2.0));          // old, b, staged only
  staged.push_back(At(1, cutoff.ns - 1, 3.0));                                            // twice staged
  for (int64_t i = 0; i < 20; ++i) staged.push_back(At(0, cutoff.ns + i, 2.0));          // new, a
  ASSERT_TRUE(store_->Append(staged).ok());
  auto deleted = store_->EnforceRetention(now);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 6050u);  // distinct old points: 6000 of a (100 of them in both tables) + 50 of b
  EXPECT_EQ(All("a").size(), 20u);
  EXPECT_EQ(All("b").size(), 10u);
  EXPECT_EQ(CountRows(path_, "recent"), 20);
  EXPECT_EQ(CountRows(path_, "samples"), 10);
  auto again = store_->EnforceRetention(now);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);
}

// Budget eviction with history rows in both tables: every point is evicted once and the ledger
// counts distinct (tag, t) points, with the time range over both tables.
TEST_F(HistoryTest, BudgetEvictionTakesStagedAndCompactedRowsWithAnExactLedger) {
  store_.reset();
  StoreOptions o;
  o.path = dir_.path() + "/store.db";
  o.ballast_bytes = 0;
  o.staging_rows = 1'000'000;
  o.staging_age = std::chrono::hours(1);
  auto opened = Store::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<Store> store = std::move(opened).value();
  ASSERT_TRUE(store->RegisterTag(Tag(0, "a")).ok());
  ASSERT_TRUE(store->RegisterTag(Tag(1, "b")).ok());
  const int64_t t0 = 1'800'000'000 * kSecond;
  CommitBatch old_rows, new_rows;
  for (int64_t i = 0; i < 3000; ++i) old_rows.history.push_back(At(static_cast<TagId>(i % 2), t0 + i * 1000, 1.0));
  ASSERT_TRUE(store->Commit(old_rows).ok());
  ASSERT_TRUE(store->history().Compact().ok());
  for (int64_t i = 2990; i < 4000; ++i) new_rows.history.push_back(At(static_cast<TagId>(i % 2), t0 + i * 1000, 2.0));
  ASSERT_TRUE(store->Commit(new_rows).ok());  // 10 rewrites of compacted points, 1000 new ones
  EXPECT_EQ(store->history().StagedSamples(), 1010u);
  ASSERT_TRUE(store->EvictTo(0).ok());
  auto ledger = store->Ledger();
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  ASSERT_EQ(ledger->size(), 2u);
  uint64_t total = 0;
  for (const LedgerEntry& e : *ledger) {
    SCOPED_TRACE(e.tag);
    EXPECT_EQ(e.reason, "history_budget");
    EXPECT_EQ(e.evicted_type, RecordType::kSample);
    EXPECT_FALSE(e.upstream_loss);
    EXPECT_EQ(e.count, 2000u);
    int64_t first = e.tag == "a" ? 0 : 1;
    EXPECT_EQ(e.from, Timestamp::FromNs(t0 + first * 1000));
    EXPECT_EQ(e.to, Timestamp::FromNs(t0 + (3998 + first) * 1000));
    total += e.count;
  }
  EXPECT_EQ(total, 4000u);
  auto a = store->history().Query("a", Timestamp::FromNs(0), Timestamp::FromNs(t0 * 2));
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->empty());
  store.reset();
  EXPECT_EQ(CountRows(o.path, "recent"), 0);
  EXPECT_EQ(CountRows(o.path, "samples"), 0);
}

// Not a tight assertion: prints what a query costs with a full staging table (50,000 rows over
// 1000 tags, the default threshold) against the same rows compacted.
TEST_F(HistoryTest, QueryCostWithAFullStagingTable) {
  Reopen(std::chrono::hours(1), 1'000'000, std::chrono::hours(1));
  constexpr int kTags = 1000, kPerTag = 50;
  for (int i = 0; i < kTags; ++i) ASSERT_TRUE(store_->RegisterTag(Tag(i, "t" + std::to_string(i))).ok());
  std::vector<Sample> in;
  for (int64_t n = 0; n < kTags * kPerTag; ++n) in.push_back(At(static_cast<TagId>(n % kTags), (n / kTags) * kSecond, 1.0 * n));
  ASSERT_TRUE(store_->Append(in).ok());
  auto measure = [&](const char* what) {
    int64_t start = MonotonicNs();
    auto rows = store_->Query("t500", Timestamp::FromNs(0), Timestamp::FromNs(kPerTag * kSecond));
    double query_ms = static_cast<double>(MonotonicNs() - start) * 1e-6;
    start = MonotonicNs();
    auto buckets = store_->QueryBuckets("t500", Timestamp::FromNs(0), Timestamp::FromNs(kPerTag * kSecond), 10);
    double buckets_ms = static_cast<double>(MonotonicNs() - start) * 1e-6;
    ASSERT_TRUE(rows.ok() && buckets.ok());
    EXPECT_EQ(rows->size(), static_cast<size_t>(kPerTag));
    EXPECT_EQ(buckets->size(), 10u);
    std::printf("[ metric ] history query of one tag (50 points) with %s: Query %.2f ms, QueryBuckets %.2f ms\n", what,
                query_ms, buckets_ms);
  };
  measure("50,000 rows staged");
  int64_t start = MonotonicNs();
  ASSERT_TRUE(store_->Compact().ok());
  std::printf("[ metric ] history compaction of 50,000 staged rows over 1000 tags: %.1f ms (synchronous=NORMAL)\n",
              static_cast<double>(MonotonicNs() - start) * 1e-6);
  measure("the rows compacted");
}

// Not a tight assertion: prints throughput and bytes per sample for the record.
TEST_F(HistoryTest, ThroughputAndBytesPerSample) {
  constexpr int kTags = 10, kBatch = 1000, kBatches = 100;
  for (int i = 0; i < kTags; ++i) ASSERT_TRUE(store_->RegisterTag(Tag(i, "line1.sensor" + std::to_string(i))).ok());
  const int64_t t0 = 1'800'000'000 * kSecond;
  uint64_t seq = 0;
  int64_t elapsed = 0;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<Sample> batch;
    batch.reserve(kBatch);
    for (int i = 0; i < kBatch; ++i) {
      int64_t n = static_cast<int64_t>(b) * kBatch + i;
      Sample s = At(static_cast<TagId>(n % kTags), t0 + (n / kTags) * 1'000'000,
                    20.0 + std::sin(static_cast<double>(n) * 0.001) + 0.01 * static_cast<double>(n % 7));
      s.seq = ++seq;
      batch.push_back(std::move(s));
    }
    int64_t start = MonotonicNs();
    ASSERT_TRUE(store_->Append(batch).ok());
    elapsed += MonotonicNs() - start;
  }
  ASSERT_TRUE(store_->Checkpoint().ok());
  const double n = kBatch * kBatches;
  std::printf("[ metric ] history append: %.0f samples/s in batches of %d (%d tags, synchronous=NORMAL)\n",
              n / (static_cast<double>(elapsed) * 1e-9), kBatch, kTags);
  std::printf("[ metric ] history bytes on disk per sample after %.0f samples: %.1f\n", n,
              static_cast<double>(store_->BytesOnDisk()) / n);
  EXPECT_EQ(store_->SamplesWritten(), static_cast<uint64_t>(n));
  EXPECT_LT(store_->BytesOnDisk(), 100 * static_cast<uint64_t>(n));  // sanity: well under 100 B/sample
}

}  // namespace
}  // namespace pf
